"""A forum's meetings: the calendar it keeps, confirming, announcing with an .ics invitation,
moving, cancelling, the reminder the day before, and the cadence nudge to leads.

Every notice goes through the outbox with a de-duplication key, so a double click, a retried
job or a restart never sends the same notice twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.core.messages import FileSpec, Outbound, OutKind
from bot.domain import agenda as agenda_rules
from bot.domain import meeting_polls as rules
from bot.domain.calendar import Cadence, IsraeliCalendar, Observance
from bot.domain.meeting_polls import LIVE_POLL
from bot.domain.permissions import Action, allowed
from bot.domain.roles import lead_roles
from bot.domain.text import InputError, clean_text
from bot.domain.tiers import Tier
from bot.i18n import FSI, LOCALES, LRI, N_, PDI, RLM, Ltr, Raw, Translator, ascii_filename
from bot.services import audit
from bot.services.agenda import items as agenda
from bot.services.agenda.items import Agenda
from bot.services.delivery.notify import Recipient, forum_groups, lead_ids, member_ids, recipients
from bot.services.delivery.outbox import CHAT_GROUP, PRIORITY_NOTICE, enqueue
from bot.services.errors import Forbidden, Refused
from bot.services.forums import people
from bot.services.forums.access import load_forum as load_forum  # one definition, used from here too
from bot.services.forums.access import require as require
from bot.services.meetings.poll_actions import OpenPoll
from bot.services.meetings.poll_texts import DayReasons, forum_name, option_label
from bot.services.sql import claim_step, get_or_refuse
from bot.storage.models import Forum, Membership, OrgUnit, Person
from bot.storage.models_polls import DatePoll, Meeting

log = logging.getLogger(__name__)

JERUSALEM = ZoneInfo("Asia/Jerusalem")
SET_STATUSES = ("confirmed", "held")
ACTIVE_STATUSES = ("proposed", "confirmed", "held")
ICS_MIME = "text/calendar"
REMINDER_WINDOW = timedelta(days=7)
MIN_NOTICE = timedelta(hours=1)

NOT_A_LEAD = N_("Only the forum's lead can do that.")
NOT_A_MEETING_DAY = N_("{day} is not a meeting day ({why}). Choose another day.")


# --------------------------------------------------------------------------------------------
# The forum's calendar and habits
# --------------------------------------------------------------------------------------------


def forum_calendar(forum: Forum, unit: OrgUnit) -> IsraeliCalendar:
    """Jewish and national days always; the forum's other observances; school vacations for schools.

    ``forum.settings``: ``observances`` (set from the unit's sector at import), ``school_vacations``
    (default: on for school forums), ``jerusalem`` (Shushan Purim is a day off).
    """
    known = {o.value for o in Observance}
    observances = [o for o in forum.settings.get("observances", []) if o in known]
    vacations = forum.settings.get("school_vacations", unit.tier == Tier.SCHOOL.value)
    return IsraeliCalendar(
        observances, school_vacations=bool(vacations), jerusalem=bool(forum.settings.get("jerusalem", False))
    )


def usual_time(forum: Forum) -> time:
    value = forum.settings.get("meeting_time")
    if isinstance(value, str):
        try:
            return rules.parse_hhmm(value)
        except ValueError:
            log.warning("forum %s has a bad meeting_time %r", forum.id, value)
    return rules.DEFAULT_TIME


def usual_minutes(forum: Forum) -> int:
    value = forum.settings.get("meeting_minutes")
    return value if isinstance(value, int) and 15 <= value <= 480 else rules.DEFAULT_MINUTES


def group_locale(forum: Forum) -> str:
    """The language of what is posted in a forum's group (``settings["locale"]``, default Hebrew)."""
    value = forum.settings.get("locale")
    return value if value in LOCALES else "he"


def cadence_of(forum: Forum) -> Cadence:
    return "weekly" if forum.cadence == "weekly" else "monthly"


async def may_lead(
    session: AsyncSession, person: Person | None, forum: Forum, action: Action = Action.OPEN_POLL
) -> bool:
    return allowed(action, await people.standings(session, person, forum))


async def require_lead(
    session: AsyncSession, person: Person | None, forum: Forum, action: Action = Action.OPEN_POLL
) -> None:
    if not await may_lead(session, person, forum, action):
        raise Forbidden(NOT_A_LEAD)


async def member_roles(session: AsyncSession, forum_id: int) -> dict[int, frozenset[str]]:
    """Every active member of a forum (not forgotten) with the roles they hold in it."""
    rows = await session.execute(
        select(Membership.person_id, Membership.role)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.forum_id == forum_id, Membership.revoked_at.is_(None), Person.forgotten_at.is_(None))
    )
    roles: dict[int, set[str]] = {}
    for person_id, role in rows.all():
        roles.setdefault(person_id, set()).add(role)
    return {person_id: frozenset(r) for person_id, r in roles.items()}


