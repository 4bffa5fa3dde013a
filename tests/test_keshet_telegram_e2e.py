"""End to end through the fake Bot API: three partners of three sectors walk the self-assessment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.domain.tiers import ForumKind
from bot.services.forums.orgs import create_forum
from bot.storage.models_keshet import KeshetAssessmentAnswer, KeshetAssessmentRound
from tests.fakes.telegram import FakeTelegram, FakeUser
from tests.helpers import plain
from tests.keshet_helpers import ASSESSMENT, PARTNERSHIP, assert_not_yet_for_want_of_4_and_5
from tests.telegram_harness import RunningBot, running_bot
from tests.test_telegram_e2e import walk_registration

pytestmark = pytest.mark.slow


async def answer(bot: RunningBot, user: FakeUser, yes_to: set[int]) -> str:
    """Answer the five questions a partner is asked (the seed's 1, 2, 4, 5, 6) by pressing כן / לא."""
    asked = (1, 2, 4, 5, 6)
    last = None
    for position, question in enumerate(asked, 1):
        expect = f"שאלה {position + 1} מתוך 5" if position < len(asked) else "תודה!"
        last = await bot.presses(user, "כן" if question in yes_to else "לא", expect=expect)
    assert last is not None
    return plain(last.text)


async def test_three_partners_of_three_sectors_walk_the_self_assessment_and_see_the_verdict(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, running_bot(tmp_path, fake) as bot:
        async with bot.app.db.unit_of_work() as session:
            await create_forum(session, "A2100", ForumKind.PARTNERSHIP, now=bot.app.clock.now())
        people = {}
        for user_id, sector, name, form in (
            (5001, "public_sector_rep", "מזכיר העירייה", "לשון זכר"),
            (5002, "business_sector_rep", "נציגת פורום החברות", "לשון נקבה"),
            (5003, "third_sector_rep", "נציג הקרן הקהילתית", "לשון זכר"),
        ):
            welcome = await walk_registration(bot, user_id, name, await bot.invite(PARTNERSHIP, sector), form=form)
            assert "שותפות קש״ת של עיריית טירת כרמל" in plain(welcome)
            people[sector] = fake.user(user_id, name)
        lead, business, third = people["public_sector_rep"], people["business_sector_rep"], people["third_sector_rep"]

        hub = await bot.says(lead, "/partnership", expect="המגזר השלישי: נציג הקרן הקהילתית")
        assert "המגזר הציבורי: מזכיר העירייה" in plain(hub.text)
        assessment = await bot.presses(lead, ASSESSMENT, expect="עדיין לא התקיים סבב")
        assert "הסבב המתוזמן הבא:" in plain(assessment.text)
        opened = await bot.presses(lead, "שליחת סבב לשותפים עכשיו", expect="סבב 1 נפתח")
        assert plain(opened.text) == "סבב 1 נפתח: השאלות נשלחו ל־3 שותפים."

        for user in (business, third, lead):
            question = await bot.next_message(user, 0, "סבב 1 · שאלה 1 מתוך 5", timeout=10)
            assert plain(question.text).startswith(ASSESSMENT)
            assert "האם לשותפות יש מסגרת ארגונית קבועה והמשכית?" in plain(question.text)
            assert [b["text"] for b in question.buttons] == ["כן", "לא"]

        assert (await answer(bot, business, {1, 2, 6})).startswith("תודה! התשובות שלך נרשמו.")
        await answer(bot, third, {1, 6})
        before = len(fake.sent_messages(business.id))
        await answer(bot, lead, {1, 2, 4, 5, 6})

        verdict = plain((await bot.next_message(business, before, "כל השותפים ענו בסבב 1.", timeout=10)).text)
        assert_not_yet_for_want_of_4_and_5(verdict)
        assert "• 2." not in verdict and "• 3." not in verdict
        for user in (lead, third):  # every partner gets the verdict ...
            notice = await bot.next_message(user, 0, "כל השותפים ענו בסבב 1.", timeout=10)
            assert plain(notice.text) == verdict
        await asyncio.sleep(0.5)
        for user in (lead, business, third):  # ... once
            assert len([m for m in fake.sent_messages(user.id) if "כל השותפים ענו" in plain(m.text)]) == 1

        details = plain((await bot.presses(third, "הצגת התוצאות", expect="סבב 1, נפתח")).text)
        assert "סבב 1, נפתח ב־" in details and "ענו 3 מתוך 3 שותפים." in details
        assert "✅ 3. האם יש נוכחות של לפחות שני מגזרים?\n   לפי הרכב השותפים: 3 מגזרים מיוצגים" in details
        assert "❌ 4. האם השותפות מרכזת משאבים מכל המגזרים המעורבים?" in details
        assert "(המגזר הציבורי: 1 מתוך 1 · המגזר העסקי: 0 מתוך 1 · המגזר השלישי: 0 מתוך 1)" in details

        async with bot.app.db.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(KeshetAssessmentRound)) == 1
            assert await session.scalar(select(func.count()).select_from(KeshetAssessmentAnswer)) == 15
