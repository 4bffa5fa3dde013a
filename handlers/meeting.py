"""/meeting: after a meeting the lead walks its agenda items and open issues and records a decision
or a status for each; then the members get a summary. /export: the forum's records as a file.

In the shape of handlers/agenda.py: declared actions, one declared flow (the walk and its steps),
one module-level function per command, step and action, all registered in :func:`build`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from bot.conversation import Context, Router
from bot.core.actions import Action as ButtonAction
from bot.core.states import FlowState
from bot.domain import agenda as rules
from bot.domain.agenda import IssueStatus
from bot.domain.permissions import Action
from bot.i18n import N_, Raw
from bot.services.agenda import issues
from bot.services.agenda import items as agenda
from bot.services.errors import Refused
from bot.services.escalation import forwarding as escalation
from bot.services.meetings import exports, outcomes
from bot.services.texts import (
    ISSUE_STATUS_LABELS,
    button_label,
    category_label,
    day,
    forum_title,
    kind_label,
    quoted,
    ref,
    short,
    status_label,
    when,
    who,
)
from bot.storage.models import Forum
from handlers.common import not_typed, on_actions, on_steps
from handlers.escalation import escalate_label
from handlers.forum_pick import with_forum

MAX_OWNERS = 30


class RecordMeeting(ButtonAction, name="meeting.record"):
    """/meeting, the forum picked."""

    forum_id: int


class ExportFrom(ButtonAction, name="meeting.export"):
    """/export, the forum picked."""

    forum_id: int


class ExportSheet(ButtonAction, name="meeting.export_sheet"):
    """What to export (bot.services.meetings.exports.What): ask in which format."""

    forum_id: int
    what: str


class ExportFile(ButtonAction, name="meeting.export_file"):
    """The format picked: the records, as a file."""

    forum_id: int
    what: str
    fmt: str  # "xlsx" or "csv"


class MeetingWalk(FlowState, flow="meeting", steps=("walk", "decision", "note", "owner", "due")):
    """Going through a meeting's subjects; the subject at hand and what was said of it so far."""

    forum_id: int
    meeting_at: str  # ISO, as outcomes.meeting_to_record gave it
    skipped: list[str] = []  # subject keys left for the next meeting
    subject: str | None = None  # outcomes.Subject key: "item:12", "issue:7"
    text: str | None = None  # an item's decision
    status: str | None = None  # an issue's new status (IssueStatus)
    owner: int | None = None  # the person in charge

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.meeting_at)

    @property
    def on_item(self) -> bool:
        return (self.subject or "").startswith("item:")


# -- /meeting --------------------------------------------------------------------------------------


async def meeting_command(ctx: Context) -> None:
    await with_forum(ctx, RecordMeeting, begin, lead=True)


async def meeting_picked(ctx: Context, value: RecordMeeting) -> None:
    await begin(ctx, await agenda.load_forum(ctx.session, value.forum_id))


async def walk_step(ctx: Context) -> None:
    """A subject's buttons: ``verb:argument`` (step buttons, so they only work while walking)."""
    assert ctx.person is not None
    verb, _, arg = ctx.value.partition(":")
    choice = WALK_CHOICES.get(verb)
    if choice is None:
        await ctx.reply(ctx.t._("Please choose one of the options."))
        return
    await choice(ctx, arg)


async def decide(ctx: Context, item_id: str) -> None:
    await ctx.enter(ctx.flow(MeetingWalk).model_copy(update={"subject": f"item:{item_id}"}), "decision")
    await ctx.reply(ctx.t._("Write the decision in a sentence or two:"))


async def skip(ctx: Context, subject_key: str) -> None:
    state = ctx.flow(MeetingWalk)
    await ctx.enter(state.model_copy(update={"skipped": [*state.skipped, subject_key]}), "walk")
    await next_subject(ctx)


async def set_status(ctx: Context, arg: str) -> None:
    issue_id, _, status = arg.partition(":")
    await ask_for_status(ctx, int(issue_id), IssueStatus(status))


async def escalate(ctx: Context, issue_id: str) -> None:
    assert ctx.person is not None
    state = ctx.flow(MeetingWalk)
    await outcomes.record_issue_escalation(ctx.session, issue_id=int(issue_id), person=ctx.person,
                                           meeting_at=state.at, now=ctx.now)
    issue = await issues.get_issue(ctx.session, int(issue_id))
    above = await escalation.parent_forum(ctx.session, await agenda.load_forum(ctx.session, issue.forum_id))
    lines = [ctx.t._("Recorded:")]
    if above is not None:
        lines.append(ctx.t._("Issue {ref} {title} was escalated to {forum}.", ref=ref(issue.id),
                             title=Raw(quoted(ctx.t, issue.title)),
                             forum=Raw(forum_title(ctx.t, above, above.org_unit))))
    await ctx.reply("\n".join(lines))
    await next_subject(ctx)


