"""/partnership in the declared shape: its buttons are declared actions, its conversations declared flows
that still accept what the earlier, free-dict version stored (conversations in flight survive a deploy)."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from bot.core.actions import pack, registered, unpack
from bot.core.states import fits
from bot.services.keshet import process as keshet
from bot.services.keshet.actions import AnswerQuestion
from bot.storage.models import ChannelIdentity, ConversationState
from handlers import keshet as keshet_handlers
from tests.keshet_helpers import partnership, press

START_AGAIN = "הבוט עודכן מאז שהתחלנו, אז נתחיל מחדש. שלח /help כדי לראות מה אני יודע לעשות."


def test_every_declared_partnership_action_has_its_handler() -> None:
    declared = {name for name in registered() if name.startswith("keshet.")}
    assert len(declared) == 29
    assert declared == set(keshet_handlers.build().typed)


def test_the_notices_carry_declared_actions() -> None:
    yes, no = (value for _label, value in keshet.answer_actions(7, 3))
    assert pack(yes) == "keshet.answer:7:3:1" and pack(no) == "keshet.answer:7:3:0"
    assert unpack("keshet.answer:7:3:1") == AnswerQuestion(round_id=7, question=3, yes=True)


def test_the_flows_accept_what_the_earlier_version_stored_and_nothing_else() -> None:
    assert fits("kstage", "date", {"forum": 3, "stage": "harness"})
    assert fits("kstage", "note", {"forum": 3, "stage": "harness", "day": "2007-05-01", "precision": "month"})
    assert fits("kfield", "title", {"forum": 3})
    assert fits("kinput", "description", {"forum": 3, "kind": "money"})
    assert fits("kinput", "amount", {"forum": 3, "kind": "money", "description": "תקציב הפעלה"})
    assert not fits("kstage", "date", {"forum": 3, "stage": "no-such-stage"})
    assert not fits("kstage", "note", {"forum_id": 3, "stage": "harness"})
    assert not fits("kinput", "description", {"forum": 3, "kind": "gold"})
    assert not fits("kfield", "name", {"forum": 3})


async def test_a_stage_in_flight_is_stored_as_before_and_a_stale_one_starts_again(app: App) -> None:
    lead = (await partnership(app, ("public", "business")))["public"]
    await lead.text_of("/partnership")
    await press(lead, "רישום התקדמות בתהליך")
    await press(lead, "רתימת השותפים")
    await lead.text_of("05/2007")
    async with app.db.unit_of_work() as session:
        state = await session.scalar(
            select(ConversationState).join(ChannelIdentity).where(ChannelIdentity.external_id == lead.name)
        )
        assert state is not None and (state.flow, state.step) == ("kstage", "note")
        assert {key: value for key, value in state.data.items() if key != "forum"} == {
            "stage": "harness", "day": "2007-05-01", "precision": "month",
        }
        state.data = {**state.data, "stage": "no-such-stage"}  # what no version can record
    assert await lead.text_of("הסכם שותפות נחתם") == START_AGAIN
