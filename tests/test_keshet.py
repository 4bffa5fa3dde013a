"""Tri-sector (KeShet) partnerships through the console channel, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.clock import FixedClock
from bot.domain import keshet as k
from bot.services.errors import Forbidden, Refused
from bot.services.forums.invites import forum_by_code
from bot.services.keshet import process as keshet
from bot.storage.models import Person
from bot.storage.models_keshet import (
    KeshetAssessmentAnswer,
    KeshetAssessmentRound,
    KeshetCandidate,
    KeshetScore,
    KeshetStageEntry,
)
from scheduler.jobs import run_due
from tests.helpers import ConsoleUser, make_invite, register
from tests.keshet_helpers import (
    PARTNERSHIP,
    assert_not_yet_for_want_of_4_and_5,
    buttons_of,
    inbox,
    last_text,
    partnership,
    press,
    press_twice,
)
from tests.test_keshet_domain import CHRONOLOGY

HUB = "/partnership"


async def count(app: App, model: type) -> int:
    async with app.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_hub_shows_each_sector_and_only_the_lead_records_progress(app: App) -> None:
    users = await partnership(app, ("public", "business"))
    lead, business = users["public"], users["business"]
    hub = await lead.text_of(HUB)
    assert hub.startswith("שותפות קש״ת של עיריית טירת כרמל")
    assert "המגזר הציבורי: מזכיר העירייה" in hub and "המגזר העסקי: נציגת פורום החברות" in hub
    assert "המגזר השלישי: אין נציגות" in hub
    assert "עדיין לא נרשם אף שלב בתהליך." in hub
    assert "רישום התקדמות בתהליך" in buttons_of(lead)
    await business.text_of(HUB)
    assert "רישום התקדמות בתהליך" not in buttons_of(business)
    assert buttons_of(business)[0] == "התהליך וציר הזמן"
    outsider = await register(app, "outsider", await make_invite(app, "A2100", "principal"), form="m")
    hint = await outsider.text_of(HUB)  # not a dead end: who opens a partnership, how to join one
    assert hint.startswith("אינך חבר בשותפות תלת־מגזרית. שותפות נפתחת בידי מוביל/ת פורום השותפים של הרשות")
    assert "בקש הזמנה ממוביל/ת השותפות." in hint and not inbox(outsider)[-1].all_buttons


async def record(lead: ConsoleUser, stage: str, when: str, note: str) -> str:
    await lead.text_of(HUB)
    await press(lead, "רישום התקדמות בתהליך")
    await press(lead, stage, exact=False)
    asked = await lead.text_of(when)
    assert asked == "הערה קצרה על מה שקרה?", asked
    return await lead.text_of(note)


STAGE_HE = {
    k.Stage.HARNESS: "רתימת השותפים",
    k.Stage.MECHANISM: "קבלת החלטות על מנגנון עבודה",
    k.Stage.FIELD: "בחירת תחום הפעולה",
    k.Stage.INVITE: "הזמנת שותפים רלוונטיים נוספים",
    k.Stage.MAPPING: "מיפוי שדה הפעולה",
    k.Stage.GOALS: "הגדרת מטרות ויעדים אופרטיביים של השותפות",
    k.Stage.INPUTS: "הגדרת תשומות של כל צד בשותפות",
    k.Stage.WORKPLAN: "בניית תוכנית עבודה",
    k.Stage.LAUNCH: "יציאה לדרך",
    k.Stage.PILOT: "פיילוט",
    k.Stage.EVALUATION: "הערכה שיטתית של הפיילוט",
}


async def test_the_lead_enters_the_tirat_carmel_chronology_and_members_see_the_timeline(app: App) -> None:
    users = await partnership(app)
    lead = users["public"]
    for month, stage, note in CHRONOLOGY:
        reply = await record(lead, STAGE_HE[stage], month, note)
        assert reply.startswith(f"נרשם: {STAGE_HE[stage]}, "), reply
    assert await count(app, KeshetStageEntry) == len(CHRONOLOGY)
    await users["third"].text_of(HUB)
    assert "השלב הנוכחי: הערכה שיטתית של הפיילוט (מאז יולי 2009)" in last_text(users["third"])
    timeline = await press(users["third"], "התהליך וציר הזמן")
    stages, _, events = timeline.partition("ציר הזמן:")
    assert stages.splitlines()[1:12] == [
        "✅ רתימת השותפים — מאי 2007",
        "✅ קבלת החלטות על מנגנון עבודה — ינואר 2008",
        "✅ בחירת תחום הפעולה — פברואר 2008",
        "⏭️ הזמנת שותפים רלוונטיים נוספים (דילגו עליו)",
        "✅ מיפוי שדה הפעולה — אפריל 2008",
        "✅ הגדרת מטרות ויעדים אופרטיביים של השותפות — יולי 2008",
        "⏭️ הגדרת תשומות של כל צד בשותפות (דילגו עליו)",
        "✅ בניית תוכנית עבודה — ינואר 2009",
        "⏭️ יציאה לדרך (דילגו עליו)",
        "✅ פיילוט — מרץ 2009",
        "📍 הערכה שיטתית של הפיילוט — יולי 2009",
    ]
    lines = events.strip().splitlines()
    assert lines[0] == "• מאי 2007 · רתימת השותפים: מוקם פורום חברות"
    assert lines[5].startswith("• פברואר 2008 · בחירת תחום הפעולה: בחירת התחום יחד עם ראש העיר.")
    assert lines[9] == '• אוקטובר 2008 · הגדרת מטרות ויעדים אופרטיביים של השותפות: "הפוגה" בשל הבחירות'
    assert lines[-1] == "• יולי 2009 · הערכה שיטתית של הפיילוט: הערכה שיטתית של הפיילוט וקבלת החלטות להמשך."
    assert len(lines) == len(CHRONOLOGY)
    assert "רישום התקדמות בתהליך" not in buttons_of(users["third"])


async def test_the_process_refuses_going_back_or_back_in_time_and_future_dates(app: App) -> None:
    users = await partnership(app, ("public", "business"))
    lead = users["public"]
    await record(lead, "בחירת תחום הפעולה", "15.02.2008", "בחירת התחום")
    await lead.text_of(HUB)
    await press(lead, "רישום התקדמות בתהליך")
    assert buttons_of(lead)[0] == "בחירת תחום הפעולה (הערה על השלב הנוכחי)"
    assert "רתימת השותפים" not in buttons_of(lead)  # no going back
    await press(lead, "מיפוי שדה הפעולה")
    assert "מוקדם מהמועד" in await lead.text_of("01/2008")
    assert "לא הצלחתי לקרוא את התאריך" in await lead.text_of("01/2099")
    assert "לא הצלחתי לקרוא את התאריך" in await lead.text_of("אתמול")
    assert await press(lead, "היום") == "הערה קצרה על מה שקרה?"
    assert (await press(lead, "בלי הערה")).startswith("נרשם: מיפוי שדה הפעולה, 22 בנובמבר 2026.")
    async with app.db.unit_of_work() as session:
        forum = await forum_by_code(session, PARTNERSHIP)

        async def record_today(person_id: int, stage: k.Stage) -> None:
            """The service called directly, as a stale button or another client would."""
            now = app.clock.now()
            person = await session.get(Person, person_id)
            await keshet.record_stage(session, forum=forum, person=person, stage=stage, when=k.When(now.date()),
                                      note="", now=now)

        with pytest.raises(Forbidden):
            await record_today(2, k.Stage.GOALS)  # the business partner
        with pytest.raises(Refused, match="already past"):
            await record_today(1, k.Stage.HARNESS)  # the lead, going back


async def test_a_double_press_records_a_stage_once(app: App) -> None:
    users = await partnership(app, ("public", "business"))
    lead = users["public"]
    await lead.text_of(HUB)
    await press(lead, "רישום התקדמות בתהליך")
    await press(lead, "רתימת השותפים")
    await lead.text_of("05/2007")
    first, second = await press_twice(lead, "בלי הערה")
    assert first.startswith("נרשם:") and second == "הכפתור הזה כבר לא פעיל."
    assert await count(app, KeshetStageEntry) == 1


async def add_field(lead: ConsoleUser, label: str) -> None:
    await lead.text_of(HUB)
    await press(lead, "בחירת תחום הפעולה")
    await press(lead, "הוספת תחום מועמד")
    if label.startswith("*"):
        await press(lead, "תחום אחר (בהקלדה)")
        await lead.text_of(label[1:])
    else:
        await press(lead, label)


async def score(user: ConsoleUser, field: str, scores: list[int | None]) -> str:
    """Score one field on the criteria in order (None skips a criterion); returns the summary."""
    await user.text_of(HUB)
    await press(user, "בחירת תחום הפעולה")
    await press(user, "דירוג התחומים")
    await press(user, field, exact=False)
    reply = ""
    for value in scores:
        reply = await press(user, "דילוג" if value is None else str(value))
    if len(scores) < len(k.CRITERIA):
        reply = await press(user, "סיום")
    return reply


async def test_choosing_the_field_two_sectors_a_partial_scorer_and_a_one_sided_field(app: App) -> None:
    users = await partnership(app, ("public", "business"))
    lead, business = users["public"], users["business"]
    await add_field(lead, "חינוך")
    await add_field(lead, "תעסוקה")
    await add_field(lead, "*מערך חינוך בלתי פורמלי לגילאי יסודי")
    await press_path(lead, ["בחירת תחום הפעולה", "הוספת תחום מועמד"])
    assert "חינוך" not in buttons_of(lead) and "רווחה" in buttons_of(lead)  # a listed field is not offered again
    summary = await score(lead, "חינוך", [5, 5, 4, None, 5, 4, 3, 5])
    assert "הציונים שלך לחינוך:" in summary and "4. מיזם המצריך ומאפשר איגום" in summary
    await score(lead, "תעסוקה", [5, 5, 5])
    await score(business, "חינוך", [4, 4, 4, 4, 4, 4, 4, 4])  # the business partner scores only one field
    await score(lead, "מערך חינוך בלתי פורמלי", [4, 4])
    await score(business, "מערך חינוך בלתי פורמלי", [2, 1])
    ranking = await press(business, "הצגת הדירוג")
    lines = ranking.splitlines()
    assert lines[2] == "הדירוג: קודם לפי מספר השותפים שדירגו את התחום, ואחר כך לפי הממוצע המשוקלל של ציוניהם (1–5):"
    # A field one partner scored 5 no longer outranks those both partners weighed (coverage first).
    assert lines[3] == "1. חינוך — 4.2 · כיסוי: 2 מתוך שני השותפים"
    assert lines[4] == "   המגזר הציבורי: 4.4 · המגזר העסקי: 4 · המגזר השלישי: אין נציגות"
    assert lines[5] == "2. מערך חינוך בלתי פורמלי לגילאי יסודי — 2.8 · כיסוי: 2 מתוך שני השותפים"
    assert lines[7] == "   ⚠️ רק המגזר הציבורי רוצה בתחום הזה."
    assert lines[8] == "3. תעסוקה — 5 · כיסוי: 1 מתוך שני השותפים"
    assert lines[9] == "   המגזר הציבורי: 5 · המגזר העסקי: לא דירג · המגזר השלישי: אין נציגות"
    # the lead weighs the criteria: the budget counts for nothing, the social need three times
    await lead.text_of(HUB)
    await press(lead, "בחירת תחום הפעולה")
    await press(lead, "משקלות הקריטריונים")
    await press(lead, "7: משקל 1")
    weights = await press(lead, "0")
    assert "7. היקף תקציב נדרש (ציון גבוה: בהישג ידם של השותפים) — 0" in weights  # which way is better
    await press(lead, "2: משקל 1")
    await press(lead, "3")
    ranking = await press(lead, "סיום")
    # the lead: (5 + 3×5 + 4 + 5 + 4 + 0×3 + 5) / 8 = 4.75 (pooling skipped); the business partner: 4
    assert "1. חינוך — 4.4 · כיסוי: 2 מתוך שני השותפים" in ranking
    assert "המגזר הציבורי: 4.8 · המגזר העסקי: 4 ·" in ranking
    async with app.db.sessions() as session:
        forum = await forum_by_code(session, PARTNERSHIP)
        result = await keshet.ranking(session, forum, now=app.clock.now())
    education = next(f for f in result.fields if result.candidates[f.candidate].suggested == "education")
    assert education.mean == pytest.approx(((5 * 1 + 5 * 3 + 4 + 5 + 4 + 5) / 8 + 4) / 2)
    assert result.weights[k.Criterion.BUDGET] == 0 and result.present == {k.Sector.PUBLIC, k.Sector.BUSINESS}


async def test_scores_are_replaced_not_added_and_a_double_press_counts_once(app: App) -> None:
    users = await partnership(app, ("public", "business"))
    lead = users["public"]
    await add_field(lead, "רווחה")
    await lead.text_of(HUB)
    await press(lead, "בחירת תחום הפעולה")
    await press(lead, "דירוג התחומים")
    await press(lead, "רווחה", exact=False)
    await press_twice(lead, "3")
    assert await count(app, KeshetScore) == 1
    await score(lead, "רווחה", [5])  # a new score for the first criterion replaces the old one
    async with app.db.sessions() as session:
        assert (await session.scalars(select(KeshetScore.score))).all() == [5]
    # a removed field leaves the list; listing it again brings back its scores
    await lead.text_of(HUB)
    await press(lead, "בחירת תחום הפעולה")
    await press(lead, "הסרת תחום")
    assert (await press(lead, "רווחה")).startswith("הוסר: רווחה.")
    assert "עדיין לא נוספו תחומים מועמדים" in last_text(lead)
    await add_field(lead, "רווחה")
    assert await count(app, KeshetCandidate) == 1 and "1. רווחה — 5" in last_text(lead)


async def test_the_inputs_ledger_sums_up_by_sector(app: App) -> None:
    users = await partnership(app, ("public", "business"))
    lead, business = users["public"], users["business"]

    async def bring(user: ConsoleUser, kind: str, text: str, amount: str | None) -> str:
        await user.text_of(HUB)
        await press(user, "מה כל שותף מביא")
        await press(user, "רישום מה שאנחנו מביאים")
        await press(user, kind)
        await user.text_of(text)
        return await (press(user, "דילוג") if amount is None else user.text_of(amount))

    assert "כמה שעות בחודש?" in (
        await press_path(lead, ["מה כל שותף מביא", "רישום מה שאנחנו מביאים", "ניהול"], then="רכז מטעם מינהל חינוך")
    )
    await lead.text_of("20")
    await bring(lead, "כסף", "תקציב הפעלה לפיילוט", "50,000 ₪")
    await bring(business, "שווה כסף", "מחשבים ניידים לחוגים", "12000")
    ledger = await bring(business, "התנדבות", "עובדים מתנדבים כמדריכים", None)
    assert "המגזר הציבורי: ניהול ×1 · כסף ×1 (50,000 ₪, 20 שעות בחודש)" in ledger
    assert "  • כסף: תקציב הפעלה לפיילוט — 50,000 ₪" in ledger
    assert "המגזר העסקי: התנדבות ×1 · שווה כסף ×1 (12,000 ₪)" in ledger
    assert "  • התנדבות: עובדים מתנדבים כמדריכים" in ledger
    assert "המגזר השלישי: אין נציגות" in ledger
    assert "נא להקליד מספר שלם." in await bring(lead, "כסף", "עוד תקציב", "הרבה")
    await lead.text_of("/cancel")
    await press_path(business, ["מה כל שותף מביא", "מחיקת תשומה שרשמתי"])
    assert await press(business, "התנדבות: עובדים מתנדבים כמדריכים") == "נמחק מיומן התשומות."
    ledger = await press_path(business, ["מה כל שותף מביא"])
    assert "התנדבות" not in ledger.split("המגזר העסקי:")[1]


async def press_path(user: ConsoleUser, labels: list[str], *, then: str | None = None) -> str:
    reply = await user.text_of(HUB)
    for label in labels:
        reply = await press(user, label)
    if then is not None:
        reply = await user.text_of(then)
    return reply


async def answer_round(user: ConsoleUser, yes_to: set[int]) -> None:
    """Answer the five asked questions of the newest round (question numbers as in the seed)."""
    for question in k.ASKED_QUESTIONS:
        await press(user, "כן" if question in yes_to else "לא")


async def test_self_assessment_on_demand_verdict_and_no_double_round(app: App) -> None:
    users = await partnership(app)
    lead = users["public"]
    await press_path(lead, ["האם השותפות שהקמנו – אכן שותפות?"])
    assert "עדיין לא התקיים סבב של הבדיקה העצמית." in last_text(lead)
    assert "הסבב המתוזמן הבא: 22 במאי 2027 (כל 6 חודשים)." in last_text(lead)
    first, second = await press_twice(lead, "שליחת סבב לשותפים עכשיו")
    assert first.splitlines()[0] == "סבב 1 נפתח: השאלות נשלחו ל־3 שותפים."  # then the lead's own first question
    assert second == "סבב חדש כבר נפתח."
    assert await count(app, KeshetAssessmentRound) == 1
    question = [m for m in inbox(users["third"]) if m.all_buttons][-1]
    assert "האם השותפות שהקמנו – אכן שותפות?\nסבב 1 · שאלה 1 מתוך 5" in question.text.replace("\u2068", "").replace(
        "\u2069", ""
    )
    assert "האם לשותפות יש מסגרת ארגונית קבועה והמשכית?" in question.text
    await answer_round(users["public"], {1, 2, 4, 5, 6})
    await answer_round(users["business"], {1, 2, 6})
    await press(users["third"], "לא")  # question 1: no ...
    await press_path(users["third"], ["האם השותפות שהקמנו – אכן שותפות?", "מענה על השאלות"])
    await answer_round(users["third"], {1, 6})  # ... the later answer counts
    verdict = last_text(users["business"])
    assert_not_yet_for_want_of_4_and_5(verdict)
    assert "• 1." not in verdict and "• 3." not in verdict
    details = await press(users["business"], "הצגת התוצאות")
    assert "סבב 1, נפתח ב־22 בנובמבר 2026: ענו 3 מתוך 3 שותפים." in details
    assert "✅ 1. האם לשותפות יש מסגרת ארגונית קבועה והמשכית?\n   כן: 3 מתוך 3" in details
    assert "(המגזר הציבורי: 1 מתוך 1 · המגזר העסקי: 1 מתוך 1 · המגזר השלישי: 0 מתוך 1)" in details
    assert "✅ 3. האם יש נוכחות של לפחות שני מגזרים?\n   לפי הרכב השותפים: 3 מגזרים מיוצגים" in details
    assert "❌ 4." in details
    async with app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(KeshetAssessmentAnswer)) == 15


async def test_a_two_sector_partnership_passes_question_three(app: App) -> None:
    users = await partnership(app, ("public", "third"))
    await press_path(users["public"], ["האם השותפות שהקמנו – אכן שותפות?", "שליחת סבב לשותפים עכשיו"])
    await answer_round(users["public"], set(k.QUESTIONS))
    await answer_round(users["third"], set(k.QUESTIONS))
    assert "השורה התחתונה: כן — השותפות עומדת בכל שש השאלות." in last_text(users["third"])
    details = await press(users["third"], "הצגת התוצאות")
    assert "✅ 3. האם יש נוכחות של לפחות שני מגזרים?\n   לפי הרכב השותפים: שני מגזרים מיוצגים" in details
    assert "המגזר העסקי" not in details.split("✅ 1.")[1].split("✅ 2.")[0]  # absent, not "no answer"


async def test_scheduled_rounds_every_six_months_and_the_trend_over_two_rounds(app: App, clock: FixedClock) -> None:
    users = await partnership(app, ("public", "business"))
    assert (await run_due(app, clock.now()))["keshet_assessments"] == 0  # the partnership's row is created now
    clock.advance(timedelta(days=182))  # 23 May 2027: the first round is due
    done = await run_due(app, clock.now())
    assert done["keshet_assessments"] == 1
    assert (await run_due(app, clock.now()))["keshet_assessments"] == 0  # claimed once
    await app.delivery.drain()  # the questions reach the partners
    await answer_round(users["public"], {1, 2})
    await answer_round(users["business"], {1})
    clock.advance(timedelta(days=185))
    assert (await run_due(app, clock.now()))["keshet_assessments"] == 1
    await app.delivery.drain()
    await answer_round(users["public"], {1, 2, 4, 5, 6})
    await answer_round(users["business"], {1, 2, 4})
    details = await press(users["business"], "הצגת התוצאות")
    assert "סבב 2, נפתח ב־" in details
    trend = details.split("המגמה (שיעור ה\"כן\", סבב אחר סבב):\n")[1].split("\n\n")[0].splitlines()
    assert trend == [
        "1. 100% → 100% =",
        "2. 50% → 100% ↑",
        "3. 100% → 100% =",
        "4. 0% → 100% ↑",
        "5. 0% → 50% ↑",
        "6. 0% → 50% ↑",
    ]
    assert "השורה התחתונה: כן — השותפות עומדת בכל שש השאלות." in details
    # a late answer to the closed first round is refused
    async with app.db.unit_of_work() as session:
        person = await session.get(Person, 1)
        first = await session.scalar(select(KeshetAssessmentRound).where(KeshetAssessmentRound.number == 1))
        assert first is not None
        with pytest.raises(Refused, match="closed"):
            await keshet.answer_question(
                session, round_id=first.id, person=person, question=1, yes=False, now=clock.now()
            )


async def test_a_lead_may_ask_every_three_months(app: App, clock: FixedClock) -> None:
    users = await partnership(app, ("public", "business"))
    await press_path(users["public"], ["האם השותפות שהקמנו – אכן שותפות?", "תדירות"])
    assert (await press(users["public"], "כל 3 חודשים")) == "נשמר. הסבב הבא: 22 בפברואר 2027."
    clock.set(datetime(2027, 2, 22, 8, tzinfo=UTC))
    assert (await run_due(app, clock.now()))["keshet_assessments"] == 1
    async with app.db.sessions() as session:
        forum = await forum_by_code(session, PARTNERSHIP)
        partnership_row = await keshet.partnership_of(session, forum, now=clock.now())
        assert partnership_row.next_assessment_at == datetime(2027, 5, 22, 7, tzinfo=UTC)


async def test_mydata_shows_what_a_partner_gave(app: App) -> None:
    import json

    from tests.helpers import console_sender

    users = await partnership(app, ("public", "business"))
    await add_field(users["public"], "חינוך")
    await score(users["business"], "חינוך", [4])
    await press_path(users["business"], ["מה כל שותף מביא", "רישום מה שאנחנו מביאים", "התנדבות"], then="מדריכים")
    await press(users["business"], "דילוג")
    await press_path(users["public"], ["האם השותפות שהקמנו – אכן שותפות?", "שליחת סבב לשותפים עכשיו"])
    await press(users["business"], "כן")
    from tests.test_surveys import send_mapping_quick

    await send_mapping_quick(app, users["public"])
    await app.delivery.drain()
    await press(users["business"], "מילוי השאלון")
    await press(users["business"], "5")
    await users["business"].text_of("/mydata")
    _name, body = console_sender(app).files[-1]
    data = json.loads(body)
    assert data["partnership_field_scores"][0] | {"scored_at": None} == {
        "field": "education",
        "field_id": 1,
        "criterion": "strengthens",
        "score": 4,
        "scored_at": None,
    }
    assert [(i["kind"], i["description"]) for i in data["partnership_inputs"]] == [("volunteering", "מדריכים")]
    assert [(a["round"], a["question"], a["yes"]) for a in data["partnership_self_assessment"]] == [(1, 1, True)]
    assert [(a["survey"], a["question"], a["answer"]) for a in data["survey_answers"]] == [(1, 1, {"scale": 5})]
