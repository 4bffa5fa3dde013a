"""Helpers shared by the conversations: picking one of the person's forums, reading a typed choice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.conversation import Context
from bot.core.actions import Action
from bot.i18n import N_
from bot.services.agenda import items as agenda
from bot.services.agenda.items import ONLY_LEAD
from bot.services.forums import people
from bot.services.forums.people import ForumSeat
from bot.services.texts import forum_title
from bot.storage.models import Forum

NO_FORUM = N_("You are not a member of any forum yet. Ask your forum's lead for an invite.")


ForumAction = Callable[[int], Action]  # a declared action carrying one forum id
GoOn = Callable[[Context, Forum], Awaitable[None]]  # what a command does with the forum it is about


async def with_forum(
    ctx: Context,
    action: ForumAction,
    then: GoOn,
    *,
    lead: bool = False,
    question: str = N_("Which forum?"),
    refusal: str | None = None,
) -> None:
    """Go on with the forum to act on: ``then`` at once with the only one, else ask which (the answer
    comes to ``action``, a declared action built from the forum's id, whose handler goes on).
    ``question`` and ``refusal`` (when the person has no such forum) are msgids a feature may word
    its own way."""
    assert ctx.person is not None
    seats = [s for s in await people.seats_of(ctx.session, ctx.person.id) if s.is_lead or not lead]
    unique = list({s.forum.id: s for s in seats}.values())
    if not unique:
        await ctx.reply(ctx.t._(refusal or (ONLY_LEAD if lead else NO_FORUM)))
        return
    seat = await choose_seat(ctx, unique, action, question)
    if seat is not None:
        await then(ctx, await agenda.load_forum(ctx.session, seat.forum.id))


async def led_seat(ctx: Context, action: ForumAction, *, question: str, refusal: str) -> ForumSeat | None:
    """One of the seats the person leads (a forum once for each leading role they hold in it), as
    :func:`choose_seat` picks it; None after ``refusal`` (a msgid) when they lead no forum."""
    assert ctx.person is not None
    seats = [s for s in await people.seats_of(ctx.session, ctx.person.id) if s.is_lead]
    if not seats:
        await ctx.reply(ctx.t._(refusal))
        return None
    return await choose_seat(ctx, seats, action, question)


async def choose_seat(
    ctx: Context, seats: Sequence[ForumSeat], action: ForumAction, question: str
) -> ForumSeat | None:
    """The only one of ``seats`` (there is at least one), or None after asking ``question`` (a msgid)
    with a button for each seat's forum (the answer comes to ``action``)."""
    if len(seats) == 1:
        return seats[0]
    await ctx.reply(
        ctx.t._(question),
        [[ctx.button(forum_title(ctx.t, s.forum, s.unit), action(s.forum.id))] for s in seats],
    )
    return None


def pick(text: str, values: list[str], labels: list[str]) -> str:
    """A typed option number or label (for channels without buttons, or people who type)."""
    text = text.strip().casefold()
    if text.isdigit() and 1 <= int(text) <= len(values):
        return values[int(text) - 1]
    for value, label in zip(values, labels, strict=True):
        if text in (label.casefold(), value):
            return value
    return ""
