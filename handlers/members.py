"""/members for leads: who is in my forum, ending someone's membership, and re-admitting them.

In the shape of handlers/agenda.py: declared actions, module-level handlers, one build()."""

from __future__ import annotations

from bot.conversation import Context, Router
from bot.core.actions import Action
from bot.i18n import N_, Raw
from bot.services.agenda import items as agenda
from bot.services.forums import membership
from bot.storage.models import Forum, Membership
from handlers.common import bullet_list, forum_title, on_actions, role_name
from handlers.forum_pick import with_forum

PAGE = 30


class ShowMembers(Action, name="members.show", was=("mbf",)):
    """/members, the forum picked: its members, and those whose membership ended."""

    forum_id: int


class AskEndMembership(Action, name="members.ask_end", was=("mbr",)):
    """"Remove …" beside a member: asks the lead to confirm."""

    membership_id: int


class EndMembership(Action, name="members.end", was=("mbry",)):
    """The lead confirms: the membership ends and the person is told."""

    membership_id: int


class KeepMembership(Action, name="members.keep"):
    """The lead changes their mind: nothing changes."""

    membership_id: int


class Readmit(Action, name="members.readmit", was=("mba",)):
    """"Re-admit …" beside an ended membership: the person is a member again and is told."""

    membership_id: int


async def members_command(ctx: Context) -> None:
    await with_forum(ctx, ShowMembers, show, lead=True)


async def members_picked(ctx: Context, value: ShowMembers) -> None:
    await show(ctx, await agenda.load_forum(ctx.session, value.forum_id), edit=True)


async def ask_end(ctx: Context, value: AskEndMembership) -> None:
    found = await ctx.session.get(Membership, value.membership_id)
    if found is None or found.revoked_at is not None:
        await ctx.reply(ctx.t._("That membership was already revoked."))
        return
    forum = await agenda.load_forum(ctx.session, found.forum_id)
    listed = {m.membership.id: m for m in await membership.members(ctx.session, person=ctx.person, forum=forum)}
    member = listed.get(found.id)
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
        [[ctx.button(ctx.t._("End membership"), EndMembership(found.id)),
          ctx.button(ctx.t._("Cancel"), KeepMembership(found.id))]],
        edit=True,
    )


async def end(ctx: Context, value: EndMembership) -> None:
    await membership.revoke(ctx.session, person=ctx.person, membership_id=value.membership_id, now=ctx.now)
    await ctx.reply(ctx.t._("Done: the membership was ended and the person was told."), edit=True)


async def readmit(ctx: Context, value: Readmit) -> None:
    _seat, forum, member = await membership.readmit(
        ctx.session, person=ctx.person, membership_id=value.membership_id, now=ctx.now
    )
    await ctx.reply(
        ctx.t._("Done: {name} is a member of {forum} again and was told.", name=member.display_name,
                forum=Raw(forum_title(ctx.t, forum, forum.org_unit))),
        edit=True,
    )


async def keep(ctx: Context, value: KeepMembership) -> None:
    await ctx.reply(ctx.t._("Cancelled."), edit=True)


def build() -> Router:
    """Every command and action of /members, in one place."""
    router = Router("members")
    router.command("members", N_("The members of my forum (leads)"), audience="lead")(members_command)
    on_actions(router, members_picked, ask_end, end, keep, readmit)
    return router


async def show(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    found = await membership.members(ctx.session, person=ctx.person, forum=forum)
    gone = await membership.ended(ctx.session, person=ctx.person, forum=forum)
    assert ctx.person is not None
    title = Raw(forum_title(ctx.t, forum, forum.org_unit))
    readmit = [
        [ctx.button(ctx.t._("Re-admit {name}", name=m.person.display_name), Readmit(m.membership.id))]
        for m in gone[:PAGE]
    ]
    ended_lines = ""
    if gone:
        ended_lines = "\n\n" + ctx.t._("Ended memberships (a new invite does not bring them back):") + "\n"
        ended_lines += bullet_list([
            ctx.t._("{name} · {role}", name=m.person.display_name,
                    role=role_name(ctx.t, forum.org_unit, forum, m.membership.role, m.person.address_form))
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
        [ctx.button(ctx.t._("Remove {name}", name=m.person.display_name), AskEndMembership(m.membership.id))]
        for m in found[:PAGE]
        if m.person.id != ctx.person.id
    ]
    text = ctx.t.n_("{forum} has one member:", "{forum} has {n} members:", len(found), forum=title)
    await ctx.reply(text + "\n" + bullet_list(lines) + ended_lines, (buttons + readmit) or None, edit=edit)
