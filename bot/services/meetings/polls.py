"""Meeting-date polls: a lead's draft, publishing, votes, reminders, closing and the decision.

The ballots themselves (what is sent, to whom, and how a messenger's own poll finds its date poll)
are bot.services.meetings.ballots.

Life of a poll: ``draft`` (the lead edits the dates, the time and the deadline) → ``open``
(ballots sent; votes change freely until the deadline) → ``closed`` (the native polls are
stopped and the lead is offered the proposed date) → ``decided`` (a meeting is confirmed and
announced) or ``cancelled``.

Votes: one ballot per person and poll, whatever chat or channel it came from; the last answer
wins and an empty answer takes the ballot back. The poll row is locked while a vote is taken,
so two quick clicks, or a vote racing the close, are applied one after the other and none is
lost. Steps that happen once (closing, the reminder, the "every required role answered" notice)
are claimed with an ``UPDATE … WHERE`` in the same transaction as the messages they send.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Button
from bot.domain import meeting_polls as rules
from bot.domain.meeting_polls import LIVE_POLL, DateInputError, OptionCount, PollStatus, poll_moved
from bot.domain.permissions import Action, allowed
from bot.domain.roles import lead_roles, required_roles
from bot.i18n import N_, Ltr, Raw, Translator
from bot.services import audit
from bot.services.delivery.notify import lead_ids, recipients
from bot.services.delivery.outbox import withdraw_queued
from bot.services.errors import Forbidden, NotFound, Refused
from bot.services.forums import people
from bot.services.meetings import schedule as meetings
from bot.services.meetings import undelivered
from bot.services.meetings.ballots import (
    NONE_OPTION,
    Mint,
    ballot_buttons,
    correlation_of,
    send_ballots,
    stop_native,
)
from bot.services.meetings.poll_actions import ChooseOtherDate, ClosePoll, ConfirmDate, SetNoMeeting, ShowResults
from bot.services.meetings.poll_texts import forum_name, option_label, role_list, short_label, when
from bot.services.sql import claim_step, get_or_refuse
from bot.storage.models import ExternalRef, Forum, Person
from bot.storage.models_polls import DatePoll, DatePollBallot, DatePollOption, Meeting

log = logging.getLogger(__name__)

MIN_OPEN = timedelta(hours=1)

DATE_ERRORS: dict[str, str] = {
    "no_date": N_(
        "I could not read a date in that. Type the day first, for example 12/1 or 12.1.2027, "
        "and a time if you like: 12/1 18:30."
    ),
    "bad_date": N_("There is no such date. Check the day and the month (the day comes first: 12/1 is 12 January)."),
    "past": N_("That date has already passed."),
    "too_far": N_("That is more than a year away. Choose a nearer date."),
    "odd_time": N_("A meeting can start between 06:00 and 23:00."),
    "bad_time": N_("I could not read the time. Type it like 17:00."),
}
NOT_A_MEMBER = N_("Only members of the forum can vote in this poll.")
VOTING_CLOSED = N_("Voting on this date poll has closed, so your answer was not counted.")


def refuse_input(error: DateInputError) -> Refused:
    return Refused(DATE_ERRORS.get(error.key, DATE_ERRORS["no_date"]), **error.params)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


async def load_poll(session: AsyncSession, poll_id: int, *, lock: bool = False) -> DatePoll:
    gone = N_("That poll no longer exists. Send /poll to start a new one.")
    return await get_or_refuse(session, DatePoll, poll_id, gone, lock=lock, fresh=True)


async def options_of(session: AsyncSession, poll_id: int) -> list[DatePollOption]:
    rows = await session.scalars(
        select(DatePollOption)
        .where(DatePollOption.poll_id == poll_id)
        .order_by(DatePollOption.starts_at, DatePollOption.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def live_poll_for(session: AsyncSession, forum_id: int) -> DatePoll | None:
    """The forum's open poll, or a closed one still waiting for the lead's decision."""
    return await session.scalar(
        select(DatePoll)
        .where(DatePoll.forum_id == forum_id, DatePoll.status.in_(LIVE_POLL))
        .order_by(DatePoll.id.desc())
        .limit(1)
    )


# --------------------------------------------------------------------------------------------
# The lead's draft
# --------------------------------------------------------------------------------------------


async def start_draft(session: AsyncSession, forum: Forum, person: Person, *, now: datetime, tz: ZoneInfo) -> DatePoll:
    """A new draft with candidate dates at the forum's usual time and the default deadline."""
    await meetings.require_lead(session, person, forum)
    await session.execute(
        delete(DatePoll).where(
            DatePoll.forum_id == forum.id,
            DatePoll.status == PollStatus.DRAFT,
            DatePoll.created_by_person_id == person.id,
        )
    )
    unit = forum.org_unit
    calendar = meetings.forum_calendar(forum, unit)
    cadence = meetings.cadence_of(forum)
    today = now.astimezone(tz).date()
    first, last = rules.current_period(cadence, today)
    existing = await meetings.meeting_between(session, forum.id, first, last, tz)
    start = meetings.usual_time(forum)
    poll = DatePoll(
        forum_id=forum.id,
        created_by_person_id=person.id,
        status=PollStatus.DRAFT,
        meeting_time=rules.format_hhmm(start),
        duration_minutes=meetings.usual_minutes(forum),
        deadline=rules.default_deadline(calendar, today, tz).astimezone(UTC),
        created_at=now,
    )
    session.add(poll)
    await session.flush()
    for day in rules.candidate_dates(calendar, cadence, today, meeting_in_current_period=existing is not None):
        session.add(
            DatePollOption(poll_id=poll.id, position=0, starts_at=rules.local_start(day, start, tz).astimezone(UTC))
        )
    await session.flush()
    return poll


