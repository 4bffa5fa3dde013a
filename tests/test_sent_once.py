"""A request that succeeded is not sent again, and a vote on any copy of a ballot counts.

WhatsApp: a send whose HTTP 200 reply cannot be read (cut short, a proxy's page) did reach the
person; it counts as sent, with the wamid when the reply shows it, and is never sent again.
Telegram: a sendPoll that timed out after Telegram delivered it leaves a copy whose poll id was
never recorded, and the retry sends a second one; a vote on either copy counts, and an answer no
date poll can be matched to gets a plain message instead of vanishing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import FixedClock
from bot.core.messages import Outbound, OutKind
from bot.services.delivery.outbox import PRIORITY_NOTICE, enqueue
from bot.storage.models import OutboxMessage
from bot.storage.models_polls import DatePollBallot
from tests.fakes.telegram import FakeTelegram, FakeUser, SentMessage
from tests.fakes.whatsapp import FakeWhatsApp
from tests.helpers import import_demo
from tests.telegram_harness import running_bot
from tests.test_date_polls_telegram import eventually, join
from tests.wa_helpers import InProcess, identity_of, quick_whatsapp_delivery, wire  # noqa: F401

# -- WhatsApp: an unreadable 200 ----------------------------------------------------------------------


@pytest.fixture
async def wa(app: App) -> AsyncIterator[InProcess]:
    await import_demo(app)
    async with FakeWhatsApp() as fake:
        channel = wire(app, fake)
        yield InProcess(app, fake, channel)
        await channel.close()


async def notice(wa: InProcess, text: str) -> tuple[list[str], OutboxMessage]:
    """Dana (who just wrote, so her window is open) gets ``text``; what reached her, and its outbox row."""
    dana = wa.fake.user("Dana")
    await wa.say(dana, "שלום")  # she writes first: the window opens on both sides
    identity = await identity_of(wa.app, dana)
    assert identity is not None
    async with wa.app.db.unit_of_work() as session:
        await enqueue(
            session,
            channel="whatsapp",
            chat_id=identity.chat_id,
            message=Outbound(kind=OutKind.TEXT, text=text),
            now=wa.app.clock.now(),
            identity_id=identity.id,
            priority=PRIORITY_NOTICE,
            dedup_key="sent-once",
        )
    await wa.settle()
    # Later, with any retry long due: still the one message.
    assert isinstance(wa.app.clock, FixedClock)
    wa.app.clock.advance(timedelta(minutes=30))
    await wa.settle()
    async with wa.app.db.sessions() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == "sent-once"))
    assert row is not None
    return [m.text for m in wa.fake.messages_to(dana) if text in m.text], row


@pytest.mark.usefixtures("quick_whatsapp_delivery")
async def test_a_cut_short_200_counts_as_sent_with_its_wamid(wa: InProcess) -> None:
    wa.fake.garble_next("truncated")
    wa.fake.garble_next("truncated")  # (the first one is the reply to her "שלום")
    reached, row = await notice(wa, "הפגישה נדחתה ליום ראשון")
    assert len(reached) == 1  # not four times
    assert row.status == "sent" and row.attempts == 1
    assert row.external_message_id == wa.fake.sent[-1].wamid  # what was known was kept


@pytest.mark.usefixtures("quick_whatsapp_delivery")
async def test_an_html_200_counts_as_sent_without_an_id(wa: InProcess) -> None:
    reached_before = len(wa.fake.sent)
    wa.fake.garble_next("html", count=2)
    reached, row = await notice(wa, "הפגישה נדחתה ליום שני")
    assert len(reached) == 1
    assert len(wa.fake.sent) == reached_before + 2  # the reply to "שלום" and the notice, each once
    assert row.status == "sent" and row.attempts == 1 and row.external_message_id is None


@pytest.mark.usefixtures("quick_whatsapp_delivery")
async def test_a_message_in_two_parts_resumes_after_the_part_that_went_out(wa: InProcess) -> None:
    wa.fake.fail_next(131000, after=2)  # the reply to "שלום" and the first part go; the second one fails
    long = "\n".join(f"שורה {n} של הסיכום הארוך" + " ·" * 60 for n in range(40))  # two parts' worth
    _, row = await notice(wa, long)
    parts = [m.text for m in wa.fake.sent if "של הסיכום הארוך" in m.text]
    assert len(parts) == 2  # each part once (before, the retry sent the first part again)
    assert "שורה 0 " in parts[0] and "שורה 39 " in parts[1]
    assert row.status == "sent" and row.attempts == 2


# -- Telegram: a sendPoll that timed out after it was delivered ---------------------------------------


def copies(fake: FakeTelegram, user: FakeUser) -> list[SentMessage]:
    return [m for m in fake.sent_messages(user.id) if m.poll is not None]


@pytest.mark.slow
async def test_a_vote_on_the_unrecorded_copy_of_a_ballot_counts(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, running_bot(tmp_path, fake, FORUMBOT_TICK_SECONDS=0.3) as bot:
        lead = await join(bot, 6101, "דנה", "principal")
        member = await join(bot, 6102, "יוסי", "counsellor", form="לשון זכר")
        await bot.says(lead, "/poll", expect="סקר מועדים לפורום השותפים")
        # The first sendPoll reaches the chat, but its reply comes after the client gave up (5 s).
        fake.fail_next("sendPoll", "timeout", delay=6.5)
        await bot.presses(lead, "📣 פרסום", expect="פורסם")

        async def both_copies() -> bool:
            return any(len(copies(fake, u)) == 2 for u in (lead, member))

        await eventually(both_copies, timeout=40)
        [voter] = [u for u in (lead, member) if len(copies(fake, u)) == 2]
        [unrecorded] = [m for m in copies(fake, voter) if m.request.fault == "timeout"]
        assert unrecorded.poll is not None
        fake.answer_poll(voter, unrecorded.poll["id"], [1])

        async def counted() -> bool:
            async with bot.app.db.sessions() as session:
                ballots = (await session.scalars(select(DatePollBallot))).all()
            return len(ballots) == 1 and len(ballots[0].choices) == 1

        await eventually(counted, timeout=20)
        # A change of mind on the same copy is matched directly now.
        fake.answer_poll(voter, unrecorded.poll["id"], [0, 2])

        async def changed() -> bool:
            async with bot.app.db.sessions() as session:
                ballots = (await session.scalars(select(DatePollBallot))).all()
            return len(ballots) == 1 and len(ballots[0].choices) == 2

        await eventually(changed, timeout=20)

        # An answer no open date poll can be matched to is answered, not dropped.
        other = member if voter is lead else lead
        before = len(fake.sent_messages(other.id))
        fake._queue(
            "poll_answer",
            {"poll_id": "4242", "option_ids": [0], "user": other.to_api(), "option_persistent_ids": ["o0"]},
        )
        told = await bot.next_message(other, before, "לא הצלחתי לספור את ההצבעה", timeout=20)
        assert "בסקר האחרון" in (told.text or "")
        await asyncio.sleep(0)
