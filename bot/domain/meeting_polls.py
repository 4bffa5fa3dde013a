"""Meeting-date polls: the rules, with no I/O.

Which dates are offered, how a typed date is read, which date a closed poll proposes, when
reminders go out and what the calendar invitation says. Dates come from
:class:`bot.domain.calendar.IsraeliCalendar`; nothing here knows about the database or a channel.

Decisions
    * Candidates are offered in the *current* period (this week for HQ, this month for others)
      when the forum has no meeting in it yet and enough allowed days remain after the default
      voting window to make a real choice (as many as the candidates); otherwise in the next
      period. Weekly forums get 3 candidates, monthly ones 4.
    * Typed dates are day first (Israeli usage): ``12/1``, ``12.1``, ``12-1-27``, ``12.1.2027``,
      ``2027-01-12``, with an optional ``HH:MM`` time; Arabic-Indic digits are accepted. A date
      without a year is the next such day from today, except a day of the last month, which is
      refused as past (a slip, not a date a year away).
    * The proposal covers the most required roles (a voter holding several roles covers each);
      between dates covering as many, one the forum's lead can make comes first (they run the
      meeting); then the most voters; then the earliest.
    * Nothing is sent on Shabbat or a Yom Tov, nor on a Friday or a holiday eve after 14:00:
      reminders that would fall there move back to an earlier, quiet moment.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress
from icalendar.enums import STATUS

from bot.domain.calendar import FRIDAY, SATURDAY, SUNDAY, Cadence, IsraeliCalendar, Reason


class PollStatus(StrEnum):
    """A date poll's life: a draft the lead edits, open for votes until its deadline, closed (the
    lead chooses a date), then decided (a meeting was set) or cancelled (none will be)."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    DECIDED = "decided"
    CANCELLED = "cancelled"


POLL_TRANSITIONS: dict[PollStatus, frozenset[PollStatus]] = {
    PollStatus.DRAFT: frozenset({PollStatus.OPEN}),  # an unpublished draft is deleted, not moved
    PollStatus.OPEN: frozenset({PollStatus.CLOSED}),  # by its deadline or by the lead
    PollStatus.CLOSED: frozenset({PollStatus.DECIDED, PollStatus.CANCELLED}),
    PollStatus.DECIDED: frozenset(),
    PollStatus.CANCELLED: frozenset(),
}
LIVE_POLL = frozenset({PollStatus.OPEN, PollStatus.CLOSED})  # a forum has at most one of these


class PollMoveError(ValueError):
    """A move the transition table does not allow (a bug in the caller, never a person's input)."""


def poll_moved(current: str, target: PollStatus) -> PollStatus:
    """``target``, once the table allows the move from ``current``; the one way a status changes."""
    if target not in POLL_TRANSITIONS[PollStatus(current)]:
        raise PollMoveError(f"a date poll does not move from {current} to {target}")
    return target


MIN_OPTIONS = 2
MAX_OPTIONS = 10
DEFAULT_TIME = time(17, 0)
DEFAULT_MINUTES = 90
DEFAULT_DEADLINE_WORKING_DAYS = 3
DEADLINE_TIME = time(12, 0)
EARLIEST_START, LATEST_START = time(6, 0), time(23, 0)
CANDIDATE_COUNT: dict[str, int] = {"weekly": 3, "monthly": 4}
MAX_DAYS_AHEAD = 366
RECENT_PAST_DAYS = 31  # "21/11" typed on 22/11 is a mistake, not next November
REMINDER_BEFORE_DEADLINE = timedelta(hours=24)
MIN_REMINDER_AFTER_OPEN = timedelta(hours=6)
MEETING_REMINDER_TIME = time(10, 0)
QUIET_AFTER = time(14, 0)  # on a Friday or a holiday eve
QUIET_FALLBACK = time(12, 0)
NUDGE_FROM_DAY = 20  # monthly forums: from the 20th of the month
NUDGE_HOUR = 9
ICS_PRODID = "-//forumbot//Partnership forums//HE"