def day_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in ``tz``, as UTC."""
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


async def meeting_between(
    session: AsyncSession,
    forum_id: int,
    first: date,
    last: date,
    tz: ZoneInfo,
    statuses: tuple[str, ...] = ACTIVE_STATUSES,
) -> Meeting | None:
    start, end = day_bounds(first, last, tz)
    return await session.scalar(
        select(Meeting)
        .where(
            Meeting.forum_id == forum_id,
            Meeting.status.in_(statuses),
            Meeting.starts_at >= start,
            Meeting.starts_at < end,
        )
        .order_by(Meeting.starts_at)
        .limit(1)
    )


def check_meeting_day(calendar: IsraeliCalendar, day: date) -> None:
    info = calendar.day(day)
    if not info.is_working_day:
        raise Refused(NOT_A_MEETING_DAY, day=day, why=DayReasons(info.reasons, info.names))


# --------------------------------------------------------------------------------------------
# Creating, confirming, moving, cancelling
# --------------------------------------------------------------------------------------------


async def create_meeting(
    session: AsyncSession,
    *,
    forum: Forum,
    starts_at: datetime,
    now: datetime,
    status: str = "proposed",
    poll_id: int | None = None,
    created_by: int | None = None,
    minutes: int | None = None,
) -> Meeting:
    meeting = Meeting(
        forum_id=forum.id,
        starts_at=starts_at,
        duration_minutes=minutes or usual_minutes(forum),
        status=status,
        ics_uid=f"{uuid.uuid4()}@forumbot",
        ics_sequence=0,
        poll_id=poll_id,
        created_by_person_id=created_by,
        created_at=now,
        updated_at=now,
        confirmed_at=now if status == "confirmed" else None,
        location=usual_location(forum),
    )
    session.add(meeting)
    await session.flush()
    return meeting


async def meeting_of_poll(session: AsyncSession, poll_id: int) -> Meeting | None:
    return await session.scalar(select(Meeting).where(Meeting.poll_id == poll_id).order_by(Meeting.id.desc()).limit(1))


async def load_meeting(session: AsyncSession, meeting_id: int, *, lock: bool = False) -> Meeting:
    gone = N_("That meeting no longer exists.")
    return await get_or_refuse(session, Meeting, meeting_id, gone, lock=lock, fresh=True)


async def confirm(
    session: AsyncSession, meeting: Meeting, forum: Forum, *, starts_at: datetime, person: Person | None, now: datetime,
    tz: ZoneInfo,
) -> int:
    """A proposed meeting becomes the confirmed one and is announced; returns how many people were told."""
    meeting.starts_at = starts_at
    meeting.status = "confirmed"
    meeting.confirmed_at = now
    meeting.updated_at = now
    meeting.reminded_at = None
    details = {"forum": forum.id, "starts_at": starts_at.isoformat()}
    audit.record_by(session, person, "meeting.confirm", now=now, subject=f"meeting:{meeting.id}", details=details)
    return await announce(session, meeting, forum, now=now, tz=tz)


@dataclass(frozen=True)
class Moved:
    meeting: Meeting
    forum: Forum
    old_start: datetime
    told: int


async def upcoming_led_by(session: AsyncSession, person: Person, now: datetime) -> list[tuple[Meeting, Forum]]:
    """Confirmed meetings still ahead in the forums this person leads."""
    seats = [s for s in await people.seats_of(session, person.id) if s.is_lead]
    if not seats:
        return []
    forums = {
        f.id: f
        for f in (
            await session.scalars(
                select(Forum).where(Forum.id.in_([s.forum.id for s in seats])).options(selectinload(Forum.org_unit))
            )
        ).all()
    }
    rows = await session.scalars(
        select(Meeting)
        .where(Meeting.forum_id.in_(list(forums)), Meeting.status == "confirmed", Meeting.starts_at > now)
        .order_by(Meeting.starts_at)
    )
    return [(m, forums[m.forum_id]) for m in rows.all()]


async def check_new_start(
    session: AsyncSession, meeting: Meeting, forum: Forum, *, day: date, start: time | None, now: datetime, tz: ZoneInfo
) -> datetime:
    """Where a meeting would move to, refused clearly if that cannot be."""
    calendar = forum_calendar(forum, forum.org_unit)
    check_meeting_day(calendar, day)
    current = meeting.starts_at.astimezone(tz)
    starts_at = rules.local_start(day, start or current.timetz().replace(tzinfo=None), tz).astimezone(UTC)
    if starts_at <= now + MIN_NOTICE:
        raise Refused(N_("That is too soon: members need at least an hour's notice."))
    if starts_at == meeting.starts_at:
        raise Refused(N_("The meeting is already set for then."))
    return starts_at


async def move(
    session: AsyncSession, meeting_id: int, *, starts_at: datetime, person: Person | None, now: datetime, tz: ZoneInfo
) -> Moved:
    meeting = await load_meeting(session, meeting_id, lock=True)
    forum = await load_forum(session, meeting.forum_id)
    await require_lead(session, person, forum, Action.MANAGE_MEETINGS)
    if meeting.status != "confirmed":
        raise Refused(N_("Only a confirmed meeting can be moved."))
    if meeting.starts_at <= now:
        raise Refused(N_("That meeting has already started."))
    if starts_at == meeting.starts_at:
        raise Refused(N_("The meeting is already set for then."))
    old = meeting.starts_at
    meeting.starts_at = starts_at
    meeting.ics_sequence += 1
    meeting.updated_at = now
    meeting.reminded_at = None
    details = {"from": old.isoformat(), "to": starts_at.isoformat(), "sequence": meeting.ics_sequence}
    audit.record_by(session, person, "meeting.move", now=now, subject=f"meeting:{meeting.id}", details=details)
    told = await announce(session, meeting, forum, now=now, tz=tz, old_start=old)
    return Moved(meeting, forum, old, told)


async def cancel(session: AsyncSession, meeting_id: int, *, person: Person | None, now: datetime, tz: ZoneInfo) -> int:
    meeting = await load_meeting(session, meeting_id, lock=True)
    forum = await load_forum(session, meeting.forum_id)
    await require_lead(session, person, forum, Action.MANAGE_MEETINGS)
    if meeting.status == "cancelled":
        raise Refused(N_("That meeting is already cancelled."))
    if meeting.status != "confirmed" or meeting.starts_at <= now:
        raise Refused(N_("Only an upcoming confirmed meeting can be cancelled."))
    meeting.status = "cancelled"
    meeting.ics_sequence += 1
    meeting.updated_at = now
    audit.record_by(session, person, "meeting.cancel", now=now, subject=f"meeting:{meeting.id}")
    return await announce(session, meeting, forum, now=now, tz=tz)


async def set_location(
    session: AsyncSession, meeting_id: int, *, location: str | None, person: Person | None, now: datetime, tz: ZoneInfo
) -> int:
    """The lead sets (or, with None, removes) the meeting's place or online link; every member gets
    the updated invitation, and the forum remembers it for its next meetings. Returns people told."""
    meeting = await load_meeting(session, meeting_id, lock=True)
    forum = await load_forum(session, meeting.forum_id)
    await require_lead(session, person, forum, Action.MANAGE_MEETINGS)
    if meeting.status != "confirmed" or meeting.starts_at <= now:
        raise Refused(N_("Only an upcoming confirmed meeting can be changed."))
    value: str | None = None
    if location is not None:
        try:
            value = clean_text(location, max_length=rules.LOCATION_MAX, min_length=2)
        except InputError:
            raise Refused(
                N_("Please send the place or the link in 2 to {max} characters."), max=rules.LOCATION_MAX
            ) from None
    if value == meeting.location:
        raise Refused(N_("The meeting's place is already set to that."))
    meeting.location = value
    meeting.ics_sequence += 1
    meeting.updated_at = now
    settings = dict(forum.settings)
    if value is None:
        settings.pop("meeting_location", None)
    else:
        settings["meeting_location"] = value
    forum.settings = settings
    details = {"set": value is not None, "sequence": meeting.ics_sequence}
    audit.record_by(session, person, "meeting.location", now=now, subject=f"meeting:{meeting.id}", details=details)
    return await announce(session, meeting, forum, now=now, tz=tz, place_changed=True)


def usual_location(forum: Forum) -> str | None:
    """The place or link the forum's lead set last (``settings["meeting_location"]``)."""
    value = forum.settings.get("meeting_location")
    return value if isinstance(value, str) and value else None