async def close(ctx: Context, _arg: str = "") -> None:
    assert ctx.person is not None
    state = ctx.flow(MeetingWalk)
    forum = await agenda.load_forum(ctx.session, state.forum_id)
    closed = await outcomes.close_meeting(ctx.session, forum=forum, person=ctx.person, meeting_at=state.at,
                                          now=ctx.now)
    await ctx.clear_state()
    await ctx.reply(ctx.t.n_("The summary was sent to one member.", "The summary was sent to {n} members.",
                             closed.sent), edit=True)


async def later(ctx: Context, _arg: str = "") -> None:
    await ctx.clear_state()
    await ctx.reply(ctx.t._("Fine. Send /meeting to go on from where you stopped."))


WALK_CHOICES: dict[str, Callable[[Context, str], Awaitable[None]]] = {
    "decide": decide,
    "skip": skip,
    "status": set_status,
    "escalate": escalate,
    "close": close,
    "later": later,
}


async def decision_step(ctx: Context) -> None:
    if await not_typed(ctx, N_("Please type the decision.")):
        return
    text = agenda.clean_note(ctx.text)
    if not text:
        raise Refused(N_("Please write the decision in a sentence or two."))
    await ctx.enter(ctx.flow(MeetingWalk).model_copy(update={"text": text}), "owner")
    await ask_owner(ctx, optional=True)


async def note_step(ctx: Context) -> None:
    if ctx.value == "none" and ctx.flow(MeetingWalk).status == IssueStatus.DISCUSSED:
        await record(ctx, note="")
        return
    if await not_typed(ctx, N_("Please type it.")):
        return
    await record(ctx, note=ctx.text)


async def owner_step(ctx: Context) -> None:
    if not ctx.value:
        await ctx.reply(ctx.t._("Please choose one of the options."))
        return
    if ctx.value == "none":
        await record(ctx, owner=None, due=None)
        return
    await ctx.enter(ctx.flow(MeetingWalk).model_copy(update={"owner": int(ctx.value)}), "due")
    await ask_due(ctx)


async def due_step(ctx: Context) -> None:
    state = ctx.flow(MeetingWalk)
    if ctx.value == "none" and state.on_item:
        await record(ctx, owner=state.owner, due=None)
        return
    tz = ctx.app.settings.tz
    today = ctx.now.astimezone(tz).date()
    picked = date.fromisoformat(ctx.value) if ctx.value else rules.parse_day(ctx.text, today)
    if picked is None:
        await ctx.reply(ctx.t._("I could not read that date. Please write it like {example}.",
                                example=day_example(ctx.now.astimezone(tz).date() + timedelta(days=14))))
        return
    await record(ctx, owner=state.owner, due=picked)


# -- /export ---------------------------------------------------------------------------------------


async def export_command(ctx: Context) -> None:
    await with_forum(ctx, ExportFrom, ask_what, lead=True)


async def export_picked(ctx: Context, value: ExportFrom) -> None:
    await ask_what(ctx, await agenda.load_forum(ctx.session, value.forum_id), edit=True)


async def export_sheet(ctx: Context, value: ExportSheet) -> None:
    await ctx.reply(
        ctx.t._("In which format?"),
        [[ctx.button(ctx.t._("Excel (xlsx)"), ExportFile(value.forum_id, value.what, "xlsx")),
          ctx.button(ctx.t._("CSV"), ExportFile(value.forum_id, value.what, "csv"))]],
        edit=True,
    )


async def export_file(ctx: Context, value: ExportFile) -> None:
    assert ctx.person is not None
    forum = await agenda.load_forum(ctx.session, value.forum_id)
    made = await exports.export(
        ctx.session, forum=forum, what=value.what, fmt=value.fmt, t=ctx.t, person=ctx.person, now=ctx.now
    )
    await ctx.reply_file(
        made.name, made.mime, made.data,
        ctx.t._("{what} of {forum}", what=ctx.t._(exports.SHEET_TITLES[exports.What(value.what)]),
                forum=Raw(forum_title(ctx.t, forum, forum.org_unit))),
        made.ascii_name,
    )


