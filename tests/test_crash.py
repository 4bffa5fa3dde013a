"""Crashes and faults: a bot killed mid-broadcast loses nothing; flaky APIs still get everything."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from bot.clock import SystemClock
from bot.storage.db import Database
from bot.storage.migrate import upgrade_async
from bot.storage.models import OutboxMessage
from tests.fakes.telegram import FakeTelegram
from tests.helpers import plain, queue_broadcast

pytestmark = pytest.mark.slow

N = 300


def start_bot(tmp_path: Path, url: str, fake: FakeTelegram, tag: str, **extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_", "DATABASE_", "REDIS_"))}
    env.update(
        {
            "DATABASE_URL": url,
            "FORUMBOT_DATA_DIR": str(tmp_path),
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_SERVER": fake.base_url,
            "TELEGRAM_POLLING_TIMEOUT": "1",
            "FORUMBOT_HTTP_PORT": "0",
            "TELEGRAM_RATE_PER_SECOND": "100",
            "FORUMBOT_SENDING_STALE_SECONDS": "3",
            **extra,
        }
    )
    log = (tmp_path / f"bot-{tag}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log, text=True
    )


async def unsent(url: str) -> int:

    db = Database(url)
    async with db.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
        )
    await db.dispose()
    return int(count or 0)


async def wait_until_delivered(url: str, *, attempts: int, also: Callable[[], bool] = lambda: True) -> None:
    """Look every half second, ``attempts`` times at most, until nothing is left to send (and ``also`` holds).

    It gives up quietly: the test's assertions afterwards say what was left.
    """
    for _ in range(attempts):
        if also() and await unsent(url) == 0:
            return
        await asyncio.sleep(0.5)


def per_chat(fake: FakeTelegram) -> dict[int, int]:
    counts: dict[int, int] = {}
    for message in fake.sent_messages():
        if message.method == "sendMessage":
            counts[message.chat_id] = counts.get(message.chat_id, 0) + 1
    return counts


async def test_sigkill_mid_broadcast_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    await upgrade_async(url)
    chats = list(range(800_000, 800_000 + N))
    async with FakeTelegram(enforce_limits=True, global_per_second=120) as fake:
        for chat in chats:
            fake.user(chat, "x")
        await queue_broadcast(url, chats)
        first = start_bot(tmp_path, url, fake, "first")
        try:
            await fake.wait_for_count(N // 3, method="sendMessage", timeout=60)
        finally:
            first.send_signal(signal.SIGKILL)  # no goodbye: whatever was in flight stays "sending"
            first.wait(timeout=30)
        sent_before = len(fake.requests_for("sendMessage", ok_only=True))
        second = start_bot(tmp_path, url, fake, "second")
        try:
            await wait_until_delivered(url, attempts=240)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
    counts = per_chat(fake)
    lost = [chat for chat in chats if chat not in counts]
    doubled = sum(c - 1 for c in counts.values() if c > 1)
    print(f"\nSIGKILL after {sent_before} of {N} sent: lost {len(lost)}, sent twice {doubled} (in flight at the kill)")
    assert lost == []
    assert await unsent(url) == 0
    assert doubled <= 100  # at most what two claimed batches had in flight


async def test_ten_percent_faults_still_deliver_everything(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    await upgrade_async(url)
    chats = list(range(900_000, 900_000 + 200))
    rng = random.Random(10)
    async with FakeTelegram() as fake:
        for chat in chats:
            fake.user(chat, "x")
        await queue_broadcast(url, chats)
        timeouts = 0

        async def sprinkle() -> None:
            nonlocal timeouts
            armed = 0
            while True:  # one call in ten fails: a 429, a 500 or a timeout
                calls = len(fake.requests_for("sendMessage"))
                if calls // 10 > armed:
                    armed = calls // 10
                    kind = rng.choice(["429", "500", "timeout"])
                    timeouts += kind == "timeout"
                    fake.fail_next("sendMessage", kind, retry_after=1, delay=2.5)  # type: ignore[arg-type]
                await asyncio.sleep(0.02)

        bot = start_bot(tmp_path, url, fake, "faults", TELEGRAM_REQUEST_TIMEOUT="1")
        faults = asyncio.create_task(sprinkle())
        try:
            await wait_until_delivered(url, attempts=360)
        finally:
            faults.cancel()
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)
    counts = per_chat(fake)
    failed = [r for r in fake.requests if r.method == "sendMessage" and not r.ok]
    lost = [chat for chat in chats if chat not in counts]
    doubled = sum(c - 1 for c in counts.values() if c > 1)
    print(f"\n{len(failed)} failed calls injected; lost {len(lost)}, sent twice {doubled} (timeouts: {timeouts})")
    assert len(failed) >= 15
    assert lost == []
    assert await unsent(url) == 0
    assert doubled <= timeouts  # only a timed-out call (which the API then carried out) can double


# -- SIGKILL while the escalation digests are being built and sent ---------------------------------

AUTHORITIES = 60  # forums with a digest due, two coordinators each (Hebrew and Arabic: two charts)
SCHOOLS_PER = 2
AUTO_PER_SCHOOL = 2  # issues past their window: forwarded by the same tick, before the digests
GAPS_PER = 4  # gaps that arrived before the latest slot: what the digests list
LEAD_ROLE = "education_department_head"


async def seed_escalations(url: str, now: datetime) -> dict[str, Any]:
    """A district's authorities with open gaps and coordinators on Telegram; schools below them with
    issues past their window. Times are relative to the real clock the bot runs on."""
    from bot.domain.escalation import digest_slot, normalise
    from bot.storage.models import ChannelIdentity, Forum, Membership, OrgUnit, Person
    from bot.storage.models_agenda import RaisedIssue
    from bot.storage.models_escalation import EscalatedGap, EscalationLink

    slot = digest_slot(now, ZoneInfo("Asia/Jerusalem"), {})
    arrived, old = slot - timedelta(days=1), now - timedelta(days=90)
    units: list[dict[str, Any]] = [
        {"id": 1, "code": "HQ", "name": "מטה", "tier": "hq", "parent_id": None},
        {"id": 2, "code": "D2", "name": "מחוז חיפה", "tier": "district", "parent_id": 1},
    ]
    authorities = list(range(3, 3 + AUTHORITIES))
    units += [{"id": a, "code": f"A{a}", "name": f"רשות {a}", "tier": "authority", "parent_id": 2} for a in authorities]
    schools: dict[int, list[int]] = {}
    next_id = authorities[-1] + 1
    for a in authorities:
        schools[a] = list(range(next_id, next_id + SCHOOLS_PER))
        next_id += SCHOOLS_PER
        units += [
            {"id": s, "code": f"S{s}", "name": f"בית ספר {s}", "tier": "school", "parent_id": a} for s in schools[a]
        ]
    for u in units:
        u.update(name_en=None, sector=None, created_at=old, updated_at=old)
    forums = [
        {
            "id": u["id"],
            "code": u["code"],
            "org_unit_id": u["id"],
            "kind": "main",
            "cadence": "monthly",
            "settings": {},
            "created_at": old,
        }
        for u in units
    ]
    people: list[dict[str, Any]] = []
    identities: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []
    coordinators: dict[int, list[int]] = {}  # authority forum -> coordinators' chat ids
    principals: dict[int, int] = {}  # school forum -> its principal's chat id

    def person(forum_id: int, role: str, locale: str) -> int:
        pid = len(people) + 1
        chat = 700_000 + pid
        people.append(
            {
                "id": pid,
                "display_name": f"חבר {pid}",
                "address_form": "f",
                "locale": locale,
                "is_admin": False,
                "created_at": old,
                "last_active_at": now,
            }
        )
        identities.append(
            {
                "id": pid,
                "channel": "telegram",
                "external_id": str(chat),
                "chat_id": str(chat),
                "person_id": pid,
                "status": "active",
                "created_at": old,
            }
        )
        memberships.append({"person_id": pid, "forum_id": forum_id, "role": role, "created_at": old})
        return chat

    for a in authorities:
        coordinators[a] = [person(a, LEAD_ROLE, "he"), person(a, LEAD_ROLE, "ar")]
        for s in schools[a]:
            principals[s] = person(s, "principal", "he")
    titles = ["מחסור ביועצת", "אין הסעה לשכונה", "מזגנים תקולים בכיתות", "מחסור בסייעות"]
    categories = ["staffing", "transport", "infrastructure", "welfare"]
    issues: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    gap_ids: dict[int, list[int]] = {}
    auto: dict[int, int] = {}  # issue past its window -> its school forum

    def issue(forum_id: int, title: str, category: str, status: str, at: datetime) -> int:
        iid = len(issues) + 1
        issues.append(
            {
                "id": iid,
                "forum_id": forum_id,
                "kind": "blocker",
                "category": category,
                "title": title,
                "details": "…",
                "show_name": False,
                "raiser_person_id": None,
                "raiser_role": "parent",
                "status": status,
                "carried_count": 0,
                "created_at": at,
                "updated_at": at,
            }
        )
        return iid

    for a in authorities:
        gap_ids[a] = []
        for n in range(GAPS_PER):
            origin = schools[a][n % SCHOOLS_PER]
            origin_issue = issue(origin, titles[n], categories[n], "escalated", arrived - timedelta(days=20))
            gid = len(gaps) + 1
            gaps.append(
                {
                    "id": gid,
                    "forum_id": a,
                    "kind": "blocker",
                    "category": categories[n],
                    "title": titles[n],
                    "norm_title": normalise(titles[n]),
                    "status": "open",
                    "arrived_at": arrived,
                    "first_digest_at": None,
                    "created_at": arrived,
                    "updated_at": arrived,
                    "forwarded_to_gap_id": None,
                }
            )
            links.append(
                {"gap_id": gid, "issue_id": origin_issue, "via_forum_id": origin, "via": "lead", "created_at": arrived}
            )
            gap_ids[a].append(gid)
        for s in schools[a]:
            # One joins a gap already there (same area, close wording); one becomes a gap of its own.
            auto[issue(s, "מחסור ביועצות", "staffing", "open", old)] = s
            auto[issue(s, f"חסר ציוד מחשוב {s}", "pedagogy", "open", old)] = s
    db = Database(url)
    for table, rows in (
        (OrgUnit, units),
        (Forum, forums),
        (Person, people),
        (ChannelIdentity, identities),
        (Membership, memberships),
        (RaisedIssue, issues),
        (EscalatedGap, gaps),
        (EscalationLink, links),
    ):
        async with db.unit_of_work() as session:
            await session.execute(insert(table), rows)
    await db.dispose()
    return {
        "slot": slot,
        "coordinators": coordinators,
        "principals": principals,
        "gaps": gap_ids,
        "auto": auto,
        "schools": schools,
    }


def digests_claimed(path: Path) -> int:
    """Read without taking SQLite's write lock (the bot's transactions all begin IMMEDIATE)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        return int(conn.execute("SELECT count(*) FROM job_runs WHERE key LIKE 'esc:digest:%'").fetchone()[0])


