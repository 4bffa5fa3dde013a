"""Spreadsheets of a forum's issues, agenda items and decisions: CSV that Excel opens with Hebrew
intact (UTF-8 with a BOM) and XLSX with a right-to-left sheet for Hebrew and Arabic.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.agenda import ItemOrigin
from bot.domain.permissions import Action
from bot.i18n import N_, Ltr, Translator, ascii_filename
from bot.services import audit, sheets
from bot.services.agenda.items import ONLY_LEAD, people_by_id, require
from bot.services.meetings.outcomes import decisions_of, subject_key, subject_titles
from bot.services.texts import (
    category_label,
    from_tier_label,
    item_status_label,
    kind_label,
    status_label,
    who,
)
from bot.storage.models import Forum, OrgUnit, Person
from bot.storage.models_agenda import AgendaItem, RaisedIssue

Cell = str | int | date | datetime | None


class What(StrEnum):
    ISSUES = "issues"
    AGENDA = "agenda"
    DECISIONS = "decisions"


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


MIME = {
    Format.CSV: "text/csv",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SHEET_TITLES = {What.ISSUES: N_("Raised issues"), What.AGENDA: N_("Agenda items"), What.DECISIONS: N_("Decisions")}


_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u2066\u2067\u2068\u2069"), None)


def _clean(value: Cell) -> Cell:
    """Chat messages need bidi marks; a spreadsheet cell does not (they would break sorting and filters)."""
    return value.translate(_MARKS) if isinstance(value, str) else value


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Cell]]

    def __post_init__(self) -> None:
        self.title = str(_clean(self.title))
        self.headers = [str(_clean(h)) for h in self.headers]
        self.rows = [[_clean(v) for v in row] for row in self.rows]


@dataclass(frozen=True)
class ExportFile:
    name: str  # in the reader's language
    mime: str
    data: bytes
    rows: int
    ascii_name: str = ""  # the same from the English msgid (the CLI's default, an ASCII-only channel)


FILE_NAMES = {
    What.ISSUES: N_("issues-{forum}"), What.AGENDA: N_("agenda-{forum}"), What.DECISIONS: N_("decisions-{forum}"),
}


def _local(at: datetime | None, tz: ZoneInfo) -> datetime | None:
    return at.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) if at is not None else None


Listed = TypeVar("Listed", RaisedIssue, AgendaItem)


async def _oldest_first(session: AsyncSession, model: type[Listed], forum: Forum) -> Sequence[Listed]:
    """The forum's issues or agenda items, in the order they were raised or proposed."""
    stmt = select(model).where(model.forum_id == forum.id).order_by(model.created_at, model.id)
    return (await session.scalars(stmt)).all()


async def issues_table(session: AsyncSession, forum: Forum, t: Translator) -> Table:
    unit: OrgUnit = forum.org_unit
    rows = await _oldest_first(session, RaisedIssue, forum)
    people = await people_by_id(session, [i.raiser_person_id for i in rows] + [i.owner_person_id for i in rows])
    headers = [
        t._("Number"), t._("Raised on"), t._("Kind"), t._("Category"), t._("Title"), t._("Details"),
        t._("Raised by"), t._("Status"), t._("In charge"), t._("Due date"), t._("Resolution or reason"),
        t._("Last change"),
    ]
    body: list[list[Cell]] = [
        [
            i.id,
            _local(i.created_at, t.tz),
            kind_label(t, i.kind),
            category_label(t, i.category),
            i.title,
            i.details,
            who(t, unit, forum, i.raiser_role, people.get(i.raiser_person_id or 0), show_name=i.show_name),
            status_label(t, i.status),
            who(t, unit, forum, i.owner_role, people.get(i.owner_person_id or 0)) if i.owner_role else "",
            i.due_date,
            i.resolution or i.decline_reason or "",
            _local(i.updated_at, t.tz),
        ]
        for i in rows
    ]
    return Table(t._(SHEET_TITLES[What.ISSUES]), headers, body)


