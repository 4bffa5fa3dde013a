"""Typed button actions: one codec packs and unpacks them; the dispatcher hands handlers the value."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app import App
from bot.conversation import Context, Conversations, Router
from bot.core.actions import Action, ActionError, pack, registered, unpack
from bot.core.messages import EventKind, Inbound
from bot.services import tokens


class PickDate(Action, name="test.pick_date", was=("tpd",)):
    poll_id: int
    option_id: int
    note: str
    final: bool


def test_an_action_packs_to_a_readable_payload_and_back() -> None:
    value = PickDate(poll_id=12, option_id=-3, note="שלום: a/b", final=True)
    payload = pack(value)
    assert payload.startswith("test.pick_date:12:-3:")
    assert unpack(payload) == value


@given(st.integers(min_value=-(10**17), max_value=10**17), st.text(max_size=20), st.booleans())
def test_whatever_a_field_holds_comes_back_the_same(number: int, note: str, final: bool) -> None:
    value = PickDate(poll_id=number, option_id=0, note=note, final=final)
    try:
        payload = pack(value)
    except ActionError:  # too long for the token table: refused when packed, never cut
        return
    assert unpack(payload) == value


@pytest.mark.parametrize("payload", [
    "test.pick_date", "test.pick_date:1:2:x", "test.pick_date:1:2:x:1:extra", "test.pick_date:a:2:x:1",
    "test.pick_date:1:2:x:yes", "test.pick_date:1:99999999999999999999:x:0", "nobody.knows:1",
])
def test_a_payload_that_does_not_fit_its_type_decodes_to_nothing(payload: str) -> None:
    assert unpack(payload) is None


def test_declarations_the_codec_cannot_carry_fail_at_import() -> None:
    with pytest.raises(ActionError, match="two actions"):
        class Another(Action, name="test.pick_date"):
            poll_id: int

    with pytest.raises(ActionError, match="only int, str and bool"):
        class Listy(Action, name="test.listy"):
            ids: list[int]

    with pytest.raises(ActionError, match="letters, digits"):
        class Spaced(Action, name="test pick"):
            poll_id: int


def test_an_action_is_frozen_and_an_unnamed_base_registers_nothing() -> None:
    value = PickDate(1, 2, "x", False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.poll_id = 3  # type: ignore[misc]

    class OnePoll(Action):
        poll_id: int

    class ClosePoll(OnePoll, name="test.close_poll"):
        final: bool

    assert "" not in registered() and OnePoll not in registered().values()
    assert pack(ClosePoll(poll_id=7, final=True)) == "test.close_poll:7:1"
    assert unpack("test.close_poll:7:1") == ClosePoll(7, True)


async def test_the_dispatcher_hands_the_decoded_value_and_refuses_a_stale_shape(sqlite_app: App) -> None:
    got: list[PickDate] = []
    router = Router("test")

    @router.on(PickDate)
    async def picked(ctx: Context, value: PickDate) -> None:
        got.append(value)
        await ctx.reply("ok")

    conversations = Conversations(sqlite_app, [router])
    now = sqlite_app.clock.now()
    async with sqlite_app.db.unit_of_work() as session:
        good = tokens.mint(session, channel="console", chat_id="dana", identity_id=None,
                           payload=pack(PickDate(1, 2, "x", False)), now=now)
        stale = tokens.mint(session, channel="console", chat_id="dana", identity_id=None,
                            payload="test.pick_date:1:2", now=now)  # written by an older shape

    def press(token: str, key: str) -> Inbound:
        return Inbound(channel="console", user_id="dana", chat_id="dana", kind=EventKind.CHOICE, token=token,
                       update_key=key)

    [reply] = await conversations.handle(press(good, "k1"))
    assert reply.text == "ok" and got == [PickDate(1, 2, "x", False)]
    [reply] = await conversations.handle(press(stale, "k2"))
    assert "no longer active" in reply.text or "כבר לא פעיל" in reply.text
    assert len(got) == 1

    clash = Router("other")
    clash.on(PickDate)(picked)
    with pytest.raises(ValueError, match=r"test\.pick_date"):
        Conversations(sqlite_app, [router, clash])


def test_a_button_an_earlier_version_sent_still_decodes_under_its_old_name() -> None:
    assert unpack("tpd:4:5:x:1") == PickDate(4, 5, "x", True)
    assert pack(PickDate(4, 5, "x", True)) == "test.pick_date:4:5:x:1"  # new buttons use the new name
    with pytest.raises(ActionError, match="tpd"):
        class Other(Action, name="test.other", was=("tpd",)):
            n: int