async def _draft(session: AsyncSession, poll_id: int, person: Person | None) -> tuple[DatePoll, Forum]:
    poll = await load_poll(session, poll_id, lock=True)
    if poll.status != PollStatus.DRAFT:
        raise Refused(N_("This poll was already published."))
    forum = await meetings.load_forum(session, poll.forum_id)
    await meetings.require_lead(session, person, forum)
    return poll, forum


async def add_option(
    session: AsyncSession, poll_id: int, text: str, *, person: Person | None, now: datetime, tz: ZoneInfo
) -> DatePollOption:
    """Add a typed date (and optional time) to a draft; refused clearly when it cannot be offered."""
    poll, forum = await _draft(session, poll_id, person)
    try:
        day, start = rules.parse_date_time(text, now.astimezone(tz).date())
    except DateInputError as error:
        raise refuse_input(error) from None
    meetings.check_meeting_day(meetings.forum_calendar(forum, forum.org_unit), day)
    starts_at = rules.local_start(day, start or rules.parse_hhmm(poll.meeting_time), tz).astimezone(UTC)
    if starts_at <= poll.deadline:
        raise Refused(
            N_("{day} is before voting closes ({deadline}). Choose a later date, or move the deadline first."),
            day=day,
            deadline=poll.deadline,
        )
    options = await options_of(session, poll.id)
    if any(o.starts_at == starts_at for o in options):
        raise Refused(N_("That date is already on the list."))
    if len(options) >= rules.MAX_OPTIONS:
        raise Refused(N_("A poll can offer at most {max} dates. Remove one first."), max=rules.MAX_OPTIONS)
    option = DatePollOption(poll_id=poll.id, position=0, starts_at=starts_at)
    session.add(option)
    await session.flush()
    return option


async def remove_option(session: AsyncSession, poll_id: int, option_id: int, *, person: Person | None) -> None:
    poll, _ = await _draft(session, poll_id, person)
    await session.execute(
        delete(DatePollOption).where(DatePollOption.poll_id == poll.id, DatePollOption.id == option_id)
    )


async def set_time(
    session: AsyncSession, poll_id: int, text: str, *, person: Person | None, tz: ZoneInfo
) -> time:
    """Change the usual time: dates at the old time move to the new one; the forum remembers it."""
    poll, forum = await _draft(session, poll_id, person)
    try:
        new = rules.parse_time(text)
    except DateInputError as error:
        raise refuse_input(error) from None
    old = rules.parse_hhmm(poll.meeting_time)
    options = await options_of(session, poll.id)
    moves: list[tuple[DatePollOption, datetime]] = []
    for option in options:
        local = option.starts_at.astimezone(tz)
        if local.time() != old:
            continue
        moved = rules.local_start(local.date(), new, tz).astimezone(UTC)
        if moved <= poll.deadline:
            raise Refused(
                N_("At that time, {day} would be before voting closes ({deadline}). Move the deadline first."),
                day=local.date(),
                deadline=poll.deadline,
            )
        moves.append((option, moved))
    taken = {o.starts_at for o in options}
    for option, moved in moves:  # checked first: a refusal changes nothing
        if moved in taken:
            await session.delete(option)
        else:
            taken.discard(option.starts_at)
            option.starts_at = moved
            taken.add(moved)
    poll.meeting_time = rules.format_hhmm(new)
    forum.settings = {**forum.settings, "meeting_time": poll.meeting_time}
    await session.flush()
    return new


