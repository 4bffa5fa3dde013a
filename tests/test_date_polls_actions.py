"""The date polls' buttons are declared actions and their conversations declared flows; buttons and
conversations an older version left behind keep working (on SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy import select

from bot.app import App
from bot.clock import FixedClock
from bot.core.actions import declared
from bot.core.messages import EventKind, Inbound, Outbound
from bot.core.states import fits
from bot.services import tokens
from bot.storage.models import ChannelIdentity, ChoiceToken, ConversationState
from bot.storage.models_polls import Meeting
from tests.helpers import plain
from tests.test_date_polls import TZ, ballots, handle, options, press, publish, school, until_closed

_keys = itertools.count(1)
EARLIER = {"dpn", "dpv", "dpr", "dpx", "dpc", "dpo", "dpd", "mtr", "mtc", "mtcy", "mtk", "mtl"}  # before the names


async def press_payload(app: App, user: str, payload: str) -> list[Outbound]:
    """Press a button an older version sent: a token minted for ``payload`` as it wrote it."""
    async with app.db.unit_of_work() as session:
        identity = await session.scalar(select(ChannelIdentity).where(ChannelIdentity.chat_id == user))
        assert identity is not None
        token = tokens.mint(session, channel="console", chat_id=user, identity_id=identity.id, payload=payload,
                            now=app.clock.now())
    event = Inbound(channel="console", user_id=user, chat_id=user, kind=EventKind.CHOICE, token=token,
                    update_key=f"older{next(_keys)}")
    return await handle(app, event)


async def confirmed_meeting(app: App, clock: FixedClock) -> Meeting:
    s = await school(app)
    poll = await publish(s)
    await press(app, "rina", "▫️ יום ה׳ 3.12 · 17:00")
    await until_closed(app, clock, poll)
    await press(app, "dana", "📅 מועד אחר")
    await press(app, "dana", "יום ג׳ 29.12 · 17:00 · 0 קולות")
    async with app.db.sessions() as session:
        meeting = await session.scalar(select(Meeting))
    assert meeting is not None and meeting.status == "confirmed"
    return meeting


async def test_every_date_poll_button_is_a_declared_action(app: App, clock: FixedClock) -> None:
    await confirmed_meeting(app, clock)
    async with app.db.sessions() as session:
        payloads = [p for p in (await session.scalars(select(ChoiceToken.payload))).all() if not p.startswith("@")]
    names = {p.split(":")[0] for p in payloads}
    assert {
        "polls.vote", "polls.results", "polls.close", "polls.confirm", "polls.other_date", "polls.set_no_meeting",
        "polls.reschedule", "polls.ask_cancel", "polls.ask_place",
    } <= names
    assert not names & EARLIER  # no cryptic prefix is minted any more
    assert all(declared(p) is not None for p in payloads if p.startswith("polls."))


async def test_buttons_an_older_version_sent_still_work(app: App) -> None:
    s = await school(app)
    poll = await publish(s)
    opts = await options(app, poll.id)
    await press_payload(app, "rina", f"dpv:{poll.id}:{opts[1].id}:1")  # a ballot button, as it was minted
    assert (await ballots(app, poll.id))["רינה"] == ([opts[1].id], False)
    await press_payload(app, "rina", f"dpv:{poll.id}:{opts[1].id}:0")
    assert "רינה" not in await ballots(app, poll.id)
    [stale] = await press_payload(app, "rina", f"dpv:{poll.id}:x:1")
    assert plain(stale.text) == "הכפתור הזה כבר לא פעיל."
    [closed, *_] = await press_payload(app, "dana", f"dpx:{poll.id}")
    assert plain(closed.text) == "ההצבעה נסגרה. התוצאות וההצעה שלי בהודעה הבאה."


async def test_a_move_an_older_version_was_confirming_goes_through(app: App, clock: FixedClock) -> None:
    meeting = await confirmed_meeting(app, clock)
    new = datetime(2026, 12, 21, 17, 0, tzinfo=TZ)
    async with app.db.unit_of_work() as session:
        identity = await session.scalar(select(ChannelIdentity).where(ChannelIdentity.chat_id == "dana"))
        assert identity is not None
        session.add(ConversationState(identity_id=identity.id, flow="resched", step="confirm",
                                      data={"meeting": meeting.id, "starts_at": new.isoformat()},
                                      updated_at=app.clock.now()))
    [moved, *_] = await press_payload(app, "dana", "@resched.confirm:yes")
    assert plain(moved.text).startswith("הפגישה הוזזה ל")
    async with app.db.sessions() as session:
        again = await session.get(Meeting, meeting.id)
        assert again is not None and again.starts_at.astimezone(TZ) == new


def test_the_flows_accept_what_the_older_version_saved_and_nothing_else() -> None:
    assert fits("poll", "time", {"poll": 3})
    assert fits("resched", "date", {"meeting": 4})
    assert fits("resched", "confirm", {"meeting": 4, "starts_at": "2026-12-21T15:00:00+00:00"})
    assert fits("mplace", "text", {"meeting": 4})
    assert not fits("poll", "draft", {"poll_id": 3})
    assert not fits("poll", "publish", {"poll": 3})
    assert not fits("resched", "confirm", {"meeting": 4, "starts_at": "next week"})
