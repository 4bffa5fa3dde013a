"""Catalogs, explicit-locale translators, bidi-safe formatting and locale dates.

Translate first, then format: ``t._("Hello, {name}", name=...)``. Every interpolated value is
bidi-isolated in right-to-left locales, and an RTL message that would start with a Latin
character or a digit gets a leading RLM, so clients lay it out right to left.
"""

from __future__ import annotations

import gettext
import io
import os
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LOCALES = ("he", "ar", "en")
RTL = frozenset({"he", "ar"})
TERRITORY = {"he": "he_IL", "ar": "ar_IL", "en": "en_IL"}
FORMS = ("m", "f", "p")

RLM, LRM = "\u200f", "\u200e"
FSI, LRI, PDI = "\u2068", "\u2066", "\u2069"

# The month names Arabic speakers in Israel (and the Levant) read: CLDR's ar gives the Egyptian
# يناير…ديسمبر, and its ar_IL stand-alone months are not even Arabic.
LEVANTINE_MONTHS = (
    "كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران",
    "تموز", "آب", "أيلول", "تشرين الأول", "تشرين الثاني", "كانون الأول",
)
_CLDR_AR_MONTHS = (
    "يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو",
    "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
)
LIST_SEPARATOR = {"ar": "، "}
# A file name a channel carries as is when it cannot take anything but ASCII.
_UNSAFE_IN_NAMES = dict.fromkeys(map(ord, '/\\:*?"<>|\u200e\u200f\u2066\u2067\u2068\u2069'), None)


def levantine(text: str) -> str:
    """Arabic date text with the Levantine month names (كانون الثاني, not يناير)."""
    for cldr, local in zip(_CLDR_AR_MONTHS, LEVANTINE_MONTHS, strict=True):
        text = text.replace(cldr, local)
    return text


