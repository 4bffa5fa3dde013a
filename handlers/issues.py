"""/issue raises a need, a difficulty or a blocker; /issues lists the forum's open issues."""

from __future__ import annotations

import secrets

from bot.conversation import Context, Router
from bot.core.actions import Action as ButtonAction
from bot.domain import agenda as rules
from bot.domain.agenda import HistoryKind, IssueCategory, IssueKind
from bot.domain.permissions import Action
from bot.i18n import N_, Raw
from bot.services.agenda import issues
from bot.services.agenda import items as agenda
from bot.services.agenda.items import NOT_A_MEMBER
from bot.services.delivery import notify
from bot.services.escalation import forwarding as escalation
from bot.services.escalation.actions import EscalateIssue
from bot.services.texts import (
    CATEGORY_LABELS,
    KIND_LABELS,
    button_label,
    category_label,
    forum_title,
    issue_line,
    kind_label,
    quoted,
    ref,
    role_label,
    short,
    status_label,
    who,
)
from bot.storage.models import Forum
from handlers.common import ForumDraft, confirm_buttons, confirm_step, not_typed, on_actions, on_steps
from handlers.escalation import escalate_label
from handlers.forum_pick import pick, with_forum


class RaiseIn(ButtonAction, name="issues.raise_in", was=("isf",)):
    """/issue, the forum picked."""

    forum_id: int


class ListIssuesOf(ButtonAction, name="issues.list_of", was=("ilf",)):
    """/issues, the forum picked."""

    forum_id: int


class ShowIssue(ButtonAction, name="issues.show", was=("isv",)):
    """An issue's number in the /issues list: its card."""

    issue_id: int


class IssueDraft(ForumDraft, flow="issue", steps=("kind", "title", "details", "category", "privacy", "confirm")):
    kind: str = ""
    title: str = ""
    details: str = ""
    category: str | None = None
    show_name: bool = False
    show_name_to_group: bool = False


async def issue_command(ctx: Context) -> None:
    await with_forum(ctx, RaiseIn, begin)


async def issue_picked(ctx: Context, value: RaiseIn) -> None:
    await begin(ctx, await agenda.load_forum(ctx.session, value.forum_id))


async def issues_command(ctx: Context) -> None:
    await with_forum(ctx, ListIssuesOf, show_list)


async def issues_picked(ctx: Context, value: ListIssuesOf) -> None:
    await show_list(ctx, await agenda.load_forum(ctx.session, value.forum_id), edit=True)


async def kind_step(ctx: Context) -> None:
    kinds = list(IssueKind)
    choice = ctx.value or pick(ctx.text, [k.value for k in kinds], [ctx.t._(KIND_LABELS[k]) for k in kinds])
    if choice not in {k.value for k in kinds}:
        await ask_kind(ctx, again=True)
        return
    await ctx.enter(ctx.flow(IssueDraft).model_copy(update={"kind": choice}), "title")
    await ctx.reply(ctx.t._("Give it a short title (up to {max} characters).", max=rules.TITLE_MAX))

async def title_step(ctx: Context) -> None:
    if await not_typed(ctx, N_("Please type the title.")):
        return
    await ctx.enter(ctx.flow(IssueDraft).model_copy(update={"title": agenda.clean_title(ctx.text)}), "details")
    await ctx.reply(ctx.t._("Describe it: what happens, to whom, since when (up to {max} characters).",
                            max=rules.DETAILS_MAX))

async def details_step(ctx: Context) -> None:
    if await not_typed(ctx, N_("Please type the description.")):
        return
    draft = ctx.flow(IssueDraft).model_copy(update={"details": issues.clean_issue_details(ctx.text)})
    await ctx.enter(draft, "category")
    await ask_category(ctx)

async def category_step(ctx: Context) -> None:
    values = [c.value for c in IssueCategory] + ["none"]
    labels = [ctx.t._(CATEGORY_LABELS[c]) for c in IssueCategory] + [ctx.t._("Skip")]
    choice = ctx.value or pick(ctx.text, values, labels)
    if choice not in values:
        await ask_category(ctx, again=True)
        return
    await ctx.enter(ctx.flow(IssueDraft).model_copy(update={"category": None if choice == "none" else choice}),
                    "privacy")
    await ask_privacy(ctx)

