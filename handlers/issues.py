"""/issue raises a need, a difficulty or a blocker; /issues lists the forum's open issues."""

from __future__ import annotations

import secrets

from bot.conversation import Context, Router
from bot.domain import agenda as rules
from bot.domain.agenda import HistoryKind, IssueCategory, IssueKind
from bot.domain.permissions import Action
from bot.i18n import N_, Raw
from bot.services import agenda, escalation, issues, notify
from bot.services.agenda import NOT_A_MEMBER
from bot.services.agenda_text import (
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
from bot.services.escalation_actions import EscalateIssue
from bot.storage.models import Forum
from handlers.escalation import escalate_label
from handlers.forum_pick import forum_command, pick

FLOW = "issue"


def build() -> Router:
    router = Router("issues")

    forum_command(
        router, "issue", N_("Raise a need, a difficulty or a blocker"), "isf", begin, audience="registered", edit=False
    )

    @router.step(FLOW, "kind")
    async def kind(ctx: Context) -> None:
        kinds = list(IssueKind)
        choice = ctx.value or pick(ctx.text, [k.value for k in kinds], [ctx.t._(KIND_LABELS[k]) for k in kinds])
        if choice not in {k.value for k in kinds}:
            await ask_kind(ctx, again=True)
            return
        await ctx.set_state(FLOW, "title", kind=choice)
        await ctx.reply(ctx.t._("Give it a short title (up to {max} characters).", max=rules.TITLE_MAX))

    @router.step(FLOW, "title")
    async def title(ctx: Context) -> None:
        if ctx.value:
            await ctx.reply(ctx.t._("Please type the title."))
            return
        await ctx.set_state(FLOW, "details", title=agenda.clean_title(ctx.text))
        await ctx.reply(ctx.t._("Describe it: what happens, to whom, since when (up to {max} characters).",
                                max=rules.DETAILS_MAX))

    @router.step(FLOW, "details")
    async def details(ctx: Context) -> None:
        if ctx.value:
            await ctx.reply(ctx.t._("Please type the description."))
            return
        await ctx.set_state(FLOW, "category", details=issues.clean_issue_details(ctx.text))
        await ask_category(ctx)

    @router.step(FLOW, "category")
    async def category(ctx: Context) -> None:
        values = [c.value for c in IssueCategory] + ["none"]
        labels = [ctx.t._(CATEGORY_LABELS[c]) for c in IssueCategory] + [ctx.t._("Skip")]
        choice = ctx.value or pick(ctx.text, values, labels)
        if choice not in values:
            await ask_category(ctx, again=True)
            return
        await ctx.set_state(FLOW, "privacy", category=None if choice == "none" else choice)
        await ask_privacy(ctx)

    @router.step(FLOW, "privacy")
    async def privacy(ctx: Context) -> None:
        if ctx.value not in ("name", "role", "group"):
            await ask_privacy(ctx, again=True)
            return
        await ctx.set_state(FLOW, "confirm", show_name=ctx.value in ("name", "group"),
                            show_name_to_group=ctx.value == "group")
        await preview(ctx)

    @router.step(FLOW, "confirm")
    async def confirm(ctx: Context) -> None:
        assert ctx.state is not None and ctx.person is not None
        if ctx.value not in ("yes", "no"):
            await ctx.reply(ctx.t._("Please choose one of the options."))
            return
        data = dict(ctx.state.data)
        await ctx.clear_state()
        if ctx.value == "no":
            await ctx.reply(ctx.t._("Cancelled."), edit=True)
            return
        forum = await agenda.load_forum(ctx.session, data["forum_id"])
        result = await issues.raise_issue(
            ctx.session, forum=forum, person=ctx.person, kind=data["kind"], title=data["title"],
            details=data["details"], category=data.get("category"), show_name=bool(data.get("show_name")),
            show_name_to_group=bool(data.get("show_name_to_group")), now=ctx.now,
            submit_key=f"{ctx.identity.id}:{data['key']}",
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

    # -- the list ------------------------------------------------------------------------------

    forum_command(router, "issues", N_("The open issues of my forum"), "ilf", show_list, audience="registered")

    @router.action("isv")
    async def view(ctx: Context) -> None:
        assert ctx.person is not None
        issue, forum = await issues.issue_for_member(ctx.session, issue_id=int(ctx.value), person=ctx.person)
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

    return router


async def begin(ctx: Context, forum: Forum) -> None:
    await agenda.require(ctx.session, ctx.person, forum, Action.RAISE_ISSUE, NOT_A_MEMBER)
    await ctx.set_state(FLOW, "kind", forum_id=forum.id, key=secrets.token_urlsafe(12))
    await ask_kind(ctx)


async def ask_kind(ctx: Context, *, again: bool = False) -> None:
    intro = ctx.t._("Please choose one of the options.") + "\n" if again else ""
    await ctx.reply(
        intro + ctx.t._("What would you like to raise?"),
        [[ctx.step_button(ctx.t._(KIND_LABELS[k]), FLOW, "kind", k.value) for k in IssueKind]],
    )


async def ask_category(ctx: Context, *, again: bool = False) -> None:
    intro = ctx.t._("Please choose one of the options.") + "\n" if again else ""
    cats = list(IssueCategory)
    rows = [
        [ctx.step_button(ctx.t._(CATEGORY_LABELS[c]), FLOW, "category", c.value) for c in cats[i : i + 2]]
        for i in range(0, len(cats), 2)
    ]
    rows.append([ctx.step_button(ctx.t._("Skip"), FLOW, "category", "none")])
    await ctx.reply(intro + ctx.t._("Which area is it in? (optional)"), rows)


async def ask_privacy(ctx: Context, *, again: bool = False) -> None:
    assert ctx.state is not None and ctx.person is not None
    forum = await agenda.load_forum(ctx.session, ctx.state.data["forum_id"])
    role = await agenda.role_in(ctx.session, ctx.person.id, forum.id)
    intro = ctx.t._("Please choose one of the options.") + "\n" if again else ""
    await ctx.reply(
        intro + ctx.t._("Your issue is seen by the forum's members, and also by the forum's group chat if it has "
                        "one (in the agenda the bot posts there before a meeting). Who should see your name as "
                        "the source? The group sees only your role unless you choose it. Either way the bot "
                        "knows it was you, so that it can keep you updated."),
        [
            [ctx.step_button(ctx.t._("My name and role"), FLOW, "privacy", "name")],
            [ctx.step_button(button_label(ctx.t._("Only my role ({role})",
                                                  role=role_label(ctx.t, forum.org_unit, forum, role))),
                             FLOW, "privacy", "role")],
            [ctx.step_button(ctx.t._("My name, also in the forum's group"), FLOW, "privacy", "group")],
        ],
    )


async def preview(ctx: Context) -> None:
    assert ctx.state is not None
    data = ctx.state.data
    head = kind_label(ctx.t, data["kind"])
    if data.get("category"):
        head += " · " + category_label(ctx.t, data["category"])
    if data.get("show_name_to_group"):
        shown = ctx.t._("Shown with your name, also in the forum's group.")
    elif data.get("show_name"):
        shown = ctx.t._("Shown with your name to the forum's members; the group sees your role only.")
    else:
        shown = ctx.t._("Shown with your role only.")
    await ctx.reply(
        "\n".join([ctx.t._("Your issue:"), head, quoted(ctx.t, data["title"]), data["details"], shown,
                   ctx.t._("Send it to the forum?")]),
        [[ctx.step_button(ctx.t._("Send"), FLOW, "confirm", "yes"),
          ctx.step_button(ctx.t._("Cancel"), FLOW, "confirm", "no")]],
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
        [ctx.button(f"#{i.id}", f"isv:{i.id}") for i in shown[n : n + 5]] for n in range(0, len(shown), 5)
    ]
    await ctx.reply("\n".join(lines) + "\n\n" + ctx.t._("Press a number for the details."), buttons, edit=edit)