# --------------------------------------------------------------------------------------------
# Announcements and the invitation
# --------------------------------------------------------------------------------------------


def _plain(text: str) -> str:
    for mark in (FSI, LRI, PDI, RLM):
        text = text.replace(mark, "")
    return text


def invitation(
    t: Translator, meeting: Meeting, forum: Forum, *, now: datetime, tz: ZoneInfo, agenda_text: str = ""
) -> bytes:
    """The .ics for one reader: their language, the forum as organizer, the place, the agenda."""
    title = forum_name(t, forum, forum.org_unit)
    description = _plain(agenda_text).strip() if meeting.status != "cancelled" else ""
    footer = _plain(t._("Set in the chat with the bot. Changes come through the chat with an updated invitation."))
    return rules.meeting_ics(
        uid=meeting.ics_uid,
        sequence=meeting.ics_sequence,
        starts_at=meeting.starts_at,
        minutes=meeting.duration_minutes,
        summary=_plain(t._("Meeting of {forum}", forum=Raw(title))),
        description=f"{description}\n\n{footer}" if description else footer,
        stamp=now,
        tz=tz,
        cancelled=meeting.status == "cancelled",
        organizer=_plain(title),
        location=meeting.location,
    )


def place_line(t: Translator, meeting: Meeting) -> str:
    if not meeting.location:
        return ""
    place = meeting.location
    value: str = Ltr(place) if "://" in place or place.startswith("www.") else place
    return t._("📍 Where: {place}", place=value)