async def agenda_table(session: AsyncSession, forum: Forum, t: Translator) -> Table:
    unit: OrgUnit = forum.org_unit
    items = await _oldest_first(session, AgendaItem, forum)
    people = await people_by_id(session, [i.proposer_person_id for i in items])
    origin_ids = {i.origin_forum_id for i in items if i.origin_forum_id}
    tiers: dict[int, str] = {}
    if origin_ids:
        found = await session.execute(
            select(Forum.id, OrgUnit.tier)
            .join(OrgUnit, Forum.org_unit_id == OrgUnit.id)
            .where(Forum.id.in_(origin_ids))
        )
        tiers = {forum_id: tier for forum_id, tier in found.all()}
    decided = {d.item_id: d for d in await decisions_of(session, forum.id) if d.item_id}
    headers = [
        t._("Number"), t._("Proposed on"), t._("Title"), t._("Details"), t._("Proposed by"), t._("Status"),
        t._("Order"), t._("Meeting"), t._("Decision"), t._("Reason for declining"),
    ]
    body: list[list[Cell]] = []
    for i in items:
        if i.origin == ItemOrigin.ABOVE:
            by = from_tier_label(t, tiers.get(i.origin_forum_id or 0))
        else:
            by = who(t, unit, forum, i.proposer_role, people.get(i.proposer_person_id or 0))
        decision = decided.get(i.id)
        body.append([
            i.id, _local(i.created_at, t.tz), i.title, i.details or "", by, item_status_label(t, i.status),
            i.position if i.status == "accepted" else None,
            _local(decision.meeting_at, t.tz) if decision else None,
            decision.text if decision else "", i.decline_reason or "",
        ])
    return Table(t._(SHEET_TITLES[What.AGENDA]), headers, body)


async def decisions_table(session: AsyncSession, forum: Forum, t: Translator) -> Table:
    unit: OrgUnit = forum.org_unit
    decisions = await decisions_of(session, forum.id)
    titles = await subject_titles(session, decisions)
    people: dict[int, Person] = await people_by_id(session, [d.owner_person_id for d in decisions])
    headers = [
        t._("Meeting"), t._("Subject"), t._("Status"), t._("Decision"), t._("In charge"), t._("Due date"),
        t._("Recorded on"),
    ]
    body: list[list[Cell]] = [
        [
            _local(d.meeting_at, t.tz),
            titles.get(subject_key(d), ""),
            status_label(t, d.status) if d.status else "",
            d.text or "",
            who(t, unit, forum, d.owner_role, people.get(d.owner_person_id or 0)) if d.owner_role else "",
            d.due_date,
            _local(d.recorded_at, t.tz),
        ]
        for d in decisions
    ]
    return Table(t._(SHEET_TITLES[What.DECISIONS]), headers, body)


def to_csv(table: Table) -> bytes:
    """UTF-8 with a BOM (so Excel reads Hebrew and Arabic); user text made inert (``sheets``)."""
    return sheets.csv_bytes([table.headers, *table.rows])


def to_xlsx(table: Table, *, rtl: bool) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.title[:31]
    sheet.sheet_view.rightToLeft = rtl
    sheets.write_rows(sheet, [table.headers, *table.rows])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(h) for h in table.headers]
    for row in table.rows:
        for n, value in enumerate(row):
            widths[n] = max(widths[n], min(60, len(sheets.as_text(value))))
    for n, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(n)].width = max(10, width + 2)
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
            else:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


BUILDERS = {What.ISSUES: issues_table, What.AGENDA: agenda_table, What.DECISIONS: decisions_table}


async def export(
    session: AsyncSession, *, forum: Forum, what: What | str, fmt: Format | str, t: Translator,
    person: Person | None = None, operator: bool = False, now: datetime | None = None,
) -> ExportFile:
    """A forum's issues, agenda or decisions as a file: for ``person`` if they may, or the operator's CLI."""
    if not operator:
        await require(session, person, forum, Action.EXPORT, ONLY_LEAD)
    what, fmt = What(what), Format(fmt)
    table = await BUILDERS[what](session, forum, t)
    data = to_csv(table) if fmt is Format.CSV else to_xlsx(table, rtl=t.rtl)
    if person is not None:  # who took the forum's data away, and what (access is audited)
        audit.record(
            session, now=now or datetime.now(UTC), action="forum.export", actor_person_id=person.id,
            subject=f"forum:{forum.id}", details={"what": what.value, "format": fmt.value, "rows": len(table.rows)},
        )
    stem = FILE_NAMES[what]
    return ExportFile(
        name=t.filename(stem, fmt.value, forum=Ltr(forum.code)), mime=MIME[fmt], data=data, rows=len(table.rows),
        ascii_name=ascii_filename(stem, fmt.value, forum=forum.code),
    )
