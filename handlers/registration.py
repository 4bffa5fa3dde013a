"""Joining a forum by role with an invite: language, consent, name, form of address."""

from __future__ import annotations

from bot.conversation import NOT_REGISTERED, Context, Router
from bot.i18n import LOCALES, N_, Raw, Translator
from bot.services import invites, membership, people
from bot.services.errors import Refused
from handlers.common import forum_title, role_name

FLOW = "reg"
LANGUAGE_NAMES = {"he": "עברית", "ar": "العربية", "en": "English"}


def build() -> Router:
    router = Router("registration")

    @router.command("start", N_("Start, or join a forum with an invite code"))
    async def start(ctx: Context) -> None:
        code = ctx.event.args.strip()
        if code:
            await begin_join(ctx, code)
            return
        await ctx.clear_state()
        if ctx.person is None:
            await ctx.reply(ctx.t._(NOT_REGISTERED))
        else:
            await ctx.reply(
                ctx.t._("Welcome back, {name}! Send /help to see what I can do.", name=ctx.person.display_name)
            )

    @router.on_text
    async def code_as_text(ctx: Context) -> bool:
        text = ctx.text.strip()
        if not invites.looks_like_code(text) or " " in text:
            return False
        await begin_join(ctx, text)
        return True

    @router.step(FLOW, "language")
    async def language(ctx: Context) -> None:
        choice = ctx.value or _pick(ctx.text, list(LOCALES), [LANGUAGE_NAMES[k] for k in LOCALES])
        if choice not in LOCALES:
            await ask_language(ctx, again=True)
            return
        await ctx.set_state(FLOW, "consent", locale=choice)
        ctx.use_translator(Translator(choice, "p", ctx.app.settings.tz))
        await ask_consent(ctx)

    @router.step(FLOW, "consent")
    async def consent(ctx: Context) -> None:
        choice = ctx.value or _pick(ctx.text, ["yes", "no"], [ctx.t._("I agree"), ctx.t._("No, thanks")])
        if choice == "yes":
            await ctx.set_state(FLOW, "name", consent=people.CONSENT_VERSION)
            await ctx.reply(ctx.t._("What name should the forum's members see? (for example: Dana Levi)"))
        elif choice == "no":
            await ctx.clear_state()
            await ctx.reply(
                ctx.t._("Understood. Nothing about you was stored. You can join later with the same invite.")
            )
        else:
            await ask_consent(ctx, again=True)

    @router.step(FLOW, "name")
    async def name(ctx: Context) -> None:
        if ctx.value:
            await ctx.reply(ctx.t._("Please type your name."))
            return
        from bot.domain.text import clean_name

        clean = clean_name(ctx.text)
        assert ctx.state is not None
        if ctx.state.data.get("locale") == "en":
            await ctx.set_state(FLOW, "form", name=clean, form="p")
            await finish(ctx)
            return
        await ctx.set_state(FLOW, "form", name=clean)
        await ask_form(ctx)

    @router.step(FLOW, "form")
    async def form(ctx: Context) -> None:
        labels = [ctx.t._("Masculine"), ctx.t._("Feminine"), ctx.t._("Plural")]
        choice = ctx.value or _pick(ctx.text, ["m", "f", "p"], labels)
        if choice not in ("m", "f", "p"):
            await ask_form(ctx, again=True)
            return
        await ctx.set_state(FLOW, "form", form=choice)
        await finish(ctx)

    @router.step(FLOW, "confirm")
    async def confirm(ctx: Context) -> None:
        choice = ctx.value or _pick(ctx.text, ["yes", "no"], [ctx.t._("Join"), ctx.t._("Cancel")])
        if choice == "yes":
            await finish(ctx)
        elif choice == "no":
            await ctx.clear_state()
            await ctx.reply(ctx.t._("Cancelled."))
        else:
            await ctx.reply(ctx.t._("Please choose one of the options."))

    return router


def _pick(text: str, values: list[str], labels: list[str]) -> str:
    """Accept a typed option number or label (channels without buttons, or people who type)."""
    text = text.strip().casefold()
    if text.isdigit() and 1 <= int(text) <= len(values):
        return values[int(text) - 1]
    for value, label in zip(values, labels, strict=True):
        if text in (label.casefold(), value):
            return value
    return ""