class DateInputError(ValueError):
    """A typed date or time could not be used; ``key`` names the reason (see the services)."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


# --------------------------------------------------------------------------------------------
# Reading what the lead types
# --------------------------------------------------------------------------------------------

_BIDI_AND_ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u2060\ufeff"),
    None,
)
_TIME_RE = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")
_ISO_RE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_DMY_RE = re.compile(r"(?<!\d)(\d{1,2})\s*[./\-\\]\s*(\d{1,2})(?:\s*[./\-\\]\s*(\d{4}|\d{2}))?(?!\d)")
_HOUR_ONLY_RE = re.compile(r"^\s*(\d{1,2})\s*$")


def normalise_input(text: str) -> str:
    """NFC, no bidi or zero-width characters, ASCII digits (Arabic-Indic and Persian digits too)."""
    text = unicodedata.normalize("NFKC", text).translate(_BIDI_AND_ZERO_WIDTH)
    return "".join(_ascii_digit(ch) for ch in text)


def _ascii_digit(ch: str) -> str:
    if ch.isascii() or not ch.isdigit():
        return ch
    value = unicodedata.digit(ch, None)
    return ch if value is None else str(value)


def parse_time(text: str) -> time:
    """``17:00``, ``7:30`` or just ``17``; between 06:00 and 23:00."""
    clean = normalise_input(text).strip()
    match = _TIME_RE.fullmatch(clean) or _TIME_RE.search(clean)
    if match is not None:
        value = time(int(match.group(1)), int(match.group(2)))
    else:
        hour = _HOUR_ONLY_RE.match(clean)
        if hour is None or int(hour.group(1)) > 23:
            raise DateInputError("bad_time")
        value = time(int(hour.group(1)), 0)
    if not EARLIEST_START <= value <= LATEST_START:
        raise DateInputError("odd_time")
    return value


def parse_date_time(text: str, today: date) -> tuple[date, time | None]:
    """A day-first date with an optional time, e.g. ``12/1``, ``12.1.2027 18:30``, ``2027-01-12``.

    Raises DateInputError: ``no_date`` (nothing that looks like a date), ``bad_date`` (31/2),
    ``past``, ``too_far`` (more than a year ahead), ``odd_time``.
    """
    clean = normalise_input(text)
    start: time | None = None
    found_time = _TIME_RE.search(clean)
    if found_time is not None:
        start = time(int(found_time.group(1)), int(found_time.group(2)))
        if not EARLIEST_START <= start <= LATEST_START:
            raise DateInputError("odd_time")
        clean = clean[: found_time.start()] + " " + clean[found_time.end() :]
    iso = _ISO_RE.search(clean)
    dmy = None if iso else _DMY_RE.search(clean)
    if iso is not None:
        year, month, day = int(iso.group(1)), int(iso.group(2)), int(iso.group(3))
        rest = clean[: iso.start()] + clean[iso.end() :]
    elif dmy is not None:
        day, month = int(dmy.group(1)), int(dmy.group(2))
        year_text = dmy.group(3)
        year = (2000 + int(year_text) if len(year_text) == 2 else int(year_text)) if year_text else 0
        rest = clean[: dmy.start()] + clean[dmy.end() :]
    else:
        raise DateInputError("no_date")
    if any(ch.isdigit() for ch in rest):
        raise DateInputError("no_date")
    try:
        if year:
            found = date(year, month, day)
        else:
            found = date(today.year, month, day)
            if found < today - timedelta(days=RECENT_PAST_DAYS):
                found = date(today.year + 1, month, day)
    except ValueError:
        raise DateInputError("bad_date") from None
    if found < today:
        raise DateInputError("past")
    if (found - today).days > MAX_DAYS_AHEAD:
        raise DateInputError("too_far")
    return found, start


def format_hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def parse_hhmm(value: str) -> time:
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes or 0))


# --------------------------------------------------------------------------------------------
# Which dates to offer
# --------------------------------------------------------------------------------------------


def current_period(cadence: Cadence, today: date) -> tuple[date, date]:
    """This week's Sunday..Thursday, or this calendar month."""
    if cadence == "weekly":
        sunday = today - timedelta(days=(today.weekday() - SUNDAY) % 7)
        return sunday, sunday + timedelta(days=4)
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def candidate_window(
    calendar: IsraeliCalendar, cadence: Cadence, today: date, *, meeting_in_current_period: bool
) -> tuple[date, date]:
    """The days the next meeting can fall on: after a default voting window, within one period."""
    earliest = calendar.add_working_days(today, DEFAULT_DEADLINE_WORKING_DAYS + 1)
    start, end = current_period(cadence, today)
    first = max(start, earliest)
    enough = max(MIN_OPTIONS, CANDIDATE_COUNT.get(cadence, MIN_OPTIONS))
    if not meeting_in_current_period and len(calendar.working_days(first, end)) >= enough:
        return first, end
    return calendar.next_period(cadence, today, min_lead_days=(earliest - today).days, min_days=MIN_OPTIONS)


