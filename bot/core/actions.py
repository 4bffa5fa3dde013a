"""Typed button actions: each button's payload is a small declared type, packed and unpacked here.

A feature declares what its buttons mean as subclasses of :class:`Action` with a readable name,
the way aiogram's ``CallbackData`` takes its prefix; the base makes each one a frozen dataclass::

    class AskEndMembership(Action, name="members.ask_end", was=("mbr",)):
        membership_id: int

and a handler receives the decoded value (``ctx.action``), never a string to split. The payload is
``name:field:field`` (text fields escaped), stored server-side behind the button's token (the client
only sees the token), so a payload is never trusted for permission: handlers re-check as always.
One name, one type: declaring a name twice fails at import; a payload that no longer decodes (a
deploy changed the type) is a stale button, not an error.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, ClassVar
from urllib.parse import quote, unquote

MAX_PAYLOAD = 200  # the token table's column
_FIELD_TYPES = (int, str, bool)
_REGISTRY: dict[str, type[Action]] = {}


class ActionError(ValueError):
    """A declaration the codec cannot carry (a bug in the declaring module, found at import)."""


@typing.dataclass_transform(frozen_default=True)
class Action:
    """Base of every declared button action: a subclass is a frozen dataclass, registered by name.

    ``name`` is the payload's prefix (letters, digits, ``._-``; unique). ``was`` names the prefixes
    an earlier version used for the same button with the same fields in the same order (``"escg"``
    for ``escg:12``): buttons already in people's chats keep working after a deploy. New buttons
    are always packed under ``name``. A subclass without a name is an intermediate base: a frozen
    dataclass too, but no payload names it."""

    name: ClassVar[str] = ""
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]  # set on each subclass

    def __init_subclass__(cls, *, name: str = "", was: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=True)(cls)
        if name:
            _register(cls, name, was)


def _register(cls: type[Action], name: str, was: tuple[str, ...]) -> None:
    """Enter ``cls`` under ``name`` and its earlier names, refusing what the codec cannot carry."""
    if any(not (c.isalnum() or c in "._-") for c in name):
        raise ActionError(f"action name {name!r}: letters, digits and ._- only")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if hints[f.name] not in _FIELD_TYPES:
            raise ActionError(f"{cls.__name__}.{f.name}: only int, str and bool fields travel in a payload")
    for key in (name, *was):
        if key in _REGISTRY and _REGISTRY[key] is not cls:
            raise ActionError(f"two actions are called {key!r}: {_REGISTRY[key].__name__} and {cls.__name__}")
    cls.name = name
    for key in (name, *was):
        _REGISTRY[key] = cls


def pack(value: Action) -> str:
    """The payload kept behind a button: ``name:field:field``."""
    parts = [type(value).name]
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        parts.append(("1" if item else "0") if isinstance(item, bool) else quote(str(item), safe=""))
    payload = ":".join(parts)
    if len(payload) > MAX_PAYLOAD:
        raise ActionError(f"{type(value).__name__} packs to {len(payload)} characters (at most {MAX_PAYLOAD})")
    return payload


def declared(payload: str) -> type[Action] | None:
    """The declared type a payload names, if any (else it is an older, untyped payload)."""
    return _REGISTRY.get(payload.partition(":")[0])


def unpack(payload: str) -> Action | None:
    """The action a payload carries; None when it names no declared action or no longer fits its type."""
    cls = declared(payload)
    if cls is None:
        return None
    raw = payload.split(":")[1:]
    fields = dataclasses.fields(cls)
    if not fields and raw == [""]:  # an earlier version's "name:" with nothing after it
        raw = []
    if len(raw) != len(fields):
        return None
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f, text in zip(fields, raw, strict=True):
        kind = hints[f.name]
        if kind is bool:
            if text not in ("0", "1"):
                return None
            values[f.name] = text == "1"
        elif kind is int:
            digits = text[1:] if text.startswith("-") else text
            if not digits.isdigit() or len(digits) > 18:
                return None
            values[f.name] = int(text)
        else:
            values[f.name] = unquote(text)
    return cls(**values)


def registered() -> dict[str, type[Action]]:
    return dict(_REGISTRY)