def locales_dir() -> Path:
    env = os.environ.get("FORUMBOT_LOCALES_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "locales"


class Ltr(str):
    """A value that always reads left to right (codes, phone numbers, URLs, e-mails)."""

    __slots__ = ()


class Raw(str):
    """Already formatted text that must not be isolated again (e.g. a built list)."""

    __slots__ = ()


def N_(message: str) -> str:
    return message


@cache
def _translations(locale: str) -> gettext.NullTranslations:
    """All ``*.po`` files of a locale in one catalog: features keep their own files, and a message
    is looked up once (a chain of fallbacks walked a dozen catalogs for every text). Where two
    files hold the same message, the first by name wins."""
    folder = locales_dir() / locale / "LC_MESSAGES"
    merged: Translations | None = None
    for po_path in sorted(folder.glob("*.po"), reverse=True):
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        translations = Translations(buffer)
        merged = translations if merged is None else merged.merge(translations)
    return merged if merged is not None else gettext.NullTranslations()


def reload_catalogs() -> None:
    _translations.cache_clear()


def first_strong_is_rtl(text: str) -> bool:
    """Whether the text's first strongly directional letter is right-to-left (True for none)."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return True


class Translator:
    """Text for one person: their locale and their form of address (m / f / p)."""

    def __init__(self, locale: str = "he", form: str = "p", tz: ZoneInfo | None = None) -> None:
        self.locale = locale if locale in LOCALES else "he"
        self.form = form if form in FORMS else "p"
        self.tz = tz or ZoneInfo("Asia/Jerusalem")
        self._t = _translations(self.locale)

    @property
    def rtl(self) -> bool:
        return self.locale in RTL

    @property
    def babel_locale(self) -> Locale:
        return Locale.parse(TERRITORY[self.locale])

    def _lookup(self, msgid: str) -> str:
        if self.form in ("m", "f"):
            gendered = self._t.pgettext(self.form, msgid)
            if gendered != msgid:
                return gendered
        return self._t.gettext(msgid)

    def _(self, msgid: str, /, **params: object) -> str:
        return self.format(self._lookup(msgid), params)

    def n_(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        text = None
        if self.form in ("m", "f"):
            candidate = self._t.npgettext(self.form, singular, plural, n)
            if candidate not in (singular, plural):
                text = candidate
        if text is None:
            text = self._t.ngettext(singular, plural, n)
        params.setdefault("n", Raw(self.number(n)))
        return self.format(text, params)

    def format(self, template: str, params: Mapping[str, object]) -> str:
        if params:
            template = template.format_map({k: self.isolate(v) for k, v in params.items()})
        return self.direction(template)

    def isolate(self, value: object) -> str:
        text = str(value)
        if not self.rtl or isinstance(value, Raw):
            return text
        if isinstance(value, Ltr):
            return f"{LRI}{text}{PDI}"
        return f"{FSI}{text}{PDI}"

    def direction(self, text: str) -> str:
        """Start an RTL message with RLM when its first strong character is not RTL."""
        if self.rtl and text and not text.startswith(RLM) and not first_strong_is_rtl(text):
            return RLM + text
        return text

    # -- ids, commands, lists, file names ----------------------------------------------------

    def ref(self, number: int | str) -> Raw:
        """An id as "#12", kept in one left-to-right piece so that it never shows as "12#"."""
        text = f"#{number}"
        return Raw(f"{LRI}{text}{PDI}" if self.rtl else text)

    def command(self, text: str) -> Raw:
        """A command ("/help", "/link CODE") isolated left to right, so it never shows as "help/"."""
        return Raw(self.isolate(Ltr(text)))

    def join(self, items: Iterable[object]) -> Raw:
        """A list in the reader's punctuation ("، " in Arabic), each item isolated."""
        return Raw(LIST_SEPARATOR.get(self.locale, ", ").join(self.isolate(item) for item in items))

    def filename(self, msgid: str, suffix: str, /, **params: object) -> str:
        """A file name in the reader's language ("ריכוז-פערים-SCH1.csv"); see ascii_filename()."""
        return _clean_filename(self._(msgid, **params), suffix)

    # -- numbers and dates, in Asia/Jerusalem ------------------------------------------------

    def number(self, n: int | float) -> str:
        return format_decimal(n, locale=self.babel_locale)

    def date(self, d: date | datetime, fmt: str = "full") -> str:
        """A date for running text: "full" (with the weekday) or "long", with the month in words
        ("12 בינואר 2026", "12 كانون الثاني 2026"); a pattern ("LLLL y") may be given too."""
        if isinstance(d, datetime):
            d = d.astimezone(self.tz).date()
        if self.locale == "ar":
            return levantine(format_date(d, format=fmt.replace("LLLL", "MMMM"), locale=self.babel_locale))
        return format_date(d, format=fmt, locale=self.babel_locale)

    def time(self, t: time | datetime) -> str:
        if isinstance(t, datetime):
            t = t.astimezone(self.tz).timetz()
        return format_time(t, format="HH:mm", locale=self.babel_locale)

    def datetime(self, dt: datetime, fmt: str = "medium") -> str:
        text = format_datetime(dt.astimezone(self.tz), format=fmt, locale=self.babel_locale, tzinfo=self.tz)
        return levantine(text) if self.locale == "ar" else text


def _clean_filename(stem: str, suffix: str) -> str:
    return "-".join(stem.translate(_UNSAFE_IN_NAMES).split()) + "." + suffix


def ascii_filename(msgid: str, suffix: str, /, **params: object) -> str:
    """The same file name from the English msgid, ASCII only, for a channel or a disk that needs it."""
    stem = _clean_filename(msgid.format_map({k: str(v) for k, v in params.items()}), suffix)
    return stem.encode("ascii", "ignore").decode() or f"file.{suffix}"


def translator_for(locale: str | None, form: str | None = None, tz: ZoneInfo | None = None) -> Translator:
    return Translator(locale or "he", form or "p", tz)