def announcement_text(
    t: Translator, meeting: Meeting, forum: Forum, *, old_start: datetime | None = None, place_changed: bool = False
) -> str:
    text = _announcement_text(t, meeting, forum, old_start=old_start, place_changed=place_changed)
    place = place_line(t, meeting) if meeting.status != "cancelled" else ""
    if not place:
        return text
    first, _, rest = text.partition("\n")
    return "\n".join(part for part in (first, place, rest) if part)


def _announcement_text(
    t: Translator, meeting: Meeting, forum: Forum, *, old_start: datetime | None, place_changed: bool
) -> str:
    title = Raw(forum_name(t, forum, forum.org_unit))
    when = Raw(option_label(t, meeting.starts_at))
    if place_changed:
        first = (
            t._("📍 The meeting of {forum} on {date} has a new place.", forum=title, date=when)
            if meeting.location
            else t._("📍 The meeting of {forum} on {date} has no set place any more.", forum=title, date=when)
        )
        return first + "\n" + t._("The updated invitation is attached: open it to update your calendar.")
    if meeting.status == "cancelled":
        return t._("❌ The meeting of {forum} on {date} is cancelled.", forum=title, date=when) + "\n" + t._(
            "The attached file removes it from your calendar."
        )
    if old_start is not None:
        return t._(
            "⚠️ The meeting of {forum} has moved: it is now on {date} (instead of {old}).",
            forum=title,
            date=when,
            old=Raw(option_label(t, old_start)),
        ) + "\n" + t._("The updated invitation is attached: open it to update your calendar.")
    return t._("📅 {forum} meets on {date}.", forum=title, date=when) + "\n" + t._(
        "The invitation is attached: open it to add the meeting to your calendar."
    )


