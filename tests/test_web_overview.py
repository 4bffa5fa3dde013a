"""The tree, trends and the national picture over HTTP: who may see them, what they count, and the
open data's suppression of small cells — on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from bot.services.escalation import forwarding as escalation
from bot.storage.models import Forum, Person
from bot.storage.models_polls import Meeting
from tests.test_escalation import DISTRICT, HQ, SCHOOL, raise_
from tests.web_helpers import client, link_from_chat, world


async def forum_id(app: App, code: str) -> int:
    async with app.db.sessions() as session:
        found = await session.scalar(select(Forum.id).where(Forum.code == code))
        assert found is not None
        return found


async def test_the_tree_marks_what_is_stuck_and_who_may_see_it(app: App) -> None:
    w = await world(app)
    school = await forum_id(app, SCHOOL)
    async with app.db.unit_of_work() as session:
        session.add(Meeting(forum_id=school, starts_at=app.clock.now() - timedelta(days=1), status="held",
                            ics_uid="web-test-1", created_at=app.clock.now(), updated_at=app.clock.now()))
    district = await forum_id(app, DISTRICT)
    async with client(app) as http:
        await http.get(await link_from_chat(app, "moshe"))
        r = await http.get(f"/web/tree/{district}")
        assert r.status_code == 200 and 'id="tree"' in r.text
        html = r.text
        authority_row = next(r for r in html.split('<tr class="unit-top')[1:] if "טירת כרמל" in r.split("</tr>")[0])
        authority_row = authority_row.split("</tr>", 1)[0]
        assert authority_row.startswith(" stuck")  # a gap waiting, no meeting this month
        school_row = html.split("יסודי אלונים", 1)[1].split("</tr>", 1)[0]
        assert "כן" in school_row  # met this month, its principal reachable
        stuck = (await http.get(f"/web/tree/{district}?stuck=1")).text
        assert "טירת כרמל" in stuck and "יסודי אלונים" not in stuck
    async with client(app) as http:
        await http.get(await link_from_chat(app, "noa"))  # a school principal
        assert (await http.get(f"/web/tree/{district}")).status_code == 403
        assert (await http.get(f"/web/trends/{district}")).status_code == 403
        assert (await http.get(f"/web/tree/{school}")).status_code in (403, 404)
    assert w.gap_id


async def test_trends_count_new_resolved_and_the_median_wait(app: App) -> None:
    w = await world(app)
    app.clock.advance(timedelta(days=3))
    async with app.db.unit_of_work() as session:
        rina = await session.get(Person, w.ids["rina"])
        await escalation.answer(session, gap_id=w.gap_id, person=rina, text="טופל", now=app.clock.now())
    district = await forum_id(app, DISTRICT)
    async with client(app) as http:
        await http.get(await link_from_chat(app, "moshe"))
        r = await http.get(f"/web/trends/{district}")
        assert r.status_code == 200 and "<svg" in r.text
        months = r.text.split('id="months"', 1)[1]
        last = months.split("<tbody>", 1)[1].split("</tbody>")[0].strip().split("<tr>")[-1]
        cells = [c.split("</td>")[0] for c in last.split('<td class="n">')[1:]]
        assert cells == ["1", "1", "0", "3"]  # new, resolved, still open, median days
        by_tier = r.text.split('id="by-tier"', 1)[1].split("</table>", 1)[0]
        assert "רשויות מקומיות" in by_tier  # answered by the authority


async def test_the_national_picture_suppresses_small_cells_and_is_open_data(app: App) -> None:
    w = await world(app)
    for n in range(5):
        await raise_(app, w.ids["dana"], SCHOOL, f"פער מספר {n}", now=app.clock.now(), category="safety")
    async with client(app) as http:
        await http.get(await link_from_chat(app, "moshe"))
        assert (await http.get("/web/national")).status_code == 403
        assert (await http.get("/web/national.json")).status_code == 403
    async with client(app) as http:
        await http.get(await link_from_chat(app, "hq"))
        page = await http.get("/web/national")
        assert page.status_code == 200 and "&lt;5" in page.text
        data = (await http.get("/web/national.json")).json()
        assert data["suppress_below"] == 5 and "open_at_end" in data["schema"]
        rows = {(r["district"], r["area"], r["month"]): r for r in data["rows"]}
        month = app.clock.now().strftime("%Y-%m")
        assert rows[(DISTRICT, "safety", month)]["raised"] == 5
        assert rows[(DISTRICT, "transport", month)]["raised"] is None  # one issue: withheld
        text = json.dumps(data, ensure_ascii=False)
        for name in ("דנה", "אבי", "אלונים", "טירת כרמל"):  # no people, no school, no authority
            assert name not in text
        raw = (await http.get("/web/national.csv")).content.decode("utf-8-sig")
        table = list(csv.DictReader(io.StringIO(raw)))
        assert {r["area"]: r["raised"] for r in table if r["month"] == month} == {"safety": "5", "transport": ""}
    assert HQ


async def test_members_see_the_agenda_and_their_gaps_and_leads_the_poll_grid(app: App) -> None:
    from zoneinfo import ZoneInfo

    from bot.services.meetings import polls

    w = await world(app)
    tz = ZoneInfo("Asia/Jerusalem")
    school = await forum_id(app, SCHOOL)
    async with app.db.unit_of_work() as session:
        from bot.services.forums.access import load_forum

        dana = await session.get(Person, w.ids["dana"])
        forum = await load_forum(session, school)
        draft = await polls.start_draft(session, forum, dana, now=app.clock.now(), tz=tz)
        await polls.publish(session, draft.id, person=dana, now=app.clock.now(), tz=tz)
        options = await polls.options_of(session, draft.id)
        avi = await session.get(Person, w.ids["avi"])
        await polls.vote(session, draft.id, avi, chosen={options[0].id}, none_works=False, channel="console",
                         now=app.clock.now(), tz=tz)
    async with client(app) as http:
        await http.get(await link_from_chat(app, "avi"))  # a parent: a member, not a lead
        r = await http.get(f"/web/forum/{school}")
        assert r.status_code == 200
        mine = r.text.split('id="mine"', 1)[1].split("</section>", 1)[0]
        assert "אין הסעה לשכונה החדשה" in mine and "עכשיו ב" in mine and "ממתין" in mine
        assert 'id="poll-grid"' not in r.text  # the grid is the lead's
        assert (await http.get(f"/web/forum/{await forum_id(app, DISTRICT)}")).status_code == 403
    async with client(app) as http:
        await http.get(await link_from_chat(app, "dana"))
        r = await http.get(f"/web/forum/{school}")
        grid = r.text.split('id="poll-grid"', 1)[1].split("</table>", 1)[0]
        avi_row = grid.split("אבי כהן", 1)[1].split("</tr>", 1)[0]
        assert avi_row.count("cell-yes") == 1 and avi_row.count("cell-no") == len(options) - 1
        assert "<tfoot>" in grid and "/" in grid.split("<tfoot>", 1)[1]


async def test_an_administrator_finds_hq_and_the_districts_on_the_home_page(app: App) -> None:
    from sqlalchemy import update

    w = await world(app)
    async with app.db.unit_of_work() as session:
        await session.execute(update(Person).where(Person.id == w.ids["noa"]).values(is_admin=True))
    district, hq = await forum_id(app, DISTRICT), await forum_id(app, HQ)
    async with client(app) as http:
        await http.get(await link_from_chat(app, "noa"))
        home = (await http.get("/web")).text
        assert f"/web/board/{hq}" in home and f"/web/tree/{district}" in home
        assert (await http.get(f"/web/board/{district}")).status_code == 200
        assert (await http.get("/web/national")).status_code == 200
