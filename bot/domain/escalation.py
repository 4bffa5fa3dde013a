"""Escalation up the tiers, digests for coordinators: the rules, as data. No I/O.

* A raised issue a forum cannot close is **forwarded** to the main forum of the unit above, by
  its lead or automatically after the forum's **window** of working days (Sunday–Thursday
  without holidays, counted by :class:`~bot.domain.calendar.IsraeliCalendar`).
* In the forum above it becomes (or joins) a **gap**: similar gaps — the same category and close
  wording — are one item with the list of its origins.
* The leads of that forum get a **digest** on their schedule (default: Sundays at 08:00 local).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from bot.domain.calendar import IsraeliCalendar
from bot.domain.tiers import Tier

WINDOW_KEY = "escalation_window_days"  # forum.settings override of the window
DIGEST_KEY = "digest"  # forum.settings: {"weekday": 0-6 (Mon=0), "hour": 8, "minute": 0, "weeks": 1}
DEFAULT_WINDOWS: dict[Tier, int | None] = {
    Tier.SCHOOL: 20,
    Tier.AUTHORITY: 20,
    Tier.DISTRICT: 10,
    Tier.HQ: None,  # nothing above HQ
}
DEFAULT_DIGEST = {"weekday": 6, "hour": 8, "minute": 0, "weeks": 1}  # Sunday 08:00, weekly
# Two titles are "close wording" when difflib's ratio of their normalised forms reaches this, or
# when one's words are all in the other's. 0.8 merges "מחסור ביועצת" / "מחסור ביועצות" and keeps
# "מחסור בהסעות" apart.
SIMILARITY = 0.8
ANNOUNCE_TIERS: dict[Tier, tuple[Tier, ...]] = {
    Tier.HQ: (Tier.DISTRICT, Tier.AUTHORITY, Tier.SCHOOL),
    Tier.DISTRICT: (Tier.AUTHORITY, Tier.SCHOOL),
    Tier.AUTHORITY: (Tier.SCHOOL,),
    Tier.SCHOOL: (),
}


class GapStatus(StrEnum):
    OPEN = "open"  # arrived, nobody acted yet
    ACKNOWLEDGED = "acknowledged"  # the coordinators saw it
    IN_PROGRESS = "in_progress"  # someone in charge
    RESOLVED = "resolved"  # answered; the answer went down
    FORWARDED = "forwarded"  # sent on to the tier above


OPEN_GAP = frozenset({GapStatus.OPEN, GapStatus.ACKNOWLEDGED, GapStatus.IN_PROGRESS})


class Via(StrEnum):
    LEAD = "lead"  # the lead forwarded it (at a meeting or from the issue)
    AUTO = "auto"  # its window passed


def window_days(tier: str, settings: Mapping[str, Any] | None) -> int | None:
    """Working days an issue may stay unresolved in a forum of ``tier`` before it goes up."""
    default = DEFAULT_WINDOWS.get(Tier(tier))
    if default is None:
        return None
    value = (settings or {}).get(WINDOW_KEY)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return default


def past_window(calendar: IsraeliCalendar, since: date, today: date, window: int) -> bool:
    """Whether ``window`` working days have passed from ``since`` (not counted) through ``today``."""
    return calendar.working_days_between(since, today) >= window


def window_edge(calendar: IsraeliCalendar, since: date, window: int) -> date:
    """The first day on which an issue from ``since`` is past its window."""
    return calendar.add_working_days(since, window)


_MARKS = re.compile(r"[\u0591-\u05c7]")  # Hebrew points and cantillation
_NOT_WORD = re.compile(r"[^\w]+")


def normalise(title: str) -> str:
    """Lower-case words without punctuation, niqqud, bidi marks or repeated spaces."""
    text = unicodedata.normalize("NFKC", title).casefold()
    text = _MARKS.sub("", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(_NOT_WORD.sub(" ", text).split())


def similar(a: str, b: str) -> bool:
    """Close wording between two *normalised* titles."""
    if a == b:
        return True
    if not a or not b:
        return False
    words_a, words_b = set(a.split()), set(b.split())
    if words_a <= words_b or words_b <= words_a:
        return True
    return difflib.SequenceMatcher(None, a, b).ratio() >= SIMILARITY


def best_match(norm: str, candidates: Iterable[tuple[int, str]]) -> int | None:
    """The id of the closest similar candidate (id, normalised title), or None."""
    best: tuple[float, int] | None = None
    for ident, other in candidates:
        if not similar(norm, other):
            continue
        score = difflib.SequenceMatcher(None, norm, other).ratio()
        if best is None or score > best[0]:
            best = (score, ident)
    return best[1] if best else None


# -- digests -------------------------------------------------------------------------------------


def digest_schedule(settings: Mapping[str, Any] | None) -> dict[str, int]:
    raw = (settings or {}).get(DIGEST_KEY)
    schedule = dict(DEFAULT_DIGEST)
    if isinstance(raw, Mapping):
        for key, (low, high) in {"weekday": (0, 6), "hour": (0, 23), "minute": (0, 59), "weeks": (1, 8)}.items():
            value = raw.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
                schedule[key] = value
    return schedule


_EPOCH = date(2024, 1, 7)  # a Sunday: "every N weeks" counts from here


def digest_slot(now: datetime, tz: tzinfo, settings: Mapping[str, Any] | None) -> datetime:
    """The latest scheduled digest instant at or before ``now`` (aware, in ``tz``)."""
    s = digest_schedule(settings)
    local = now.astimezone(tz)
    back = (local.weekday() - s["weekday"]) % 7
    day = local.date() - timedelta(days=back)
    slot = datetime.combine(day, time(s["hour"], s["minute"]), tzinfo=tz)
    if slot > local:
        slot -= timedelta(days=7)
    while ((slot.date() - _EPOCH).days // 7) % s["weeks"]:
        slot -= timedelta(days=7)
    return slot


def split_lines(lines: Iterable[str], limit: int) -> list[str]:
    """Lines packed into messages of at most ``limit`` characters, never cutting a line in two
    (a single longer line is shortened with an ellipsis)."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if len(line) > limit:
            line = line[: limit - 1] + "…"
        if current and size + len(line) + 1 > limit:
            parts.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        parts.append("\n".join(current))
    return parts


def age_days(since: datetime, now: datetime) -> int:
    return max(0, (now - since).days)