async def privacy_step(ctx: Context) -> None:
    if ctx.value not in ("name", "role", "group"):
        await ask_privacy(ctx, again=True)
        return
    update = {"show_name": ctx.value in ("name", "group"), "show_name_to_group": ctx.value == "group"}
    await ctx.enter(ctx.flow(IssueDraft).model_copy(update=update), "confirm")
    await preview(ctx)


async def submit_issue(ctx: Context, draft: IssueDraft, forum: Forum) -> None:
    assert ctx.person is not None
    result = await issues.raise_issue(
        ctx.session, forum=forum, person=ctx.person, kind=draft.kind, title=draft.title,
        details=draft.details, category=draft.category, show_name=draft.show_name,
        show_name_to_group=draft.show_name_to_group, now=ctx.now, submit_key=draft.submit_key(ctx.identity.id),
    )
    if not result.created:
        await ctx.reply(ctx.t._("This issue was already sent."), edit=True)
        return
    if ctx.person.id in await notify.lead_ids(ctx.session, forum.id):  # a lead's own issue: no one to tell
        await ctx.reply(ctx.t._("It is recorded as {ref}, among the forum's open issues.",
                                ref=ref(result.issue.id)), edit=True)
        return
    await ctx.reply(
        ctx.t._("Thank you. It is recorded as {ref} and the forum's lead was told. "
                "I will let you know whenever its status changes.", ref=ctx.t.ref(result.issue.id)),
        edit=True,
    )


async def view(ctx: Context, value: ShowIssue) -> None:
    assert ctx.person is not None
    issue, forum = await issues.issue_for_member(ctx.session, issue_id=value.issue_id, person=ctx.person)
    unit = forum.org_unit
    people_map = await agenda.people_by_id(ctx.session, [issue.raiser_person_id, issue.owner_person_id])
    lines = [
        f"{ctx.t.ref(issue.id)} · {kind_label(ctx.t, issue.kind)}"
        + (f" · {category_label(ctx.t, issue.category)}" if issue.category else ""),
        quoted(ctx.t, issue.title),
        issue.details,
        ctx.t._("Raised by {who} on {date}.",
                who=who(ctx.t, unit, forum, issue.raiser_role, people_map.get(issue.raiser_person_id or 0),
                        show_name=issue.show_name),
                date=ctx.t.date(issue.created_at, "long")),
        ctx.t._("Status: {status}", status=status_label(ctx.t, issue.status)),
    ]
    history = [h for h in await issues.history_of(ctx.session, issue.id) if h.kind != HistoryKind.CREATED]
    if history:
        lines.append(ctx.t._("History:"))
        for h in history:
            if h.kind == HistoryKind.CARRIED_OVER:
                what = ctx.t._("carried over to the next meeting")
            else:
                what = status_label(ctx.t, h.to_status or issue.status)
            entry = f"• {ctx.t.date(h.at, 'short')} — {what}"
            if h.note:
                entry += f": {short(h.note, 200)}"
            lines.append(entry)
    above = await escalation.can_escalate(ctx.session, ctx.person, issue)
    buttons = [[ctx.button(escalate_label(ctx, above), EscalateIssue(issue.id))]] if above is not None else None
    await ctx.reply("\n".join(lines), buttons)


async def begin(ctx: Context, forum: Forum) -> None:
    await agenda.require(ctx.session, ctx.person, forum, Action.RAISE_ISSUE, NOT_A_MEMBER)
    await ctx.enter(IssueDraft(forum_id=forum.id, key=secrets.token_urlsafe(12)), "kind")
    await ask_kind(ctx)


async def ask_kind(ctx: Context, *, again: bool = False) -> None:
    intro = ctx.t._("Please choose one of the options.") + "\n" if again else ""
    await ctx.reply(
        intro + ctx.t._("What would you like to raise?"),
        [[ctx.step_button(ctx.t._(KIND_LABELS[k]), IssueDraft.flow, "kind", k.value) for k in IssueKind]],
    )


