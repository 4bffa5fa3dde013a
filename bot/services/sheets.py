"""Writing spreadsheets that stay inert: the one place every CSV and XLSX export goes through.

What members type (an issue's title, an agenda item, a display name, a survey answer) ends up in
a file a lead opens in Excel or LibreOffice. A cell whose text begins with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return would be read there as a formula (``=HYPERLINK(...)`` leaking
data, ``+cmd|...`` running a program), so such text gets a leading ``'`` as OWASP recommends
(https://owasp.org/www-community/attacks/CSV_Injection), in CSV and in XLSX alike, and every XLSX
cell holding text is typed as a string, never as a formula. Numbers and dates that the export
itself produced are written as numbers and dates.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from openpyxl.worksheet.worksheet import Worksheet

Value = str | int | float | date | datetime | None

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Invisible characters a spreadsheet may skip before it decides that a cell is a formula.
_INVISIBLE = " \u00a0\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
# Full-width look-alikes that some spreadsheets also accept as the start of a formula.
_WIDE = ("\uff1d", "\uff0b", "\uff0d", "\uff20")


def inert(text: str) -> str:
    """``text`` as it may go into a cell: with a leading ``'`` when it could start a formula."""
    head = text.lstrip(_INVISIBLE)
    if text.startswith(TRIGGERS) or head.startswith(TRIGGERS + _WIDE):
        return "'" + text
    return text


def cell_value(value: Value) -> Value:
    """A value for a cell: text made inert, numbers and dates as they are."""
    return inert(value) if isinstance(value, str) else value


def as_text(value: Value) -> str:
    """How a value reads in a CSV cell (dates as ISO, minutes for times)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_bytes(rows: Iterable[Sequence[Value]]) -> bytes:
    """UTF-8 with a BOM (so Excel reads Hebrew and Arabic), comma-separated, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([as_text(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def write_rows(sheet: Worksheet, rows: Iterable[Sequence[Value]], *, first_row: int = 1) -> int:
    """Write ``rows`` into ``sheet`` from ``first_row`` on; text cells are inert and typed as strings.

    Returns the number of rows written.
    """
    count = 0
    for count, values in enumerate(rows, 1):
        for column, value in enumerate(values, 1):
            cell = sheet.cell(row=first_row + count - 1, column=column)
            cell.value = cell_value(value)
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl types text that starts with "=" as a formula
    return count
