"""Surveys: templates, answering (the later answer counts), results, exports, promotion, the yearly job."""

from __future__ import annotations

import csv
import io
import sys
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.app import App
from bot.clock import FixedClock
from bot.domain import surveys as d
from bot.i18n import Translator
from bot.services.errors import Forbidden, Refused
from bot.services.forums.invites import forum_by_code
from bot.services.surveys import answers as surveys
from bot.storage.models import Person
from bot.storage.models_keshet import Survey, SurveyAnswer, SurveyPromotion, SurveyResponse
from scheduler.jobs import run_due
from tests.helpers import ConsoleUser, console_sender, import_demo, make_invite, register
from tests.keshet_helpers import PARTNERSHIP, buttons_of, last_text, partnership, press, press_twice

SCHOOL = "S-DEMO-210101"


async def count(app: App, model: type) -> int:
    async with app.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def send_mapping(lead: ConsoleUser) -> str:
    await lead.text_of("/surveys")
    await press(lead, "שליחת שאלון חדש")
    preview = await press(lead, "מיפוי עירוני")
    assert preview.startswith("מיפוי עירוני\nמיפוי עמדות לקראת הקמת המערך")
    assert "1. חשיבות הקמת המערך (1 = לא חשוב, 5 = חשוב מאוד)" in preview
    assert preview.endswith("לשלוח ל־3 החברים בשותפות קש״ת של עיריית טירת כרמל?")
    first, second = await press_twice(lead, "שליחה")
    assert first.splitlines()[0] == "נשלח ל־3 חברים."
    assert second == "הכפתור הזה כבר לא פעיל."
    return first


async def answer_mapping(user: ConsoleUser, *, importance: str, text: str) -> None:
    await press(user, "מילוי השאלון")
    await press(user, importance)  # 1. importance (1-5)
    await press(user, "☐ כלל ילדי העיר")  # 2. target population (multiple)
    await press(user, "☐ קבוצות מצוינות")
    await press(user, "הבא")
    await press(user, "בבתי הספר")  # 3. location
    await press(user, "החל משעות אחרונות של יום הלימודים ועד 18:00 בערב")  # 4. hours
    await press(user, "חזרה לאחר הפוגה קצרה בבית")  # 5. continuity
    await press(user, "הבא")  # 6. commitment and fees: nothing chosen, skipped
    await press(user, "☐ העשרה")  # 7. goals
    await press(user, "הבא")
    await user.text_of(text)  # 8. free text