async def set_deadline(
    session: AsyncSession,
    poll_id: int,
    *,
    person: Person | None,
    now: datetime,
    tz: ZoneInfo,
    working_days: int | None = None,
    text: str | None = None,
) -> datetime:
    """Voting closes after ``working_days`` (at noon), or at a typed date and time."""
    poll, forum = await _draft(session, poll_id, person)
    calendar = meetings.forum_calendar(forum, forum.org_unit)
    today = now.astimezone(tz).date()
    if working_days is not None:
        day, at = calendar.add_working_days(today, max(1, min(working_days, 20))), rules.DEADLINE_TIME
    else:
        try:
            day, typed = rules.parse_date_time(text or "", today)
        except DateInputError as error:
            raise refuse_input(error) from None
        at = typed or rules.DEADLINE_TIME
        if not calendar.is_working_day(day):
            raise Refused(N_("Voting should close on a working day; {day} is not one."), day=day)
    deadline = rules.local_start(day, at, tz).astimezone(UTC)
    check_deadline(deadline, await options_of(session, poll.id), now)
    poll.deadline = deadline
    return deadline


def check_deadline(deadline: datetime, options: list[DatePollOption], now: datetime) -> None:
    if deadline < now + MIN_OPEN:
        raise Refused(N_("Voting must stay open for at least an hour."))
    if options and deadline >= min(o.starts_at for o in options):
        raise Refused(
            N_("Voting must close before the first date on offer ({first})."),
            first=min(o.starts_at for o in options),
        )


async def discard_draft(session: AsyncSession, poll_id: int, *, person: Person | None) -> None:
    poll, _ = await _draft(session, poll_id, person)
    await session.delete(poll)


# --------------------------------------------------------------------------------------------
# Publishing and the ballots
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    poll: DatePoll
    forum: Forum
    people: int
    groups: int


async def publish(
    session: AsyncSession, poll_id: int, *, person: Person | None, now: datetime, tz: ZoneInfo
) -> Published:
    poll, forum = await _draft(session, poll_id, person)
    await session.scalar(select(Forum.id).where(Forum.id == forum.id).with_for_update())
    other = await live_poll_for(session, forum.id)
    if other is not None and other.id != poll.id:
        if other.status == PollStatus.OPEN:
            raise Refused(
                N_("Another date poll for this forum is already open until {deadline}."), deadline=other.deadline
            )
        raise Refused(N_("The last date poll of this forum is still waiting for your decision: choose its date first."))
    options = await options_of(session, poll.id)
    if len(options) < rules.MIN_OPTIONS:
        raise Refused(N_("A poll needs at least {min} dates. Add one by typing it."), min=rules.MIN_OPTIONS)
    if len(options) > rules.MAX_OPTIONS:
        raise Refused(N_("A poll can offer at most {max} dates. Remove one first."), max=rules.MAX_OPTIONS)
    if any(o.starts_at <= now for o in options):
        raise Refused(N_("One of the dates has already passed. Remove it first."))
    check_deadline(poll.deadline, options, now)
    for position, option in enumerate(options):
        option.position = position
    calendar = meetings.forum_calendar(forum, forum.org_unit)
    poll.status = poll_moved(poll.status, PollStatus.OPEN)
    poll.opened_at = now
    remind = rules.reminder_at(now, poll.deadline, calendar, tz)
    poll.remind_at = remind.astimezone(UTC) if remind else None
    await session.flush()
    details = {"forum": forum.id, "options": len(options), "deadline": poll.deadline.isoformat()}
    audit.record_by(session, person, "datepoll.open", now=now, subject=f"datepoll:{poll.id}", details=details)
    reached, groups = await send_ballots(session, poll, forum, options, now=now, tz=tz)
    return Published(poll, forum, reached, groups)


# --------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------


