"""Escalation: forwarding an issue up (from its card or at /meeting), acting on a forwarded gap from
the digest (acknowledge, put someone in charge, answer, forward further up), and /announce."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from bot.conversation import Context, Router
from bot.core.states import FlowState
from bot.domain.escalation import OPEN_GAP
from bot.domain.permissions import Action
from bot.domain.tiers import Tier
from bot.i18n import N_, Raw
from bot.services.agenda import items as agenda
from bot.services.errors import Refused
from bot.services.escalation import announcements
from bot.services.escalation import forwarding as escalation
from bot.services.escalation.actions import (
    AcknowledgeGap,
    AnnounceFrom,
    AskAnswer,
    AskOwner,
    EscalateIssue,
    ForwardGap,
    SetOwner,
    ShowGap,
)
from bot.services.forums import people
from bot.services.texts import (
    button_label,
    category_label,
    forum_title,
    kind_label,
    quoted,
    role_label,
    short,
    unit_name,
    who,
)
from bot.storage.models import Forum
from bot.storage.models_agenda import RaisedIssue
from bot.storage.models_escalation import EscalationLink
from handlers.common import not_typed, on_actions, on_steps
from handlers.forum_pick import choose_seat

MAX_OWNERS = 30
GAP_STATUS_LABELS = {
    "open": N_("Waiting"),
    "acknowledged": N_("Acknowledged"),
    "in_progress": N_("In progress"),
    "resolved": N_("Answered"),
    "forwarded": N_("Forwarded up"),
}
TIER_PLURALS = {
    Tier.DISTRICT: N_("The districts"),
    Tier.AUTHORITY: N_("The local authorities"),
    Tier.SCHOOL: N_("The schools"),
}


def escalate_label(ctx: Context, target: Forum) -> str:
    return button_label(ctx.t._("Escalate to {unit}", unit=unit_name(ctx.t, target.org_unit)))


class GapAnswer(FlowState, flow="escalation", steps=("answer",)):
    gap: int


class Announcement(FlowState, flow="announce", steps=("text", "tiers")):
    forum_id: int
    text: str = ""
    key: str = ""  # one announcement however often the tier is pressed


# -- an issue and a gap, up the tiers ------------------------------------------------------------


async def escalate_from_card(ctx: Context, value: EscalateIssue) -> None:
    assert ctx.person is not None
    done = await escalation.escalate_issue(ctx.session, issue_id=value.issue_id, person=ctx.person, now=ctx.now)
    await ctx.reply(ctx.t._("Escalated to {forum}. You will hear when it is answered.",
                            forum=Raw(forum_title(ctx.t, done.target, done.target.org_unit))))


async def gap_card(ctx: Context, value: ShowGap) -> None:
    await show_gap(ctx, value.gap_id)


async def acknowledge(ctx: Context, value: AcknowledgeGap) -> None:
    assert ctx.person is not None
    await escalation.acknowledge(ctx.session, gap_id=value.gap_id, person=ctx.person, now=ctx.now)
    await ctx.reply(ctx.t._("Marked as acknowledged."))


async def ask_owner(ctx: Context, value: AskOwner) -> None:
    assert ctx.person is not None
    gap, forum = await escalation.gap_to_handle(ctx.session, value.gap_id, ctx.person)
    members = await agenda.members_of(ctx.session, forum.id)
    rows = [[ctx.button(button_label(who(ctx.t, forum.org_unit, forum, role, person)), SetOwner(gap.id, person.id))]
            for person, role in members[:MAX_OWNERS]]
    await ctx.reply(ctx.t._("Who is in charge?"), rows)


async def set_owner(ctx: Context, value: SetOwner) -> None:
    assert ctx.person is not None
    gap = await escalation.assign_owner(ctx.session, gap_id=value.gap_id, person=ctx.person,
                                        owner_person_id=value.person_id, now=ctx.now)
    forum = await agenda.load_forum(ctx.session, gap.forum_id)
    owner = (await agenda.people_by_id(ctx.session, [gap.owner_person_id])).get(value.person_id)
    await ctx.reply("\n".join([
        ctx.t._("Recorded:"),
        ctx.t._("In charge: {owner}.", owner=who(ctx.t, forum.org_unit, forum, gap.owner_role, owner)),
    ]))


async def ask_answer(ctx: Context, value: AskAnswer) -> None:
    assert ctx.person is not None
    gap, _forum = await escalation.gap_to_handle(ctx.session, value.gap_id, ctx.person)
    await ctx.enter(GapAnswer(gap=gap.id), "answer")
    await ctx.reply(ctx.t._("Write the answer: it goes to the forums below and to whoever raised it."))


async def answer_step(ctx: Context) -> None:
    assert ctx.person is not None
    if await not_typed(ctx, N_("Please type it.")):
        return
    state = ctx.flow(GapAnswer)
    done = await escalation.answer(ctx.session, gap_id=state.gap, person=ctx.person, text=ctx.text, now=ctx.now)
    await ctx.clear_state()
    await ctx.reply(ctx.t.n_("The answer was sent down to one forum and to those who raised it.",
                             "The answer was sent down to {n} forums and to those who raised it.", done.forums))


async def forward(ctx: Context, value: ForwardGap) -> None:
    assert ctx.person is not None
    done = await escalation.forward_gap(ctx.session, gap_id=value.gap_id, person=ctx.person, now=ctx.now)
    await ctx.reply(ctx.t._("Forwarded to {forum}.", forum=Raw(forum_title(ctx.t, done.target,
                                                                           done.target.org_unit))))


# -- /announce -------------------------------------------------------------------------------------


async def announce_command(ctx: Context) -> None:
    assert ctx.person is not None
    seats = [s for s in await people.seats_of(ctx.session, ctx.person.id)
             if s.is_lead and announcements.tiers_below(s.unit.tier)]
    unique = list({s.forum.id: s for s in seats}.values())
    if not unique:
        raise Refused(announcements.ONLY_UPPER_LEADS)
    seat = await choose_seat(ctx, unique, AnnounceFrom, N_("Which forum?"))
    if seat is not None:
        await ask_text(ctx, await agenda.load_forum(ctx.session, seat.forum.id))


async def announce_forum(ctx: Context, value: AnnounceFrom) -> None:
    await ask_text(ctx, await agenda.load_forum(ctx.session, value.forum_id))


async def announce_text(ctx: Context) -> None:
    if await not_typed(ctx, N_("Please type it.")):
        return
    state = ctx.flow(Announcement)
    forum = await agenda.load_forum(ctx.session, state.forum_id)
    text = ctx.text.strip()
    if len(text) < 2:
        await ctx.reply(ctx.t._("Please type it."))
        return
    update = {"text": text[: announcements.TEXT_MAX], "key": secrets.token_hex(8)}
    await ctx.enter(state.model_copy(update=update), "tiers")
    below = announcements.tiers_below(forum.org_unit.tier)
    flow = Announcement.flow
    rows = [[ctx.step_button(ctx.t._("All the forums below"), flow, "tiers", ",".join(below))]]
    if len(below) > 1:
        rows += [[ctx.step_button(ctx.t._(TIER_PLURALS[t]), flow, "tiers", t.value)] for t in below]
    rows.append([ctx.step_button(ctx.t._("Cancel"), flow, "tiers", "cancel")])
    await ctx.reply(ctx.t._("To whom?"), rows)


async def announce_tiers(ctx: Context) -> None:
    assert ctx.person is not None
    if not ctx.value:
        await ctx.reply(ctx.t._("Please choose one of the options."))
        return
    if ctx.value == "cancel":
        await ctx.clear_state()
        await ctx.reply(ctx.t._("Cancelled."), edit=True)
        return
    state = ctx.flow(Announcement)
    forum = await agenda.load_forum(ctx.session, state.forum_id)
    row = await announcements.announce(ctx.session, forum=forum, person=ctx.person, text=state.text,
                                       tiers=ctx.value.split(","), now=ctx.now, submit_key=state.key)
    count = len(await announcements.target_forum_ids(ctx.session, row))
    await ctx.clear_state()
    ctx.app.notify_outbox()
    await ctx.reply(ctx.t.n_("On its way to one forum below: its members get it, and it is suggested for "
                             "its next agenda.",
                             "On its way to {n} forums below: their members get it, and it is suggested for "
                             "their next agenda.", count), edit=True)


def build() -> Router:
    """Every command, step and action of escalation and /announce, in one place."""
    router = Router("escalation")
    on_actions(router, escalate_from_card, gap_card, acknowledge, ask_owner, set_owner, ask_answer, forward)
    on_steps(router, GapAnswer, answer=answer_step)
    router.command("announce", N_("Send a decision or an update to the forums below (leads)"), audience="lead")(
        announce_command
    )
    on_actions(router, announce_forum)
    on_steps(router, Announcement, text=announce_text, tiers=announce_tiers)
    return router


async def ask_text(ctx: Context, forum: Forum) -> None:
    assert ctx.person is not None
    if not announcements.tiers_below(forum.org_unit.tier):
        raise Refused(announcements.ONLY_UPPER_LEADS)
    await agenda.require(ctx.session, ctx.person, forum, Action.ANNOUNCE_DOWN, announcements.ONLY_UPPER_LEADS)
    await ctx.enter(Announcement(forum_id=forum.id), "text")
    await ctx.reply(ctx.t._("Write the decision or update for the forums below {forum} (the first line is its title):",
                            forum=Raw(forum_title(ctx.t, forum, forum.org_unit))))


async def show_gap(ctx: Context, gap_id: int) -> None:
    assert ctx.person is not None
    gap, forum = await escalation.gap_to_handle(ctx.session, gap_id, ctx.person)
    rows = (await ctx.session.execute(
        select(RaisedIssue.id, RaisedIssue.forum_id, RaisedIssue.raiser_role, RaisedIssue.created_at)
        .join(EscalationLink, EscalationLink.issue_id == RaisedIssue.id)
        .where(EscalationLink.gap_id == gap.id).order_by(RaisedIssue.created_at)
    )).all()
    head = f"{ctx.t.ref(gap.id)} · {kind_label(ctx.t, gap.kind)}"
    if gap.category:
        head += f" · {category_label(ctx.t, gap.category)}"
    lines = [head, quoted(ctx.t, gap.title)]
    if gap.details:
        lines.append(short(gap.details, 800))
    lines.append(ctx.t._("Status: {status}", status=ctx.t._(GAP_STATUS_LABELS.get(gap.status, gap.status))))
    if gap.owner_role:
        lines.append(ctx.t._("In charge: {role}", role=role_label(ctx.t, forum.org_unit, forum, gap.owner_role)))
    if gap.answer:
        lines.append(ctx.t._("The answer: {text}", text=gap.answer))
    lines.append(ctx.t.n_("Raised in one forum below:", "Raised in {n} forums below:", len(rows)))
    for _issue_id, forum_id, role, created_at in rows[:20]:
        origin = await agenda.load_forum(ctx.session, forum_id)
        # Above the forum it was raised in, only the raiser's role is shown (never the name).
        lines.append(f"• {unit_name(ctx.t, origin.org_unit)} — {role_label(ctx.t, origin.org_unit, origin, role)}"
                     f" · {ctx.t.date(created_at, 'medium')}")
    buttons = []
    if gap.status in {s.value for s in OPEN_GAP}:
        buttons = [
            [ctx.button(ctx.t._("Acknowledge"), AcknowledgeGap(gap.id)),
             ctx.button(ctx.t._("Put someone in charge"), AskOwner(gap.id))],
            [ctx.button(ctx.t._("Answer"), AskAnswer(gap.id))],
        ]
        above = await escalation.parent_forum(ctx.session, forum)
        if above is not None:
            buttons.append([ctx.button(escalate_label(ctx, above), ForwardGap(gap.id))])
    await ctx.reply("\n".join(lines), buttons or None)

