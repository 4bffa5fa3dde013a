"""Helpers shared by the conversations: picking one of the person's forums, reading a typed choice."""

from __future__ import annotations

from collections.abc import Callable

from bot.conversation import Context
from bot.core.actions import Action
from bot.i18n import N_
from bot.services.agenda import items as agenda
from bot.services.agenda.items import ONLY_LEAD
from bot.services.forums import people
from bot.services.texts import forum_title
from bot.storage.models import Forum

NO_FORUM = N_("You are not a member of any forum yet. Ask your forum's lead for an invite.")


ForumAction = Callable[[int], Action]  # a declared action carrying one forum id


async def pick_forum(
    ctx: Context,
    action: ForumAction,
    *,
    lead: bool = False,
    question: str = N_("Which forum?"),
    refusal: str | None = None,
) -> Forum | None:
    """The forum to act on: the only one, or None after asking which (the answer comes to ``action``,
    a declared action built from the forum's id).
    ``question`` and ``refusal`` (when the person has no such forum) are msgids a feature may word
    its own way."""
    assert ctx.person is not None
    seats = [s for s in await people.seats_of(ctx.session, ctx.person.id) if s.is_lead or not lead]
    unique = list({s.forum.id: s for s in seats}.values())
    if not unique:
        await ctx.reply(ctx.t._(refusal or (ONLY_LEAD if lead else NO_FORUM)))
        return None
    if len(unique) == 1:
        return await agenda.load_forum(ctx.session, unique[0].forum.id)
    await ctx.reply(
        ctx.t._(question),
        [[ctx.button(forum_title(ctx.t, s.forum, s.unit), action(s.forum.id))] for s in unique],
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