def _file_message(
    t: Translator, meeting: Meeting, forum: Forum, text: str, *, now: datetime, tz: ZoneInfo, coming: Agenda | None
) -> Outbound:
    data = invitation(t, meeting, forum, now=now, tz=tz, agenda_text=_agenda_of(t, coming, meeting))
    name = t.filename(N_("meeting-{number}"), "ics", number=meeting.id)
    file = FileSpec.of(name, ICS_MIME, data, ascii_filename("meeting-{number}", "ics", number=meeting.id))
    return Outbound(kind=OutKind.FILE, text=text, rtl=t.rtl, file=file)


def _agenda_of(t: Translator, coming: Agenda | None, meeting: Meeting) -> str:
    """The coming agenda's text, when it is this meeting's and has something on it."""
    if coming is None or coming.meeting_at != meeting.starts_at or not (coming.items or coming.issues):
        return ""
    return coming.text(t, with_intake=False)


async def announce(
    session: AsyncSession,
    meeting: Meeting,
    forum: Forum,
    *,
    now: datetime,
    tz: ZoneInfo,
    old_start: datetime | None = None,
    place_changed: bool = False,
) -> int:
    """The meeting as it now stands, with its invitation, to every member and the forum's groups."""
    key = f"meeting:{meeting.id}:s{meeting.ics_sequence}:{meeting.status}"
    coming = await agenda.coming_agenda(session, forum, now) if meeting.status != "cancelled" else None
    told: set[int] = set()
    for r in await recipients(session, await member_ids(session, forum.id), now=now, tz=tz):
        text = announcement_text(r.t, meeting, forum, old_start=old_start, place_changed=place_changed)
        if await r.send(_file_message(r.t, meeting, forum, text, now=now, tz=tz, coming=coming), dedup_key=key):
            told.add(r.person.id)
    t = Translator(group_locale(forum), "p", tz)
    for group in await forum_groups(session, forum.id):
        text = announcement_text(t, meeting, forum, old_start=old_start, place_changed=place_changed)
        await enqueue(
            session,
            channel=group.channel,
            chat_id=group.chat_id,
            chat_kind=CHAT_GROUP,
            message=_file_message(t, meeting, forum, text, now=now, tz=tz, coming=coming),
            now=now,
            priority=PRIORITY_NOTICE,
            dedup_key=f"{key}:g{group.id}",
        )
    return len(told)


# --------------------------------------------------------------------------------------------
# The reminder the day before
# --------------------------------------------------------------------------------------------


async def due_reminder_ids(session: AsyncSession, now: datetime, tz: ZoneInfo) -> list[int]:
    rows = await session.execute(
        select(Meeting, Forum, OrgUnit)
        .join(Forum, Forum.id == Meeting.forum_id)
        .join(OrgUnit, OrgUnit.id == Forum.org_unit_id)
        .where(
            Meeting.status == "confirmed",
            Meeting.reminded_at.is_(None),
            Meeting.starts_at > now,
            Meeting.starts_at <= now + REMINDER_WINDOW,
        )
        .order_by(Meeting.starts_at)
    )
    due = []
    for meeting, forum, unit in rows.all():
        if rules.meeting_reminder_at(meeting.starts_at, forum_calendar(forum, unit), tz) <= now:
            due.append(meeting.id)
    return due


