"""Everyday commands: help, my forums, language, form of address, invites, my data, cancel."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import Context, Router
from bot.core.actions import Action as ButtonAction
from bot.core.messages import Outbound, OutKind
from bot.domain.permissions import Action, allowed
from bot.domain.roles import roles_for
from bot.i18n import LOCALES, N_, Ltr, Raw, ascii_filename
from bot.services.errors import Forbidden
from bot.services.forums import invites, membership, people
from bot.services.privacy import erasure, mydata_text
from bot.services.privacy import retention as privacy
from bot.storage.models import Forum, Person
from handlers.common import bullet_list, forum_title, on_actions, role_name
from handlers.forum_pick import led_seat
from handlers.registration import LANGUAGE_NAMES

MYDATA_FILE = N_("my-data")
NOT_A_LEAD = N_("Only a forum's lead can create invites.")


class SetLanguage(ButtonAction, name="core.set_language", was=("lang",)):
    """/language: the language picked (a LOCALES key)."""

    locale: str


class SetAddressForm(ButtonAction, name="core.set_address_form", was=("form",)):
    """/address: the form of address picked."""

    form: str  # m / f / p


class ForgetMe(ButtonAction, name="core.forget"):
    """/forget: "Erase me" (``confirmed``) or "Cancel"."""

    confirmed: bool


class InviteTo(ButtonAction, name="invites.forum", was=("invf",)):
    """/invite, the forum picked: asks for the role."""

    forum_id: int


class InviteAs(ButtonAction, name="invites.role", was=("invr",)):
    """The role picked for the invite: asks how many people may use it."""

    forum_id: int
    role: str


class InviteFor(ButtonAction, name="invites.uses", was=("invu",)):
    """How many may use it: the invite is made and its code shown."""

    forum_id: int
    role: str
    uses: int


async def help_(ctx: Context) -> None:
    commands = ctx.conversations.commands.values()
    is_lead = ctx.person is not None and await ctx.leads()
    lines = []
    for command in commands:
        if command.audience == "registered" and ctx.person is None:
            continue
        if command.audience == "lead" and not is_lead:
            continue
        lines.append(f"/{command.name} — {ctx.t._(command.description)}")
    await ctx.reply(ctx.t._("What I can do:") + "\n" + "\n".join(lines))

async def forums(ctx: Context) -> None:
    assert ctx.person is not None
    seats = await people.seats_of(ctx.session, ctx.person.id)
    if not seats:
        await ctx.reply(ctx.t._("You are not a member of any forum yet. Ask your forum's lead for an invite."))
        return
    lines = []
    for seat in seats:
        line = ctx.t._(
            "{role} in {forum}",
            role=role_name(ctx.t, seat.unit, seat.forum, seat.role, ctx.person.address_form),
            forum=Raw(forum_title(ctx.t, seat.forum, seat.unit)),
        )
        if seat.is_lead:
            line += " · " + ctx.t._("you lead this forum")
        lines.append(line)
    await ctx.reply(ctx.t._("Your forums:") + "\n" + bullet_list(lines))

async def language(ctx: Context) -> None:
    await ctx.reply(
        ctx.t._("Choose a language:"),
        [[ctx.button(LANGUAGE_NAMES[k], SetLanguage(k)) for k in LOCALES]],
    )

async def set_language(ctx: Context, value: SetLanguage) -> None:
    await save_preference(
        ctx, partial(people.set_locale, locale=value.locale), N_("From now on I will write to you in English.")
    )

async def address(ctx: Context) -> None:
    await ctx.reply(
        ctx.t._("How should I address you?"),
        [
            [
                ctx.button(ctx.t._("Masculine"), SetAddressForm("m")),
                ctx.button(ctx.t._("Feminine"), SetAddressForm("f")),
                ctx.button(ctx.t._("Plural"), SetAddressForm("p")),
            ]
        ],
    )

async def set_form(ctx: Context, value: SetAddressForm) -> None:
    await save_preference(
        ctx, partial(people.set_address_form, form=value.form), N_("Saved. This is how I will address you from now on.")
    )

async def save_preference(ctx: Context, save: Callable[[AsyncSession, Person], Awaitable[None]], saved: str) -> None:
    """Save a preference of the person's (language, form of address) and say so (``saved``, a msgid)
    the new way."""
    if ctx.person is None:
        return
    await save(ctx.session, ctx.person)
    ctx.use_translator(ctx.conversations.translator(ctx.identity))
    await ctx.reply(ctx.t._(saved), edit=True)

async def mydata(ctx: Context) -> None:
    assert ctx.person is not None
    data = await privacy.export_person(ctx.session, ctx.person)
    body = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    await ctx.reply(await mydata_text.summary(ctx.session, ctx.person, ctx.t))  # in words, then the file
    await ctx.reply_file(
        ctx.t.filename(MYDATA_FILE, "json"), "application/json", body,
        ctx.t._("Here is everything forumbot stores about you."), ascii_filename(MYDATA_FILE, "json"),
    )

async def forget(ctx: Context) -> None:
    await ctx.reply(
        ctx.t._(
            "This erases your name and your accounts from forumbot and removes you from all your forums. "
            "What you raised stays, attributed to your role only. This cannot be undone. Continue?"
        ),
        [[ctx.button(ctx.t._("Erase me"), ForgetMe(True)), ctx.button(ctx.t._("Cancel"), ForgetMe(False))]],
    )

async def forget_confirmed(ctx: Context, value: ForgetMe) -> None:
    if ctx.person is None:
        return
    if not value.confirmed:
        await ctx.reply(ctx.t._("Cancelled."), edit=True)
        return
    await erasure.forget(ctx.session, ctx.person, now=ctx.now)
    # Queued after the erasure (which cancels every message to them), tied to no identity and
    # deleted from the outbox once it went out.
    goodbye = Outbound(
        kind=OutKind.TEXT,
        text=ctx.t._("Done. forumbot no longer holds your personal data. Goodbye!"),
        rtl=ctx.t.rtl,
        edit_ref=ctx.event.message_ref,
    )
    ctx.sent.append(goodbye)
    await erasure.goodbye(
        ctx.session, channel=ctx.event.channel, chat_id=ctx.event.chat_id, message=goodbye, now=ctx.now
    )

async def cancel(ctx: Context) -> None:
    if ctx.state is None:
        await ctx.reply(ctx.t._("There is nothing to cancel."))
        return
    await ctx.clear_state()
    await ctx.reply(ctx.t._("Cancelled."))

async def invite(ctx: Context) -> None:
    seat = await led_seat(ctx, InviteTo, question=N_("Which forum is the invite for?"), refusal=NOT_A_LEAD)
    if seat is not None:
        await ask_role(ctx, seat.forum)

async def invite_forum(ctx: Context, value: InviteTo) -> None:
    forum = await lead_forum(ctx, value.forum_id)
    await ask_role(ctx, forum, edit=True)

async def invite_role(ctx: Context, value: InviteAs) -> None:
    await lead_forum(ctx, value.forum_id)
    await ctx.reply(
        ctx.t._("How many people may use this invite?"),
        [[ctx.button(ctx.t.number(n), InviteFor(value.forum_id, value.role, n)) for n in (1, 10, 50)]],
        edit=True,
    )

async def invite_uses(ctx: Context, value: InviteFor) -> None:
    forum = await lead_forum(ctx, value.forum_id)
    role, uses = value.role, value.uses
    assert ctx.person is not None
    invite_row = await membership.invite_as(
        ctx.session, person=ctx.person, forum=forum, role=role, now=ctx.now, uses=uses
    )
    await ctx.reply(invite_text(ctx, forum, invite_row.code, role, uses, invite_row.expires_at), edit=True)


async def lead_forum(ctx: Context, forum_id: int) -> Forum:
    """The forum, if the person may create invites for it (checked again on every press)."""
    forum = await ctx.session.get(Forum, forum_id)
    if forum is None:
        raise Forbidden(NOT_A_LEAD)
    await ctx.session.refresh(forum, ["org_unit"])
    if not allowed(Action.CREATE_INVITE, await people.standings(ctx.session, ctx.person, forum)):
        raise Forbidden(NOT_A_LEAD)
    return forum


async def ask_role(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    unit = forum.org_unit
    await ctx.reply(
        ctx.t._("Which role is the invite for?"),
        [
            [ctx.button(role.name(ctx.t.locale), InviteAs(forum.id, role.key))]
            for role in roles_for(unit.tier, forum.kind)
        ],
        edit=edit,
    )


def invite_text(ctx: Context, forum: Forum, code: str, role: str, uses: int, expires_at: datetime) -> str:
    unit = forum.org_unit
    lines = [
        ctx.t._(
            "An invite to {forum} as {role}:",
            forum=Raw(forum_title(ctx.t, forum, unit)),
            role=role_name(ctx.t, unit, forum, role),
        ),
        ctx.t._("Code: {code}", code=Ltr(code)),
    ]
    links = ctx.app.links
    if links.telegram_username:
        lines.append(ctx.t._("Telegram: {link}", link=Ltr(invites.telegram_link(links.telegram_username, code))))
    if links.whatsapp_number:
        lines.append(ctx.t._("WhatsApp: {link}", link=Ltr(f"https://wa.me/{links.whatsapp_number}?text={code}")))
    lines.append(
        ctx.t.n_(
            "It can be used once, until {date}.",
            "It can be used {n} times, until {date}.",
            uses,
            date=ctx.t.date(expires_at),
        )
    )
    return "\n".join(lines)


def build() -> Router:
    """Every everyday command and its buttons, in one place."""
    router = Router("core")
    router.command("help", N_("What I can do"), reads_leads=True)(help_)
    router.command("forums", N_("My forums and roles"), audience="registered")(forums)
    router.command("language", N_("Change the language"), audience="registered")(language)
    router.command("address", N_("Change how I address you"), audience="registered")(address)
    router.command("mydata", N_("Everything stored about me"), audience="registered")(mydata)
    router.command("forget", N_("Erase me from forumbot"), audience="registered")(forget)
    router.command("cancel", N_("Stop what we are doing"))(cancel)
    router.command("invite", N_("Invite someone to my forum (leads)"), audience="lead")(invite)
    on_actions(router, set_language, set_form, forget_confirmed, invite_forum, invite_role, invite_uses)
    return router