def build() -> Router:
    """Every command, step and action of /meeting and /export, in one place."""
    router = Router("meeting")
    router.command("meeting", N_("Record the outcomes of a meeting (leads)"), audience="lead")(meeting_command)
    on_actions(router, meeting_picked)
    on_steps(router, MeetingWalk, walk=walk_step, decision=decision_step, note=note_step, owner=owner_step,
             due=due_step)
    router.command("export", N_("Export issues, agenda or decisions as a spreadsheet (leads)"), audience="lead")(
        export_command
    )
    on_actions(router, export_picked, export_sheet, export_file)
    return router


async def begin(ctx: Context, forum: Forum) -> None:
    assert ctx.person is not None
    meeting_at = await outcomes.meeting_to_record(ctx.session, forum=forum, person=ctx.person, now=ctx.now)
    await ctx.enter(MeetingWalk(forum_id=forum.id, meeting_at=meeting_at.isoformat()), "walk")
    subjects = await outcomes.open_subjects(ctx.session, forum, meeting_at)
    await ctx.reply(
        ctx.t._("Recording the outcomes of the meeting on {when}.", when=Raw(when(ctx.t, meeting_at))) + "\n"
        + ctx.t.n_("There is one subject to go through.", "There are {n} subjects to go through.", len(subjects))
    )
    await next_subject(ctx)


async def next_subject(ctx: Context) -> None:
    state = ctx.flow(MeetingWalk)
    forum = await agenda.load_forum(ctx.session, state.forum_id)
    skipped = set(state.skipped)
    left = [s for s in await outcomes.open_subjects(ctx.session, forum, state.at) if s.key not in skipped]
    await ctx.enter(state.model_copy(update={"subject": None, "text": None, "status": None, "owner": None}), "walk")
    flow = MeetingWalk.flow
    stop = ctx.step_button(ctx.t._("Stop for now"), flow, "walk", "later")
    if not left:
        await ctx.reply(
            ctx.t._("That was everything. Send the members a summary? What was not reached moves to the next meeting."),
            [[ctx.step_button(ctx.t._("Send the summary"), flow, "walk", "close"), stop]],
        )
        return
    subject = left[0]
    if subject.kind == "item":
        item = await agenda.get_item(ctx.session, subject.id)
        lines = [ctx.t._("Agenda item:"), quoted(ctx.t, item.title)]
        if item.details:
            lines.append(short(item.details, 800))
        await ctx.reply(
            "\n".join(lines),
            [[ctx.step_button(ctx.t._("Record a decision"), flow, "walk", f"decide:{item.id}")],
             [ctx.step_button(ctx.t._("Not reached: next meeting"), flow, "walk", f"skip:{subject.key}")],
             [stop]],
        )
        return
    issue = await issues.get_issue(ctx.session, subject.id)
    people_map = await agenda.people_by_id(ctx.session, [issue.raiser_person_id])
    head = f"{ctx.t.ref(issue.id)} · {kind_label(ctx.t, issue.kind)}"
    if issue.category:
        head += f" · {category_label(ctx.t, issue.category)}"
    raiser = who(ctx.t, forum.org_unit, forum, issue.raiser_role, people_map.get(issue.raiser_person_id or 0),
                 show_name=issue.show_name)
    lines = [ctx.t._("Raised issue:"), head, f"{quoted(ctx.t, issue.title)} — {raiser}", short(issue.details, 800),
             ctx.t._("Status: {status}", status=status_label(ctx.t, issue.status))]
    choices = rules.meeting_choices(IssueStatus(issue.status))
    rows = [[ctx.step_button(ctx.t._(ISSUE_STATUS_LABELS[s]), flow, "walk", f"status:{issue.id}:{s.value}")]
            for s in choices]
    above = await escalation.can_escalate(ctx.session, ctx.person, issue) if ctx.person else None
    if above is not None:
        rows.append([ctx.step_button(escalate_label(ctx, above), flow, "walk", f"escalate:{issue.id}")])
    rows.append([ctx.step_button(ctx.t._("No change"), flow, "walk", f"skip:{subject.key}")])
    rows.append([stop])
    await ctx.reply("\n".join(lines), rows)


async def ask_for_status(ctx: Context, issue_id: int, status: IssueStatus) -> None:
    state = ctx.flow(MeetingWalk).model_copy(update={"subject": f"issue:{issue_id}", "status": status.value})
    await ctx.enter(state, "owner" if status is IssueStatus.IN_PROGRESS else "note")
    if status is IssueStatus.DISCUSSED:
        await ctx.reply(ctx.t._("Add a short note on what was said (optional):"),
                        [[ctx.step_button(ctx.t._("No note"), MeetingWalk.flow, "note", "none")]])
    elif status is IssueStatus.IN_PROGRESS:
        await ask_owner(ctx, optional=False)
    elif status is IssueStatus.RESOLVED:
        await ctx.reply(ctx.t._("What was the resolution?"))
    else:
        await ctx.reply(ctx.t._("Why is it declined? Write the reason: the person who raised it will see it."))


