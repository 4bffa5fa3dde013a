"""Exports of issues, agenda items and decisions: opened by a spreadsheet library, in the chat and on the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

from openpyxl import load_workbook

from bot.app import App
from bot.clock import FixedClock
from bot.config import Settings
from bot.storage.db import Database
from bot.storage.migrate import upgrade
from tests.conftest import T0
from tests.helpers import console_sender
from tests.test_agenda import SCHOOL, press, propose, raise_issue, record_decision, school, set_meeting
from tests.test_cli import forumbot


async def seed(app: App, clock: FixedClock) -> None:
    """Two issues, an accepted item, a declined one and a meeting with decisions."""
    dana, avi, rana = await school(app)
    await set_meeting(dana)
    await propose(avi, "הסעות לטיול השנתי", "צריך לסגור ספק")
    await press(dana, "אישור")
    await propose(avi, "נושא שנדחה")
    await press(dana, "סירוב")
    await dana.say("כבר נדון")
    await raise_issue(avi, "אין הסעה לשכונה החדשה")
    await raise_issue(rana, "חסרה יועצת", kind="צורך", show="name")
    await record_decision(dana, clock, "נבחר ספק", "רנא חורי (יועצת בית הספר)")
    await press(dana, "בעוד שבוע")
    await press(dana, "בטיפול")
    await press(dana, "דנה לוי (מנהלת בית הספר)")
    await press(dana, "בעוד חודש")
    await press(dana, "נפתר")
    await dana.say("אושרה משרה נוספת")
    await press(dana, "שליחת הסיכום")


async def export_in_chat(app: App, what: str, fmt: str) -> tuple[str, bytes]:
    from tests.test_agenda import ConsoleUser

    dana = ConsoleUser(app, "dana")
    await dana.say("/export")
    await press(dana, what)
    reply = await press(dana, fmt)
    name, data = console_sender(app).files[-1]
    assert reply.startswith(what)
    return name, data


async def test_the_lead_gets_issues_as_a_right_to_left_workbook(app: App, clock: FixedClock) -> None:
    await seed(app, clock)
    name, data = await export_in_chat(app, "פערים שהועלו", "Excel (xlsx)")
    assert name == f"פערים-{SCHOOL}.xlsx"  # in the reader's language (the CLI writes issues-CODE.xlsx)
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet is not None and sheet.title == "פערים שהועלו" and sheet.sheet_view.rightToLeft is True
    rows = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["מספר", "תאריך העלאה", "סוג", "תחום", "כותרת", "פירוט", "הועלה על ידי", "סטטוס", "באחריות",
                       "תאריך יעד", "פתרון או נימוק", "עדכון אחרון"]
    first, second = rows[1], rows[2]
    assert first[0] == 1 and first[2] == "חסם" and first[3] == "הסעות" and first[4] == "אין הסעה לשכונה החדשה"
    assert first[6] == "הורה" and first[7] == "בטיפול" and first[8] == "דנה לוי (מנהלת בית הספר)"
    assert str(first[9]).startswith("2026-12-31")
    assert second[6] == "רנא חורי (יועצת בית הספר)" and second[7] == "נפתר" and second[10] == "אושרה משרה נוספת"


async def test_agenda_and_decisions_as_csv_that_excel_reads(app: App, clock: FixedClock) -> None:
    await seed(app, clock)
    _, agenda_csv = await export_in_chat(app, "נושאים לסדר היום", "CSV")
    assert agenda_csv.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel opens Hebrew correctly
    rows = list(csv.reader(io.StringIO(agenda_csv.decode("utf-8-sig"))))
    assert rows[0][:6] == ["מספר", "תאריך הצעה", "כותרת", "פירוט", "הוצע על ידי", "סטטוס"]
    assert rows[1][2:6] == ["הסעות לטיול השנתי", "צריך לסגור ספק", "אבי כהן (הורה)", "הוחלט"]
    assert rows[1][8] == "נבחר ספק"
    assert rows[2][5] == "לא אושר" and rows[2][9] == "כבר נדון"
    _, decisions_csv = await export_in_chat(app, "החלטות", "CSV")
    decisions = list(csv.reader(io.StringIO(decisions_csv.decode("utf-8-sig"))))
    assert decisions[0] == ["פגישה", "נושא", "סטטוס", "החלטה", "באחריות", "תאריך יעד", "תאריך רישום"]
    assert [row[1] for row in decisions[1:]] == ["הסעות לטיול השנתי", "#1 אין הסעה לשכונה החדשה",
                                                 "#2 חסרה יועצת"]
    assert decisions[1][0] == "2026-12-01 18:00" and decisions[1][4] == "רנא חורי (יועצת בית הספר)"
    assert decisions[1][5] == "2026-12-08"


async def test_only_the_lead_exports(app: App, clock: FixedClock) -> None:
    await seed(app, clock)
    from tests.test_agenda import ConsoleUser

    avi = ConsoleUser(app, "avi")
    assert "רק מובילי הפורום" in await avi.text_of("/export")


def test_export_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'forumbot.sqlite3'}"
    upgrade(url)

    async def fill() -> None:
        clock = FixedClock(T0)
        settings = Settings(  # type: ignore[call-arg]
            DATABASE_URL=url, FORUMBOT_DATA_DIR=tmp_path, _env_file=None, FORUMBOT_FLOOD_EVENTS=0
        )
        app = App(settings=settings, db=Database(url), clock=clock)
        try:
            await seed(app, clock)
        finally:
            await app.close()

    asyncio.run(fill())
    env = {"DATABASE_URL": url}
    made = forumbot(tmp_path, "export", "issues", "--forum", SCHOOL, "--format", "xlsx", env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == f"wrote 2 rows to issues-{SCHOOL}.xlsx"
    sheet = load_workbook(tmp_path / f"issues-{SCHOOL}.xlsx").active
    assert sheet is not None and sheet.sheet_view.rightToLeft and sheet["E2"].value == "אין הסעה לשכונה החדשה"
    english = forumbot(tmp_path, "export", "decisions", "--forum", SCHOOL, "--language", "en", "--output",
                       str(tmp_path / "d.xlsx"), "--format", "xlsx", env=env)
    assert english.returncode == 0, english.stderr
    sheet = load_workbook(tmp_path / "d.xlsx").active
    assert sheet is not None and not sheet.sheet_view.rightToLeft and sheet["A1"].value == "Meeting"
    piped = forumbot(tmp_path, "export", "agenda", "--forum", SCHOOL, "--output", "-", env=env)
    assert piped.returncode == 0 and "הסעות לטיול השנתי" in piped.stdout
    wrong = forumbot(tmp_path, "export", "issues", "--forum", "NOPE", env=env)
    assert wrong.returncode == 2 and "There is no forum with the code NOPE." in wrong.stderr
    assert "Traceback" not in wrong.stderr
    assert forumbot(tmp_path, "export", "--help").returncode == 0