async def test_a_mapping_survey_answered_summarised_and_exported(app: App) -> None:
    users = await partnership(app)
    lead, business, third = users["public"], users["business"], users["third"]
    await send_mapping(lead)
    assert await count(app, Survey) == 1
    notice = last_text(business)
    assert notice.startswith("שאלון: מיפוי עירוני") and notice.endswith("יש בו 8 שאלות.")
    await answer_mapping(business, importance="4", text="צריך רכז בית ספרי לתוכנית")
    assert last_text(business).startswith("תודה! התשובות שלך נשמרו.")
    await answer_mapping(third, importance="5", text="שיתוף סטודנטים מלגאים ופר״ח")
    # the business partner answers again: importance 2, and the later answer counts
    await business.text_of("/surveys")
    assert "מיפוי עירוני — שותפות קש״ת של עיריית טירת כרמל (ענית על 7 מתוך 8)" in last_text(business)
    await press(business, "מילוי: מיפוי עירוני")
    assert "✓5" not in buttons_of(business) and "✓4" in buttons_of(business)
    await press(business, "2")
    assert await count(app, SurveyResponse) == 2 and await count(app, SurveyAnswer) == 14  # 7 each: replaced, not added

    results = await lead.text_of("/surveys")
    assert "שאלונים של הפורומים שאתה מוביל:" in results
    results = await press(lead, "תוצאות: מיפוי עירוני")
    assert results.startswith("תוצאות: מיפוי עירוני\nענו 2 מתוך 3 חברי הפורום.")
    assert (
        "1. חשיבות הקמת המערך (1 = לא חשוב, 5 = חשוב מאוד)\n   ממוצע 3.5 (1: 0 · 2: 1 · 3: 0 · 4: 0 · 5: 1)" in results
    )
    assert "   • כלל ילדי העיר — 2 (100%)" in results and "   • אוכלוסיות ממעמד סוציו־אקונומי נמוך — 0 (0%)" in results
    assert "6. מחויבות ודמי השתתפות\n   עדיין אין תשובות." in results
    assert "8. דגשים ונקודות למחשבה לקראת תכנון ארוך טווח\n   שתי תשובות כתובות:" in results
    assert '   • "צריך רכז בית ספרי לתוכנית"' in results

    await press(lead, "ייצוא CSV")
    name, data = console_sender(app).files[-1]
    assert name == "שאלון-1.csv" and data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["מס׳ משיב", "תפקיד", "מענה אחרון", "1. חשיבות הקמת המערך (1 = לא חשוב, 5 = חשוב מאוד)"]
    assert len(rows) == 3 and len(rows[0]) == 11
    by_role = {row[1]: row for row in rows[1:]}
    assert by_role["נציג/ת המגזר העסקי"][3] == "2"
    assert by_role["נציג/ת המגזר העסקי"][4] == "כלל ילדי העיר; קבוצות מצוינות"
    assert by_role["נציג/ת המגזר השלישי"][8] == ""  # skipped
    assert by_role["נציג/ת המגזר השלישי"][10] == "שיתוף סטודנטים מלגאים ופר״ח"

    await press(lead, "ייצוא לאקסל")
    name, data = console_sender(app).files[-1]
    assert name == "שאלון-1.xlsx"
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None and sheet.sheet_view.rightToLeft
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][1] == "תפקיד" and len(values) == 3
    assert {row[3] for row in values[1:]} == {"2", "5"}

    # members see no results; closing stops answers
    with pytest.raises(Forbidden):
        async with app.db.sessions() as session:
            await surveys.results(session, survey_id=1, person=await session.get(Person, 2))
    closed = await press(lead, "סגירת השאלון")
    assert closed.startswith("השאלון נסגר ולא מקבל עוד תשובות.\nתוצאות: מיפוי עירוני") and "השאלון סגור." in closed
    assert await business.text_of("/surveys") == "אין כרגע שאלון פתוח עבורך."
    async with app.db.unit_of_work() as session:
        with pytest.raises(Refused, match="closed"):
            await surveys.answer(
                session, question_id=1, person=await session.get(Person, 2), value={"scale": 3}, now=app.clock.now()
            )


async def test_a_person_who_is_not_a_member_cannot_answer(app: App) -> None:
    users = await partnership(app, ("public", "business"))
    await send_mapping_quick(app, users["public"])
    outsider = await register(app, "x", await make_invite(app, "A2100", "principal"), form="m")
    async with app.db.unit_of_work() as session:
        with pytest.raises(Forbidden):
            await surveys.answer(
                session, question_id=1, person=await session.get(Person, 3), value={"scale": 3}, now=app.clock.now()
            )
    assert await outsider.text_of("/surveys") == "אין כרגע שאלון פתוח עבורך."


async def send_mapping_quick(app: App, lead: ConsoleUser) -> int:
    async with app.db.unit_of_work() as session:
        forum = await forum_by_code(session, PARTNERSHIP)
        person = await session.get(Person, 1)
        survey = await surveys.create_from_template(
            session, forum=forum, template=d.MAPPING, now=app.clock.now(), request_key="t1", by_person=person
        )
        assert survey is not None
        await surveys.send_survey(session, survey, now=app.clock.now())
        again = await surveys.create_from_template(
            session, forum=forum, template=d.MAPPING, now=app.clock.now(), request_key="t1", by_person=person
        )
        assert again is None  # the same request twice creates one survey
        return survey.id


async def mapping_answered_by_business(app: App, text: str, *, importance: str = "3") -> dict[str, ConsoleUser]:
    """A partnership of the public and business sectors: the lead sent the mapping survey and the
    business partner answered it, ``text`` in its free-text question."""
    users = await partnership(app, ("public", "business"))
    await send_mapping_quick(app, users["public"])
    await app.delivery.drain()
    await answer_mapping(users["business"], importance=importance, text=text)
    return users


