"""National-scale escalation: build every coordinator's digest at once.

Seeds 1 HQ, 8 districts, 257 authorities and 5,000 schools (one main forum each), 50,000 members
and 20,000 open issues raised in schools and forwarded up (merged into gaps per authority; some
forwarded on to the districts and HQ), with bulk Core inserts. Then times, on SQLite and on
PostgreSQL:

* ``build``: ``escalation_digest.build_digests`` for every forum (two streamed, set-based queries);
* ``render``: the Hebrew text of every digest, split into messages;
* ``window``: ``escalation.due_for_forwarding`` (the scan the auto-forwarding job runs each tick);

and prints seconds and peak memory (Python allocations traced during build + render, and the
process's peak RSS).

    python -m bench.escalation [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload

from bench.common import peak_rss_mb, run, scratch_database
from bot.domain.escalation import normalise, split_lines
from bot.i18n import Translator
from bot.services.escalation import digest as escalation_digest
from bot.services.escalation import forwarding as escalation
from bot.storage.db import Database
from bot.storage.models import Forum, Membership, OrgUnit, Person
from bot.storage.models_agenda import RaisedIssue
from bot.storage.models_escalation import EscalatedGap, EscalationLink

DISTRICTS, AUTHORITIES, SCHOOLS, MEMBERS, ISSUES = 8, 257, 5000, 50_000, 20_000
NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
TITLES = [f"{a} {b}" for a in ("מחסור ב", "חוסר ב", "עיכוב ב", "תקלה ב") for b in
          ("יועצת", "הסעות", "מזגנים", "שומר", "תקציב טיולים", "סייעת", "מרחב מוגן", "ציוד מחשוב", "מורה לאנגלית",
           "תחבורה ציבורית")]
CATEGORIES = ["staffing", "transport", "infrastructure", "safety", "budget", "welfare", "pedagogy", "other"]
CHUNK = 5000


async def bulk(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with db.unit_of_work() as session:
            await session.execute(insert(table), rows[start:start + CHUNK])


async def seed(db: Database) -> dict[str, int]:
    rnd = random.Random(6)
    units: list[dict[str, Any]] = [{"id": 1, "code": "HQ", "name": "מטה משרד החינוך", "tier": "hq", "parent_id": None}]
    districts = list(range(2, 2 + DISTRICTS))
    authorities = list(range(districts[-1] + 1, districts[-1] + 1 + AUTHORITIES))
    schools = list(range(authorities[-1] + 1, authorities[-1] + 1 + SCHOOLS))
    units += [{"id": i, "code": f"D{i}", "name": f"מחוז {i}", "tier": "district", "parent_id": 1} for i in districts]
    units += [{"id": i, "code": f"A{i}", "name": f"רשות {i}", "tier": "authority",
               "parent_id": districts[n % DISTRICTS]} for n, i in enumerate(authorities)]
    parent_of = {u["id"]: u["parent_id"] for u in units}
    units += [{"id": i, "code": f"S{i}", "name": f"בית ספר {i}", "tier": "school",
               "parent_id": authorities[n % AUTHORITIES]} for n, i in enumerate(schools)]
    for u in units:
        u.update(name_en=None, sector=None, created_at=NOW, updated_at=NOW)
        parent_of[u["id"]] = u["parent_id"]
    await bulk(db, OrgUnit, units)
    # One main forum per unit, with the same id as its unit.
    await bulk(db, Forum, [{"id": u["id"], "code": u["code"], "org_unit_id": u["id"], "kind": "main",
                            "cadence": "monthly", "settings": {}, "created_at": NOW} for u in units])
    await bulk(db, Person, [{"id": i, "display_name": f"חבר {i}", "address_form": "p", "locale": "he",
                             "is_admin": False, "created_at": NOW, "last_active_at": NOW}
                            for i in range(1, MEMBERS + 1)])
    lead_role = {"hq": "hq_coordinator", "district": "district_manager", "authority": "education_department_head",
                 "school": "principal"}
    tier_of = {u["id"]: u["tier"] for u in units}
    memberships = []
    for n, unit_id in enumerate([1, *districts, *authorities]):  # a lead for every forum above the schools
        memberships.append({"person_id": n + 1, "forum_id": unit_id, "role": lead_role[tier_of[unit_id]]})
    person = len(memberships)
    for n in range(MEMBERS - person):
        school = schools[n % SCHOOLS]
        memberships.append({"person_id": person + n + 1, "forum_id": school,
                            "role": "principal" if n < SCHOOLS else "parent"})
    for m in memberships:
        m.update(created_at=NOW)
    await bulk(db, Membership, memberships)

    # 20,000 issues raised in schools, forwarded to their authorities over the last 60 days.
    issues, gaps, links = [], [], []
    gap_by_key: dict[tuple[int, str, str], int] = {}
    gap_forum: dict[int, int] = {}
    gap_links: dict[int, list[tuple[int, int]]] = {}
    for issue_id in range(1, ISSUES + 1):
        school = rnd.choice(schools)
        title = rnd.choice(TITLES)  # one area per wording: similar gaps of a school's authority merge
        category = CATEGORIES[TITLES.index(title) % len(CATEGORIES)]
        at = NOW - timedelta(days=rnd.randint(1, 60))
        issues.append({"id": issue_id, "forum_id": school, "kind": rnd.choice(["need", "difficulty", "blocker"]),
                       "category": category, "title": title, "details": "…", "show_name": False,
                       "raiser_person_id": None, "raiser_role": "parent", "status": "escalated", "carried_count": 0,
                       "created_at": at, "updated_at": at})
        key = (parent_of[school], category, title)
        gap_id = gap_by_key.get(key)
        if gap_id is None:
            gap_id = gap_by_key[key] = len(gaps) + 1
            gaps.append({"id": gap_id, "forum_id": key[0], "kind": "need", "category": category, "title": title,
                         "norm_title": normalise(title), "status": "open", "arrived_at": at,
                         "first_digest_at": None if rnd.random() < 0.3 else at, "created_at": at, "updated_at": at})
            gap_forum[gap_id] = key[0]
            gap_links[gap_id] = []
        links.append({"gap_id": gap_id, "issue_id": issue_id, "via_forum_id": school})
        gap_links[gap_id].append((issue_id, school))
    # A fifth of the authority gaps went on to their district, and a fifth of those to HQ.
    for level in range(2):
        movers = [g for g in list(gaps) if g["status"] == "open" and tier_of[g["forum_id"]] ==
                  ("authority", "district")[level] and rnd.random() < 0.2]
        up_keys: dict[tuple[int, str, str], int] = {}
        for g in movers:
            target = parent_of[g["forum_id"]]
            key = (target, g["category"], g["title"])
            up = up_keys.get(key)
            if up is None:
                up = up_keys[key] = len(gaps) + 1
                gaps.append({**g, "id": up, "forum_id": target, "status": "open", "first_digest_at": None})
                gap_links[up] = []
            g["status"], g["forwarded_to_gap_id"] = "forwarded", up
            for issue_id, _ in gap_links[g["id"]]:
                links.append({"gap_id": up, "issue_id": issue_id, "via_forum_id": g["forum_id"]})
                gap_links[up].append((issue_id, g["forum_id"]))
    for g in gaps:
        g.setdefault("forwarded_to_gap_id", None)
    for link in links:
        link.update(via="auto", created_at=NOW)
    await bulk(db, RaisedIssue, issues)
    await bulk(db, EscalatedGap, [{**g, "forwarded_to_gap_id": None} for g in gaps])
    await bulk(db, EscalationLink, links)
    return {"units": len(units), "members": len(memberships), "issues": len(issues), "gaps": len(gaps),
            "open gaps": sum(g["status"] == "open" for g in gaps), "links": len(links)}


async def build(db: Database) -> tuple[dict[int, escalation_digest.Digest], float]:
    started = time.perf_counter()
    async with db.sessions() as session:
        digests = await escalation_digest.build_digests(session, NOW)
    return digests, time.perf_counter() - started


async def render(db: Database, digests: dict[int, escalation_digest.Digest]) -> tuple[int, int, float]:
    started = time.perf_counter()
    t = Translator("he", "f")
    async with db.sessions() as session:
        units = await escalation_digest.unit_names(session, digests.values())
        forums_by_id = {f.id: f for f in (await session.scalars(
            select(Forum).where(Forum.id.in_(list(digests))).options(selectinload(Forum.org_unit))
        )).all()}
    messages = lines = 0
    for forum_id, digest in digests.items():
        text = escalation_digest.digest_lines(t, forums_by_id[forum_id], digest, units, NOW)
        lines += len(text)
        messages += len(split_lines(text, escalation_digest.PART_LIMIT))
    return lines, messages, time.perf_counter() - started


async def one(kind: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with scratch_database(kind, Path(folder)) as url:
            db = Database(url)
            try:
                started = time.perf_counter()
                counts = await seed(db)
                seeded = time.perf_counter() - started
                print(f"{kind}: seeded {counts} in {seeded:.1f} s")

                digests, built = await build(db)
                lines, messages, rendered = await render(db, digests)
                tracemalloc.start()
                again, _ = await build(db)
                await render(db, again)
                _, traced_peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                print(f"{kind}: built {len(digests)} digests in {built:.2f} s, rendered them in Hebrew "
                      f"({lines} lines, {messages} messages) in {rendered:.2f} s; peak traced "
                      f"{traced_peak / 2**20:.1f} MB, peak RSS {peak_rss_mb():.0f} MB")

                started = time.perf_counter()
                async with db.sessions() as session:
                    due_issues, due_gaps = await escalation.due_for_forwarding(session, NOW)
                print(f"{kind}: window scan found {len(due_issues)} issues and {len(due_gaps)} gaps past their "
                      f"window in {time.perf_counter() - started:.2f} s")
            finally:
                await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    for kind in ("sqlite", "postgres"):
        if args.only in (None, kind):
            await one(kind)


if __name__ == "__main__":
    run(main())