async def ask_owner(ctx: Context, *, optional: bool) -> None:
    forum_id = ctx.flow(MeetingWalk).forum_id
    forum = await agenda.load_forum(ctx.session, forum_id)
    members = await agenda.members_of(ctx.session, forum_id)
    flow = MeetingWalk.flow
    rows = [
        [ctx.step_button(button_label(who(ctx.t, forum.org_unit, forum, role, person)), flow, "owner", str(person.id))]
        for person, role in members[:MAX_OWNERS]
    ]
    if optional:
        rows.append([ctx.step_button(ctx.t._("No one in particular"), flow, "owner", "none")])
    await ctx.reply(ctx.t._("Who is in charge?"), rows)


async def ask_due(ctx: Context) -> None:
    today = ctx.now.astimezone(ctx.app.settings.tz).date()
    options = [
        (ctx.t._("In a week"), today + timedelta(days=7)),
        (ctx.t._("In two weeks"), today + timedelta(days=14)),
        (ctx.t._("In a month"), today + timedelta(days=30)),
    ]
    rows = [[ctx.step_button(label, MeetingWalk.flow, "due", d.isoformat())] for label, d in options]
    if ctx.flow(MeetingWalk).on_item:
        rows.append([ctx.step_button(ctx.t._("No due date"), MeetingWalk.flow, "due", "none")])
    await ctx.reply(ctx.t._("By when? Choose, or write a date such as {example}.",
                            example=day_example(today + timedelta(days=10))), rows)


def day_example(d: date) -> str:
    return f"{d.day}.{d.month}.{d.year}"


async def record(ctx: Context, *, note: str | None = None, owner: int | None = None, due: date | None = None) -> None:
    assert ctx.person is not None
    state = ctx.flow(MeetingWalk)
    assert state.subject is not None
    subject = outcomes.Subject.parse(state.subject)
    tz = ctx.app.settings.tz
    forum = await agenda.load_forum(ctx.session, state.forum_id)
    lines = [ctx.t._("Recorded:")]
    if subject.kind == "item":
        decision = await outcomes.record_item_decision(
            ctx.session, item_id=subject.id, person=ctx.person, meeting_at=state.at, text=state.text or "",
            owner_person_id=owner, due_date=due, now=ctx.now, tz=tz,
        )
        item = await agenda.get_item(ctx.session, subject.id)
        lines.append(ctx.t._("The decision on {title}: {text}", title=Raw(quoted(ctx.t, item.title)),
                             text=decision.text or ""))
    else:
        assert state.status is not None
        decision = await outcomes.record_issue_outcome(
            ctx.session, issue_id=subject.id, person=ctx.person, meeting_at=state.at, status=state.status,
            note=note, owner_person_id=owner, due_date=due, now=ctx.now, tz=tz,
        )
        issue = await issues.get_issue(ctx.session, subject.id)
        lines.append(ctx.t._("Issue {ref} {title}: {status}.", ref=ref(issue.id), title=Raw(quoted(ctx.t, issue.title)),
                             status=status_label(ctx.t, issue.status)))
        said = agenda.clean_note(note)
        if said and issue.status == IssueStatus.RESOLVED:
            lines.append(ctx.t._("The resolution: {text}", text=said))
        elif said and issue.status == IssueStatus.DECLINED:
            lines.append(ctx.t._("The reason: {text}", text=said))
        elif said:
            lines.append(ctx.t._("Note: {text}", text=said))
    if decision.owner_person_id is not None:
        owners = await agenda.people_by_id(ctx.session, [decision.owner_person_id])
        role = await agenda.role_in(ctx.session, decision.owner_person_id, forum.id)
        in_charge = who(ctx.t, forum.org_unit, forum, role, owners.get(decision.owner_person_id))
        if decision.due_date is not None:
            lines.append(ctx.t._("In charge: {owner}, by {date}.", owner=in_charge, date=day(ctx.t, decision.due_date)))
        else:
            lines.append(ctx.t._("In charge: {owner}.", owner=in_charge))
    await ctx.reply("\n".join(lines))
    await next_subject(ctx)


async def ask_what(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    await agenda.require(ctx.session, ctx.person, forum, Action.EXPORT, agenda.ONLY_LEAD)
    await ctx.reply(
        ctx.t._("What would you like to export?"),
        [[ctx.button(ctx.t._(exports.SHEET_TITLES[w]), ExportSheet(forum.id, w.value))] for w in exports.What],
        edit=edit,
    )
