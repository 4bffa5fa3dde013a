"""Linking a messenger group to a forum (leads), and the bot joining or leaving groups."""

from __future__ import annotations

from bot.conversation import Context, Router
from bot.core.actions import Action
from bot.core.messages import EventKind
from bot.i18n import N_, Ltr, Raw
from bot.services.forums import groups
from bot.storage.models import Forum
from handlers.channels import link_accounts
from handlers.common import forum_title
from handlers.forum_pick import led_seat

NOT_A_LEAD = N_("Only a forum's lead can link a group to it.")


class LinkGroupTo(Action, name="groups.link_to", was=("grpf",)):
    """/group, the forum picked."""

    forum_id: int


def build() -> Router:
    router = Router("groups")

    @router.command("group", N_("Link a group chat to my forum (leads)"), audience="lead")
    async def group(ctx: Context) -> None:
        seat = await led_seat(ctx, LinkGroupTo, question=N_("Which forum is the group for?"), refusal=NOT_A_LEAD)
        if seat is not None:
            await send_code(ctx, seat.forum)

    @router.on(LinkGroupTo)
    async def group_forum(ctx: Context, value: LinkGroupTo) -> None:
        forum = await ctx.session.get(Forum, value.forum_id)
        if forum is None:
            await ctx.reply(ctx.t._(NOT_A_LEAD))
            return
        await send_code(ctx, forum, edit=True)

    @router.command("link", N_("Link my Telegram and WhatsApp accounts, or a group to a forum"), groups=True)
    async def link(ctx: Context) -> None:
        if not ctx.event.is_group:
            await link_accounts(ctx)
            return
        if not ctx.event.args:
            await ctx.reply(ctx.t._("Send /link with the code you got from /group."))
            return
        forum = await groups.link_group(
            ctx.session,
            identity=ctx.identity,
            code=ctx.event.args,
            chat_id=ctx.event.chat_id,
            title=ctx.event.chat_title,
            now=ctx.now,
        )
        t = ctx.conversations.translator(ctx.identity)
        await ctx.reply(
            t._(
                "This group is now linked to {forum}. Announcements and date polls will come here; "
                "personal matters stay in private chats.",
                forum=Raw(forum_title(t, forum, forum.org_unit)),
            )
        )

    @router.on_group_event
    async def joined_or_left(ctx: Context) -> None:
        joined = ctx.event.kind is EventKind.GROUP_JOINED
        await groups.seen_group(
            ctx.session,
            channel=ctx.event.channel,
            chat_id=ctx.event.chat_id,
            title=ctx.event.chat_title,
            now=ctx.now,
            active=joined,
        )
        if joined:
            t = ctx.conversations.translator(ctx.identity)
            await ctx.reply(
                t._(
                    "Hello! I am forumbot. A forum lead can link this group to their forum: /group in a private "
                    "chat with me gives the code."
                )
            )

    return router


async def send_code(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    code = await groups.create_link_code(ctx.session, identity=ctx.identity, forum=forum, now=ctx.now)
    await ctx.session.refresh(forum, ["org_unit"])
    await ctx.reply(
        ctx.t._(
            "Add me to the group of {forum}, then send there:\n{command}\nThe code is valid for an hour.",
            forum=Raw(forum_title(ctx.t, forum, forum.org_unit)),
            command=Ltr(f"/link {code}"),
        ),
        edit=edit,
    )
