"""End to end through the fake Bot API: a parent's blocker goes up from the school to the district,
the district manager gets a Hebrew digest with it, answers it, and the parent is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.services.escalation import forwarding as escalation
from bot.services.forums import invites
from bot.storage.models import OutboxMessage
from bot.storage.models_agenda import RaisedIssue
from bot.storage.models_escalation import EscalatedGap
from scheduler.jobs import run_due
from tests.fakes.telegram import FakeTelegram
from tests.helpers import plain as clean
from tests.telegram_harness import running_bot
from tests.test_telegram_e2e import draft_transport_blocker, walk_registration

pytestmark = pytest.mark.slow

SCHOOL, DISTRICT = "S-DEMO-210101", "D-HAIFA"




async def test_a_district_manager_answers_a_schools_blocker_from_the_digest(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, running_bot(tmp_path, fake) as bot:
        await walk_registration(bot, 7001, "דנה לוי", await bot.invite(SCHOOL, "principal"))
        await walk_registration(bot, 7002, "אבי כהן", await bot.invite(SCHOOL, "parent"), form="לשון זכר")
        await walk_registration(bot, 7003, "משה פרץ", await bot.invite(DISTRICT, "district_manager"),
                                form="לשון זכר")
        dana, avi, moshe = fake.user(7001, "דנה לוי"), fake.user(7002, "אבי כהן"), fake.user(7003, "משה פרץ")

        # The parent raises a blocker, showing only his role.
        await draft_transport_blocker(bot, avi)
        await bot.presses(avi, "שליחה", expect="הפער נרשם")

        # The principal escalates it from the issue's card to the authority.
        await bot.says(dana, "/issues", expect="#1")
        await bot.presses(dana, "#1", expect="אין הסעה לשכונה החדשה")
        done = await bot.presses(dana, "העברה אל עיריית טירת כרמל", expect="הועבר")
        assert "הועבר לפורום השותפים של עיריית טירת כרמל" in clean(done.text)

        # The authority's window passes: it goes on to the district by itself.
        now = datetime.now(UTC)
        async with bot.app.db.unit_of_work() as session:
            (gap_id,) = (await session.scalars(select(EscalatedGap.id))).all()
            await escalation.auto_forward_gap(session, gap_id, now)
            district = await invites.forum_by_code(session, DISTRICT)
            # The district's digest is due today at midnight; the gap arrived the day before.
            local = now.astimezone(bot.app.settings.tz)
            district.settings = {**district.settings, "digest": {"weekday": local.weekday(), "hour": 0}}
            await session.execute(update(EscalatedGap).where(EscalatedGap.forum_id == district.id)
                                  .values(arrived_at=now - timedelta(days=1)))
        before = len(fake.sent_messages(moshe.id))
        await run_due(bot.app, now)
        bot.app.notify_outbox()
        digest = await bot.next_message(moshe, before, "ריכוז הפערים", timeout=15)
        text = clean(digest.text)
        assert text.startswith("ריכוז הפערים שהועברו לפורום השותפים של מחוז חיפה")
        assert "חדשים מאז הריכוז הקודם:" in text
        assert "▸ עיריית טירת כרמל" in text
        assert "#2 · חסם · הסעות · אין הסעה לשכונה החדשה — בית ספר יסודי אלונים (הדגמה)" in text
        assert "אבי" not in text  # above the school only the role, never the name
        assert "לחץ על מספר" in text  # addressed in the masculine
        async with bot.app.db.sessions() as session:  # one gap: nothing to compare, no chart of one bar
            queued = (await session.scalars(select(OutboxMessage.payload).where(
                OutboxMessage.dedup_key.like("esc:digest:%")))).all()
        assert queued and not any(p.get("file") for p in queued)
        assert not any(m.document for m in fake.sent_messages(moshe.id)[before:])

        # He opens it, answers, and the parent two tiers below is told, in the masculine Hebrew.
        card = await bot.presses(moshe, "#2", expect="אין הסעה לשכונה החדשה")
        assert "הועלה בפורום אחד שמתחתיו:" in clean(card.text)
        assert "בית ספר יסודי אלונים (הדגמה) — הורה" in clean(card.text)
        await bot.presses(moshe, "מתן תשובה", expect="כתוב את התשובה")
        before_avi = len(fake.sent_messages(avi.id))
        reply = await bot.says(moshe, "ההסעה לשכונה תתחיל ביום ראשון הבא.", expect="התשובה נשלחה")
        # Down to the authority it passed through and the school it was raised in.
        assert clean(reply.text) == "התשובה נשלחה לשני פורומים ולמי שהעלו את הפער."
        told = await bot.next_message(avi, before_avi, "עדכון על הפער", timeout=15)
        told_text = clean(told.text)
        assert told_text.startswith('עדכון על הפער שהעלית בפורום השותפים של בית ספר יסודי אלונים (הדגמה), '
                                    '"אין הסעה לשכונה החדשה": נפתר.')
        assert "ההסעה לשכונה תתחיל ביום ראשון הבא." in told_text
        assert "התשובה ניתנה על ידי מנהל המחוז בפורום השותפים של מחוז חיפה." in told_text  # a role, no name
        assert "משה" not in told_text
        await bot.next_message(dana, 0, "ההסעה לשכונה תתחיל", timeout=15)

        async with bot.app.db.sessions() as session:
            issue = await session.scalar(select(RaisedIssue))
            assert issue is not None and issue.status == "resolved"
            assert {g.status for g in (await session.scalars(select(EscalatedGap))).all()} == {"resolved"}
