"""Meeting-date polls in the chat: /poll for leads, voting, the decision, /reschedule.

Thin: parse, call bot.services.meetings.polls / bot.services.meetings.schedule, reply. Every button re-checks
permission in the service; payloads carry only ids.

In the shape of handlers/agenda.py: the buttons are declared actions (the ones the services also
send, in bot.services.meetings.poll_actions; the meeting's own below; each keeps reading its earlier
``dpv:…``/``mtr:…`` payload, see ``was``), the drafts declared flows, one module-level function per
command, step and action, all registered in :func:`build`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Concatenate, ParamSpec
from zoneinfo import ZoneInfo

from bot.conversation import Context, Router
from bot.core.actions import Action as ButtonAction
from bot.core.messages import Button
from bot.core.states import FlowState, StaleConversation
from bot.domain.meeting_polls import PollStatus
from bot.domain.permissions import Action
from bot.i18n import N_, Raw
from bot.services.errors import Forbidden, NotFound, Refused
from bot.services.forums.invites import forum_by_code
from bot.services.meetings import ballots, polls
from bot.services.meetings import schedule as meetings
from bot.services.meetings.poll_actions import (
    ChooseOtherDate,
    ClosePoll,
    ConfirmDate,
    OpenPoll,
    SetNoMeeting,
    ShowResults,
    Vote,
)
from bot.services.meetings.poll_texts import day_label, forum_name, option_label, present, role_list, short_label, when
from bot.storage.models import Forum
from bot.storage.models_polls import DatePoll, Meeting
from handlers.common import on_actions, on_steps
from handlers.forum_pick import with_forum

log = logging.getLogger(__name__)

TIMES = ("16:00", "16:30", "17:00", "17:30", "18:00", "19:00")
DEADLINE_DAYS = (1, 2, 3, 5)
UNMATCHED_VOTE = N_(
    "I could not count that vote: I cannot tell which date poll it belongs to, or its voting has closed. "
    "Please vote on the latest poll I sent you."
)
NOT_A_LEAD = N_("Only a forum's lead can open a date poll.")

# -- what the meeting's buttons and the conversations carry ---------------------------------------


class AskNewDate(ButtonAction, name="polls.reschedule", was=("mtr",)):
    """Move a confirmed meeting: ask for its new date."""

    meeting_id: int


class AskCancel(ButtonAction, name="polls.ask_cancel", was=("mtc",)):
    """"❌ Cancel the meeting": asks the lead to confirm."""

    meeting_id: int


class CancelMeeting(ButtonAction, name="polls.cancel_meeting", was=("mtcy",)):
    """"Yes, cancel it": the meeting is cancelled and the members are told."""

    meeting_id: int


class KeepMeeting(ButtonAction, name="polls.keep_meeting", was=("mtk",)):
    """"No, keep it": nothing changes."""

    meeting_id: int


class AskPlace(ButtonAction, name="polls.ask_place", was=("mtl",)):
    """Set, change or remove where a confirmed meeting takes place (an address, a room or a link)."""

    meeting_id: int


class PollDraft(FlowState, flow="poll", steps=("draft", "time", "deadline")):
    poll: int  # the draft DatePoll


class Reschedule(FlowState, flow="resched", steps=("date", "confirm")):
    meeting: int
    starts_at: datetime | None = None  # the new start, from the date step on to the confirm step


class MeetingPlace(FlowState, flow="mplace", steps=("text",)):
    meeting: int


P = ParamSpec("P")
Reply = Callable[Concatenate[Context, P], Awaitable[None]]  # a handler: the context, then its action if any


def localized(fn: Reply[P]) -> Reply[P]:
    """Reply to a refusal with its dates and reasons worded for the reader."""

    @functools.wraps(fn)
    async def run(ctx: Context, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await fn(ctx, *args, **kwargs)
        except Refused as refusal:
            flows = (PollDraft.flow, Reschedule.flow)
            if isinstance(refusal, NotFound) and ctx.state is not None and ctx.state.flow in flows:
                await ctx.clear_state()  # the draft or meeting behind this flow is gone
            params = {key: present(ctx.t, value) for key, value in refusal.params.items()}
            await ctx.reply(ctx.t._(refusal.msgid, **params))

    return run


# -- opening a poll ---------------------------------------------------------------------------------


@localized
async def poll_command(ctx: Context) -> None:
    assert ctx.person is not None
    code = ctx.event.args.strip()
    if code:
        coded = await forum_by_code(ctx.session, code)
        if not await meetings.may_lead(ctx.session, ctx.person, coded):
            raise Forbidden(NOT_A_LEAD)
        await begin(ctx, coded)
        return
    await with_forum(ctx, OpenPoll, begin, lead=True, question=N_("Which forum is the poll for?"), refusal=NOT_A_LEAD)


@localized
async def open_poll(ctx: Context, value: OpenPoll) -> None:
    forum = await meetings.load_forum(ctx.session, value.forum_id)
    if not await meetings.may_lead(ctx.session, ctx.person, forum):
        raise Forbidden(NOT_A_LEAD)
    await begin(ctx, forum)


# -- the draft ----------------------------------------------------------------------------------------


@localized
async def draft_step(ctx: Context) -> None:
    draft = ctx.flow(PollDraft)
    if not ctx.value:  # typed text: a date to add
        await polls.add_option(ctx.session, draft.poll, ctx.text, person=ctx.person, now=ctx.now, tz=tz(ctx))
        await show_draft(ctx, draft.poll)
        return
    choice, _, arg = ctx.value.partition(":")
    if choice == "rm" and arg.isdigit():
        await polls.remove_option(ctx.session, draft.poll, int(arg), person=ctx.person)
        await show_draft(ctx, draft.poll, edit=True)
    elif choice == "time":
        await ctx.enter(draft, "time")
        await ask_time(ctx, draft.poll)
    elif choice == "deadline":
        await ctx.enter(draft, "deadline")
        await ask_deadline(ctx, draft.poll)
    elif choice == "publish":
        await publish(ctx, draft.poll)
    elif choice == "cancel":
        await polls.discard_draft(ctx.session, draft.poll, person=ctx.person)
        await ctx.clear_state()
        await ctx.reply(ctx.t._("Cancelled. Nothing was sent."), edit=True)


@localized
async def time_step(ctx: Context) -> None:
    draft = ctx.flow(PollDraft)
    if ctx.value != "back":
        await polls.set_time(ctx.session, draft.poll, ctx.value or ctx.text, person=ctx.person, tz=tz(ctx))
    await ctx.enter(draft, "draft")
    await show_draft(ctx, draft.poll, edit=bool(ctx.value))


@localized
async def deadline_step(ctx: Context) -> None:
    draft = ctx.flow(PollDraft)
    if ctx.value.startswith("d:") and ctx.value[2:].isdigit():
        await polls.set_deadline(
            ctx.session, draft.poll, person=ctx.person, now=ctx.now, tz=tz(ctx), working_days=int(ctx.value[2:])
        )
    elif not ctx.value:
        await polls.set_deadline(ctx.session, draft.poll, person=ctx.person, now=ctx.now, tz=tz(ctx), text=ctx.text)
    await ctx.enter(draft, "draft")
    await show_draft(ctx, draft.poll, edit=bool(ctx.value))


# -- voting -----------------------------------------------------------------------------------------


async def native_answer(ctx: Context) -> None:
    """An answer to a native (Telegram) poll: matched to its date poll by the poll's id, or by chat
    and options for a copy whose sendPoll timed out after it was delivered."""
    event = ctx.event
    found = await ballots.native_poll(ctx.session, event.channel, event.poll_ref)
    if found is None:
        found = await ballots.native_poll_copy(
            ctx.session, event.channel, event.poll_ref, event.chat_id, event.option_ids, now=ctx.now
        )
    if found is None:  # never dropped silently (only date polls are sent as native polls)
        log.warning("an answer to poll %s could not be matched to an open date poll", event.poll_ref)
        await ctx.reply(ctx.t._(UNMATCHED_VOTE))
        return
    poll_id, ref = found
    try:
        await polls.vote_native(ctx.session, poll_id, ref, ctx.person, event.option_ids, now=ctx.now, tz=tz(ctx))
    except (Forbidden, NotFound):
        log.info("ignored an answer to date poll %s from a non-member", poll_id)
    except Refused as refusal:
        await ctx.reply(ctx.t._(refusal.msgid))


@localized
async def vote(ctx: Context, value: Vote) -> None:
    result = await polls.toggle(
        ctx.session, value.poll_id, value.option_id, value.want, ctx.person, channel=ctx.event.channel,
        now=ctx.now, tz=tz(ctx),
    )
    await show_ballot(ctx, result.poll, set(result.chosen), result.none_works)


# -- the lead during and after the vote -------------------------------------------------------------


@localized
async def results(ctx: Context, value: ShowResults) -> None:
    poll = await polls.load_poll(ctx.session, value.poll_id)
    forum = await meetings.load_forum(ctx.session, poll.forum_id)
    await meetings.require_lead(ctx.session, ctx.person, forum)
    text = await polls.results_text(ctx.session, ctx.t, await polls.tally(ctx.session, poll, forum))
    buttons = []
    if poll.status == PollStatus.OPEN:
        buttons = [[ctx.button(ctx.t._("Close the poll now"), ClosePoll(poll.id))]]
    await ctx.reply(text, buttons)


@localized
async def close_now(ctx: Context, value: ClosePoll) -> None:
    if await polls.close(ctx.session, value.poll_id, now=ctx.now, tz=tz(ctx), early_by=ctx.person):
        await ctx.reply(ctx.t._("Voting closed. The results and my proposal follow."), edit=True)
    else:
        await ctx.reply(ctx.t._("This poll is already closed."), edit=True)


@localized
async def confirm(ctx: Context, value: ConfirmDate) -> None:
    decided = await polls.decide(
        ctx.session, value.poll_id, value.option_id, person=ctx.person, now=ctx.now, tz=tz(ctx)
    )
    await ctx.reply(
        confirmed_text(ctx, decided.meeting, decided.forum, decided.told),
        meeting_buttons(ctx, decided.meeting),
        edit=True,
    )


@localized
async def other_date(ctx: Context, value: ChooseOtherDate) -> None:
    result = await polls.decision_choices(ctx.session, value.poll_id, person=ctx.person)
    rows = []
    for count in result.counts:
        if count.starts_at <= ctx.now:
            continue
        label = short_label(ctx.t, count.starts_at) + " · " + ctx.t.n_("{n} vote", "{n} votes", len(count.voters))
        rows.append([ctx.button(label, ConfirmDate(value.poll_id, count.option_id))])
    rows.append([ctx.button(ctx.t._("✖ Set no meeting"), SetNoMeeting(value.poll_id))])
    await ctx.reply(ctx.t._("Which date shall it be?"), rows, edit=True)


@localized
async def set_no_meeting(ctx: Context, value: SetNoMeeting) -> None:
    await polls.drop(ctx.session, value.poll_id, person=ctx.person, now=ctx.now)
    await ctx.reply(ctx.t._("No meeting was set. Send /poll when you want to try other dates."), edit=True)


# -- moving or cancelling a confirmed meeting -------------------------------------------------------


@localized
async def reschedule_command(ctx: Context) -> None:
    assert ctx.person is not None
    upcoming = await meetings.upcoming_led_by(ctx.session, ctx.person, ctx.now)
    if not upcoming:
        await ctx.reply(ctx.t._("There is no upcoming meeting in a forum you lead. Send /poll to find a date."))
        return
    if len(upcoming) == 1:
        await ask_new_date(ctx, upcoming[0][0], upcoming[0][1])
        return
    await ctx.reply(
        ctx.t._("Which meeting?"),
        [
            [ctx.button(f"{short_label(ctx.t, m.starts_at)} · {forum_title(ctx, f)}", AskNewDate(m.id))]
            for m, f in upcoming
        ],
    )


@localized
async def move_meeting(ctx: Context, value: AskNewDate) -> None:
    meeting = await meetings.load_meeting(ctx.session, value.meeting_id)
    forum = await meetings.load_forum(ctx.session, meeting.forum_id)
    await meetings.require_lead(ctx.session, ctx.person, forum)
    if meeting.status != "confirmed" or meeting.starts_at <= ctx.now:
        raise Refused(N_("Only an upcoming confirmed meeting can be moved."))
    await ask_new_date(ctx, meeting, forum, edit=True)


@localized
async def new_date_step(ctx: Context) -> None:
    state = ctx.flow(Reschedule)
    meeting = await meetings.load_meeting(ctx.session, state.meeting)
    forum = await meetings.load_forum(ctx.session, meeting.forum_id)
    await meetings.require_lead(ctx.session, ctx.person, forum)
    if ctx.value == "cancel":
        await ctx.clear_state()
        await ask_cancel(ctx, meeting, forum, edit=True)
        return
    if ctx.value == "back":
        await ctx.clear_state()
        await ctx.reply(ctx.t._("Nothing was changed."), edit=True)
        return
    if ctx.value.startswith("opt:") and ctx.value[4:].isdigit() and meeting.poll_id is not None:
        option = next(
            (o for o in await polls.options_of(ctx.session, meeting.poll_id) if o.id == int(ctx.value[4:])), None
        )
        if option is None:
            raise Refused(N_("That date is not one of this poll's dates."))
        local = option.starts_at.astimezone(tz(ctx))
        day, start = local.date(), local.time()
    else:
        day, typed = polls.parse_day(ctx.text, ctx.now.astimezone(tz(ctx)).date())
        start = typed or meeting.starts_at.astimezone(tz(ctx)).time()
    starts_at = await meetings.check_new_start(
        ctx.session, meeting, forum, day=day, start=start, now=ctx.now, tz=tz(ctx)
    )
    await ctx.enter(state.model_copy(update={"starts_at": starts_at}), "confirm")
    flow = Reschedule.flow
    await ctx.reply(
        ctx.t._(
            "Move the meeting of {forum} from {old} to {new}, and tell every member?",
            forum=Raw(forum_title(ctx, forum)),
            old=Raw(option_label(ctx.t, meeting.starts_at)),
            new=Raw(option_label(ctx.t, starts_at)),
        ),
        [
            [
                ctx.step_button(ctx.t._("Move it"), flow, "confirm", "yes"),
                ctx.step_button(ctx.t._("Keep the current date"), flow, "confirm", "no"),
            ]
        ],
        edit=bool(ctx.value),
    )


@localized
async def confirm_move_step(ctx: Context) -> None:
    state = ctx.flow(Reschedule)
    if ctx.value != "yes":
        await ctx.clear_state()
        await ctx.reply(ctx.t._("Nothing was changed."), edit=bool(ctx.value))
        return
    if state.starts_at is None:  # a confirm step always carries the new date
        raise StaleConversation(f"{Reschedule.flow}: no new date to confirm")
    moved = await meetings.move(
        ctx.session, state.meeting, starts_at=state.starts_at.astimezone(UTC), person=ctx.person, now=ctx.now,
        tz=tz(ctx),
    )
    await ctx.clear_state()
    await ctx.reply(
        ctx.t.n_(
            "Moved to {date}. I told the member and sent an updated invitation.",
            "Moved to {date}. I told all {n} members and sent them an updated invitation.",
            moved.told,
            date=Raw(option_label(ctx.t, moved.meeting.starts_at)),
        ),
        meeting_buttons(ctx, moved.meeting),
        edit=True,
    )


@localized
async def cancel_meeting(ctx: Context, value: AskCancel) -> None:
    meeting = await meetings.load_meeting(ctx.session, value.meeting_id)
    forum = await meetings.load_forum(ctx.session, meeting.forum_id)
    await meetings.require_lead(ctx.session, ctx.person, forum)
    await ask_cancel(ctx, meeting, forum, edit=True)


@localized
async def cancel_confirmed(ctx: Context, value: CancelMeeting) -> None:
    told = await meetings.cancel(ctx.session, value.meeting_id, person=ctx.person, now=ctx.now, tz=tz(ctx))
    await ctx.reply(
        ctx.t.n_(
            "The meeting is cancelled. I told the member.",
            "The meeting is cancelled. I told all {n} members.",
            told,
        ),
        edit=True,
    )


async def keep_meeting(ctx: Context, value: KeepMeeting) -> None:
    await ctx.reply(ctx.t._("Nothing was changed."), edit=True)


# -- where a confirmed meeting takes place --------------------------------------------------------


@localized
async def place_meeting(ctx: Context, value: AskPlace) -> None:
    meeting = await meetings.load_meeting(ctx.session, value.meeting_id)
    forum = await meetings.load_forum(ctx.session, meeting.forum_id)
    await meetings.require_lead(ctx.session, ctx.person, forum, Action.MANAGE_MEETINGS)
    if meeting.status != "confirmed" or meeting.starts_at <= ctx.now:
        raise Refused(N_("Only an upcoming confirmed meeting can be changed."))
    await ctx.enter(MeetingPlace(meeting=meeting.id), "text")
    t = ctx.t
    lines = [
        t._(
            "Where does the meeting of {forum} on {date} take place? Type the address or room, "
            "or paste the online meeting link.",
            forum=Raw(forum_title(ctx, forum)),
            date=Raw(option_label(t, meeting.starts_at)),
        )
    ]
    flow = MeetingPlace.flow
    rows = []
    if meeting.location:
        lines.append(meetings.place_line(t, meeting))
        rows.append([ctx.step_button(t._("Remove the place"), flow, "text", "clear")])
    rows.append([ctx.step_button(t._("↩ Back"), flow, "text", "back")])
    await ctx.reply("\n".join(lines), rows)


@localized
async def place_step(ctx: Context) -> None:
    meeting_id = ctx.flow(MeetingPlace).meeting
    if ctx.value == "back":
        await ctx.clear_state()
        await ctx.reply(ctx.t._("Nothing was changed."), edit=True)
        return
    location = None if ctx.value == "clear" else ctx.text
    told = await meetings.set_location(
        ctx.session, meeting_id, location=location, person=ctx.person, now=ctx.now, tz=tz(ctx)
    )
    await ctx.clear_state()
    meeting = await meetings.load_meeting(ctx.session, meeting_id)
    text = meetings.place_line(ctx.t, meeting) if meeting.location else ctx.t._("The place is removed.")
    await ctx.reply(
        text
        + "\n"
        + ctx.t.n_(
            "I sent the member an updated invitation.",
            "I sent all {n} members an updated invitation.",
            told,
        ),
        meeting_buttons(ctx, meeting),
    )


def build() -> Router:
    """Every command, step and action of the date polls and the meetings they set, in one place."""
    router = Router("polls")
    router.command("poll", N_("Find a date for the next meeting (leads)"), audience="lead")(poll_command)
    on_steps(router, PollDraft, draft=draft_step, time=time_step, deadline=deadline_step)
    router.on_poll_answer(native_answer)
    on_actions(router, open_poll, vote, results, close_now, confirm, other_date, set_no_meeting)
    router.command("reschedule", N_("Move or cancel the next meeting (leads)"), audience="lead")(
        reschedule_command
    )
    on_actions(router, move_meeting, cancel_meeting, cancel_confirmed, keep_meeting, place_meeting)
    on_steps(router, Reschedule, date=new_date_step, confirm=confirm_move_step)
    on_steps(router, MeetingPlace, text=place_step)
    return router


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def tz(ctx: Context) -> ZoneInfo:
    return ctx.app.settings.tz


def forum_title(ctx: Context, forum: Forum) -> str:
    return forum_name(ctx.t, forum, forum.org_unit)


async def begin(ctx: Context, forum: Forum) -> None:
    """Start a draft, unless the forum already has a poll running or waiting for a decision."""
    assert ctx.person is not None
    forum = await meetings.load_forum(ctx.session, forum.id)  # with its unit
    live = await polls.live_poll_for(ctx.session, forum.id)
    if live is not None and live.status == PollStatus.OPEN:
        await ctx.reply(
            ctx.t._(
                "A date poll for {forum} is already open until {deadline}.",
                forum=Raw(forum_title(ctx, forum)),
                deadline=Raw(when(ctx.t, live.deadline)),
            ),
            [
                [
                    ctx.button(ctx.t._("Results"), ShowResults(live.id)),
                    ctx.button(ctx.t._("Close the poll now"), ClosePoll(live.id)),
                ]
            ],
        )
        return
    if live is not None:  # closed, waiting for the lead to choose
        result = await polls.tally(ctx.session, live, forum)
        await ctx.reply(polls.closed_text(ctx.t, result), polls.decision_buttons(ctx.button, ctx.t, result))
        return
    poll = await polls.start_draft(ctx.session, forum, ctx.person, now=ctx.now, tz=tz(ctx))
    await ctx.enter(PollDraft(poll=poll.id), "draft")
    await show_draft(ctx, poll.id)


async def show_draft(ctx: Context, poll_id: int, *, edit: bool = False) -> None:
    poll = await polls.load_poll(ctx.session, poll_id)
    forum = await meetings.load_forum(ctx.session, poll.forum_id)
    options = await polls.options_of(ctx.session, poll.id)
    t = ctx.t
    lines = [t._("A date poll for {forum}.", forum=Raw(forum_title(ctx, forum)))]
    if options:
        lines.append(t.n_("The date on offer:", "The {n} dates on offer:", len(options)))
        lines += [f"{i}. {option_label(t, o.starts_at)}" for i, o in enumerate(options, 1)]
    else:
        lines.append(t._("No dates on offer yet."))
    calendar = meetings.forum_calendar(forum, forum.org_unit)
    if calendar.school_vacations_until is not None and any(
        calendar.beyond_school_calendar(o.starts_at.astimezone(tz(ctx)).date()) for o in options
    ):
        lines.append(
            t._(
                "⚠️ The ministry's school vacation calendar I have ends on {date}. For later dates I skipped the "
                "Jewish holidays and the school vacations they usually bring (Hanukkah, Pesach, the summer); "
                "please check those dates against the ministry's calendar.",
                date=Raw(t.date(calendar.school_vacations_until, "long")),
            )
        )
    lines.append("")
    lines.append(
        t._(
            "Usual time: {time} · voting closes on {deadline}.",
            time=Raw(poll.meeting_time),
            deadline=Raw(when(t, poll.deadline)),
        )
    )
    lines.append(
        t._(
            "To add a date, type it (for example 12/1, or 12.1.2027 18:30 for another time). "
            "To remove a date, tap it."
        )
    )
    flow = PollDraft.flow
    rows = [[ctx.step_button("🗑 " + short_label(t, o.starts_at), flow, "draft", f"rm:{o.id}")] for o in options]
    rows.append(
        [
            ctx.step_button(t._("🕔 Time"), flow, "draft", "time"),
            ctx.step_button(t._("⏳ Deadline"), flow, "draft", "deadline"),
        ]
    )
    rows.append(
        [
            ctx.step_button(t._("📣 Publish"), flow, "draft", "publish"),
            ctx.step_button(t._("✖ Cancel"), flow, "draft", "cancel"),
        ]
    )
    await ctx.reply("\n".join(lines), rows, edit=edit)


async def ask_time(ctx: Context, poll_id: int) -> None:
    poll = await polls.load_poll(ctx.session, poll_id)
    t = ctx.t
    flow = PollDraft.flow
    await ctx.reply(
        t._(
            "At what time does the forum usually meet? Now: {time}. Choose, or type a time (for example 17:30).",
            time=Raw(poll.meeting_time),
        ),
        [
            [ctx.step_button(value, flow, "time", value) for value in TIMES[:3]],
            [ctx.step_button(value, flow, "time", value) for value in TIMES[3:]],
            [ctx.step_button(t._("↩ Back"), flow, "time", "back")],
        ],
        edit=True,
    )


async def ask_deadline(ctx: Context, poll_id: int) -> None:
    poll = await polls.load_poll(ctx.session, poll_id)
    forum = await meetings.load_forum(ctx.session, poll.forum_id)
    calendar = meetings.forum_calendar(forum, forum.org_unit)
    today = ctx.now.astimezone(tz(ctx)).date()
    t = ctx.t
    buttons = []
    for days in DEADLINE_DAYS:
        day = calendar.add_working_days(today, days)
        label = t.n_("In {n} working day ({date})", "In {n} working days ({date})", days, date=Raw(day_label(t, day)))
        buttons.append([ctx.step_button(label, PollDraft.flow, "deadline", f"d:{days}")])
    buttons.append([ctx.step_button(t._("↩ Back"), PollDraft.flow, "deadline", "back")])
    await ctx.reply(
        t._(
            "When should voting close? Now: {deadline}. Choose, or type a date and time (for example 25/11 12:00).",
            deadline=Raw(when(t, poll.deadline)),
        ),
        buttons,
        edit=True,
    )


async def publish(ctx: Context, poll_id: int) -> None:
    published = await polls.publish(ctx.session, poll_id, person=ctx.person, now=ctx.now, tz=tz(ctx))
    await ctx.clear_state()
    poll = published.poll
    t = ctx.t
    lines = [
        t.n_(
            "Published: the poll went to the forum's member.",
            "Published: the poll went to the forum's {n} members.",
            published.people,
        )
    ]
    if published.groups:
        lines.append(
            t.n_("It is also in the forum's group.", "It is also in the forum's {n} groups.", published.groups)
        )
    lines.append(t._("If it cannot be delivered to someone, I will tell you who."))
    lines.append(t._("Voting closes on {deadline}.", deadline=Raw(when(t, poll.deadline))))
    if poll.remind_at is not None:
        lines.append(t._("On {date} I will remind whoever has not answered yet.", date=Raw(when(t, poll.remind_at))))
    result = await polls.tally(ctx.session, poll, published.forum)
    if result.unseated:
        lines.append(
            t._(
                "I will tell you when every required role that someone holds has answered. No one holds these "
                "required roles yet: {roles}.",
                roles=Raw(role_list(t, published.forum.org_unit, published.forum, result.unseated)),
            )
        )
    else:
        lines.append(t._("I will tell you when every required role has answered."))
    await ctx.reply(
        "\n".join(lines),
        [
            [
                ctx.button(t._("Results"), ShowResults(poll.id)),
                ctx.button(t._("Close the poll now"), ClosePoll(poll.id)),
            ]
        ],
        edit=True,
    )


async def show_ballot(ctx: Context, poll: DatePoll, chosen: set[int], none_works: bool) -> None:
    """After a button vote: the person's choices and the counts so far, with the buttons again."""
    forum = await meetings.load_forum(ctx.session, poll.forum_id)
    result = await polls.tally(ctx.session, poll, forum)
    t = ctx.t
    lines = [ballots.question(t, poll, forum_title(ctx, forum)), ""]
    for count in result.counts:
        mark = "✅" if count.option_id in chosen else "▫️"
        lines.append(
            f"{mark} {option_label(t, count.starts_at)} — " + t.n_("{n} vote", "{n} votes", len(count.voters))
        )
    if none_works:
        lines.append("✅ " + t._(ballots.NONE_WORKS))
    lines.append("")
    if chosen or none_works:
        lines.append(t._("Saved. You can change your answer until {deadline}.", deadline=Raw(when(t, poll.deadline))))
    else:
        lines.append(t._("You have not chosen any date yet."))
    buttons = ballots.ballot_buttons(t, poll, result.options, ctx.button, chosen, none_works)
    await ctx.reply("\n".join(lines), buttons, edit=True)


