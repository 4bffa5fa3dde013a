"""Conversations about the messengers themselves: linking accounts, and messages held for a tap."""

from __future__ import annotations

from bot.conversation import STALE_BUTTON, Context, Router
from bot.i18n import Ltr
from bot.services.delivery import held
from bot.services.delivery.channel_actions import NextPage, ReleaseHeld
from bot.services.forums import linking


async def release_held(ctx: Context, value: ReleaseHeld) -> None:
    """The quick reply of a "you have a message" template: show everything held, oldest first."""
    messages = await held.release_window(ctx.session, ctx.identity.id, now=ctx.now)
    if not messages:
        await ctx.reply(ctx.t._("There is nothing new waiting for you."))
        return
    for message in messages:
        await ctx.send(message)


async def next_page(ctx: Context, value: NextPage) -> None:
    """The "More…" row of a long menu: the options that did not fit."""
    message = await held.page(ctx.session, ctx.identity.id, value.held_id)
    if message is None:
        await ctx.reply(ctx.t._(STALE_BUTTON))
        return
    await ctx.send(message)


def build() -> Router:
    router = Router("channels")
    router.on(ReleaseHeld)(release_held)
    router.on(NextPage)(next_page)
    return router


async def link_accounts(ctx: Context) -> None:
    """`/link` in a private chat: get a code here, or send one from the other messenger."""
    code = ctx.event.args.strip()
    if code:
        person = await linking.redeem(ctx.session, ctx.identity, code, now=ctx.now)
        await ctx.clear_state()
        ctx.use_translator(ctx.conversations.translator(ctx.identity))
        await ctx.reply(
            ctx.t._(
                "Done: this account is now linked to {name}. Your forums and roles are the same here.",
                name=person.display_name,
            )
        )
        return
    row = await linking.create_code(ctx.session, ctx.identity, now=ctx.now)
    await ctx.reply(
        ctx.t._(
            "Your linking code: {code}\nOn your other messenger, send: {command}\n"
            "The code works once, within 10 minutes.",
            code=Ltr(row.code),
            command=Ltr(f"/link {row.code}"),
        )
    )