@dataclass
class Tally:
    poll: DatePoll
    forum: Forum
    options: list[DatePollOption]
    counts: list[OptionCount]
    members: dict[int, frozenset[str]]
    ballots: dict[int, DatePollBallot]
    required: frozenset[str]
    leads: frozenset[str] = field(default_factory=frozenset)
    missing: frozenset[str] = field(default_factory=frozenset)  # seated required roles not answered
    unseated: frozenset[str] = field(default_factory=frozenset)  # required roles nobody holds

    @property
    def answered(self) -> set[int]:
        return {p for p, b in self.ballots.items() if p in self.members and (b.choices or b.none_works)}

    @property
    def not_answered(self) -> list[int]:
        return sorted(set(self.members) - self.answered)

    @property
    def proposal(self) -> OptionCount | None:
        return rules.propose(self.counts, self.required, self.leads)

    @property
    def roles_complete(self) -> bool:
        return bool(self.required - self.unseated) and not self.missing

    def count_for(self, option_id: int) -> OptionCount | None:
        return next((c for c in self.counts if c.option_id == option_id), None)


async def tally(session: AsyncSession, poll: DatePoll, forum: Forum | None = None) -> Tally:
    forum = forum or await meetings.load_forum(session, poll.forum_id)
    unit = forum.org_unit
    options = await options_of(session, poll.id)
    members = await meetings.member_roles(session, forum.id)
    ballots = {
        b.person_id: b
        for b in (
            await session.scalars(
                select(DatePollBallot)
                .where(DatePollBallot.poll_id == poll.id)
                .execution_options(populate_existing=True)
            )
        ).all()
    }
    counts = rules.count_votes(
        [(o.id, o.starts_at) for o in options],
        {p: [int(c) for c in b.choices] for p, b in ballots.items()},
        members,
    )
    required = required_roles(unit.tier, forum.kind)
    result = Tally(poll, forum, options, counts, members, ballots, required, lead_roles(unit.tier, forum.kind))
    result.missing, result.unseated = rules.missing_roles(required, members, result.answered)
    return result


# --------------------------------------------------------------------------------------------
# Voting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteResult:
    poll: DatePoll
    forum: Forum
    chosen: frozenset[int]
    none_works: bool


async def vote(
    session: AsyncSession,
    poll_id: int,
    person: Person | None,
    *,
    chosen: set[int],
    none_works: bool,
    channel: str,
    now: datetime,
    tz: ZoneInfo,
) -> VoteResult:
    """Record a person's whole answer (empty = take it back)."""
    poll = await load_poll(session, poll_id, lock=True)
    if poll.status == PollStatus.DRAFT:
        raise NotFound(N_("That poll no longer exists. Send /poll to start a new one."))
    forum = await meetings.load_forum(session, poll.forum_id)
    if person is None or not allowed(Action.VOTE, await people.standings(session, person, forum)):
        raise Forbidden(NOT_A_MEMBER)
    if poll.status != PollStatus.OPEN or now >= poll.deadline:
        raise Refused(VOTING_CLOSED)
    valid = {o.id for o in await options_of(session, poll.id)}
    chosen = chosen & valid
    if chosen:
        none_works = False
    current = await session.get(DatePollBallot, (poll.id, person.id), populate_existing=True)
    if not chosen and not none_works:
        if current is not None:
            await session.delete(current)
    elif current is None:
        session.add(
            DatePollBallot(
                poll_id=poll.id,
                person_id=person.id,
                choices=sorted(chosen),
                none_works=none_works,
                channel=channel,
                updated_at=now,
            )
        )
    else:
        current.choices = sorted(chosen)
        current.none_works = none_works
        current.channel = channel
        current.updated_at = now
    await session.flush()
    await notify_if_roles_complete(session, poll, forum, now=now, tz=tz)
    return VoteResult(poll, forum, frozenset(chosen), none_works)


async def current_choice(session: AsyncSession, poll_id: int, person_id: int) -> tuple[set[int], bool]:
    found = await session.get(DatePollBallot, (poll_id, person_id), populate_existing=True)
    if found is None:
        return set(), False
    return {int(c) for c in found.choices}, found.none_works


