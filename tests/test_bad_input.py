"""Anything a person or a forged request can send reaches the dispatcher and gets a calm answer.

Hypothesis feeds ``app.conversations.handle`` arbitrary events — any Unicode with bidi controls and
zero-width characters, up to 20,000 characters, unknown commands and forged button tokens, poll
answers to nothing, events from chats nobody registered, and random walks through the real
commands and the buttons they mint — from registered people (Hebrew, Arabic, English) and
strangers. No event may take the apology path (an exception inside forumbot), and every reply is
short and in the language forumbot uses with that person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot import metrics
from bot.app import App
from bot.clock import FixedClock
from bot.conversation import MAX_INBOUND_TEXT, bounded
from bot.core.messages import EventKind, Inbound
from bot.services.forums.people import load_identity
from bot.storage.models import ChoiceToken
from tests.helpers import import_demo, make_invite, register

CHANNEL = "console"
SCHOOL = "S-DEMO-210101"
BIDI_AND_INVISIBLE = (
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u2060\ufeff\u061c"
)
HE, AR, EN = re.compile("[\u0590-\u05ff]"), re.compile("[\u0600-\u06ff]"), re.compile("[A-Za-z]{3}")
SHORT = 2500  # the longest legitimate reply (help, the consent text) is well under this
# Payloads the walk does not press: they change the person's language or erase them, which moves
# the expectation under the test's feet (both have their own tests).
NOT_PRESSED = ("core.set_language:", "core.forget:")

COMMANDS = [
    "start",
    "help",
    "forums",
    "language",
    "address",
    "mydata",
    "forget",
    "cancel",
    "invite",
    "group",
    "link",
    "agenda",
    "issue",
    "issues",
    "meeting",
    "export",
    "poll",
    "reschedule",
    "members",
]
PEOPLE = ["dana", "sami", "lee", "stranger"]

any_text = st.text(alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(BIDI_AND_INVISIBLE)), max_size=40)
long_text = st.builds(lambda s, n: (s * n)[:20_000], st.text(min_size=1, max_size=12), st.integers(100, 20_000))
texts = st.one_of(any_text, long_text, st.sampled_from(["1", "2", "3", "כן", "لا", "yes", "12/1", "17:00"]))


@dataclass
class Fuzz:
    app: App
    code: str
    ids: dict[str, int] = field(default_factory=dict)

    def next_key(self) -> str:
        self.ids["n"] = self.ids.get("n", 0) + 1
        return str(self.ids["n"])


@st.composite
def events(draw: st.DrawFn) -> tuple[str, Inbound | int]:
    """An event, or the index of a real button to press (resolved at run time)."""
    who = draw(st.one_of(st.sampled_from(PEOPLE), st.text(min_size=1, max_size=70)))
    kind = draw(st.sampled_from(["text", "command", "choice", "press", "poll", "group"]))
    if kind == "press":
        return who, draw(st.integers(0, 50))
    base = {"channel": CHANNEL, "user_id": who, "chat_id": who}
    if who not in PEOPLE:
        base["language_hint"] = draw(st.sampled_from([None, "he", "ar", "en", "xx"]))
    if kind == "text":
        return who, Inbound(kind=EventKind.TEXT, text=draw(texts), **base)  # type: ignore[arg-type]
    if kind == "command":
        name = draw(st.one_of(st.sampled_from(COMMANDS), any_text))
        return who, Inbound(kind=EventKind.COMMAND, command=name, args=draw(texts), text=f"/{name}", **base)  # type: ignore[arg-type]
    if kind == "choice":
        return who, Inbound(kind=EventKind.CHOICE, token=draw(any_text), **base)  # type: ignore[arg-type]
    if kind == "poll":
        return who, Inbound(
            kind=EventKind.POLL_ANSWER,
            poll_ref=draw(any_text),
            option_ids=tuple(draw(st.lists(st.integers(-5, 2**40), max_size=5))),
            **base,  # type: ignore[arg-type]
        )
    return who, Inbound(
        kind=draw(st.sampled_from([EventKind.GROUP_JOINED, EventKind.GROUP_LEFT, EventKind.TEXT, EventKind.COMMAND])),
        channel=CHANNEL,
        user_id=who,
        chat_id="-100" + str(draw(st.integers(1, 10**9))),
        is_group=True,
        chat_title=draw(any_text),
        text=draw(any_text),
        command=draw(st.sampled_from(COMMANDS)),
    )


@pytest.fixture
async def fuzz(sqlite_app: App) -> Fuzz:
    app = sqlite_app
    await import_demo(app)
    await register(app, "dana", await make_invite(app, SCHOOL, "principal"), language="he", form="f")
    await register(app, "sami", await make_invite(app, SCHOOL, "parent"), language="ar", form="m", display="سامي")
    await register(app, "lee", await make_invite(app, SCHOOL, "counsellor"), language="en", display="Lee")
    return Fuzz(app, await make_invite(app, SCHOOL, "teachers_rep", uses=500))


def apologies() -> float:
    return metrics.REGISTRY.get_sample_value("forumbot_apologies_total", {"channel": CHANNEL}) or 0.0


async def press_token(app: App, who: str, index: int) -> Inbound | None:
    async with app.db.sessions() as session:
        tokens = (
            await session.scalars(
                select(ChoiceToken).where(ChoiceToken.chat_id == who).order_by(ChoiceToken.created_at.desc()).limit(60)
            )
        ).all()
    usable = [t for t in tokens if not t.payload.startswith(NOT_PRESSED)]
    if not usable:
        return None
    token = usable[index % len(usable)]
    return Inbound(channel=CHANNEL, user_id=who, chat_id=who, kind=EventKind.CHOICE, token=token.token)


async def expected_locale(app: App, who: str) -> str:
    async with app.db.sessions() as session:
        identity, state = await load_identity(session, CHANNEL, who)
        if identity is None:
            return app.settings.default_locale
        return app.conversations.translator(identity, state).locale


def in_language(text: str, locale: str) -> bool:
    if "בחרו שפה" in text:  # the language question is asked in all three
        return True
    return bool({"he": HE, "ar": AR, "en": EN}[locale].search(text))


async def run(fuzz: Fuzz, steps: list[tuple[str, Inbound | int]], use_codes: bool) -> None:
    app = fuzz.app
    assert isinstance(app.clock, FixedClock)
    before = apologies()
    for who, step in steps:
        app.clock.advance(timedelta(seconds=7))  # a person typing, not a flood (flood control has its own test)
        if isinstance(step, int):
            event = await press_token(app, who, step)
            if event is None:
                continue
        else:
            event = step
        if use_codes and event.kind is EventKind.TEXT and not event.is_group and event.text == "1":
            event = Inbound(channel=CHANNEL, user_id=who, chat_id=who, kind=EventKind.TEXT, text=fuzz.code)
        replies = await app.conversations.handle(Inbound(**{**event.__dict__, "update_key": fuzz.next_key()}))
        assert apologies() == before, f"{event!r} reached the apology path"
        if bounded(event) is None or event.is_group:
            assert not [r for r in replies if r.kind.value != "stop_poll"] or event.is_group
            continue
        locale = await expected_locale(app, event.user_id)
        for reply in replies:
            if reply.kind.value == "file":
                continue
            assert 0 < len(reply.text) <= SHORT, (event, reply.text[:200])
            assert in_language(reply.text, locale), (locale, event, reply.text[:300])
    await app.delivery.drain()


HYPOTHESIS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@HYPOTHESIS
@given(steps=st.lists(events(), min_size=1, max_size=6), use_codes=st.booleans())
async def test_no_event_reaches_the_apology_path(
    fuzz: Fuzz, steps: list[tuple[str, Inbound | int]], use_codes: bool
) -> None:
    await run(fuzz, steps, use_codes)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(PEOPLE),
            st.one_of(
                st.integers(0, 50),
                st.builds(lambda c: c, st.sampled_from(COMMANDS)),
            ),
        ),
        min_size=3,
        max_size=12,
    )
)
async def test_commands_and_buttons_in_any_order(fuzz: Fuzz, steps: list[tuple[str, object]]) -> None:
    """Random walks through real commands and the buttons they mint: flows entered out of order."""
    walk: list[tuple[str, Inbound | int]] = []
    for who, step in steps:
        if isinstance(step, str):
            walk.append(
                (
                    who,
                    Inbound(
                        channel=CHANNEL, user_id=who, chat_id=who, kind=EventKind.COMMAND, command=step, text=f"/{step}"
                    ),
                )
            )
        else:
            assert isinstance(step, int)
            walk.append((who, step))
    await run(fuzz, walk, use_codes=False)


def test_the_edge_bounds_what_handlers_see() -> None:
    event = Inbound(channel=CHANNEL, user_id="u", chat_id="u", kind=EventKind.TEXT, text="\x00א" * 20_000)
    clean = bounded(event)
    assert clean is not None and len(clean.text) == MAX_INBOUND_TEXT and "\x00" not in clean.text
    assert bounded(Inbound(channel=CHANNEL, user_id="x" * 65, chat_id="x", kind=EventKind.TEXT)) is None
    assert bounded(Inbound(channel=CHANNEL, user_id="", chat_id="x", kind=EventKind.TEXT)) is None
    assert bounded(Inbound(channel=CHANNEL, user_id="\ud800", chat_id="x", kind=EventKind.TEXT)) is None


async def test_the_instrument_sees_a_crash(fuzz: Fuzz) -> None:
    """The apology counter the properties rely on does count an exception inside a handler."""

    async def boom(ctx: object) -> None:
        raise RuntimeError("boom")

    command = fuzz.app.conversations.commands["forums"]
    fuzz.app.conversations.commands["forums"] = type(command)("forums", command.description, boom, "registered")
    before = apologies()
    replies = await fuzz.app.conversations.handle(
        Inbound(channel=CHANNEL, user_id="sami", chat_id="sami", kind=EventKind.COMMAND, command="forums")
    )
    assert apologies() == before + 1
    assert AR.search(replies[0].text)