def duplicates(fake: FakeTelegram) -> int:
    """Messages a chat received more than once (same text, or same file and caption)."""
    seen: dict[tuple[int, str], int] = {}
    for m in fake.sent_messages():
        what = m.sent_text or ""
        if m.document is not None:
            what = f"{m.document.filename}|{what}"
        seen[(m.chat_id, what)] = seen.get((m.chat_id, what), 0) + 1
    return sum(n - 1 for n in seen.values() if n > 1)


async def test_sigkill_mid_digest_run_builds_each_digest_once(tmp_path: Path) -> None:
    from bot.storage.models import JobRun
    from bot.storage.models_agenda import IssueHistory, RaisedIssue
    from bot.storage.models_escalation import EscalatedGap, EscalationLink

    path = tmp_path / "bot.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    world = await seed_escalations(url, SystemClock().now())
    async with FakeTelegram(enforce_limits=True, global_per_second=120) as fake:
        for chats in world["coordinators"].values():
            for chat in chats:
                fake.user(chat, "x")
        for chat in world["principals"].values():
            fake.user(chat, "x")
        extra = {"FORUMBOT_TICK_SECONDS": "1"}
        first = start_bot(tmp_path, url, fake, "digest-first", **extra)
        built_before = 0
        try:
            for _ in range(600):  # kill once a third of the digests are built and the first ones are going out
                built_before = digests_claimed(path)
                charts_out = len(fake.requests_for("sendDocument", ok_only=True))
                if built_before >= 2 * AUTHORITIES // 3 or (built_before >= AUTHORITIES // 3 and charts_out):
                    break
                assert first.poll() is None, (tmp_path / "bot-digest-first.log").read_text()
                await asyncio.sleep(0.1)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        built_at_kill = digests_claimed(path)
        docs_before = len(fake.requests_for("sendDocument", ok_only=True))
        second = start_bot(tmp_path, url, fake, "digest-second", **extra)
        try:
            await wait_until_delivered(url, attempts=480, also=lambda: digests_claimed(path) == AUTHORITIES)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
        assert "Traceback" not in (tmp_path / "bot-digest-second.log").read_text()

    slot = world["slot"].isoformat()
    db = Database(url)
    async with db.sessions() as session:
        claims = (await session.scalars(select(JobRun.key).where(JobRun.key.like("esc:digest:%")))).all()
        digest_rows = (
            await session.execute(
                select(OutboxMessage.chat_id, OutboxMessage.dedup_key, OutboxMessage.status).where(
                    OutboxMessage.dedup_key.like("esc:digest:%")
                )
            )
        ).all()
        unseen = await session.scalar(
            select(func.count())
            .select_from(EscalatedGap)
            .where(
                EscalatedGap.id.in_([g for ids in world["gaps"].values() for g in ids]),
                EscalatedGap.first_digest_at.is_(None),
            )
        )
        auto_ids = list(world["auto"])
        statuses = dict(
            (
                await session.execute(select(RaisedIssue.id, RaisedIssue.status).where(RaisedIssue.id.in_(auto_ids)))
            ).all()
        )
        link_counts = dict(
            (
                await session.execute(
                    select(EscalationLink.issue_id, func.count())
                    .where(EscalationLink.issue_id.in_(auto_ids))
                    .group_by(EscalationLink.issue_id)
                )
            ).all()
        )
        moves = dict(
            (
                await session.execute(
                    select(IssueHistory.issue_id, func.count())
                    .where(IssueHistory.issue_id.in_(auto_ids), IssueHistory.to_status == "escalated")
                    .group_by(IssueHistory.issue_id)
                )
            ).all()
        )
    await db.dispose()

    # One digest per forum and slot: one claim each, and every coordinator's parts queued once.
    assert sorted(claims) == sorted(f"esc:digest:f{a}:{slot}" for a in world["coordinators"])
    assert {status for _, _, status in digest_rows} == {"sent"}
    assert len({key for _, key, _ in digest_rows}) == len(digest_rows)
    assert unseen == 0  # every gap was listed as new in exactly the digest that claimed its slot
    # Every coordinator got their digest: the text naming each of their forum's gaps, and the chart.
    missing, charts = [], {}
    for forum_id, chats in world["coordinators"].items():
        for chat in chats:
            got = fake.sent_messages(chat)
            texts = " ".join(plain(m.sent_text or "") for m in got if m.method == "sendMessage")
            if not all(f"#{g} " in texts for g in world["gaps"][forum_id]):
                missing.append(chat)
            charts[chat] = sum(1 for m in got if m.document is not None and m.document.filename.endswith(".png"))
    # Each issue past its window was forwarded exactly once, and its school's principal told.
    assert set(statuses.values()) == {"escalated"}
    assert set(link_counts.values()) == {1} and len(link_counts) == len(auto_ids)
    assert set(moves.values()) == {1} and len(moves) == len(auto_ids)
    untold = [
        i
        for i, school in world["auto"].items()
        if not any(f"#{i} " in plain(m.sent_text or "") for m in fake.sent_messages(world["principals"][school]))
    ]
    doubled = duplicates(fake)
    print(
        f"\nSIGKILL with {built_at_kill} of {AUTHORITIES} digests built ({docs_before} charts sent): "
        f"{len(missing)} coordinators without their digest, {sum(n > 1 for n in charts.values())} with a second "
        f"chart, {len(untold)} forwarded issues untold; messages sent twice: {doubled} (in flight at the kill)"
    )
    assert 0 < built_at_kill < AUTHORITIES  # the kill did land in the middle of the digest run
    assert missing == [] and untold == []
    assert all(n >= 1 for n in charts.values())
    assert doubled <= 100  # at most what two claimed batches had in flight