async def toggle(
    session: AsyncSession,
    poll_id: int,
    option_id: int,
    want: bool,
    person: Person | None,
    *,
    channel: str,
    now: datetime,
    tz: ZoneInfo,
) -> VoteResult:
    """A button press: choose (``want``) or take back one date. Pressing the same button twice
    sets the same state twice, so a double click changes nothing."""
    await load_poll(session, poll_id, lock=True)
    chosen, none_works = await current_choice(session, poll_id, person.id) if person else (set(), False)
    if option_id == NONE_OPTION:
        none_works = want
        if want:
            chosen = set()
    elif want:
        chosen.add(option_id)
        none_works = False
    else:
        chosen.discard(option_id)
    return await vote(session, poll_id, person, chosen=chosen, none_works=none_works, channel=channel, now=now, tz=tz)


async def vote_native(
    session: AsyncSession,
    poll_id: int,
    ref: ExternalRef,
    person: Person | None,
    option_ids: tuple[int, ...],
    *,
    now: datetime,
    tz: ZoneInfo,
) -> VoteResult:
    """A native poll answer: option *positions*; the last position is "none works"."""
    options = await options_of(session, poll_id)
    by_position = {o.position: o.id for o in options}
    chosen = {by_position[i] for i in option_ids if i in by_position}
    none_works = len(options) in option_ids
    try:
        return await vote(
            session, poll_id, person, chosen=chosen, none_works=none_works, channel=ref.channel, now=now, tz=tz
        )
    except Forbidden:
        raise
    except Refused:
        await stop_native(session, poll_id, ref, now=now)  # a poll sent after the close: stop it too
        raise


# --------------------------------------------------------------------------------------------
# Texts for leads
# --------------------------------------------------------------------------------------------


def results_lines(t: Translator, result: Tally, *, best: int | None = None) -> list[str]:
    unit = result.forum.org_unit
    lines = []
    for count in result.counts:
        mark = "⭐ " if count.option_id == best else "• "
        line = mark + option_label(t, count.starts_at) + " — " + t.n_("{n} vote", "{n} votes", len(count.voters))
        covered = count.roles & result.required
        if covered:
            line += " · " + role_list(t, unit, result.forum, covered)
        lines.append(line)
    return lines


def _turnout(t: Translator, result: Tally) -> dict[str, object]:
    """The parameters of a tally's headline: the forum's name, and how many of its members answered."""
    forum = result.forum
    return {
        "forum": Raw(forum_name(t, forum, forum.org_unit)),
        "answered": len(result.answered),
        "members": len(result.members),
    }


async def _names(session: AsyncSession, t: Translator, person_ids: Iterable[int]) -> str:
    """The people's names in alphabetical order, joined as a list in ``t``'s language."""
    names = (await session.scalars(select(Person.display_name).where(Person.id.in_(person_ids)))).all()
    return t.join(sorted(names))


async def results_text(session: AsyncSession, t: Translator, result: Tally) -> str:
    parts = [
        t._("Answers so far for {forum}: {answered} of {members} members.", **_turnout(t, result)),
        "\n".join(results_lines(t, result)),
    ]
    waiting = result.not_answered
    if waiting:
        parts.append(t._("Not answered yet: {names}", names=await _names(session, t, waiting)))
    lost = [p for p in await undelivered.not_reached(session, f"{correlation_of(result.poll.id)}:ballot")
            if p in result.members]
    if lost:
        parts.append(t._("The poll could not be delivered to: {names}", names=await _names(session, t, lost)))
    parts.append(roles_line(t, result))
    parts.append(t._("Voting closes on {deadline}.", deadline=Raw(when(t, result.poll.deadline))))
    return "\n\n".join(p for p in parts if p)