def candidate_dates(
    calendar: IsraeliCalendar, cadence: Cadence, today: date, *, meeting_in_current_period: bool = False
) -> list[date]:
    first, last = candidate_window(calendar, cadence, today, meeting_in_current_period=meeting_in_current_period)
    return calendar.meeting_candidates(first, last, CANDIDATE_COUNT.get(cadence, 4))


def default_deadline(calendar: IsraeliCalendar, today: date, tz: ZoneInfo) -> datetime:
    """Noon on the third working day after today."""
    day = calendar.add_working_days(today, DEFAULT_DEADLINE_WORKING_DAYS)
    return datetime.combine(day, DEADLINE_TIME, tzinfo=tz)


def local_start(day: date, start: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, start, tzinfo=tz)


# --------------------------------------------------------------------------------------------
# Counting and proposing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionCount:
    option_id: int
    starts_at: datetime
    voters: frozenset[int]
    roles: frozenset[str]  # every role held by someone who chose this date

    def coverage(self, required: frozenset[str]) -> int:
        return len(self.roles & required)


def count_votes(
    options: Sequence[tuple[int, datetime]],
    ballots: Mapping[int, Iterable[int]],
    roles_of: Mapping[int, frozenset[str]],
) -> list[OptionCount]:
    """Per option, who chose it (only current members count) and the roles they hold."""
    voters: dict[int, set[int]] = {option_id: set() for option_id, _ in options}
    for person_id, chosen in ballots.items():
        if person_id not in roles_of:
            continue
        for option_id in set(chosen):
            if option_id in voters:
                voters[option_id].add(person_id)
    result = []
    for option_id, starts_at in options:
        people = frozenset(voters[option_id])
        roles = frozenset(role for person in people for role in roles_of[person])
        result.append(OptionCount(option_id, starts_at, people, roles))
    return result


def ranked(
    counts: Sequence[OptionCount], required: frozenset[str], leads: frozenset[str] = frozenset()
) -> list[OptionCount]:
    """Best first: most required roles covered, then (between equals) the forum's lead can come,
    then most voters, then earliest."""
    return sorted(
        counts,
        key=lambda c: (-c.coverage(required), not (c.roles & leads), -len(c.voters), c.starts_at, c.option_id),
    )


def propose(
    counts: Sequence[OptionCount], required: frozenset[str], leads: frozenset[str] = frozenset()
) -> OptionCount | None:
    order = ranked(counts, required, leads)
    return order[0] if order else None


def missing_roles(
    required: frozenset[str], roles_of: Mapping[int, frozenset[str]], answered: Iterable[int]
) -> tuple[frozenset[str], frozenset[str]]:
    """(required roles seated in the forum that have not answered, required roles nobody holds)."""
    seated = frozenset(role for roles in roles_of.values() for role in roles)
    done = frozenset(role for person in answered if person in roles_of for role in roles_of[person])
    return (required & seated) - done, required - seated


# --------------------------------------------------------------------------------------------
# When to write to people
# --------------------------------------------------------------------------------------------


def quiet_moment(moment: datetime, calendar: IsraeliCalendar, fallback: time = QUIET_FALLBACK) -> datetime:
    """``moment`` (aware, local), moved back out of Shabbat, Yom Tov and Friday/eve afternoons
    (to ``fallback`` o'clock of the latest quiet day before)."""
    for _ in range(14):
        day = moment.date()
        reasons = calendar.day(day).reasons
        if day.weekday() == SATURDAY or Reason.HOLIDAY in reasons:
            moment = datetime.combine(day - timedelta(days=1), fallback, tzinfo=moment.tzinfo)
            continue
        if (day.weekday() == FRIDAY or Reason.HOLIDAY_EVE in reasons) and moment.timetz().replace(
            tzinfo=None
        ) > QUIET_AFTER:
            moment = datetime.combine(day, min(fallback, QUIET_AFTER), tzinfo=moment.tzinfo)
            continue
        return moment
    return moment


