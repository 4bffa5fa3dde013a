"""One date poll, two messengers, one tally: `forumbot run` with Telegram *and* WhatsApp at once.

The lead is on Telegram (the fake Bot API) and votes in the native poll; a member is on WhatsApp
(the fake Graph API, deliveries POSTed to our webhook) and votes by tapping rows of the list. Both
answers land in the same ballots table, and what each of them sees counts both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.delivery import LIMITS, ChannelLimits
from bot.i18n import Translator
from bot.services.meetings import polls
from bot.services.meetings.poll_texts import option_label, short_label
from bot.storage.models import Person
from bot.storage.models_polls import DatePoll, DatePollBallot, DatePollOption
from tests.fakes.telegram import FakeTelegram
from tests.fakes.whatsapp import FakeUser, FakeWhatsApp, Sent
from tests.helpers import plain
from tests.telegram_harness import RunningBot, running_bot
from tests.test_telegram_e2e import walk_registration
from tests.test_whatsapp_e2e import register_on_whatsapp
from tests.wa_helpers import quick_whatsapp_delivery  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("quick_whatsapp_delivery", "quick_telegram_delivery")]

SCHOOL = "S-DEMO-210101"
TZ = ZoneInfo("Asia/Jerusalem")
HE = Translator("he", "f", TZ)
COUNT = {1: "קול אחד", 2: "שני קולות"}


@pytest.fixture
def quick_telegram_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    """No one-second spacing in a private chat (the fake below allows as much); rates are not under test here."""
    monkeypatch.setitem(LIMITS, "telegram", ChannelLimits(per_second=29.0, chat_interval=0.05, group_interval=0.05))


async def eventually(probe: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await probe():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {probe.__name__}")


async def tap(wa: FakeWhatsApp, user: FakeUser, title: str) -> Sent:
    """Tap a row of the latest list that has it; the bot's answer (the ballot with the counts)."""
    before = len(wa.messages_to(user))
    assert await wa.press(user, title) == 200
    return await wa.next_to(user, before)


def counts_in(text: str, labels: list[str]) -> dict[int, str]:
    """Option position → "שני קולות", read from the ballot the WhatsApp member got back."""
    found: dict[int, str] = {}
    for line in plain(text).split("\n"):
        for position, label in enumerate(labels):
            if plain(label) in line and " — " in line:
                found[position] = ("✅ " if line.startswith("✅") else "▫️ ") + line.rsplit(" — ", 1)[1]
    return found


