"""Agenda items, raised issues and meeting outcomes: the rules, as data. No I/O.

* An **agenda item** is proposed by a member (or suggested from a higher tier, or added by the
  lead) and accepted or declined by the lead; at the meeting it gets a decision (``done``) or
  moves on to the next meeting.
* A **raised issue** (הצפת פער: a need, a difficulty or a blocker) moves through the statuses of
  :data:`ISSUE_TRANSITIONS`; every move is kept in a history. ``escalated`` is a status and a
  history kind here, but its transitions belong to the escalation feature, which adds them.
* **Intake** for a meeting closes a configurable number of hours before it; what comes later
  waits for the meeting after.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

TITLE_MAX = 120
DETAILS_MAX = 2000
NOTE_MAX = 500  # a decision, a resolution, a reason
DEFAULT_INTAKE_HOURS = 48
INTAKE_CHOICES = (24, 48, 72, 168)
REMIND_DAYS_BEFORE = 2
MEETING_MAX_DAYS_AHEAD = 366
DAY_STARTS, DAY_ENDS = 8, 20


class ItemStatus(StrEnum):
    PROPOSED = "proposed"  # by a member, waiting for the lead
    SUGGESTED = "suggested"  # pushed from a higher tier, waiting for the lead
    ACCEPTED = "accepted"  # on the agenda
    DECLINED = "declined"  # with a reason
    DONE = "done"  # a decision was recorded at the meeting


class ItemOrigin(StrEnum):
    MEMBER = "member"
    LEAD = "lead"
    ABOVE = "above"  # suggested by a higher tier ("from the district")


ITEM_TRANSITIONS: dict[ItemStatus, frozenset[ItemStatus]] = {
    ItemStatus.PROPOSED: frozenset({ItemStatus.ACCEPTED, ItemStatus.DECLINED}),
    ItemStatus.SUGGESTED: frozenset({ItemStatus.ACCEPTED, ItemStatus.DECLINED}),
    ItemStatus.ACCEPTED: frozenset({ItemStatus.DONE, ItemStatus.DECLINED}),
    ItemStatus.DECLINED: frozenset(),
    ItemStatus.DONE: frozenset(),
}
PENDING_ITEM = frozenset({ItemStatus.PROPOSED, ItemStatus.SUGGESTED})


class IssueKind(StrEnum):
    NEED = "need"  # צורך
    DIFFICULTY = "difficulty"  # קושי
    BLOCKER = "blocker"  # חסם


class IssueCategory(StrEnum):
    STAFFING = "staffing"
    SAFETY = "safety"
    TRANSPORT = "transport"
    WELFARE = "welfare"
    PEDAGOGY = "pedagogy"
    INFRASTRUCTURE = "infrastructure"
    BUDGET = "budget"
    OTHER = "other"


class IssueStatus(StrEnum):
    OPEN = "open"
    DISCUSSED = "discussed"
    IN_PROGRESS = "in_progress"  # with an owner and a due date
    RESOLVED = "resolved"  # with the resolution
    DECLINED = "declined"  # with the reason
    ESCALATED = "escalated"  # forwarded to the tier above (the escalation feature moves issues here)


class HistoryKind(StrEnum):
    CREATED = "created"
    STATUS = "status"
    ESCALATED = "escalated"
    CARRIED_OVER = "carried_over"


# Where an issue may go from each status. A status may repeat: "discussed again", "re-planned".
# Escalation (bot.services.escalation.forwarding): OPEN/DISCUSSED/IN_PROGRESS → ESCALATED when forwarded up, and
# ESCALATED → RESOLVED/DECLINED when the answer comes back down.
ISSUE_TRANSITIONS: dict[IssueStatus, frozenset[IssueStatus]] = {
    IssueStatus.OPEN: frozenset(
        {IssueStatus.DISCUSSED, IssueStatus.IN_PROGRESS, IssueStatus.RESOLVED, IssueStatus.DECLINED,
         IssueStatus.ESCALATED}
    ),
    IssueStatus.DISCUSSED: frozenset(
        {IssueStatus.DISCUSSED, IssueStatus.IN_PROGRESS, IssueStatus.RESOLVED, IssueStatus.DECLINED,
         IssueStatus.ESCALATED}
    ),
    IssueStatus.IN_PROGRESS: frozenset(
        {IssueStatus.IN_PROGRESS, IssueStatus.RESOLVED, IssueStatus.DECLINED, IssueStatus.ESCALATED}
    ),
    IssueStatus.ESCALATED: frozenset({IssueStatus.RESOLVED, IssueStatus.DECLINED}),
    IssueStatus.RESOLVED: frozenset(),
    IssueStatus.DECLINED: frozenset(),
}
CLOSED_ISSUE = frozenset({IssueStatus.RESOLVED, IssueStatus.DECLINED})
UNRESOLVED_ISSUE = frozenset(IssueStatus) - CLOSED_ISSUE
# What a lead can record for an issue at a meeting, in the order the buttons are shown.
MEETING_STATUSES = (IssueStatus.DISCUSSED, IssueStatus.IN_PROGRESS, IssueStatus.RESOLVED, IssueStatus.DECLINED)


class Problem(StrEnum):
    """Why a change is refused; the service turns it into a message."""

    NOT_ALLOWED = "not_allowed"
    NEEDS_OWNER = "needs_owner"
    NEEDS_DUE = "needs_due"
    NEEDS_RESOLUTION = "needs_resolution"
    NEEDS_REASON = "needs_reason"


def issue_transition_problem(
    current: IssueStatus, target: IssueStatus, *, has_owner: bool, due: date | None, note: str
) -> Problem | None:
    """None when ``current → target`` is allowed with what is given."""
    if target not in ISSUE_TRANSITIONS[current]:
        return Problem.NOT_ALLOWED
    if target is IssueStatus.IN_PROGRESS:
        if not has_owner:
            return Problem.NEEDS_OWNER
        if due is None:
            return Problem.NEEDS_DUE
    if target is IssueStatus.RESOLVED and not note:
        return Problem.NEEDS_RESOLUTION
    if target is IssueStatus.DECLINED and not note:
        return Problem.NEEDS_REASON
    return None


def item_transition_problem(current: ItemStatus, target: ItemStatus, *, note: str) -> Problem | None:
    if target not in ITEM_TRANSITIONS[current]:
        return Problem.NOT_ALLOWED
    if target is ItemStatus.DECLINED and not note:
        return Problem.NEEDS_REASON
    return None


def history_kind(target: IssueStatus) -> HistoryKind:
    return HistoryKind.ESCALATED if target is IssueStatus.ESCALATED else HistoryKind.STATUS


def meeting_choices(current: IssueStatus) -> list[IssueStatus]:
    """The statuses a lead may record at a meeting for an issue that is now ``current``."""
    return [s for s in MEETING_STATUSES if s in ISSUE_TRANSITIONS[current]]


# -- intake ------------------------------------------------------------------------------------


def intake_closes_at(meeting_at: datetime, hours: int) -> datetime:
    return meeting_at - timedelta(hours=hours)


def target_meeting(now: datetime, meeting_at: datetime | None, hours: int) -> datetime | None:
    """The meeting an item made at ``now`` is for, or None: the meeting after (not set yet)."""
    if meeting_at is None or now > intake_closes_at(meeting_at, hours):
        return None
    return meeting_at


def belongs_to(intake_at: datetime, meeting_at: datetime, hours: int) -> bool:
    """Whether an accepted, undecided item that came in at ``intake_at`` is on that meeting's agenda."""
    return intake_at <= intake_closes_at(meeting_at, hours)


