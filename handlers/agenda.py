"""/agenda: the coming meeting's agenda; members propose items, the lead accepts, declines,
reorders, sets the meeting date and when intake closes."""

from __future__ import annotations

import secrets
from datetime import timedelta

from bot.conversation import Context, Router
from bot.domain import agenda as rules
from bot.domain.permissions import Action, allowed
from bot.i18n import N_, Raw
from bot.services import agenda, meetings, people
from bot.services.agenda import NOT_A_MEMBER, ONLY_LEAD
from bot.services.agenda_text import from_tier_label, quoted, short, when, who
from bot.services.errors import Refused
from bot.storage.models import Forum
from handlers.forum_pick import forum_command, forum_from_value

FLOW = "agenda"


def build() -> Router:
    router = Router("agenda")

    forum_command(
        router, "agenda", N_("The agenda of the next meeting; propose an item"), "agf", show, audience="registered"
    )

    # -- proposing -------------------------------------------------------------------------

    @router.action("agprop")
    async def propose(ctx: Context) -> None:
        forum = await forum_from_value(ctx)
        await agenda.require(ctx.session, ctx.person, forum, Action.PROPOSE_AGENDA, NOT_A_MEMBER)
        await ctx.set_state(FLOW, "title", forum_id=forum.id, key=secrets.token_urlsafe(12))
        await ctx.reply(ctx.t._("What is the item? Write a short title (up to {max} characters).", max=rules.TITLE_MAX))

    @router.step(FLOW, "title")
    async def title(ctx: Context) -> None:
        if ctx.value:
            await ctx.reply(ctx.t._("Please type the title."))
            return
        await ctx.set_state(FLOW, "details", title=agenda.clean_title(ctx.text))
        await ctx.reply(
            ctx.t._("Add a few words of background (up to {max} characters), or press “No details”.",
                    max=rules.DETAILS_MAX),
            [[ctx.step_button(ctx.t._("No details"), FLOW, "details", "none")]],
        )

    @router.step(FLOW, "details")
    async def details(ctx: Context) -> None:
        assert ctx.person is not None
        text = None if ctx.value == "none" else agenda.clean_details(ctx.text)
        await ctx.set_state(FLOW, "confirm", details=text)
        assert ctx.state is not None
        forum = await agenda.load_forum(ctx.session, ctx.state.data["forum_id"])
        # The lead's own item goes straight onto the agenda: they are not asked to send it to themselves.
        own = allowed(Action.MANAGE_AGENDA, await people.standings(ctx.session, ctx.person, forum))
        preview = [ctx.t._("Your item:") if own else ctx.t._("Your proposal:"), quoted(ctx.t, ctx.state.data["title"])]
        if text:
            preview.append(text)
        preview.append(ctx.t._("Add it to the coming agenda?") if own else ctx.t._("Send it to the forum's lead?"))
        await ctx.reply(
            "\n".join(preview),
            [[ctx.step_button(ctx.t._("Add to the agenda") if own else ctx.t._("Send"), FLOW, "confirm", "yes"),
              ctx.step_button(ctx.t._("Cancel"), FLOW, "confirm", "no")]],
        )

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
        result = await agenda.propose_item(
            ctx.session, forum=forum, person=ctx.person, title=data["title"], details=data.get("details"),
            now=ctx.now, submit_key=f"{ctx.identity.id}:{data['key']}",
        )
        await ctx.reply(await proposal_reply(ctx, forum, result), edit=True)

    # -- the lead ----------------------------------------------------------------------------

    @router.action("agpend")
    async def pending(ctx: Context) -> None:
        assert ctx.person is not None
        forum = await forum_from_value(ctx)
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
                [[ctx.button(ctx.t._("Accept"), f"agacc:{item.id}"),
                  ctx.button(ctx.t._("Decline"), f"agdec:{item.id}")]],
            )

    @router.action("agacc")
    async def accept(ctx: Context) -> None:
        assert ctx.person is not None
        item = await agenda.accept_item(ctx.session, item_id=int(ctx.value), person=ctx.person, now=ctx.now)
        await ctx.reply(ctx.t._("On the agenda: “{title}”.", title=item.title), edit=True)

    @router.action("agdec")
    async def decline(ctx: Context) -> None:
        assert ctx.person is not None
        item_id = int(ctx.value)
        item = await agenda.get_item(ctx.session, item_id)
        forum = await agenda.load_forum(ctx.session, item.forum_id)
        await agenda.require(ctx.session, ctx.person, forum, Action.MANAGE_AGENDA, ONLY_LEAD)
        await ctx.set_state(FLOW, "reason", item_id=item_id)
        await ctx.reply(ctx.t._("Why not? Write the reason: the person who proposed it will see it."))

    @router.step(FLOW, "reason")
    async def reason(ctx: Context) -> None:
        assert ctx.state is not None and ctx.person is not None
        if ctx.value:
            await ctx.reply(ctx.t._("Please type the reason."))
            return
        item = await agenda.decline_item(
            ctx.session, item_id=ctx.state.data["item_id"], person=ctx.person, reason=ctx.text, now=ctx.now
        )
        await ctx.clear_state()
        await ctx.reply(ctx.t._("Declined: “{title}”. The reason was passed on.", title=item.title))

    @router.action("agord")
    async def reorder(ctx: Context) -> None:
        await show_order(ctx, await forum_from_value(ctx))

    @router.action("agup")
    async def up(ctx: Context) -> None:
        await move(ctx, -1)

    @router.action("agdn")
    async def down(ctx: Context) -> None:
        await move(ctx, +1)

    async def move(ctx: Context, delta: int) -> None:
        assert ctx.person is not None
        item = await agenda.get_item(ctx.session, int(ctx.value))
        await agenda.move_item(ctx.session, item_id=item.id, person=ctx.person, delta=delta, now=ctx.now)
        await show_order(ctx, await agenda.load_forum(ctx.session, item.forum_id), edit=True)

    @router.action("agdate")
    async def meeting_date(ctx: Context) -> None:
        forum = await forum_from_value(ctx)
        await agenda.require(ctx.session, ctx.person, forum, Action.MANAGE_AGENDA, ONLY_LEAD)
        await ctx.set_state(FLOW, "date", forum_id=forum.id)
        await ctx.reply(ctx.t._("When is the next meeting? Send the date and the time, for example: {example}",
                                example=example_time(ctx)))

    @router.step(FLOW, "date")
    async def date_step(ctx: Context) -> None:
        assert ctx.state is not None and ctx.person is not None
        tz = ctx.app.settings.tz
        at = rules.parse_meeting_at(ctx.text, ctx.now.astimezone(tz).date(), tz) if not ctx.value else None
        if at is None:
            await ctx.reply(ctx.t._("I could not read that. Please send a date and a time, for example: {example}",
                                    example=example_time(ctx)))
            return
        forum = await agenda.load_forum(ctx.session, ctx.state.data["forum_id"])
        await meetings.set_meeting_date(ctx.session, forum=forum, person=ctx.person, at=at, now=ctx.now)
        await ctx.clear_state()
        closes = rules.intake_closes_at(at, agenda.intake_hours(forum))
        lines = [ctx.t._("The next meeting is on {when}.", when=Raw(when(ctx.t, at)))]
        if closes > ctx.now:
            lines.append(ctx.t._("Items can be proposed until {when}.", when=Raw(when(ctx.t, closes))))
        else:
            lines.append(ctx.t._("Intake for it has already closed: new items go to the meeting after it."))
        await ctx.reply("\n".join(lines))

    @router.action("agcut")
    async def cutoff(ctx: Context) -> None:
        forum = await forum_from_value(ctx)
        await agenda.require(ctx.session, ctx.person, forum, Action.MANAGE_AGENDA, ONLY_LEAD)
        await ctx.reply(
            ctx.t._("How long before the meeting does intake of items close?"),
            [[ctx.button(before_label(ctx, hours), f"agcuth:{forum.id}:{hours}")] for hours in rules.INTAKE_CHOICES],
        )

    @router.action("agcuth")
    async def cutoff_set(ctx: Context) -> None:
        assert ctx.person is not None
        forum = await forum_from_value(ctx)
        hours = int(ctx.value.split(":")[1])
        await agenda.set_intake_hours(ctx.session, forum=forum, person=ctx.person, hours=hours, now=ctx.now)
        await ctx.reply(ctx.t._("Saved: intake closes {before}.", before=Raw(before_label(ctx, hours))),
                        edit=True)

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
    buttons = [[ctx.button(ctx.t._("Propose an item"), f"agprop:{forum.id}")]]
    if allowed(Action.MANAGE_AGENDA, standing):
        waiting = len(await agenda.pending_items(ctx.session, forum=forum, person=ctx.person))
        if waiting:
            buttons.append([ctx.button(ctx.t.n_("One proposal is waiting", "{n} proposals are waiting", waiting),
                                       f"agpend:{forum.id}")])
        if len(view.items) > 1:
            buttons.append([ctx.button(ctx.t._("Change the order"), f"agord:{forum.id}")])
        buttons.append([ctx.button(ctx.t._("Set the meeting date"), f"agdate:{forum.id}"),
                        ctx.button(ctx.t._("When intake closes"), f"agcut:{forum.id}")])
    await ctx.reply(view.text(ctx.t), buttons, edit=edit)


async def show_order(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    assert ctx.person is not None
    await agenda.require(ctx.session, ctx.person, forum, Action.MANAGE_AGENDA, ONLY_LEAD)
    items = await agenda.items_for(ctx.session, forum, await agenda.next_meeting(ctx.session, forum.id, ctx.now))
    if not items:
        raise Refused(N_("There are no items on the agenda yet."))
    rows = [
        [ctx.button(f"▲ {n}. {short(item.title, 28)}", f"agup:{item.id}"), ctx.button("▼", f"agdn:{item.id}")]
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