async def send_reminder(session: AsyncSession, meeting_id: int, *, now: datetime, tz: ZoneInfo) -> int:
    """The day-before reminder, once per meeting date; returns how many people it went to."""
    meeting = await load_meeting(session, meeting_id)
    forum = await load_forum(session, meeting.forum_id)
    calendar = forum_calendar(forum, forum.org_unit)
    remind_at = rules.meeting_reminder_at(meeting.starts_at, calendar, tz)
    if now < remind_at:
        return 0
    claimed = await session.execute(
        update(Meeting)
        .where(
            Meeting.id == meeting.id,
            Meeting.reminded_at.is_(None),
            Meeting.status == "confirmed",
            Meeting.starts_at == meeting.starts_at,
        )
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(claimed) != 1:
        return 0
    if meeting.updated_at >= remind_at:
        return 0  # announced after the reminder's moment: the announcement was the reminder
    key = f"meeting:{meeting.id}:reminder:{meeting.starts_at.isoformat()}"
    tomorrow = meeting.starts_at.astimezone(tz).date() - now.astimezone(tz).date() == timedelta(days=1)
    # One message the day before: the reminder, and under it the meeting's agenda if it has any.
    coming = await agenda.coming_agenda(session, forum, now)

    def text_for(t: Translator, *, in_group: bool = False) -> str:
        text = reminder_text(t, meeting, forum, tomorrow=tomorrow)
        if meeting.location:
            text += "\n" + place_line(t, meeting)
        if coming.meeting_at == meeting.starts_at and (coming.items or coming.issues):
            text += "\n\n" + coming.text(t, with_intake=False, in_group=in_group)
        return text

    sent: set[int] = set()
    for r in await recipients(session, await member_ids(session, forum.id), now=now, tz=tz):
        if await r.send(r.message(text_for(r.t)), dedup_key=key):
            sent.add(r.person.id)
    t = Translator(group_locale(forum), "p", tz)
    for group in await forum_groups(session, forum.id):
        await enqueue(
            session,
            channel=group.channel,
            chat_id=group.chat_id,
            chat_kind=CHAT_GROUP,
            message=Outbound(kind=OutKind.TEXT, text=text_for(t, in_group=True), rtl=t.rtl),
            now=now,
            priority=PRIORITY_NOTICE,
            dedup_key=f"{key}:g{group.id}",
        )
    return len(sent)


def reminder_text(t: Translator, meeting: Meeting, forum: Forum, *, tomorrow: bool) -> str:
    title = Raw(forum_name(t, forum, forum.org_unit))
    when = Raw(option_label(t, meeting.starts_at))
    if tomorrow:
        return t._("⏰ Reminder: {forum} meets tomorrow, {date}.", forum=title, date=when)
    return t._("⏰ Reminder: {forum} meets on {date}.", forum=title, date=when)


# --------------------------------------------------------------------------------------------
# The cadence nudge
# --------------------------------------------------------------------------------------------


async def cadence_nudges(session: AsyncSession, *, now: datetime, tz: ZoneInfo) -> int:
    """Tell leads whose forum has no meeting for its next period, at most once per period.

    Runs at most once a day (claimed in this transaction); a forum with a poll open or waiting
    for the lead's decision is left alone.
    """
    local_now = now.astimezone(tz)
    if local_now.hour < rules.NUDGE_HOUR:
        return 0
    if not await claim_step(session, f"cadence_nudges:{local_now.date().isoformat()}", now, owner="local"):
        return 0
    busy = set(
        (
            await session.scalars(select(DatePoll.forum_id).where(DatePoll.status.in_(LIVE_POLL)))
        ).all()
    )
    led = await session.execute(
        select(Forum, OrgUnit, Membership.role)
        .join(OrgUnit, OrgUnit.id == Forum.org_unit_id)
        .join(Membership, Membership.forum_id == Forum.id)
        .where(Membership.revoked_at.is_(None))
    )
    forums: dict[int, tuple[Forum, OrgUnit]] = {}
    for forum, unit, role in led.all():
        if role in lead_roles(unit.tier, forum.kind) and forum.id not in busy:
            forums[forum.id] = (forum, unit)
    nudged = 0
    for forum, unit in forums.values():
        period = rules.nudge_period(forum_calendar(forum, unit), cadence_of(forum), local_now)
        if period is None or await meeting_between(session, forum.id, period[0], period[1], tz) is not None:
            continue
        nudged += await _nudge(session, forum, unit, period, now=now, tz=tz)
    return nudged


async def _nudge(
    session: AsyncSession, forum: Forum, unit: OrgUnit, period: tuple[date, date], *, now: datetime, tz: ZoneInfo
) -> int:
    sent = 0
    for r in await recipients(session, await lead_ids(session, forum.id), now=now, tz=tz):
        text = nudge_text(r, forum, unit, period, cadence_of(forum))
        buttons = [[r.button(r.t._("Open a date poll"), OpenPoll(forum.id))]]
        if await r.send(r.message(text, buttons), dedup_key=f"nudge:f{forum.id}:{period[0].isoformat()}"):
            sent += 1
    return sent


def nudge_text(r: Recipient, forum: Forum, unit: OrgUnit, period: tuple[date, date], cadence: str) -> str:
    t = r.t
    title = Raw(forum_name(t, forum, unit))
    if cadence == "weekly":
        return t._(
            "{forum} has no meeting set for the week of {date} yet. Shall we find a date?",
            forum=title,
            date=Raw(t.date(period[0], "long")),
        )
    return t._(
        "{forum} has no meeting set for {month} yet. Shall we find a date?",
        forum=title,
        month=Raw(t.date(period[0], "LLLL y")),
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# -- the next meeting, set by hand (agenda) or by a closed poll ----------------------------------


async def store_next_meeting(
    session: AsyncSession, forum: Forum, at: datetime, now: datetime, *, person: Person | None = None,
    tz: ZoneInfo | None = None,
) -> None:
    """Set the next meeting: the upcoming confirmed one moves, or a new one is confirmed and announced."""
    tz = tz or ZoneInfo("Asia/Jerusalem")
    upcoming = await session.scalar(
        select(Meeting)
        .where(Meeting.forum_id == forum.id, Meeting.status == "confirmed", Meeting.starts_at > now)
        .order_by(Meeting.starts_at)
        .limit(1)
    )
    if upcoming is not None:
        if upcoming.starts_at != at:
            await move(session, upcoming.id, starts_at=at, person=person, now=now, tz=tz)
        return
    meeting = await create_meeting(
        session, forum=forum, starts_at=at, now=now, created_by=person.id if person else None
    )
    await confirm(session, meeting, forum, starts_at=at, person=person, now=now, tz=tz)


async def set_meeting_date(session: AsyncSession, *, forum: Forum, person: Person, at: datetime, now: datetime) -> None:
    """The lead sets the date of the next meeting (until the polls feature sets it)."""
    await agenda.require(session, person, forum, Action.MANAGE_AGENDA, agenda.ONLY_LEAD)
    if at <= now:
        raise Refused(N_("That time has already passed. Please send a future date and time."))
    if at > now + timedelta(days=agenda_rules.MEETING_MAX_DAYS_AHEAD):
        raise Refused(N_("That is more than a year away. Please send a nearer date."))
    await store_next_meeting(session, forum, at, now, person=person)
    audit.record(session, now=now, action="agenda.meeting_date", actor_person_id=person.id,
                 subject=f"forum:{forum.id}", details={"at": at.isoformat()})