async def test_a_whatsapp_and_a_telegram_member_vote_in_one_poll_and_everyone_sees_both(tmp_path: Path) -> None:
    async with (
        FakeTelegram(per_chat_per_second=25) as tg,
        FakeWhatsApp() as wa,
        running_bot(tmp_path, tg, whatsapp=wa) as bot,
    ):
        await walk_registration(bot, 7001, "אורית", await bot.invite(SCHOOL, "principal"))
        lead = tg.user(7001, "אורית")
        dana = wa.user("Dana")
        await register_on_whatsapp(bot.app, wa, dana, await bot.invite(SCHOOL, "counsellor"))

        await bot.says(lead, "/poll", expect="סקר מועדים לפורום השותפים")
        await bot.presses(lead, "📣 פרסום", expect="פורסם: הסקר נשלח לשני חברי הפורום.")
        poll_id, options, person_of = await poll_state(bot)
        labels = [option_label(HE, o.starts_at) for o in options]
        rows = [short_label(HE, o.starts_at) for o in options]

        # Telegram: the native poll. WhatsApp: the same choices as a list to toggle, "none works" last.
        sent_poll = await tg.wait_for(lambda r: True, method="sendPoll", timeout=15)
        native = next(m for m in tg.sent_messages(lead.id) if m.poll is not None).poll
        assert native is not None and sent_poll.params.get("chat_id") in (lead.id, str(lead.id))
        ballot = await wa.wait_for(lambda m: m.to is dana and m.list_button == "הצבעה")
        assert [t for _, t, _ in ballot.rows] == [f"▫️ {r}" for r in rows] + ["▫️ אף מועד לא מתאים לי"]
        assert "מתי נפגשים?" in plain(ballot.text)

        # The lead answers in Telegram's own poll: the first two dates.
        tg.answer_poll(lead, native["id"], [0, 1])

        async def leads_ballot() -> bool:
            return (await ballots(bot)).get(person_of["lead"]) == {options[0].id, options[1].id}

        await eventually(leads_ballot)

        # Dana taps the first date on WhatsApp; her answer shows her choice and both votes.
        told = len(tg.sent_messages(lead.id))
        answer = await tap(wa, dana, f"▫️ {rows[0]}")
        assert counts_in(answer.text, labels) == {
            0: f"✅ {COUNT[2]}",
            1: f"▫️ {COUNT[1]}",
            2: "▫️ 0 קולות",
            3: "▫️ 0 קולות",
        } | ({4: "▫️ 0 קולות"} if len(options) > 4 else {})
        assert "נשמר." in plain(answer.text)
        assert [t for _, t, _ in answer.rows][:2] == [f"✅ {rows[0]}", f"▫️ {rows[1]}"]
        # Her WhatsApp vote completes the required roles that are filled (two of the four are vacant):
        # the lead is told on Telegram, and told which have nobody in them.
        notice = await bot.next_message(lead, told, "כל התפקידים הנדרשים שמאוישים", timeout=15)
        assert "נציג/ת המורים והמחנכים, נציג/ת ועד ההורים" in plain(notice.text)

        # A second tap adds the third date and keeps the first; a tap on ✅ takes one back.
        answer = await tap(wa, dana, f"▫️ {rows[2]}")
        assert counts_in(answer.text, labels)[0] == f"✅ {COUNT[2]}"
        assert counts_in(answer.text, labels)[2] == f"✅ {COUNT[1]}"
        answer = await tap(wa, dana, f"✅ {rows[2]}")
        assert counts_in(answer.text, labels)[2] == "▫️ 0 קולות"
        answer = await tap(wa, dana, f"▫️ {rows[2]}")
        assert counts_in(answer.text, labels)[2] == f"✅ {COUNT[1]}"

        # The lead changes her mind in Telegram; Dana's next view counts the change.
        tg.answer_poll(lead, native["id"], [1])

        async def lead_moved() -> bool:
            return (await ballots(bot)).get(person_of["lead"]) == {options[1].id}

        await eventually(lead_moved)
        answer = await tap(wa, dana, f"▫️ {rows[1]}")
        seen = counts_in(answer.text, labels)
        assert seen[0] == f"✅ {COUNT[1]}" and seen[1] == f"✅ {COUNT[2]}" and seen[2] == f"✅ {COUNT[1]}"

        # The service counts both channels together.
        async with bot.app.db.sessions() as session:
            poll = await session.get(DatePoll, poll_id)
            assert poll is not None
            result = await polls.tally(session, poll)
        voters = {c.option_id: c.voters for c in result.counts}
        assert voters[options[0].id] == {person_of["dana"]}
        assert voters[options[1].id] == {person_of["lead"], person_of["dana"]}
        assert voters[options[2].id] == {person_of["dana"]}
        assert result.answered == {person_of["lead"], person_of["dana"]}
        channels = {b.person_id: b.channel for b in result.ballots.values()}
        assert channels == {person_of["lead"]: "telegram", person_of["dana"]: "whatsapp"}

        # And so does what the lead sees on Telegram.
        results = await bot.presses(lead, "תוצאות", expect="עד עכשיו ענו")
        text = plain(results.text or "")
        assert "עד עכשיו ענו 2 מתוך 2 חברי" in text
        assert f"• {plain(labels[0])} — {COUNT[1]}" in text
        assert f"• {plain(labels[1])} — {COUNT[2]}" in text
        assert f"• {plain(labels[2])} — {COUNT[1]}" in text
        assert f"• {plain(labels[3])} — 0 קולות" in text
        assert "לא ענו עדיין" not in text


async def poll_state(bot: RunningBot) -> tuple[int, list[DatePollOption], dict[str, int]]:
    async with bot.app.db.sessions() as session:
        poll = await session.scalar(select(DatePoll).where(DatePoll.status == "open"))
        assert poll is not None
        options = await polls.options_of(session, poll.id)
        people = {name: id_ for id_, name in (await session.execute(select(Person.id, Person.display_name))).all()}
    return poll.id, options, {"lead": people["אורית"], "dana": people["דנה לוי"]}


async def ballots(bot: RunningBot) -> dict[int, set[int]]:
    async with bot.app.db.sessions() as session:
        rows = (await session.scalars(select(DatePollBallot))).all()
    return {b.person_id: {int(c) for c in b.choices} for b in rows}