def confirmed_text(ctx: Context, meeting: Meeting, forum: Forum, told: int) -> str:
    t = ctx.t
    return t._(
        "Confirmed: {forum} meets on {date}.",
        forum=Raw(forum_title(ctx, forum)),
        date=Raw(option_label(t, meeting.starts_at)),
    ) + "\n" + t.n_(
        "The invitation went to the forum's member.",
        "The invitation went to the forum's {n} members.",
        told,
    )


def meeting_buttons(ctx: Context, meeting: Meeting) -> list[list[Button]]:
    return [
        [
            ctx.button(ctx.t._("📅 Change the date"), AskNewDate(meeting.id)),
            ctx.button(ctx.t._("❌ Cancel the meeting"), AskCancel(meeting.id)),
        ],
        [ctx.button(ctx.t._("📍 Place or link"), AskPlace(meeting.id))],
    ]


async def ask_new_date(ctx: Context, meeting: Meeting, forum: Forum, *, edit: bool = False) -> None:
    t = ctx.t
    flow = Reschedule.flow
    await ctx.enter(Reschedule(meeting=meeting.id), "date")
    rows = []
    if meeting.poll_id is not None:
        poll = await polls.load_poll(ctx.session, meeting.poll_id)
        result = await polls.tally(ctx.session, poll, forum)
        for count in result.counts:
            if count.starts_at == meeting.starts_at or count.starts_at <= ctx.now + meetings.MIN_NOTICE:
                continue
            label = short_label(t, count.starts_at) + " · " + t.n_("{n} vote", "{n} votes", len(count.voters))
            rows.append([ctx.step_button(label, flow, "date", f"opt:{count.option_id}")])
    rows.append(
        [
            ctx.step_button(t._("❌ Cancel the meeting"), flow, "date", "cancel"),
            ctx.step_button(t._("↩ Back"), flow, "date", "back"),
        ]
    )
    rows.append([ctx.button(t._("📍 Place or link"), AskPlace(meeting.id))])
    await ctx.reply(
        t._(
            "The meeting of {forum} is on {date}. To move it, choose another date from the poll or type a new one "
            "(for example 12/1, or 12.1.2027 18:30).",
            forum=Raw(forum_title(ctx, forum)),
            date=Raw(option_label(t, meeting.starts_at)),
        ),
        rows,
        edit=edit,
    )


async def ask_cancel(ctx: Context, meeting: Meeting, forum: Forum, *, edit: bool = False) -> None:
    t = ctx.t
    await ctx.reply(
        t._(
            "Cancel the meeting of {forum} on {date}, and tell every member?",
            forum=Raw(forum_title(ctx, forum)),
            date=Raw(option_label(t, meeting.starts_at)),
        ),
        [
            [
                ctx.button(t._("Yes, cancel it"), CancelMeeting(meeting.id)),
                ctx.button(t._("No, keep it"), KeepMeeting(meeting.id)),
            ]
        ],
        edit=edit,
    )

