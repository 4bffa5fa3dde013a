"""Declared conversation states: a flow's data is validated on load; an older shape starts again politely."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import App
from bot.core.states import FlowState, StaleConversation, fits, load
from bot.storage.models import ChannelIdentity, ConversationState
from tests.helpers import import_demo, make_invite, register


class Sample(FlowState, flow="test.sample", steps=("one", "two")):
    forum_id: int
    note: str = ""


def test_a_state_fits_its_declaration_or_is_stale() -> None:
    assert load(Sample, "one", {"forum_id": 3}) == Sample(forum_id=3)
    assert fits("test.sample", "two", {"forum_id": 3, "note": "x"})
    assert not fits("test.sample", "three", {"forum_id": 3})  # a step this version does not have
    assert not fits("test.sample", "one", {"forum": 3})  # a field renamed since
    assert not fits("test.sample", "one", {"forum_id": "three"})
    assert fits("some.undeclared.flow", "x", {"anything": 1})  # older flows keep their free dicts
    with pytest.raises(StaleConversation):
        load(Sample, "one", {"forum_id": 3, "extra": True})
    with pytest.raises(TypeError, match="two flows"):
        class Again(FlowState, flow="test.sample", steps=("one",)):
            x: int


def test_an_abstract_base_shares_fields_and_is_no_flow() -> None:
    class Shared(FlowState, abstract=True):
        forum_id: int

    class Child(Shared, flow="test.child", steps=("one",)):
        note: str = ""

    assert load(Child, "one", {"forum_id": 4}) == Child(forum_id=4)
    assert not fits("test.child", "one", {"note": "x"})  # the base's field is required
    with pytest.raises(TypeError, match="declares no flow"):
        class Forgotten(Shared):  # a real flow that forgot its declaration is still refused
            x: int


async def test_a_proposal_saved_by_an_older_version_starts_again(app: App) -> None:
    await import_demo(app)
    miri = await register(app, "miri", await make_invite(app, "S-DEMO-210101", "parent"), display="מירי כהן")
    await miri.say("/agenda")
    await miri.say(str(miri.button_index("הצעת נושא")))
    async with app.db.unit_of_work() as session:
        state = await session.scalar(
            select(ConversationState).join(ChannelIdentity).where(ChannelIdentity.external_id == "miri")
        )
        assert state is not None and (state.flow, state.step) == ("agenda", "title")
        assert set(state.data) == {"forum_id", "key", "title", "details"}
        state.data = {"forum": state.data["forum_id"]}  # what an earlier version might have saved
    reply = await miri.text_of("הסעות לטיול השנתי")
    assert reply == "הבוט עודכן מאז שהתחלנו, אז נתחיל מחדש. שלחי /help כדי לראות מה אני יודע לעשות."
    assert await miri.text_of("עוד משהו") == "שלחי /help כדי לראות מה אני יודע לעשות."  # out of the flow
