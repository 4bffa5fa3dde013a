"""Catalog checks: every message in the code is translated, nothing fuzzy, and the he/ar copy
follows the house rules of locales/GLOSSARY.md that a machine can check.

Message ids are the English source: an ``en`` catalog needs no entry for a message (the msgid is
shown) and keeps only entries whose English differs from the msgid. Hebrew and Arabic need every
message, with all plural forms, translated and not fuzzy.

Run with `forumbot i18n check`; the test suite runs the same functions.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALES, RTL, locales_dir

KEYWORDS = {"_": None, "N_": None, "n_": (1, 2)}
SOURCE_DIRS = ("bot", "handlers", "scheduler")
SOURCE_LOCALE = "en"  # msgids are English: its catalog may be header-only

# A /command in a right-to-left sentence must sit between LRM (or LRI) and RLM (or PDI), or it
# shows mirrored ("agenda/"). A slash after a letter, a digit or another slash is no command.
COMMAND = re.compile(r"/[a-z]+")
LATIN_NAMES = re.compile(r"forumbot", re.IGNORECASE)
HASH_ID = re.compile(r"#\{")


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


def _strings(message: object) -> tuple[str, ...]:
    string = message.string  # type: ignore[attr-defined]
    return tuple(string) if isinstance(string, tuple | list) else (string,)


def bare_commands(text: str) -> list[str]:
    """The /commands of a right-to-left text that are not isolated (LRM…RLM or LRI…PDI)."""
    bad = []
    for match in COMMAND.finditer(text):
        before = text[match.start() - 1] if match.start() else ""
        after = text[match.end()] if match.end() < len(text) else ""
        if before.isalnum() or before in "/:.":
            continue
        if before not in ("\u200e", "\u2066") or after not in ("\u200f", "\u2069"):
            bad.append(match.group())
    return bad


def missing_translations() -> list[str]:
    problems: list[str] = []
    wanted = extracted_messages()
    for locale in LOCALES:
        entries = catalog_entries(locale)
        for (context, msgid), message in entries.items():
            if any(not s for s in _strings(message)):
                problems.append(f"{locale}: untranslated: {msgid!r}" + (f" [{context}]" if context else ""))
            if message.fuzzy:  # type: ignore[attr-defined]
                problems.append(f"{locale}: fuzzy: {msgid!r}")
        for msgid, plural in wanted.items():
            entry = entries.get((None, msgid))
            if entry is None:
                if locale != SOURCE_LOCALE:
                    problems.append(f"{locale}: missing: {msgid!r}")
            elif plural is not None and not isinstance(entry.string, tuple):  # type: ignore[attr-defined]
                problems.append(f"{locale}: needs plural forms: {msgid!r}")
    return problems


def style_problems() -> list[str]:
    """House rules for he/ar copy: isolated /commands, no Latin product name, ids via {ref}."""
    problems: list[str] = []
    for locale in sorted(RTL):
        for (context, msgid), message in catalog_entries(locale).items():
            where = f"{msgid!r}" + (f" [{context}]" if context else "")
            for text in _strings(message):
                for command in bare_commands(text):
                    problems.append(f"{locale}: bare command {command}: {where}")
                if LATIN_NAMES.search(text):
                    problems.append(f"{locale}: Latin product name (say הבוט / البوت): {where}")
                if HASH_ID.search(text):
                    problems.append(f"{locale}: '#{{…}}' id (use {{ref}}, formatted by t.ref): {where}")
    return problems


def all_problems() -> list[str]:
    return missing_translations() + style_problems()
