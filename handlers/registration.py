"""Joining a forum by role with an invite: language, consent, name, form of address."""

from __future__ import annotations

from bot.conversation import NOT_REGISTERED, Context, Router
from bot.core.states import FlowState
from bot.domain.text import clean_name
from bot.i18n import LOCALES, N_, Raw, Translator
from bot.services.errors import Refused
from bot.services.forums import invites, membership, people
from handlers.common import forum_title, not_typed, on_steps, role_name
from handlers.forum_pick import pick

LANGUAGE_NAMES = {"he": "עברית", "ar": "العربية", "en": "English"}


class JoinDraft(FlowState, flow="reg", steps=("language", "consent", "name", "form", "confirm")):
    """Joining with an invite: what the person chose so far (a registered person only confirms)."""

    code: str
    locale: str | None = None
    consent: str | None = None
    name: str | None = None
    form: str | None = None


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

async def code_as_text(ctx: Context) -> bool:
    text = ctx.text.strip()
    if not invites.looks_like_code(text) or " " in text:
        return False
    await begin_join(ctx, text)
    return True

async def language(ctx: Context) -> None:
    choice = ctx.value or pick(ctx.text, list(LOCALES), [LANGUAGE_NAMES[k] for k in LOCALES])
    if choice not in LOCALES:
        await ask_language(ctx, again=True)
        return
    await ctx.enter(ctx.flow(JoinDraft).model_copy(update={"locale": choice}), "consent")
    ctx.use_translator(Translator(choice, "p", ctx.app.settings.tz))
    await ask_consent(ctx)

async def consent(ctx: Context) -> None:
    choice = ctx.value or pick(ctx.text, ["yes", "no"], [ctx.t._("I agree"), ctx.t._("No, thanks")])
    if choice == "yes":
        await ctx.enter(ctx.flow(JoinDraft).model_copy(update={"consent": people.CONSENT_VERSION}), "name")
        await ctx.reply(ctx.t._("What name should the forum's members see? (for example: Dana Levi)"))
    elif choice == "no":
        await ctx.clear_state()
        await ctx.reply(
            ctx.t._("Understood. Nothing about you was stored. You can join later with the same invite.")
        )
    else:
        await ask_consent(ctx, again=True)

async def name(ctx: Context) -> None:
    if await not_typed(ctx, N_("Please type your name.")):
        return
    clean = clean_name(ctx.text)
    draft = ctx.flow(JoinDraft).model_copy(update={"name": clean})
    if draft.locale == "en":
        await ctx.enter(draft.model_copy(update={"form": "p"}), "form")
        await finish(ctx)
        return
    await ctx.enter(draft, "form")
    await ask_form(ctx)

async def form(ctx: Context) -> None:
    labels = [ctx.t._("Masculine"), ctx.t._("Feminine"), ctx.t._("Plural")]
    choice = ctx.value or pick(ctx.text, ["m", "f", "p"], labels)
    if choice not in ("m", "f", "p"):
        await ask_form(ctx, again=True)
        return
    await ctx.enter(ctx.flow(JoinDraft).model_copy(update={"form": choice}), "form")
    await finish(ctx)

async def confirm(ctx: Context) -> None:
    choice = ctx.value or pick(ctx.text, ["yes", "no"], [ctx.t._("Join"), ctx.t._("Cancel")])
    if choice == "yes":
        await finish(ctx)
    elif choice == "no":
        await ctx.clear_state()
        await ctx.reply(ctx.t._("Cancelled."))
    else:
        await ctx.reply(ctx.t._("Please choose one of the options."))


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
        await ctx.enter(JoinDraft(code=code), "confirm")
        question = ctx.t._(
            "Join {forum} as {role}?",
            forum=Raw(forum_title(ctx.t, forum, unit)),
            role=role_name(ctx.t, unit, forum, invite.role, ctx.person.address_form),
        )
        await ask_step(ctx, "confirm", question, [(ctx.t._("Join"), "yes"), (ctx.t._("Cancel"), "no")])
        return
    await ctx.enter(JoinDraft(code=code), "language")
    await ask_language(ctx)


async def ask_language(ctx: Context, *, again: bool = False) -> None:
    await ask_step(
        ctx, "language", "בחרו שפה · اختاروا اللغة · Choose a language", [(LANGUAGE_NAMES[k], k) for k in LOCALES],
        again=again,
    )


async def ask_consent(ctx: Context, *, again: bool = False) -> None:
    invite = await invites.usable_invite(ctx.session, ctx.flow(JoinDraft).code, now=ctx.now)
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
    options = [(ctx.t._("I agree"), "yes"), (ctx.t._("No, thanks"), "no")]
    await ask_step(ctx, "consent", text, options, again=again, gap="\n\n")


async def ask_form(ctx: Context, *, again: bool = False) -> None:
    options = [(ctx.t._("Masculine"), "m"), (ctx.t._("Feminine"), "f"), (ctx.t._("Plural"), "p")]
    await ask_step(ctx, "form", ctx.t._("How should I address you?"), options, again=again)


async def ask_step(
    ctx: Context, step: str, question: str, options: list[tuple[str, str]], *, again: bool = False, gap: str = "\n"
) -> None:
    """Ask a step of joining with a row of buttons, one for each (label, value) of ``options``;
    ``again`` after an answer that fitted none of them (said before the question, ``gap`` between)."""
    if again:
        question = ctx.t._("Please choose one of the options.") + gap + question
    await ctx.reply(question, [[ctx.step_button(label, JoinDraft.flow, step, value) for label, value in options]])


async def finish(ctx: Context) -> None:
    draft = ctx.flow(JoinDraft)
    try:
        result = await people.join_with_invite(
            ctx.session,
            identity=ctx.identity,
            code=draft.code,
            now=ctx.now,
            name=draft.name,
            address_form=draft.form or "p",
            locale=draft.locale or "he",
            consent_version=draft.consent,
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


def build() -> Router:
    """Every command and step of joining, in one place."""
    router = Router("registration")
    router.command("start", N_("Start, or join a forum with an invite code"))(start)
    on_steps(router, JoinDraft, language=language, consent=consent, name=name, form=form, confirm=confirm)
    router.on_text(code_as_text)
    return router
