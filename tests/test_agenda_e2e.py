"""End to end through the fake Bot API: a parent raises a blocker, the principal records it as in
progress at the meeting, and the parent is told."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.services.forums import invites
from bot.services.meetings import schedule as meetings
from bot.storage.models import OutboxMessage
from bot.storage.models_agenda import IssueHistory, RaisedIssue
from tests.fakes.telegram import FakeTelegram
from tests.helpers import plain as clean
from tests.telegram_harness import running_bot
from tests.test_telegram_e2e import draft_transport_blocker, walk_registration

pytestmark = pytest.mark.slow

SCHOOL = "S-DEMO-210101"




async def test_a_parent_raises_a_blocker_and_hears_it_is_in_progress(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, running_bot(tmp_path, fake) as bot:
        await walk_registration(bot, 6001, "דנה לוי", await bot.invite(SCHOOL, "principal"))
        await walk_registration(bot, 6002, "אבי כהן", await bot.invite(SCHOOL, "parent"), form="לשון זכר")
        dana, avi = fake.user(6001, "דנה לוי"), fake.user(6002, "אבי כהן")

        # The parent raises a blocker, showing only his role.
        await draft_transport_blocker(bot, avi)
        before = len(fake.sent_messages(dana.id))
        done = await bot.presses(avi, "שליחה", expect="הפער נרשם")
        assert clean(done.text).startswith("תודה. הפער נרשם, ומספרו #1.")
        told = await bot.next_message(dana, before, "פער חדש הועלה", timeout=10)
        assert '"אין הסעה לשכונה החדשה" — הורה' in clean(told.text) and "אבי" not in clean(told.text)

        # The meeting (its date stored as the lead's /agenda stores it) begins two seconds from now.
        now = datetime.now(UTC)
        async with bot.app.db.unit_of_work() as session:
            forum = await invites.forum_by_code(session, SCHOOL)
            await meetings.store_next_meeting(session, forum, now + timedelta(seconds=2), now)
        await asyncio.sleep(2.5)

        # The principal records the blocker as in progress, with herself in charge, due in a week.
        subject = await bot.says(dana, "/meeting", expect="פער שהועלה:")
        assert "סטטוס: פתוח" in clean(subject.text)
        await bot.presses(dana, "בטיפול", expect="מי אחראי?")
        await bot.presses(dana, "דנה לוי (מנהלת בית הספר)", expect="עד מתי?")
        before = len(fake.sent_messages(avi.id))
        recorded = clean((await bot.presses(dana, "בעוד שבוע", expect="נרשם:")).text)
        # The reply repeats what was recorded.
        assert recorded.startswith('נרשם:\nהפער #1 "אין הסעה לשכונה החדשה": בטיפול.\n'
                                   "באחריות: דנה לוי (מנהלת בית הספר), עד ")

        # The parent is told, in Hebrew, in the masculine.
        update = await bot.next_message(avi, before, "עדכון על הפער", timeout=10)
        due = (now.astimezone(bot.app.settings.tz).date() + timedelta(days=7))
        text = clean(update.text)
        assert text.startswith(
            'עדכון על הפער שהעלית בפורום השותפים של בית ספר יסודי אלונים (הדגמה), "אין הסעה לשכונה החדשה": בטיפול.'
        )
        assert f"באחריות: דנה לוי (מנהלת בית הספר), עד {due.day} ב" in text

        # The summary reaches both members once.
        await bot.next_message(dana, 0, "זה הכול", timeout=10)
        before_avi = len(fake.sent_messages(avi.id))
        await bot.presses(dana, "שליחת הסיכום", expect="הסיכום נשלח")
        summary = await bot.next_message(avi, before_avi, "סיכום הפגישה", timeout=10)
        assert "#1 אין הסעה לשכונה החדשה — בטיפול (דנה לוי (מנהלת בית הספר)" in clean(summary.text)

        async with bot.app.db.sessions() as session:
            issue = await session.scalar(select(RaisedIssue))
            assert issue is not None and issue.status == "in_progress" and issue.show_name is False
            moves = (await session.scalars(select(IssueHistory.to_status).order_by(IssueHistory.id))).all()
            assert list(moves) == ["open", "in_progress", "in_progress"]  # created, at the meeting, carried over
        for _ in range(100):  # the last messages may still be on their way
            async with bot.app.db.sessions() as session:
                statuses = set((await session.scalars(select(OutboxMessage.status))).all())
            if statuses == {"sent"}:
                break
            await asyncio.sleep(0.05)
        assert statuses == {"sent"}
        summaries = [m for m in fake.sent_messages(avi.id) if "סיכום הפגישה" in clean(m.text)]
        assert len(summaries) == 1
