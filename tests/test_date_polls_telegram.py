"""A date poll end to end on Telegram: `forumbot run` against the fake Bot API.

The lead opens a poll, three members vote in native polls, the poll closes itself at its deadline
(stopPoll in every chat), the lead confirms, and every member gets the .ics invitation.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import func, select, update

from bot.storage.models_polls import DatePoll, DatePollBallot, DatePollOption, Meeting
from tests.fakes.telegram import FakeTelegram, FakeUser, SentMessage
from tests.helpers import plain as clean
from tests.telegram_harness import RunningBot, running_bot
from tests.test_telegram_e2e import walk_registration

pytestmark = pytest.mark.slow

SCHOOL = "S-DEMO-210101"
TZ = ZoneInfo("Asia/Jerusalem")




def poll_of(fake: FakeTelegram, user: FakeUser) -> SentMessage:
    [message] = [m for m in fake.sent_messages(user.id) if m.poll is not None]
    return message


async def eventually(probe: object, timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await probe():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {probe}")


async def join(bot: RunningBot, user_id: int, name: str, role: str, **kwargs: str) -> FakeUser:
    await walk_registration(bot, user_id, name, await bot.invite(SCHOOL, role), **kwargs)
    return bot.fake.user(user_id, name, language_code=kwargs.get("language", "he"))


async def test_open_vote_close_announce_on_telegram(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, running_bot(tmp_path, fake, FORUMBOT_TICK_SECONDS=0.3) as bot:
        lead = await join(bot, 6001, "דנה", "principal")
        counsellor = await join(bot, 6002, "יוסי", "counsellor", form="לשון זכר")
        committee = await join(bot, 6003, "אבי", "parents_committee", form="לשון זכר")
        teacher = await join(bot, 6004, "رنا", "teachers_rep", language="ar", form="صيغة المؤنث")

        draft = await bot.says(lead, "/poll", expect="סקר מועדים לפורום השותפים")
        assert "המועדים המוצעים:" in clean(draft.text)
        await bot.presses(lead, "📣 פרסום", expect="פורסם: הסקר נשלח ל־4 חברי הפורום.")

        # A native, non-anonymous, multi-answer poll in every member's private chat and language.
        for member in (lead, counsellor, committee, teacher):
            await fake.wait_for(
                lambda r, m=member: r.params.get("chat_id") in (m.id, str(m.id)), method="sendPoll", timeout=20
            )
        polls = {member.id: poll_of(fake, member) for member in (lead, counsellor, committee, teacher)}
        hebrew = polls[counsellor.id].poll
        assert hebrew is not None
        assert hebrew["is_anonymous"] is False and hebrew["allows_multiple_answers"] is True
        assert clean(hebrew["question"]).startswith("מתי נפגשים? קובעים את מועד הפגישה הבאה של פורום השותפים")
        labels = [o["text"] for o in hebrew["options"]]
        assert labels[-1] == "אף מועד לא מתאים לי" and "תשפ״ז" in labels[0]
        arabic = polls[teacher.id].poll
        assert arabic is not None
        assert "،" in arabic["options"][0]["text"] and "תשפ" not in arabic["options"][0]["text"]  # no Hebrew date
        assert arabic["options"][-1]["text"] == "لا يناسبني أي موعد"
        assert not polls[counsellor.id].buttons  # Telegram shows the poll itself, not the fallback buttons

        # Three members vote; one changes his mind.
        fake.answer_poll(counsellor, polls[counsellor.id].poll["id"], [0, 1])  # type: ignore[index]
        fake.answer_poll(committee, polls[committee.id].poll["id"], [0])  # type: ignore[index]
        fake.answer_poll(committee, polls[committee.id].poll["id"], [1])  # type: ignore[index]
        fake.answer_poll(teacher, polls[teacher.id].poll["id"], [1, 2])  # type: ignore[index]

        async def three_ballots() -> bool:
            async with bot.app.db.sessions() as session:
                ballots = (await session.scalars(select(DatePollBallot))).all()
                second = await session.scalar(select(DatePollOption.id).where(DatePollOption.position == 1))
            return (
                len(ballots) == 3
                and all(len(b.choices) > 0 for b in ballots)
                and sorted(len(b.choices) for b in ballots) == [1, 2, 2]
                # the committee's change of mind has landed too (its first answer alone also fits [1, 2, 2])
                and [b.choices for b in ballots if len(b.choices) == 1] == [[second]]
            )

        await eventually(three_ballots)

        # The deadline passes: the scheduler closes the poll by itself and stops every native poll.
        async with bot.app.db.unit_of_work() as session:
            await session.execute(update(DatePoll).values(deadline=datetime.now(UTC) - timedelta(seconds=1)))
        decision = await bot.next_message(lead, len(fake.sent_messages(lead.id)), "המועד המוצע", timeout=20)
        text = clean(decision.text)
        assert "ענו 3 מתוך 4 חברים" in text and "כל בעלי התפקידים הנדרשים יכולים להגיע." not in text
        assert "לא בחרו במועד הזה: מנהל/ת בית הספר." in text  # the principal did not vote
        await fake.wait_for_count(4, method="stopPoll", timeout=15)
        assert all(fake.poll(p.poll["id"])["is_closed"] for p in polls.values())  # type: ignore[index]
        stopped = {(r.params["chat_id"], r.params["message_id"]) for r in fake.requests_for("stopPoll", ok_only=True)}
        assert {(str(p.chat_id), str(p.message_id)) for p in polls.values()} == {(str(c), str(m)) for c, m in stopped}

        # The lead confirms the proposal; everyone gets the invitation.
        [confirm] = [b["text"] for b in decision.buttons if b["text"].startswith("✅ ")]
        confirmed = await bot.presses(lead, confirm, expect="נקבע:")
        assert "ההזמנה נשלחה ל־4 חברי הפורום." in clean(confirmed.text)
        async with bot.app.db.sessions() as session:
            meeting = await session.scalar(select(Meeting))
            chosen = await session.scalar(select(DatePollOption).where(DatePollOption.position == 1))
            assert await session.scalar(select(func.count()).select_from(Meeting)) == 1
        assert meeting is not None and chosen is not None and meeting.status == "confirmed"
        assert meeting.starts_at == chosen.starts_at  # covers the counsellor, the committee and the teachers
        for member in (lead, counsellor, committee, teacher):
            await fake.wait_for(
                lambda r, m=member: r.params.get("chat_id") in (m.id, str(m.id)), method="sendDocument", timeout=15
            )
            [document] = [m for m in fake.sent_messages(member.id) if m.document is not None]
            assert document.document is not None and document.document.filename.endswith(".ics")
            [event] = icalendar.Calendar.from_ical(document.document.content).events
            assert event.start == meeting.starts_at.astimezone(TZ) and str(event.start.tzinfo) == "Asia/Jerusalem"
            assert str(event["UID"]) == meeting.ics_uid and event.sequence == 0
        assert clean(next(m for m in fake.sent_messages(counsellor.id) if m.document is not None).caption).startswith(
            "📅 פגישת פורום השותפים של בית ספר יסודי אלונים (הדגמה) תתקיים ב"
        )
        arabic_caption = clean(next(m for m in fake.sent_messages(teacher.id) if m.document is not None).caption)
        assert arabic_caption.startswith("📅 اجتماع منتدى الشركاء في")


async def test_an_answer_that_outruns_the_record_of_its_poll_still_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The member answers before the delivery path has stored the poll's id (slow bookkeeping)."""
    from bot.delivery import LIMITS, ChannelLimits, Delivery

    monkeypatch.setitem(LIMITS, "telegram", ChannelLimits(per_second=29.0, chat_interval=0.05, group_interval=0.05))
    mark_sent = Delivery._mark_sent

    async def slow_mark_sent(self: Delivery, row: object, result: object, message: object) -> None:
        if getattr(result, "poll_id", None):
            await asyncio.sleep(1.0)
        await mark_sent(self, row, result, message)  # type: ignore[arg-type]

    monkeypatch.setattr(Delivery, "_mark_sent", slow_mark_sent)
    async with FakeTelegram(per_chat_per_second=25) as fake, running_bot(tmp_path, fake) as bot:
        lead = await join(bot, 6101, "דנה", "principal")
        await bot.says(lead, "/poll", expect="סקר מועדים לפורום השותפים")
        await bot.presses(lead, "📣 פרסום", expect="פורסם")
        await fake.wait_for(lambda r: True, method="sendPoll", timeout=15)
        fake.answer_poll(lead, poll_of(fake, lead).poll["id"], [1])  # type: ignore[index]

        async def counted() -> bool:
            async with bot.app.db.sessions() as session:
                ballot = await session.scalar(select(DatePollBallot))
                second = await session.scalar(select(DatePollOption.id).where(DatePollOption.position == 1))
            return ballot is not None and ballot.choices == [second]

        await eventually(counted, timeout=10)


