from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.services.forums.orgs import OrgImportError, import_org_rows, parse_org_csv
from bot.storage.models import Forum, OrgUnit
from tests.conftest import DEMO_ORG
from tests.helpers import import_demo


async def count(app: App, model: type) -> int:
    async with app.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_demo_file_imports_the_whole_tree(app: App) -> None:
    await import_demo(app)
    async with app.db.sessions() as session:
        units = {u.code: u for u in (await session.scalars(select(OrgUnit))).all()}
        forums = {f.code: f for f in (await session.scalars(select(Forum))).all()}
    assert sum(u.tier == "district" for u in units.values()) == 8
    assert units["A2100"].parent_id == units["D-HAIFA"].id
    assert units["D-HAIFA"].parent_id == units["HQ"].id
    assert forums["HQ"].cadence == "weekly"
    assert forums["A2100"].cadence == "monthly"
    assert forums["A0494"].settings["observances"] == ["druze"]
    assert len(forums) == len(units)


async def test_reimport_updates_and_never_duplicates(app: App) -> None:
    await import_demo(app)
    before_units, before_forums = await count(app, OrgUnit), await count(app, Forum)
    text = DEMO_ORG.read_text(encoding="utf-8").replace("עיריית טירת כרמל", "עיריית טירת הכרמל")
    async with app.db.unit_of_work() as session:
        report = await import_org_rows(session, parse_org_csv(text), now=app.clock.now())
    assert report.updated == 1 and report.created == 0 and report.forums_created == 0
    assert (await count(app, OrgUnit), await count(app, Forum)) == (before_units, before_forums)
    async with app.db.sessions() as session:
        unit = await session.scalar(select(OrgUnit).where(OrgUnit.code == "A2100"))
    assert unit is not None and unit.name == "עיריית טירת הכרמל"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("S1,בית ספר,school,", "needs a parent_code"),
        ("S1,בית ספר,college,A1", "is not one of hq, district, authority, school"),
        ("S 1,בית ספר,school,A1", "must be 1-32 letters"),
        ("A1,כפל,authority,D1", "already given on line 3"),
        ("S1,,school,A1", "name must be"),
        ("S1,בית ספר,school,A1,School,martian", "sector 'martian'"),
        ("S1,בית ספר,school,A1,x,state,extra", "more fields than columns"),
    ],
)
def test_bad_rows_name_file_line_and_reason(row: str, reason: str) -> None:
    text = "code,name,tier,parent_code,name_en,sector\nD1,מחוז,district,HQ\nA1,רשות,authority,D1\n" + row + "\n"
    with pytest.raises(OrgImportError) as caught:
        parse_org_csv(text, "units.csv")
    assert any(p.startswith("units.csv:4:") and reason in p for p in caught.value.problems), caught.value.problems


def test_missing_column_is_reported() -> None:
    with pytest.raises(OrgImportError, match="missing column"):
        parse_org_csv("code,name,tier\nHQ,מטה,hq\n", "x.csv")


async def test_a_bad_parent_imports_nothing(app: App) -> None:
    text = (
        "code,name,tier,parent_code\nHQ,מטה,hq,\nD1,מחוז,district,HQ\n"
        "S1,בית ספר,school,D1\nS2,בית ספר,school,NOPE\n"
    )
    rows = parse_org_csv(text, "units.csv")
    with pytest.raises(OrgImportError) as caught:
        async with app.db.unit_of_work() as session:
            await import_org_rows(session, rows, now=app.clock.now(), filename="units.csv")
    problems = caught.value.problems
    assert "units.csv:4: a school's parent must be a authority, D1 is a district" in problems
    assert "units.csv:5: parent_code NOPE is not in the file or the database" in problems
    assert await count(app, OrgUnit) == 0