def roles_line(t: Translator, result: Tally) -> str:
    unit = result.forum.org_unit
    lines = []
    if result.missing:
        lines.append(
            t._("Required roles not answered yet: {roles}", roles=Raw(role_list(t, unit, result.forum, result.missing)))
        )
    elif result.roles_complete and result.unseated:
        filled = result.required - result.unseated
        lines.append(
            t._(
                "Every required role that someone holds has answered ({filled} of {required} required roles are "
                "filled).",
                filled=len(filled),
                required=len(result.required),
            )
        )
    elif result.roles_complete:
        lines.append(t._("Every required role has answered."))
    if result.unseated:
        lines.append(
            t._(
                "No one in the forum holds these required roles yet: {roles}",
                roles=Raw(role_list(t, unit, result.forum, result.unseated)),
            )
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Once-only steps: required roles complete, the reminder, the close
# --------------------------------------------------------------------------------------------


async def notify_if_roles_complete(
    session: AsyncSession, poll: DatePoll, forum: Forum, *, now: datetime, tz: ZoneInfo
) -> bool:
    """Tell the leads, once, that every required role held in the forum has answered."""
    if poll.status != PollStatus.OPEN or poll.roles_notified_at is not None:
        return False
    result = await tally(session, poll, forum)
    if not result.roles_complete:
        return False
    claimed = await session.execute(
        update(DatePoll)
        .where(DatePoll.id == poll.id, DatePoll.roles_notified_at.is_(None), DatePoll.status == PollStatus.OPEN)
        .values(roles_notified_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(claimed) != 1:
        return False
    poll.roles_notified_at = now
    unit = forum.org_unit
    for r in await recipients(session, await lead_ids(session, forum.id), now=now, tz=tz):
        t = r.t
        if result.unseated:  # never "every required role" while some have nobody in them
            filled = result.required - result.unseated
            text = t._(
                "✔️ The required roles that someone holds in {forum} have all answered the date poll "
                "({filled} of {required}): {roles}.",
                forum=Raw(forum_name(t, forum, unit)),
                filled=len(filled),
                required=len(result.required),
                roles=Raw(role_list(t, unit, forum, filled)),
            )
            text += "\n" + t._(
                "No one holds these required roles yet, so no one could answer for them: {roles}. "
                "You can invite someone with {command}.",
                roles=Raw(role_list(t, unit, forum, result.unseated)),
                command=Ltr("/invite"),
            )
            text += "\n" + t._("You can close the poll now, or let it run until {deadline}.",
                                deadline=Raw(when(t, poll.deadline)))
        else:
            text = t._(
                "✔️ Every required role has answered the date poll of {forum}. You can close it now, "
                "or let it run until {deadline}.",
                forum=Raw(forum_name(t, forum, unit)),
                deadline=Raw(when(t, poll.deadline)),
            )
        buttons = [[r.button(t._("Close the poll now"), ClosePoll(poll.id)),
                    r.button(t._("Results"), ShowResults(poll.id))]]
        await r.send(r.message(text, buttons), dedup_key=f"{correlation_of(poll.id)}:roles-complete")
    return True


async def roles_complete_sweep(session: AsyncSession, *, now: datetime, tz: ZoneInfo) -> int:
    """For polls whose roles were completed some other way (a member who left, a role revoked).

    A vote already sends the notice; this safety net runs once an hour (claimed here).
    """
    if not await claim_step(session, f"required_roles_sweep:{now.strftime('%Y-%m-%dT%H')}", now, owner="local"):
        return 0
    polls = (
        await session.scalars(
            select(DatePoll).where(DatePoll.status == PollStatus.OPEN, DatePoll.roles_notified_at.is_(None))
        )
    ).all()
    told = 0
    for poll in polls:
        forum = await meetings.load_forum(session, poll.forum_id)
        told += int(await notify_if_roles_complete(session, poll, forum, now=now, tz=tz))
    return told


async def due_reminder_ids(session: AsyncSession, now: datetime) -> list[int]:
    return list(
        (
            await session.scalars(
                select(DatePoll.id).where(
                    DatePoll.status == PollStatus.OPEN,
                    DatePoll.reminded_at.is_(None),
                    DatePoll.remind_at <= now,
                    DatePoll.deadline > now,
                )
            )
        ).all()
    )


async def send_reminders(session: AsyncSession, poll_id: int, *, now: datetime, tz: ZoneInfo) -> int:
    """The one reminder before the deadline, only to members who have not answered."""
    claimed = await session.execute(
        update(DatePoll)
        .where(
            DatePoll.id == poll_id,
            DatePoll.status == PollStatus.OPEN,
            DatePoll.reminded_at.is_(None),
            DatePoll.remind_at <= now,
            DatePoll.deadline > now,
        )
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(claimed) != 1:
        return 0
    poll = await load_poll(session, poll_id)
    forum = await meetings.load_forum(session, poll.forum_id)
    result = await tally(session, poll, forum)
    reminded: set[int] = set()
    for r in await recipients(session, result.not_answered, now=now, tz=tz):
        t = r.t
        text = t._(
            "⏳ Reminder: {forum} is choosing the date of its next meeting and we do not have your answer yet. "
            "Voting closes on {deadline}.",
            forum=Raw(forum_name(t, forum, forum.org_unit)),
            deadline=Raw(when(t, poll.deadline)),
        )
        text += "\n" + t._("Choose every date that suits you:")
        buttons = ballot_buttons(t, poll, result.options, r.button, set(), False)
        if await r.send(r.message(text, buttons), dedup_key=f"{correlation_of(poll.id)}:reminder"):
            reminded.add(r.person.id)
    return len(reminded)


DRAFT_DAYS = 14


async def purge_stale_drafts(session: AsyncSession, now: datetime) -> int:
    """Drafts a lead walked away from (``/cancel``, a new ``/poll`` elsewhere) are dropped after two weeks."""
    result = await session.execute(
        delete(DatePoll).where(
            DatePoll.status == PollStatus.DRAFT, DatePoll.created_at < now - timedelta(days=DRAFT_DAYS)
        )
    )
    return _rowcount(result)


async def due_close_ids(session: AsyncSession, now: datetime) -> list[int]:
    return list(
        (
            await session.scalars(
                select(DatePoll.id)
                .where(DatePoll.status == PollStatus.OPEN, DatePoll.deadline <= now)
                .order_by(DatePoll.id)
            )
        ).all()
    )


CLOSING = poll_moved(PollStatus.OPEN, PollStatus.CLOSED)  # the table allows it, checked at import


async def close(
    session: AsyncSession,
    poll_id: int,
    *,
    now: datetime,
    tz: ZoneInfo,
    early_by: Person | None = None,
) -> bool:
    """Close the poll once: stop every native poll sent, propose a date and ask the leads.

    At the deadline (a job, also after a restart that missed it) or earlier by a lead.
    """
    condition = [DatePoll.id == poll_id, DatePoll.status == PollStatus.OPEN]
    if early_by is None:
        condition.append(DatePoll.deadline <= now)
    else:
        poll = await load_poll(session, poll_id)
        await meetings.require_lead(session, early_by, await meetings.load_forum(session, poll.forum_id))
    claimed = await session.execute(
        update(DatePoll).where(*condition).values(status=CLOSING, closed_at=now).execution_options(
            synchronize_session=False
        )
    )
    if _rowcount(claimed) != 1:
        return False
    poll = await load_poll(session, poll_id)
    forum = await meetings.load_forum(session, poll.forum_id)
    result = await tally(session, poll, forum)
    best = result.proposal
    if best is not None:
        poll.proposed_option_id = best.option_id
        await meetings.create_meeting(
            session,
            forum=forum,
            starts_at=best.starts_at,
            now=now,
            poll_id=poll.id,
            created_by=poll.created_by_person_id,
            minutes=poll.duration_minutes,
        )
    refs = (
        await session.scalars(
            select(ExternalRef).where(ExternalRef.correlation == correlation_of(poll.id), ExternalRef.kind == "poll")
        )
    ).all()
    for ref in refs:
        await stop_native(session, poll.id, ref, now=now)
    # Ballots still waiting in the outbox are not worth sending any more.
    await withdraw_queued(
        session, key_prefix=f"{correlation_of(poll.id)}:ballot:", reason="the poll closed before it was sent"
    )
    details = {"answered": len(result.answered), "proposed": best.option_id if best else None}
    audit.record_by(session, early_by, "datepoll.close", now=now, subject=f"datepoll:{poll.id}", details=details)
    await tell_leads_closed(session, result, now=now, tz=tz)
    return True


def decision_buttons(mint: Mint, t: Translator, result: Tally) -> list[list[Button]]:
    poll = result.poll
    rows = []
    best = result.proposal
    if best is not None:
        label = t._("✅ Confirm {date}", date=Raw(short_label(t, best.starts_at)))
        rows.append([mint(label, ConfirmDate(poll.id, best.option_id))])
    if len(result.options) > 1 or best is None:
        rows.append([mint(t._("📅 Another date"), ChooseOtherDate(poll.id))])
    rows.append([mint(t._("✖ Set no meeting"), SetNoMeeting(poll.id))])
    return rows


def closed_text(t: Translator, result: Tally) -> str:
    forum = result.forum
    best = result.proposal
    parts = [t._("Voting on the date for {forum} has closed: {answered} of {members} members answered.",
                 **_turnout(t, result))]
    if best is None:
        parts.append(t._("No date was on offer."))
    else:
        covered = best.roles & result.required
        missing = (result.required - result.unseated) - covered
        line = t._("I propose {date}.", date=Raw(option_label(t, best.starts_at)))
        if not best.voters:
            line += " " + t._("No one chose a date, so this is the earliest one.")
        elif not missing and result.unseated:
            line += " " + t._("Every required role that someone holds can come.")
        elif not missing:
            line += " " + t._("Every required role can come.")
        else:
            line += " " + t._(
                "Missing required roles: {roles}.", roles=Raw(role_list(t, forum.org_unit, forum, missing))
            )
        parts.append(line)
        parts.append("\n".join(results_lines(t, result, best=best.option_id)))
    if result.unseated:
        parts.append(
            t._(
                "No one in the forum holds these required roles yet: {roles}",
                roles=Raw(role_list(t, forum.org_unit, forum, result.unseated)),
            )
        )
    return "\n\n".join(parts)


async def tell_leads_closed(session: AsyncSession, result: Tally, *, now: datetime, tz: ZoneInfo) -> int:
    told = 0
    for r in await recipients(session, await lead_ids(session, result.forum.id), now=now, tz=tz):
        message = r.message(closed_text(r.t, result), decision_buttons(r.button, r.t, result))
        told += int(await r.send(message, dedup_key=f"{correlation_of(result.poll.id)}:closed"))
    return told


# --------------------------------------------------------------------------------------------
# The lead's decision
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decided:
    meeting: Meeting
    forum: Forum
    told: int


async def _closed_poll(session: AsyncSession, poll_id: int, person: Person | None) -> tuple[DatePoll, Forum]:
    poll = await load_poll(session, poll_id, lock=True)
    forum = await meetings.load_forum(session, poll.forum_id)
    await meetings.require_lead(session, person, forum, Action.MANAGE_MEETINGS)
    if poll.status == PollStatus.DECIDED:
        meeting = await meetings.meeting_of_poll(session, poll.id)
        if meeting is not None:
            raise Refused(N_("The date is already set: {date}."), date=meeting.starts_at)
    if poll.status == PollStatus.CANCELLED:
        raise Refused(N_("No meeting was set from this poll. Send /poll to start a new one."))
    if poll.status == PollStatus.OPEN:
        raise Refused(N_("This poll is still open. Close it first."))
    if poll.status != PollStatus.CLOSED:
        raise Refused(N_("That poll no longer exists. Send /poll to start a new one."))
    return poll, forum


async def decide(
    session: AsyncSession, poll_id: int, option_id: int, *, person: Person | None, now: datetime, tz: ZoneInfo
) -> Decided:
    """The lead's choice becomes the confirmed meeting, announced to every member with its invitation."""
    poll, forum = await _closed_poll(session, poll_id, person)
    option = next((o for o in await options_of(session, poll.id) if o.id == option_id), None)
    if option is None:
        raise Refused(N_("That date is not one of this poll's dates."))
    if option.starts_at <= now:
        raise Refused(N_("That date has already passed."))
    meeting = await meetings.meeting_of_poll(session, poll.id)
    if meeting is None:
        meeting = await meetings.create_meeting(
            session, forum=forum, starts_at=option.starts_at, now=now, poll_id=poll.id,
            created_by=poll.created_by_person_id, minutes=poll.duration_minutes,
        )
    poll.status = poll_moved(poll.status, PollStatus.DECIDED)
    told = await meetings.confirm(session, meeting, forum, starts_at=option.starts_at, person=person, now=now, tz=tz)
    return Decided(meeting, forum, told)


async def drop(session: AsyncSession, poll_id: int, *, person: Person | None, now: datetime) -> None:
    """The lead sets no meeting from this poll."""
    poll, _ = await _closed_poll(session, poll_id, person)
    poll.status = poll_moved(poll.status, PollStatus.CANCELLED)
    meeting = await meetings.meeting_of_poll(session, poll.id)
    if meeting is not None and meeting.status == "proposed":
        meeting.status = "cancelled"
        meeting.updated_at = now
    audit.record_by(session, person, "datepoll.drop", now=now, subject=f"datepoll:{poll.id}")


async def decision_choices(session: AsyncSession, poll_id: int, *, person: Person | None) -> Tally:
    poll, forum = await _closed_poll(session, poll_id, person)
    return await tally(session, poll, forum)


def parse_day(text: str, today: date) -> tuple[date, time | None]:
    try:
        return rules.parse_date_time(text, today)
    except DateInputError as error:
        raise refuse_input(error) from None


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