def lead_intake_at(now: datetime, meeting_at: datetime | None, hours: int) -> datetime:
    """The lead sets the agenda: an item the lead adds counts as in time for the coming meeting."""
    if meeting_at is None or now >= meeting_at:
        return now
    return min(now, intake_closes_at(meeting_at, hours))


def reminder_due(due: date, today: date, days_before: int = REMIND_DAYS_BEFORE) -> bool:
    return today >= due - timedelta(days=days_before)


def is_daytime(local: datetime) -> bool:
    """Reminders go out between 08:00 and 20:00 local time, not at night."""
    return DAY_STARTS <= local.hour < DAY_ENDS


# -- ordering ----------------------------------------------------------------------------------


def moved(order: list[int], item_id: int, delta: int) -> list[int]:
    """``order`` with ``item_id`` moved ``delta`` places (clamped at the ends)."""
    if item_id not in order:
        return list(order)
    result = [i for i in order if i != item_id]
    index = max(0, min(len(result), order.index(item_id) + delta))
    result.insert(index, item_id)
    return result


# -- dates people type --------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{1,2})[./-](\d{1,2})(?:[./-](\d{2}|\d{4}))?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")


def parse_day(text: str, today: date) -> date | None:
    """'31.12', '31/12/2026', '31.12.26' or '2026-12-31'; a day without a year is the next one."""
    text = text.strip()
    iso = _ISO.match(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        found = _DATE.match(text)
        if not found:
            return None
        day, month = int(found[1]), int(found[2])
        if found[3]:
            year = int(found[3])
            return date(year + 2000 if year < 100 else year, month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def parse_time(text: str) -> time | None:
    found = _TIME.match(text.strip())
    if not found:
        return None
    hour, minute = int(found[1]), int(found[2])
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def parse_meeting_at(text: str, today: date, tz: tzinfo) -> datetime | None:
    """A day and a time in either order ('1.12.2026 18:00', '18:00 1.12'), local time."""
    parts = text.split()
    if len(parts) != 2:
        return None
    for day_part, time_part in (parts, parts[::-1]):
        day, at = parse_day(day_part, today), parse_time(time_part)
        if day is not None and at is not None:
            return datetime.combine(day, at, tzinfo=tz)
    return None