async def test_a_free_text_answer_becomes_an_agenda_item_or_an_issue_with_one_action(app: App) -> None:
    from bot.storage.models_agenda import AgendaItem, RaisedIssue

    answer = "הכשרת מדריכים מקומיים לתכניות ההעשרה\nכדאי להתחיל כבר בפיילוט, עם שני מדריכים מהשכונה"
    lead = (await mapping_answered_by_business(app, answer))["public"]
    await lead.text_of("/surveys")
    await press(lead, "תוצאות: מיפוי עירוני")
    await press(lead, "תשובות לסדר היום או כפערים")
    assert last_text(lead).startswith('"הכשרת מדריכים מקומיים לתכניות ההעשרה\nכדאי')
    first, second = await press_twice(lead, "לסדר היום")
    assert first.endswith("נוסף לסדר היום של הפורום.")
    assert second.endswith("התשובה הזאת כבר הועברה לסדר היום.")
    assert (await press(lead, "העלאה כפער")).endswith("הועלה כפער של הפורום.")
    async with app.db.sessions() as session:
        items = (await session.scalars(select(AgendaItem))).all()
        issues = (await session.scalars(select(RaisedIssue))).all()
        promotions = (await session.scalars(select(SurveyPromotion).order_by(SurveyPromotion.id))).all()
    assert [(i.title, i.details, i.status, i.origin) for i in items] == [
        ("הכשרת מדריכים מקומיים לתכניות ההעשרה", answer, "accepted", "lead")
    ]
    assert [(i.title, i.details, i.kind, i.show_name, i.raiser_role) for i in issues] == [
        ("הכשרת מדריכים מקומיים לתכניות ההעשרה", answer, "need", False, "public_sector_rep")
    ]
    assert [(p.target, p.status, p.target_ref) for p in promotions] == [
        ("agenda", "delivered", str(items[0].id)),
        ("issue", "delivered", str(issues[0].id)),
    ]
    assert await count(app, SurveyPromotion) == 2


