"""Catalog completeness: every message in the code is translated, nothing fuzzy, in every locale.

Run with `forumbot i18n check`; the test suite runs the same function.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALES, locales_dir

KEYWORDS = {"_": None, "N_": None, "n_": (1, 2)}
SOURCE_DIRS = ("bot", "handlers", "scheduler")


def extracted_messages(root: Path | None = None) -> dict[str, str | None]:
    """msgid → msgid_plural (or None), from the source tree."""
    root = root or locales_dir().parent
    found: dict[str, str | None] = {}
    # The web page's Jinja2 templates call the same ``_`` and ``n_`` (bot/webapp/templates).
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")]
    for folder in SOURCE_DIRS:
        base = root / folder
        if not base.exists():
            continue
        for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(base), method_map=method_map, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True
        ):
            if isinstance(message, tuple):
                found[message[0]] = message[1]
            else:
                found[message] = None
    return found


def catalog_entries(locale: str) -> dict[tuple[str | None, str], object]:
    entries: dict[tuple[str | None, str], object] = {}
    folder = locales_dir() / locale / "LC_MESSAGES"
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        for message in catalog:
            if not message.id:
                continue
            msgid = str(message.id[0] if isinstance(message.id, tuple | list) else message.id)
            entries[(message.context, msgid)] = message
    return entries


def missing_translations() -> list[str]:
    problems: list[str] = []
    wanted = extracted_messages()
    for locale in LOCALES:
        entries = catalog_entries(locale)
        for (context, msgid), message in entries.items():
            string = message.string  # type: ignore[attr-defined]
            strings = string if isinstance(string, tuple) else (string,)
            if any(not s for s in strings):
                problems.append(f"{locale}: untranslated: {msgid!r}" + (f" [{context}]" if context else ""))
            if message.fuzzy:  # type: ignore[attr-defined]
                problems.append(f"{locale}: fuzzy: {msgid!r}")
        for msgid, plural in wanted.items():
            entry = entries.get((None, msgid))
            if entry is None:
                problems.append(f"{locale}: missing: {msgid!r}")
            elif plural is not None and not isinstance(entry.string, tuple):  # type: ignore[attr-defined]
                problems.append(f"{locale}: needs plural forms: {msgid!r}")
    return problems