async def begin_join(ctx: Context, code: str) -> None:
    invite = await membership.checked_invite(ctx.session, ctx.identity, code, now=ctx.now)
    forum, unit = invite.forum, invite.forum.org_unit
    if ctx.person is not None:
        seats = await people.seats_of(ctx.session, ctx.person.id)
        if any(s.forum.id == forum.id and s.role == invite.role for s in seats):
            await ctx.clear_state()
            await ctx.reply(
                ctx.t._(
                    "You are already a member of {forum} as {role}.",
                    forum=Raw(forum_title(ctx.t, forum, unit)),
                    role=role_name(ctx.t, unit, forum, invite.role, ctx.person.address_form),
                )
            )
            return
        await people.check_not_revoked(ctx.session, person=ctx.person, invite=invite)
        await ctx.set_state(FLOW, "confirm", code=code)
        await ctx.reply(
            ctx.t._(
                "Join {forum} as {role}?",
                forum=Raw(forum_title(ctx.t, forum, unit)),
                role=role_name(ctx.t, unit, forum, invite.role, ctx.person.address_form),
            ),
            [
                [
                    ctx.step_button(ctx.t._("Join"), FLOW, "confirm", "yes"),
                    ctx.step_button(ctx.t._("Cancel"), FLOW, "confirm", "no"),
                ]
            ],
        )
        return
    await ctx.set_state(FLOW, "language", code=code)
    await ask_language(ctx)


async def ask_language(ctx: Context, *, again: bool = False) -> None:
    intro = ctx.t._("Please choose one of the options.") + "\n" if again else ""
    await ctx.reply(
        intro + "בחרו שפה · اختاروا اللغة · Choose a language",
        [[ctx.step_button(LANGUAGE_NAMES[k], FLOW, "language", k) for k in LOCALES]],
    )


async def ask_consent(ctx: Context, *, again: bool = False) -> None:
    assert ctx.state is not None
    invite = await invites.usable_invite(ctx.session, ctx.state.data["code"], now=ctx.now)
    forum, unit = invite.forum, invite.forum.org_unit
    text = ctx.t._(
        "You were invited to {forum} as {role}.\n\n"
        "Before we start, what we keep and why:\n"
        "• We keep your name, your role, your forums, your chosen language and your account id on this "
        "messenger, to run the forum: invitations, date polls, agenda items and the issues you raise.\n"
        "• Members of your forum see your name and role. What your forum escalates is seen by the "
        "coordinators of the tiers above it.\n"
        "• The data is held by the forum's operator in the education system and is shared with no one else.\n"
        "• Joining is voluntary. You can see everything we keep with /mydata and erase yourself with /forget.\n"
        "• People who have been inactive for two years are removed automatically.\n\n"
        "Do you agree?",
        forum=Raw(forum_title(ctx.t, forum, unit)),
        role=role_name(ctx.t, unit, forum, invite.role),
    )
    if again:
        text = ctx.t._("Please choose one of the options.") + "\n\n" + text
    await ctx.reply(
        text,
        [
            [
                ctx.step_button(ctx.t._("I agree"), FLOW, "consent", "yes"),
                ctx.step_button(ctx.t._("No, thanks"), FLOW, "consent", "no"),
            ]
        ],
    )


async def ask_form(ctx: Context, *, again: bool = False) -> None:
    text = ctx.t._("How should I address you?")
    if again:
        text = ctx.t._("Please choose one of the options.") + "\n" + text
    await ctx.reply(
        text,
        [
            [
                ctx.step_button(ctx.t._("Masculine"), FLOW, "form", "m"),
                ctx.step_button(ctx.t._("Feminine"), FLOW, "form", "f"),
                ctx.step_button(ctx.t._("Plural"), FLOW, "form", "p"),
            ]
        ],
    )


async def finish(ctx: Context) -> None:
    assert ctx.state is not None
    data = dict(ctx.state.data)
    try:
        result = await people.join_with_invite(
            ctx.session,
            identity=ctx.identity,
            code=data["code"],
            now=ctx.now,
            name=data.get("name"),
            address_form=data.get("form", "p"),
            locale=data.get("locale", "he"),
            consent_version=data.get("consent"),
        )
    except Refused:
        await ctx.clear_state()
        raise
    await ctx.clear_state()
    person = result.person
    t = Translator(person.locale, person.address_form, ctx.app.settings.tz)
    ctx.use_translator(t)
    unit = result.forum.org_unit
    role = role_name(t, unit, result.forum, result.role, person.address_form)
    forum = Raw(forum_title(t, result.forum, unit))
    if result.created_person:
        text = t._(
            "Welcome, {name}! You are registered as {role} in {forum}.",
            name=person.display_name,
            role=role,
            forum=forum,
        )
    elif result.created_membership:
        text = t._("Done: you joined {forum} as {role}.", role=role, forum=forum)
    else:
        text = t._("You are already a member of {forum} as {role}.", role=role, forum=forum)
    await ctx.reply(text + "\n" + t._("Send /help to see what I can do."))