async def test_a_promotion_waits_while_the_feature_is_missing_and_is_handed_over_once(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.storage.models_agenda import AgendaItem

    await mapping_answered_by_business(app, "שיתוף סטודנטים מלגאים ופר״ח")
    monkeypatch.setitem(sys.modules, "bot.services.agenda.items", None)  # a build without the agenda feature
    async with app.db.unit_of_work() as session:
        answer_id = max(a.id for a in (await session.scalars(select(SurveyAnswer))).all())  # the written one
        promotion, created = await surveys.promote_answer(
            session, answer_id, "agenda", await session.get(Person, 1), app.clock.now()
        )
        assert created and promotion.status == "pending"
    assert (await run_due(app, app.clock.now()))["survey_promotions"] == 0
    monkeypatch.undo()  # the feature arrives
    assert (await run_due(app, app.clock.now()))["survey_promotions"] == 1
    assert (await run_due(app, app.clock.now()))["survey_promotions"] == 0
    assert await count(app, AgendaItem) == 1


async def test_a_refusal_reaches_the_lead_and_keeps_nothing(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    users = await mapping_answered_by_business(app, "ברור הממשק בין בלתי פורמלי לפורמלי")

    async def refuses(session: Any, **kwargs: Any) -> Any:
        raise Refused("Only the forum's lead can do that.")

    monkeypatch.setitem(sys.modules, "bot.services.agenda.issues", types.SimpleNamespace(raise_issue=refuses))
    await users["public"].text_of("/surveys")
    await press(users["public"], "תוצאות: מיפוי עירוני")
    await press(users["public"], "תשובות לסדר היום או כפערים")
    assert await press(users["public"], "העלאה כפער") == "רק מובילי הפורום יכולים לעשות זאת."
    assert await count(app, SurveyPromotion) == 0


async def test_a_failing_agenda_service_loses_nothing(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    await mapping_answered_by_business(app, "ברור הממשק בין בלתי פורמלי לפורמלי")

    async def broken(session: Any, **kwargs: Any) -> Any:
        session.add(Survey(forum_id=1, title="half-written", request_key="x", created_at=datetime.now(UTC)))
        await session.flush()
        raise TypeError("propose_item() got an unexpected keyword argument 'person'")

    monkeypatch.setitem(sys.modules, "bot.services.agenda.items", types.SimpleNamespace(propose_item=broken))
    async with app.db.unit_of_work() as session:
        answer_id = max(a.id for a in (await session.scalars(select(SurveyAnswer))).all())  # the written one, last
        promotion, created = await surveys.promote_answer(
            session, answer_id, "agenda", await session.get(Person, 1), app.clock.now()
        )
        assert created and promotion.status == "pending" and "unexpected keyword" in (promotion.last_error or "")
    assert (
        await count(app, SurveyPromotion) == 1 and await count(app, Survey) == 1
    )  # the other service's half-work is gone


async def test_the_school_forums_needs_survey_goes_out_every_late_august(app: App, clock: FixedClock) -> None:
    await import_demo(app)
    principal = await register(app, "principal", await make_invite(app, SCHOOL, "principal"))
    parent = await register(app, "parent", await make_invite(app, SCHOOL, "parents_committee"), form="m")
    clock.set(datetime(2027, 8, 24, 12, tzinfo=UTC))
    assert (await run_due(app, clock.now()))["school_needs_surveys"] == 0  # not yet
    clock.set(datetime(2027, 8, 25, 6, 30, tzinfo=UTC))  # Wednesday 25 August 2027, 09:30 in Jerusalem
    assert (await run_due(app, clock.now()))["school_needs_surveys"] == 1  # one school forum has members
    assert (await run_due(app, clock.now()))["school_needs_surveys"] == 0
    await app.delivery.drain()
    notice = last_text(parent)
    assert notice.startswith("שאלון: צורכי חברי הפורום לקראת שנת הלימודים")
    assert "לפני פתיחת שנה יש לבחון את הצרכים של חברי הפורום ולקבוע את המנגנונים לניהולו במהלך השנה." in notice
    await press(parent, "מילוי השאלון")
    await press(parent, "☐ ביטחון ובטיחות")
    question = await press(parent, "הבא")
    assert "אילו צרכים, קשיים וחסמים אתה רואה לקראת שנת הלימודים?" in question
    await parent.text_of("חסר שומר בשער בשעות הבוקר")
    assert "באיזו תדירות כדאי שהפורום ייפגש?" in last_text(parent)
    assert "אחת לחודש" in buttons_of(parent)
    async with app.db.sessions() as session:
        survey = await session.scalar(select(Survey))
        assert survey is not None and survey.request_key == "needs:2027" and survey.template == d.NEEDS
    clock.set(datetime(2028, 8, 27, 7, tzinfo=UTC))  # next year, Sunday 27 August 2028 (the 25th is a Friday)
    assert (await run_due(app, clock.now()))["school_needs_surveys"] == 1
    assert await count(app, Survey) == 2
    assert principal.name == "principal"


async def test_export_survey_from_the_command_line(sqlite_app: App, sqlite_url: str, tmp_path: Path) -> None:
    from tests.test_cli import forumbot

    await mapping_answered_by_business(sqlite_app, "כתיבת תכנית תלת שנתית", importance="5")
    env = {"DATABASE_URL": sqlite_url}
    done = forumbot(tmp_path, "export", "survey", "--id", "1", "--format", "xlsx", "--out", "mapping.xlsx", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "wrote 1 rows to mapping.xlsx"
    sheet = load_workbook(tmp_path / "mapping.xlsx").active
    assert sheet is not None and sheet["K2"].value == "כתיבת תכנית תלת שנתית"
    csv_run = forumbot(tmp_path, "export", "survey", "--id", "1", env=env)
    assert csv_run.returncode == 0 and (tmp_path / "survey-1.csv").read_bytes().startswith("\ufeff".encode())
    missing = forumbot(tmp_path, "export", "survey", "--id", "99", env=env)
    assert missing.returncode == 2 and "survey 99: There is no such survey." in missing.stderr
    assert "Traceback" not in missing.stderr
    assert forumbot(tmp_path, "export", "--help").returncode == 0
    no_id = forumbot(tmp_path, "export", "survey", env=env)
    assert no_id.returncode == 2 and "export survey needs --id N" in no_id.stderr
    piped = forumbot(tmp_path, "export", "survey", "--id", "1", "--output", "-", "--language", "en", env=env)
    assert piped.stdout.splitlines()[0].lstrip("\ufeff").startswith('Respondent,Role,Last answered,"1. How important')


def test_every_keshet_plural_has_all_its_forms() -> None:
    from babel.messages.pofile import read_po

    from bot.i18n import locales_dir

    for locale, forms in (("he", 3), ("ar", 6), ("en", 2)):
        with (locales_dir() / locale / "LC_MESSAGES" / "keshet.po").open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        for message in catalog:
            if isinstance(message.id, tuple):
                assert len(message.string) == forms and all(message.string), (locale, message.id)
    he = Translator("he")
    assert [he.n_("Sent to one member.", "Sent to {n} members.", n) for n in (1, 2, 7)] == [
        "נשלח לחבר אחד.",
        "נשלח לשני חברים.",
        "נשלח ל־7 חברים.",
    ]
