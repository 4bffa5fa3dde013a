"""Clean and bound what people type, before it reaches a service or the database."""

from __future__ import annotations

import re
import unicodedata

# Bidi embeddings, overrides and isolates, and the marks: they can reorder text to spoof it.
_BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), None
)
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")


class InputError(ValueError):
    """The person's input is not acceptable; ``key`` names the reason for a localized message."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def clean_text(value: str, *, max_length: int, multiline: bool = False, min_length: int = 1) -> str:
    """Strip control, bidi and zero-width characters, fold spaces, and check the length."""
    value = unicodedata.normalize("NFC", value)
    value = value.translate(_BIDI_CONTROLS).translate(_ZERO_WIDTH)
    keep = "\n" if multiline else ""
    value = "".join(ch for ch in value if ch in keep or not unicodedata.category(ch).startswith("C"))
    lines = [_SPACES.sub(" ", line).strip() for line in value.split("\n")]
    value = "\n".join(line for line in lines if line) if multiline else " ".join(lines).strip()
    if len(value) < min_length:
        raise InputError("too_short", min=min_length)
    if len(value) > max_length:
        raise InputError("too_long", max=max_length)
    return value


def clean_name(value: str) -> str:
    """A display name: one line, 2-60 characters, with at least one letter."""
    name = clean_text(value, max_length=60, min_length=2)
    if not any(ch.isalpha() for ch in name):
        raise InputError("name_needs_letters")
    return name


_FINALS = str.maketrans("ךםןףץ", "כמנפצ")


def gendered(name: str, form: str) -> str:
    """Resolve a slash-form role name ("מנהל/ת", "مدير/ة") for a form of address.

    ``m`` keeps the stem, ``f`` appends the suffix (turning a Hebrew final letter into its
    medial form), ``p`` keeps the slash form as written.
    """
    if form not in ("m", "f"):
        return name
    out: list[str] = []
    for word in name.split(" "):
        if "/" in word:
            stem, _, suffix = word.partition("/")
            word = stem if form == "m" or not stem else stem[:-1] + stem[-1].translate(_FINALS) + suffix
        out.append(word)
    return " ".join(out)