async def ask_category(ctx: Context, *, again: bool = False) -> None:
    intro = ctx.t._("Please choose one of the options.") + "\n" if again else ""
    cats = list(IssueCategory)
    rows = [
        [ctx.step_button(ctx.t._(CATEGORY_LABELS[c]), IssueDraft.flow, "category", c.value) for c in cats[i : i + 2]]
        for i in range(0, len(cats), 2)
    ]
    rows.append([ctx.step_button(ctx.t._("Skip"), IssueDraft.flow, "category", "none")])
    await ctx.reply(intro + ctx.t._("Which area is it in? (optional)"), rows)


async def ask_privacy(ctx: Context, *, again: bool = False) -> None:
    assert ctx.person is not None
    forum = await agenda.load_forum(ctx.session, ctx.flow(IssueDraft).forum_id)
    role = await agenda.role_in(ctx.session, ctx.person.id, forum.id)
    intro = ctx.t._("Please choose one of the options.") + "\n" if again else ""
    await ctx.reply(
        intro + ctx.t._("Your issue is seen by the forum's members, and also by the forum's group chat if it has "
                        "one (in the agenda the bot posts there before a meeting). Who should see your name as "
                        "the source? The group sees only your role unless you choose it. Either way the bot "
                        "knows it was you, so that it can keep you updated."),
        [
            [ctx.step_button(ctx.t._("My name and role"), IssueDraft.flow, "privacy", "name")],
            [ctx.step_button(button_label(ctx.t._("Only my role ({role})",
                                                  role=role_label(ctx.t, forum.org_unit, forum, role))),
                             IssueDraft.flow, "privacy", "role")],
            [ctx.step_button(ctx.t._("My name, also in the forum's group"), IssueDraft.flow, "privacy", "group")],
        ],
    )


async def preview(ctx: Context) -> None:
    draft = ctx.flow(IssueDraft)
    head = kind_label(ctx.t, draft.kind)
    if draft.category:
        head += " · " + category_label(ctx.t, draft.category)
    if draft.show_name_to_group:
        shown = ctx.t._("Shown with your name, also in the forum's group.")
    elif draft.show_name:
        shown = ctx.t._("Shown with your name to the forum's members; the group sees your role only.")
    else:
        shown = ctx.t._("Shown with your role only.")
    await ctx.reply(
        "\n".join([ctx.t._("Your issue:"), head, quoted(ctx.t, draft.title), draft.details, shown,
                   ctx.t._("Send it to the forum?")]),
        confirm_buttons(ctx, IssueDraft.flow, ctx.t._("Send")),
    )


async def show_list(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    assert ctx.person is not None
    found = await issues.open_issues(ctx.session, forum=forum, person=ctx.person)
    unit = forum.org_unit
    title = Raw(forum_title(ctx.t, forum, unit))
    if not found.total:
        await ctx.reply(ctx.t._("There are no open issues in {forum}. To raise one: /issue", forum=title), edit=edit)
        return
    lines = [ctx.t.n_("One open issue in {forum}:", "{n} open issues in {forum}:", found.total, forum=title)]
    lines += ["", ctx.t._("Newest:")]
    lines += ["• " + issue_line(ctx.t, i, unit, forum, found.people) for i in found.newest]
    if found.longest_open:
        lines += ["", ctx.t._("Open the longest:")]
        lines += ["• " + issue_line(ctx.t, i, unit, forum, found.people) for i in found.longest_open]
    shown = found.newest + found.longest_open
    buttons = [
        [ctx.button(f"#{i.id}", ShowIssue(i.id)) for i in shown[n : n + 5]] for n in range(0, len(shown), 5)
    ]
    await ctx.reply("\n".join(lines) + "\n\n" + ctx.t._("Press a number for the details."), buttons, edit=edit)


def build() -> Router:
    """Every command, step and action of /issue and /issues, in one place."""
    router = Router("issues")
    router.command("issue", N_("Raise a need, a difficulty or a blocker"), audience="registered")(issue_command)
    on_steps(router, IssueDraft, kind=kind_step, title=title_step, details=details_step, category=category_step,
             privacy=privacy_step, confirm=confirm_step(IssueDraft, submit_issue))
    router.command("issues", N_("The open issues of my forum"), audience="registered")(issues_command)
    on_actions(router, issue_picked, issues_picked, view)
    return router
