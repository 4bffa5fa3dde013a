"""/agenda: the coming meeting's agenda; members propose items, the lead accepts, declines,
reorders, sets the meeting date and when intake closes.

The shape every feature can follow: the buttons are declared actions (`bot.core.actions`), the
multi-step input declared flows (`bot.core.states`), one module-level function per command, step and
action, all registered in :func:`build`.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from bot.conversation import Context, Router
from bot.core.states import FlowState
from bot.domain import agenda as rules
from bot.domain.permissions import Action as Permission
from bot.domain.permissions import allowed
from bot.i18n import N_, Raw
from bot.services.agenda import items as agenda
from bot.services.agenda.actions import (
    AcceptItem,
    AskIntake,
    AskMeetingDate,
    DeclineItem,
    MoveItem,
    ProposeItem,
    SetIntake,
    ShowAgenda,
    ShowOrder,
    ShowPending,
)
from bot.services.agenda.items import NOT_A_MEMBER, ONLY_LEAD
from bot.services.errors import Refused
from bot.services.forums import people
from bot.services.meetings import schedule as meetings
from bot.services.texts import from_tier_label, quoted, short, when, who
from bot.storage.models import Forum
from handlers.common import ForumDraft, confirm_buttons, confirm_step, not_typed, on_actions, on_steps
from handlers.forum_pick import with_forum

# -- what the conversations carry --------------------------------------------------------------


class ProposalDraft(ForumDraft, flow="agenda", steps=("title", "details", "confirm")):
    title: str = ""
    details: str | None = None


class DeclineReason(FlowState, flow="agenda.decline", steps=("reason",)):
    item_id: int


class MeetingDate(FlowState, flow="agenda.date", steps=("date",)):
    forum_id: int


# -- the command ---------------------------------------------------------------------------------


async def agenda_command(ctx: Context) -> None:
    await with_forum(ctx, ShowAgenda, show)


async def agenda_picked(ctx: Context, value: ShowAgenda) -> None:
    await show(ctx, await agenda.load_forum(ctx.session, value.forum_id), edit=True)


# -- proposing -----------------------------------------------------------------------------------


async def propose(ctx: Context, value: ProposeItem) -> None:
    forum = await agenda.load_forum(ctx.session, value.forum_id)
    await agenda.require(ctx.session, ctx.person, forum, Permission.PROPOSE_AGENDA, NOT_A_MEMBER)
    await ctx.enter(ProposalDraft(forum_id=forum.id, key=secrets.token_urlsafe(12)), "title")
    await ctx.reply(ctx.t._("What is the item? Write a short title (up to {max} characters).", max=rules.TITLE_MAX))


async def title_step(ctx: Context) -> None:
    if await not_typed(ctx, N_("Please type the title.")):
        return
    draft = ctx.flow(ProposalDraft)
    await ctx.enter(draft.model_copy(update={"title": agenda.clean_title(ctx.text)}), "details")
    await ctx.reply(
        ctx.t._("Add a few words of background (up to {max} characters), or press “No details”.",
                max=rules.DETAILS_MAX),
        [[ctx.step_button(ctx.t._("No details"), ProposalDraft.flow, "details", "none")]],
    )


async def details_step(ctx: Context) -> None:
    assert ctx.person is not None
    text = None if ctx.value == "none" else agenda.clean_details(ctx.text)
    draft = ctx.flow(ProposalDraft).model_copy(update={"details": text})
    await ctx.enter(draft, "confirm")
    forum = await agenda.load_forum(ctx.session, draft.forum_id)
    # The lead's own item goes straight onto the agenda: they are not asked to send it to themselves.
    own = allowed(Permission.MANAGE_AGENDA, await people.standings(ctx.session, ctx.person, forum))
    preview = [ctx.t._("Your item:") if own else ctx.t._("Your proposal:"), quoted(ctx.t, draft.title)]
    if text:
        preview.append(text)
    preview.append(ctx.t._("Add it to the coming agenda?") if own else ctx.t._("Send it to the forum's lead?"))
    flow = ProposalDraft.flow
    await ctx.reply(
        "\n".join(preview),
        confirm_buttons(ctx, flow, ctx.t._("Add to the agenda") if own else ctx.t._("Send")),
    )


async def submit_proposal(ctx: Context, draft: ProposalDraft, forum: Forum) -> None:
    assert ctx.person is not None
    result = await agenda.propose_item(
        ctx.session, forum=forum, person=ctx.person, title=draft.title, details=draft.details,
        now=ctx.now, submit_key=draft.submit_key(ctx.identity.id),
    )
    await ctx.reply(await proposal_reply(ctx, forum, result), edit=True)


# -- the lead --------------------------------------------------------------------------------------


async def pending(ctx: Context, value: ShowPending) -> None:
    assert ctx.person is not None
    forum = await agenda.load_forum(ctx.session, value.forum_id)
    items = await agenda.pending_items(ctx.session, forum=forum, person=ctx.person)
    if not items:
        await ctx.reply(ctx.t._("Nothing is waiting for you."))
        return
    tiers = await agenda.origin_tiers(ctx.session, items)
    proposers = await agenda.people_by_id(ctx.session, [i.proposer_person_id for i in items])
    for item in items[:10]:
        if item.origin_forum_id:
            by = from_tier_label(ctx.t, tiers.get(item.origin_forum_id))
        else:
            by = who(ctx.t, forum.org_unit, forum, item.proposer_role, proposers.get(item.proposer_person_id or 0))
        body = [f"{quoted(ctx.t, item.title)} — {by}"]
        if item.details:
            body.append(short(item.details, 600))
        await ctx.reply(
            "\n".join(body),
            [[ctx.button(ctx.t._("Accept"), AcceptItem(item.id)),
              ctx.button(ctx.t._("Decline"), DeclineItem(item.id))]],
        )


async def accept(ctx: Context, value: AcceptItem) -> None:
    assert ctx.person is not None
    item = await agenda.accept_item(ctx.session, item_id=value.item_id, person=ctx.person, now=ctx.now)
    await ctx.reply(ctx.t._("On the agenda: “{title}”.", title=item.title), edit=True)


async def decline(ctx: Context, value: DeclineItem) -> None:
    assert ctx.person is not None
    item, _forum = await agenda.lead_item(ctx.session, value.item_id, ctx.person)
    await ctx.enter(DeclineReason(item_id=item.id), "reason")
    await ctx.reply(ctx.t._("Why not? Write the reason: the person who proposed it will see it."))


async def reason_step(ctx: Context) -> None:
    assert ctx.person is not None
    if await not_typed(ctx, N_("Please type the reason.")):
        return
    state = ctx.flow(DeclineReason)
    item = await agenda.decline_item(
        ctx.session, item_id=state.item_id, person=ctx.person, reason=ctx.text, now=ctx.now
    )
    await ctx.clear_state()
    await ctx.reply(ctx.t._("Declined: “{title}”. The reason was passed on.", title=item.title))


async def reorder(ctx: Context, value: ShowOrder) -> None:
    await show_order(ctx, await agenda.load_forum(ctx.session, value.forum_id))


async def move(ctx: Context, value: MoveItem) -> None:
    assert ctx.person is not None
    if value.delta not in (-1, 1):
        raise Refused(N_("This button is no longer active."))
    item = await agenda.get_item(ctx.session, value.item_id)
    await agenda.move_item(ctx.session, item_id=item.id, person=ctx.person, delta=value.delta, now=ctx.now)
    await show_order(ctx, await agenda.load_forum(ctx.session, item.forum_id), edit=True)


async def ask_meeting_date(ctx: Context, value: AskMeetingDate) -> None:
    forum = await agenda.load_forum(ctx.session, value.forum_id)
    await agenda.require(ctx.session, ctx.person, forum, Permission.MANAGE_AGENDA, ONLY_LEAD)
    await ctx.enter(MeetingDate(forum_id=forum.id), "date")
    await ctx.reply(ctx.t._("When is the next meeting? Send the date and the time, for example: {example}",
                            example=example_time(ctx)))


async def date_step(ctx: Context) -> None:
    assert ctx.person is not None
    tz = ctx.app.settings.tz
    at = rules.parse_meeting_at(ctx.text, ctx.now.astimezone(tz).date(), tz) if not ctx.value else None
    if at is None:
        await ctx.reply(ctx.t._("I could not read that. Please send a date and a time, for example: {example}",
                                example=example_time(ctx)))
        return
    forum = await agenda.load_forum(ctx.session, ctx.flow(MeetingDate).forum_id)
    await meetings.set_meeting_date(ctx.session, forum=forum, person=ctx.person, at=at, now=ctx.now)
    await ctx.clear_state()
    closes = rules.intake_closes_at(at, agenda.intake_hours(forum))
    lines = [ctx.t._("The next meeting is on {when}.", when=Raw(when(ctx.t, at)))]
    if closes > ctx.now:
        lines.append(ctx.t._("Items can be proposed until {when}.", when=Raw(when(ctx.t, closes))))
    else:
        lines.append(ctx.t._("Intake for it has already closed: new items go to the meeting after it."))
    await ctx.reply("\n".join(lines))


async def ask_intake(ctx: Context, value: AskIntake) -> None:
    forum = await agenda.load_forum(ctx.session, value.forum_id)
    await agenda.require(ctx.session, ctx.person, forum, Permission.MANAGE_AGENDA, ONLY_LEAD)
    await ctx.reply(
        ctx.t._("How long before the meeting does intake of items close?"),
        [[ctx.button(before_label(ctx, hours), SetIntake(forum.id, hours))] for hours in rules.INTAKE_CHOICES],
    )


async def set_intake(ctx: Context, value: SetIntake) -> None:
    assert ctx.person is not None
    forum = await agenda.load_forum(ctx.session, value.forum_id)
    await agenda.set_intake_hours(ctx.session, forum=forum, person=ctx.person, hours=value.hours, now=ctx.now)
    await ctx.reply(ctx.t._("Saved: intake closes {before}.", before=Raw(before_label(ctx, value.hours))),
                    edit=True)


def build() -> Router:
    """Every command, step and action of the agenda, in one place."""
    router = Router("agenda")
    router.command("agenda", N_("The agenda of the next meeting; propose an item"), audience="registered")(
        agenda_command
    )
    on_actions(router, agenda_picked, propose, pending, accept, decline, reorder, move, ask_meeting_date,
               ask_intake, set_intake)
    on_steps(router, ProposalDraft, title=title_step, details=details_step,
             confirm=confirm_step(ProposalDraft, submit_proposal))
    on_steps(router, DeclineReason, reason=reason_step)
    on_steps(router, MeetingDate, date=date_step)
    return router


def before_label(ctx: Context, hours: int) -> str:
    if hours == 168:
        return ctx.t._("a week before the meeting")
    return ctx.t.n_("one day before the meeting", "{n} days before the meeting", hours // 24)


def example_time(ctx: Context) -> str:
    local = (ctx.now + timedelta(days=7)).astimezone(ctx.app.settings.tz)
    return f"{local.day}.{local.month}.{local.year} 18:00"


async def show(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    assert ctx.person is not None
    view = await agenda.view_agenda(ctx.session, forum=forum, person=ctx.person, now=ctx.now)
    standing = await people.standings(ctx.session, ctx.person, forum)
    buttons = [[ctx.button(ctx.t._("Propose an item"), ProposeItem(forum.id))]]
    if allowed(Permission.MANAGE_AGENDA, standing):
        waiting = len(await agenda.pending_items(ctx.session, forum=forum, person=ctx.person))
        if waiting:
            buttons.append([ctx.button(ctx.t.n_("One proposal is waiting", "{n} proposals are waiting", waiting),
                                       ShowPending(forum.id))])
        if len(view.items) > 1:
            buttons.append([ctx.button(ctx.t._("Change the order"), ShowOrder(forum.id))])
        buttons.append([ctx.button(ctx.t._("Set the meeting date"), AskMeetingDate(forum.id)),
                        ctx.button(ctx.t._("When intake closes"), AskIntake(forum.id))])
    await ctx.reply(view.text(ctx.t), buttons, edit=edit)


async def show_order(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    assert ctx.person is not None
    await agenda.require(ctx.session, ctx.person, forum, Permission.MANAGE_AGENDA, ONLY_LEAD)
    items = await agenda.items_for(ctx.session, forum, await agenda.next_meeting(ctx.session, forum.id, ctx.now))
    if not items:
        raise Refused(N_("There are no items on the agenda yet."))
    rows = [
        [ctx.button(f"▲ {n}. {short(item.title, 28)}", MoveItem(item.id, -1)), ctx.button("▼", MoveItem(item.id, 1))]
        for n, item in enumerate(items, 1)
    ]
    await ctx.reply(ctx.t._("Press ▲ or ▼ to move an item:"), rows, edit=edit)


async def proposal_reply(ctx: Context, forum: Forum, result: agenda.Proposal) -> str:
    if not result.created:
        return ctx.t._("This item was already sent.")
    if result.item.status == rules.ItemStatus.ACCEPTED:
        return ctx.t._("Added to the agenda: “{title}”.", title=result.item.title)
    if result.meeting_at is not None:
        return ctx.t._("Thank you! Your item was sent to the forum's lead, for the meeting on {when}.",
                       when=Raw(when(ctx.t, result.meeting_at)))
    meeting = await agenda.next_meeting(ctx.session, forum.id, ctx.now)
    if meeting is not None:
        return ctx.t._(
            "Thank you! Intake for the meeting on {when} has closed, so your item was sent to the forum's lead "
            "for the meeting after it.",
            when=Raw(when(ctx.t, meeting)),
        )
    return ctx.t._("Thank you! Your item was sent to the forum's lead, for the next meeting.")
