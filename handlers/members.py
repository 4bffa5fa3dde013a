"""/members for leads: who is in my forum, and ending someone's membership."""

from __future__ import annotations

from bot.conversation import Context, Router
from bot.i18n import N_, Raw
from bot.services import membership
from bot.services.errors import NotFound
from bot.storage.models import Forum, Membership
from handlers.common import bullet_list, forum_title, role_name
from handlers.forum_pick import forum_command, forum_from_value

PAGE = 30


def build() -> Router:
    router = Router("members")

    forum_command(router, "members", N_("The members of my forum (leads)"), "mbf", show, audience="lead", lead=True)

    @router.action("mbr")
    async def ask_revoke(ctx: Context) -> None:
        member_id = _int(ctx.value)
        found = await ctx.session.get(Membership, member_id)
        if found is None or found.revoked_at is not None:
            await ctx.reply(ctx.t._("That membership was already revoked."))
            return
        forum = await forum_from_value(ctx, str(found.forum_id))
        listed = {m.membership.id: m for m in await membership.members(ctx.session, person=ctx.person, forum=forum)}
        member = listed.get(member_id)
        if member is None:
            await ctx.reply(ctx.t._("That membership was already revoked."))
            return
        await ctx.reply(
            ctx.t._(
                "End the membership of {name} ({role}) in {forum}? They will be told.",
                name=member.person.display_name,
                role=role_name(ctx.t, forum.org_unit, forum, found.role, member.person.address_form),
                forum=Raw(forum_title(ctx.t, forum, forum.org_unit)),
            ),
            [[ctx.button(ctx.t._("End membership"), f"mbry:{member_id}"), ctx.button(ctx.t._("Cancel"), "mbrn:")]],
            edit=True,
        )

    @router.action("mbry")
    async def revoke(ctx: Context) -> None:
        await membership.revoke(ctx.session, person=ctx.person, membership_id=_int(ctx.value), now=ctx.now)
        await ctx.reply(ctx.t._("Done: the membership was ended and the person was told."), edit=True)

    @router.action("mba")
    async def readmit(ctx: Context) -> None:
        _seat, forum, member = await membership.readmit(
            ctx.session, person=ctx.person, membership_id=_int(ctx.value), now=ctx.now
        )
        await ctx.reply(
            ctx.t._("Done: {name} is a member of {forum} again and was told.", name=member.display_name,
                    forum=Raw(forum_title(ctx.t, forum, forum.org_unit))),
            edit=True,
        )

    @router.action("mbrn")
    async def keep(ctx: Context) -> None:
        await ctx.reply(ctx.t._("Cancelled."), edit=True)

    return router


def _int(value: str) -> int:
    head = value.split(":")[0]
    if not head.isdigit() or len(head) > 12:
        raise NotFound(N_("That membership no longer exists."))
    return int(head)


async def show(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    found = await membership.members(ctx.session, person=ctx.person, forum=forum)
    gone = await membership.ended(ctx.session, person=ctx.person, forum=forum)
    assert ctx.person is not None
    title = Raw(forum_title(ctx.t, forum, forum.org_unit))
    readmit = [
        [ctx.button(ctx.t._("Re-admit {name}", name=m.person.display_name), f"mba:{m.membership.id}")]
        for m in gone[:PAGE]
    ]
    ended_lines = ""
    if gone:
        ended_lines = "\n\n" + ctx.t._("Ended memberships (a new invite does not bring them back):") + "\n"
        ended_lines += bullet_list([
            ctx.t._("{name} · {role}", name=m.person.display_name,
                    role=role_name(ctx.t, forum.org_unit, forum, m.membership.role))
            for m in gone[:PAGE]
        ])
    if not found:
        await ctx.reply(ctx.t._("{forum} has no members yet.", forum=title) + ended_lines, readmit or None, edit=edit)
        return
    lines = [
        ctx.t._(
            "{name} · {role}",
            name=m.person.display_name,
            role=role_name(ctx.t, forum.org_unit, forum, m.membership.role, m.person.address_form),
        )
        for m in found[:PAGE]
    ]
    buttons = [
        [ctx.button(ctx.t._("Remove {name}", name=m.person.display_name), f"mbr:{m.membership.id}")]
        for m in found[:PAGE]
        if m.person.id != ctx.person.id
    ]
    text = ctx.t.n_("{forum} has one member:", "{forum} has {n} members:", len(found), forum=title)
    await ctx.reply(text + "\n" + bullet_list(lines) + ended_lines, (buttons + readmit) or None, edit=edit)
