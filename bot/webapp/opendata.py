"""The national picture as open data: CSV and JSON with one documented schema (README, *Web page*).

Each row is one district × area × month. Counts under ``SUPPRESS_BELOW`` (5) are withheld: null in
JSON, empty in CSV. No names, no unit below the district.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

from fastapi.responses import Response

from bot.services.web.stats import SUPPRESS_BELOW, Cell

FIELDS = ("district", "district_name", "area", "month", "raised", "resolved", "open_at_end")
SCHEMA = {
    "district": "the district's unit code",
    "district_name": "the district's name as imported",
    "area": "staffing, safety, transport, welfare, pedagogy, infrastructure, budget or other",
    "month": "YYYY-MM, Israel time",
    "raised": "issues raised that month in the district's authorities and schools (and the district itself)",
    "resolved": "of the district's issues, those resolved that month (at any tier)",
    "open_at_end": "the district's issues still unresolved at the end of that month",
    "suppressed": f"a count under {SUPPRESS_BELOW} is null (JSON) or empty (CSV)",
}


def to_csv(cells: list[Cell]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for cell in cells:
        row = asdict(cell)
        writer.writerow(["" if row[f] is None else row[f] for f in FIELDS])
    return "\ufeff" + buffer.getvalue()  # Excel opens UTF-8 with a BOM with Hebrew intact


def to_json(cells: list[Cell]) -> str:
    return json.dumps({"schema": SCHEMA, "suppress_below": SUPPRESS_BELOW,
                       "rows": [asdict(c) for c in cells]}, ensure_ascii=False)


def response(cells: list[Cell], fmt: str) -> Response:
    if fmt == "csv":
        return Response(to_csv(cells), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="national.csv"'})
    return Response(to_json(cells), media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="national.json"'})