async def test_the_lead_hears_who_did_not_get_the_poll_on_telegram(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, running_bot(tmp_path, fake, FORUMBOT_TICK_SECONDS=0.3) as bot:
        lead = await join(bot, 6101, "דנה", "principal")
        await join(bot, 6102, "יוסי", "counsellor", form="לשון זכר")
        committee = await join(bot, 6103, "אבי", "parents_committee", form="לשון זכר")
        fake.block_bot(committee)  # he blocked the bot after registering

        await bot.says(lead, "/poll", expect="סקר מועדים לפורום השותפים")
        before = len(fake.sent_messages(lead.id))
        published = await bot.presses(lead, "📣 פרסום", expect="פורסם: הסקר נשלח ל־3 חברי הפורום.")
        assert "אם הסקר לא יגיע למישהו, אגיד לך למי." in clean(published.text)
        # One required role is vacant: the lead is not promised "every required role".
        assert "בתפקידים הנדרשים האלה עדיין אין אף אחד: נציג/ת המורים והמחנכים." in clean(published.text)
        told = await bot.next_message(lead, before, "לא הגיע אל", timeout=20)
        assert clean(told.text).startswith(
            "⚠️ סקר המועדים של פורום השותפים של בית ספר יסודי אלונים (הדגמה) לא הגיע אל אבי (נציג/ת ועד ההורים)."
        )
