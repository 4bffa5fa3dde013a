"""/meeting: after a meeting the lead walks its agenda items and open issues and records a decision
or a status for each; then the members get a summary. /export: the forum's records as a file."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from bot.conversation import Context, Router
from bot.domain import agenda as rules
from bot.domain.agenda import IssueStatus
from bot.domain.permissions import Action
from bot.i18n import N_, Raw
from bot.services import agenda, escalation, exports, issues, outcomes
from bot.services.agenda_text import (
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
from bot.services.errors import Refused
from bot.storage.models import Forum
from handlers.escalation import escalate_label
from handlers.forum_pick import forum_command

FLOW = "meeting"
MAX_OWNERS = 30


def build() -> Router:
    router = Router("meeting")

    forum_command(
        router, "meeting", N_("Record the outcomes of a meeting (leads)"), "mtf", begin, audience="lead", lead=True,
        edit=False,
    )

    @router.step(FLOW, "walk")
    async def walk(ctx: Context) -> None:
        assert ctx.state is not None and ctx.person is not None
        verb, _, arg = ctx.value.partition(":")
        if verb == "decide":
            await ctx.set_state(FLOW, "decision", subject=f"item:{arg}")
            await ctx.reply(ctx.t._("Write the decision in a sentence or two:"))
        elif verb == "skip":
            await ctx.set_state(FLOW, "walk", skipped=[*ctx.state.data.get("skipped", []), arg])
            await next_subject(ctx)
        elif verb == "status":
            issue_id, _, status = arg.partition(":")
            await ask_for_status(ctx, int(issue_id), IssueStatus(status))
        elif verb == "escalate":
            _forum_id, meeting_at, _ = _walk(ctx)
            await outcomes.record_issue_escalation(ctx.session, issue_id=int(arg), person=ctx.person,
                                                   meeting_at=meeting_at, now=ctx.now)
            issue = await issues.get_issue(ctx.session, int(arg))
            above = await escalation.parent_forum(ctx.session, await agenda.load_forum(ctx.session, issue.forum_id))
            lines = [ctx.t._("Recorded:")]
            if above is not None:
                lines.append(ctx.t._("Issue {ref} {title} was escalated to {forum}.", ref=ref(issue.id),
                                     title=Raw(quoted(ctx.t, issue.title)),
                                     forum=Raw(forum_title(ctx.t, above, above.org_unit))))
            await ctx.reply("\n".join(lines))
            await next_subject(ctx)
        elif verb == "close":
            await close(ctx)
        elif verb == "later":
            await ctx.clear_state()
            await ctx.reply(ctx.t._("Fine. Send /meeting to go on from where you stopped."))
        else:
            await ctx.reply(ctx.t._("Please choose one of the options."))

    @router.step(FLOW, "decision")
    async def decision(ctx: Context) -> None:
        if ctx.value:
            await ctx.reply(ctx.t._("Please type the decision."))
            return
        text = agenda.clean_note(ctx.text)
        if not text:
            raise Refused(N_("Please write the decision in a sentence or two."))
        await ctx.set_state(FLOW, "owner", text=text)
        await ask_owner(ctx, optional=True)

    @router.step(FLOW, "note")
    async def note(ctx: Context) -> None:
        assert ctx.state is not None
        if ctx.value == "none" and ctx.state.data.get("status") == IssueStatus.DISCUSSED:
            await record(ctx, note="")
            return
        if ctx.value:
            await ctx.reply(ctx.t._("Please type it."))
            return
        await record(ctx, note=ctx.text)

    @router.step(FLOW, "owner")
    async def owner(ctx: Context) -> None:
        assert ctx.state is not None
        if not ctx.value:
            await ctx.reply(ctx.t._("Please choose one of the options."))
            return
        if ctx.value == "none":
            await record(ctx, owner=None, due=None)
            return
        await ctx.set_state(FLOW, "due", owner=int(ctx.value))
        await ask_due(ctx)

    @router.step(FLOW, "due")
    async def due(ctx: Context) -> None:
        assert ctx.state is not None
        if ctx.value == "none" and ctx.state.data["subject"].startswith("item:"):
            await record(ctx, owner=ctx.state.data["owner"], due=None)
            return
        tz = ctx.app.settings.tz
        today = ctx.now.astimezone(tz).date()
        picked = date.fromisoformat(ctx.value) if ctx.value else rules.parse_day(ctx.text, today)
        if picked is None:
            await ctx.reply(ctx.t._("I could not read that date. Please write it like {example}.",
                                    example=day_example(ctx.now.astimezone(tz).date() + timedelta(days=14))))
            return
        await record(ctx, owner=ctx.state.data["owner"], due=picked)

    # -- /export ---------------------------------------------------------------------------

    forum_command(
        router, "export", N_("Export issues, agenda or decisions as a spreadsheet (leads)"), "exf", ask_what,
        audience="lead", lead=True,
    )

    @router.action("exw")
    async def export_what(ctx: Context) -> None:
        forum_id, what = ctx.value.split(":")[:2]
        await ctx.reply(
            ctx.t._("In which format?"),
            [[ctx.button(ctx.t._("Excel (xlsx)"), f"exx:{forum_id}:{what}:xlsx"),
              ctx.button(ctx.t._("CSV"), f"exx:{forum_id}:{what}:csv")]],
            edit=True,
        )

    @router.action("exx")
    async def export_file(ctx: Context) -> None:
        assert ctx.person is not None
        forum_id, what, fmt = ctx.value.split(":")[:3]
        forum = await agenda.load_forum(ctx.session, int(forum_id))
        made = await exports.export(
            ctx.session, forum=forum, what=what, fmt=fmt, t=ctx.t, person=ctx.person, now=ctx.now
        )
        await ctx.reply_file(
            made.name, made.mime, made.data,
            ctx.t._("{what} of {forum}", what=ctx.t._(exports.SHEET_TITLES[exports.What(what)]),
                    forum=Raw(forum_title(ctx.t, forum, forum.org_unit))),
            made.ascii_name,
        )

    return router


async def begin(ctx: Context, forum: Forum) -> None:
    assert ctx.person is not None
    meeting_at = await outcomes.meeting_to_record(ctx.session, forum=forum, person=ctx.person, now=ctx.now)
    await ctx.set_state(FLOW, "walk", forum_id=forum.id, meeting_at=meeting_at.isoformat(), skipped=[])
    subjects = await outcomes.open_subjects(ctx.session, forum, meeting_at)
    await ctx.reply(
        ctx.t._("Recording the outcomes of the meeting on {when}.", when=Raw(when(ctx.t, meeting_at))) + "\n"
        + ctx.t.n_("There is one subject to go through.", "There are {n} subjects to go through.", len(subjects))
    )
    await next_subject(ctx)


def _walk(ctx: Context) -> tuple[int, datetime, dict[str, Any]]:
    assert ctx.state is not None
    data = ctx.state.data
    return data["forum_id"], datetime.fromisoformat(data["meeting_at"]), data


async def next_subject(ctx: Context) -> None:
    forum_id, meeting_at, data = _walk(ctx)
    forum = await agenda.load_forum(ctx.session, forum_id)
    skipped = set(data.get("skipped", []))
    left = [s for s in await outcomes.open_subjects(ctx.session, forum, meeting_at) if s.key not in skipped]
    await ctx.set_state(FLOW, "walk", subject=None, text=None, status=None, owner=None)
    stop = ctx.step_button(ctx.t._("Stop for now"), FLOW, "walk", "later")
    if not left:
        await ctx.reply(
            ctx.t._("That was everything. Send the members a summary? What was not reached moves to the next meeting."),
            [[ctx.step_button(ctx.t._("Send the summary"), FLOW, "walk", "close"), stop]],
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
            [[ctx.step_button(ctx.t._("Record a decision"), FLOW, "walk", f"decide:{item.id}")],
             [ctx.step_button(ctx.t._("Not reached: next meeting"), FLOW, "walk", f"skip:{subject.key}")],
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
    rows = [[ctx.step_button(ctx.t._(ISSUE_STATUS_LABELS[s]), FLOW, "walk", f"status:{issue.id}:{s.value}")]
            for s in choices]
    above = await escalation.can_escalate(ctx.session, ctx.person, issue) if ctx.person else None
    if above is not None:
        rows.append([ctx.step_button(escalate_label(ctx, above), FLOW, "walk", f"escalate:{issue.id}")])
    rows.append([ctx.step_button(ctx.t._("No change"), FLOW, "walk", f"skip:{subject.key}")])
    rows.append([stop])
    await ctx.reply("\n".join(lines), rows)


async def ask_for_status(ctx: Context, issue_id: int, status: IssueStatus) -> None:
    await ctx.set_state(FLOW, "note", subject=f"issue:{issue_id}", status=status.value)
    if status is IssueStatus.DISCUSSED:
        await ctx.reply(ctx.t._("Add a short note on what was said (optional):"),
                        [[ctx.step_button(ctx.t._("No note"), FLOW, "note", "none")]])
    elif status is IssueStatus.IN_PROGRESS:
        await ctx.set_state(FLOW, "owner")
        await ask_owner(ctx, optional=False)
    elif status is IssueStatus.RESOLVED:
        await ctx.reply(ctx.t._("What was the resolution?"))
    else:
        await ctx.reply(ctx.t._("Why is it declined? Write the reason: the person who raised it will see it."))


async def ask_owner(ctx: Context, *, optional: bool) -> None:
    forum_id, _, _ = _walk(ctx)
    forum = await agenda.load_forum(ctx.session, forum_id)
    members = await agenda.members_of(ctx.session, forum_id)
    rows = [
        [ctx.step_button(button_label(who(ctx.t, forum.org_unit, forum, role, person)), FLOW, "owner", str(person.id))]
        for person, role in members[:MAX_OWNERS]
    ]
    if optional:
        rows.append([ctx.step_button(ctx.t._("No one in particular"), FLOW, "owner", "none")])
    await ctx.reply(ctx.t._("Who is in charge?"), rows)


async def ask_due(ctx: Context) -> None:
    assert ctx.state is not None
    today = ctx.now.astimezone(ctx.app.settings.tz).date()
    options = [
        (ctx.t._("In a week"), today + timedelta(days=7)),
        (ctx.t._("In two weeks"), today + timedelta(days=14)),
        (ctx.t._("In a month"), today + timedelta(days=30)),
    ]
    rows = [[ctx.step_button(label, FLOW, "due", d.isoformat())] for label, d in options]
    if ctx.state.data["subject"].startswith("item:"):
        rows.append([ctx.step_button(ctx.t._("No due date"), FLOW, "due", "none")])
    await ctx.reply(ctx.t._("By when? Choose, or write a date such as {example}.",
                            example=day_example(today + timedelta(days=10))), rows)


def day_example(d: date) -> str:
    return f"{d.day}.{d.month}.{d.year}"


async def record(ctx: Context, *, note: str | None = None, owner: int | None = None, due: date | None = None) -> None:
    assert ctx.person is not None
    _, meeting_at, data = _walk(ctx)
    subject = outcomes.Subject.parse(data["subject"])
    tz = ctx.app.settings.tz
    forum = await agenda.load_forum(ctx.session, data["forum_id"])
    lines = [ctx.t._("Recorded:")]
    if subject.kind == "item":
        decision = await outcomes.record_item_decision(
            ctx.session, item_id=subject.id, person=ctx.person, meeting_at=meeting_at, text=data["text"],
            owner_person_id=owner, due_date=due, now=ctx.now, tz=tz,
        )
        item = await agenda.get_item(ctx.session, subject.id)
        lines.append(ctx.t._("The decision on {title}: {text}", title=Raw(quoted(ctx.t, item.title)),
                             text=decision.text or ""))
    else:
        decision = await outcomes.record_issue_outcome(
            ctx.session, issue_id=subject.id, person=ctx.person, meeting_at=meeting_at, status=data["status"],
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


async def close(ctx: Context) -> None:
    assert ctx.person is not None
    forum_id, meeting_at, _ = _walk(ctx)
    forum = await agenda.load_forum(ctx.session, forum_id)
    closed = await outcomes.close_meeting(ctx.session, forum=forum, person=ctx.person, meeting_at=meeting_at,
                                          now=ctx.now)
    await ctx.clear_state()
    await ctx.reply(ctx.t.n_("The summary was sent to one member.", "The summary was sent to {n} members.",
                             closed.sent), edit=True)


async def ask_what(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    await agenda.require(ctx.session, ctx.person, forum, Action.EXPORT, agenda.ONLY_LEAD)
    await ctx.reply(
        ctx.t._("What would you like to export?"),
        [[ctx.button(ctx.t._(exports.SHEET_TITLES[w]), f"exw:{forum.id}:{w.value}")] for w in exports.What],
        edit=edit,
    )