def reminder_at(opened_at: datetime, deadline: datetime, calendar: IsraeliCalendar, tz: ZoneInfo) -> datetime | None:
    """A day before the deadline (half-way for a short poll), at a quiet moment; None if too short."""
    moment = deadline - REMINDER_BEFORE_DEADLINE
    if moment < opened_at + MIN_REMINDER_AFTER_OPEN:
        moment = opened_at + (deadline - opened_at) / 2
    moment = quiet_moment(moment.astimezone(tz), calendar)
    if moment < opened_at + MIN_REMINDER_AFTER_OPEN / 2 or moment >= deadline:
        return None
    return moment


def meeting_reminder_at(starts_at: datetime, calendar: IsraeliCalendar, tz: ZoneInfo) -> datetime:
    """10:00 the day before the meeting, or earlier if that day is Shabbat or a holiday."""
    local = starts_at.astimezone(tz)
    moment = datetime.combine(local.date() - timedelta(days=1), MEETING_REMINDER_TIME, tzinfo=tz)
    return quiet_moment(moment, calendar, MEETING_REMINDER_TIME)


def nudge_period(calendar: IsraeliCalendar, cadence: Cadence, local_now: datetime) -> tuple[date, date] | None:
    """The period a lead should already have a meeting for, if it is time to nudge them about it.

    Monthly forums from the 20th (next month), weekly ones from Sunday (next week); only on a
    working day, from 09:00.
    """
    today = local_now.date()
    if local_now.hour < NUDGE_HOUR or not calendar.is_working_day(today):
        return None
    if cadence == "monthly" and today.day < NUDGE_FROM_DAY:
        return None
    return calendar.next_period(cadence, today, min_lead_days=0)


# --------------------------------------------------------------------------------------------
# The calendar invitation
# --------------------------------------------------------------------------------------------


# Israel's clock rule since 2013 (Israel Standard Time Law amendment): summer time from 02:00 on the
# Friday before the last Sunday of March (tzdata "Fri>=23") until 02:00 on the last Sunday of October.
# Written as two yearly RRULEs, the form every calendar reads (a VTIMEZONE listing each change as
# RDATE values is read by several parsers only up to its first value). DTSTART is the first change
# under the current rule; tests/test_ics.py checks the rule against zoneinfo year by year.
JERUSALEM_VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\n"
    "TZID:Asia/Jerusalem\r\n"
    "X-LIC-LOCATION:Asia/Jerusalem\r\n"
    "BEGIN:DAYLIGHT\r\n"
    "TZOFFSETFROM:+0200\r\n"
    "TZOFFSETTO:+0300\r\n"
    "TZNAME:IDT\r\n"
    "DTSTART:20130329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=23,24,25,26,27,28,29;BYDAY=FR\r\n"
    "END:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\n"
    "TZOFFSETFROM:+0300\r\n"
    "TZOFFSETTO:+0200\r\n"
    "TZNAME:IST\r\n"
    "DTSTART:20131027T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "END:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)
ICS_ORGANIZER = "mailto:noreply@forumbot.invalid"  # no mailbox: replies come through the chat
LOCATION_MAX = 300


def meeting_ics(
    *,
    uid: str,
    sequence: int,
    starts_at: datetime,
    minutes: int,
    summary: str,
    description: str,
    stamp: datetime,
    tz: ZoneInfo,
    cancelled: bool = False,
    organizer: str = "",
    location: str | None = None,
) -> bytes:
    """An iCalendar file with one event in ``tz`` (VTIMEZONE included), stable UID, given SEQUENCE.

    ``METHOD:REQUEST`` for a new or moved meeting, ``METHOD:CANCEL`` for a cancelled one; both carry
    an ``ORGANIZER`` (the forum, by name, at an address that receives nothing), the place or online
    link in ``LOCATION`` when the lead gave one, and the agenda (``description``) in ``DESCRIPTION``.
    """
    start = starts_at.astimezone(tz)
    event = Event.new(
        uid=uid,
        start=start,
        end=start + timedelta(minutes=minutes),
        summary=summary,
        description=description or None,
        sequence=sequence,
        stamp=stamp,
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
        location=location or None,
    )
    organizer_address = vCalAddress(ICS_ORGANIZER)
    if organizer:
        organizer_address.params["CN"] = organizer
    event.add("organizer", organizer_address)
    calendar = Calendar()
    calendar.add("prodid", ICS_PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    if tz.key == "Asia/Jerusalem":
        calendar.add_component(Timezone.from_ical(JERUSALEM_VTIMEZONE))
    calendar.add_component(event)
    calendar.add_missing_timezones()  # any other zone: icalendar's own rendering of it
    data: bytes = calendar.to_ical()
    return data
