"""PostgreSQL restarted under load: the running bot recovers by itself (slow, PostgreSQL only).

The test restarts the local cluster with ``pg_ctlcluster`` and always leaves it running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ProcessedUpdate
from tests.conftest import _truncate_postgres
from tests.fakes.telegram import FakeTelegram, FakeUser
from tests.helpers import queue_broadcast
from tests.test_crash import per_chat, start_bot, unsent

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BROADCAST = 300
USERS = 40
ROUNDS = 3  # each user writes before, during and after the restart


def cluster() -> list[str]:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]


async def pg(*action: str) -> int:
    process = await asyncio.create_subprocess_exec(
        *cluster(), *action, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await process.wait()


async def accepts_connections(url: str, within: float = 60) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        db = Database(url)
        try:
            async with db.sessions() as session:
                await session.execute(select(1))
            return True
        except Exception:
            await asyncio.sleep(0.3)
        finally:
            await db.dispose()
    return False


async def ensure_running(url: str) -> None:
    """Whatever happened, leave PostgreSQL up for everyone else."""
    if await pg("status") != 0:
        await pg("start")
    assert await accepts_connections(url), "PostgreSQL did not come back"


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def healthz(port: int) -> tuple[int, dict[str, object]]:
    def get() -> tuple[int, dict[str, object]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except OSError:
            return 0, {}

    return await asyncio.to_thread(get)


async def count(url: str, stmt: object) -> int:
    db = Database(url)
    try:
        async with db.sessions() as session:
            return int(await session.scalar(stmt) or 0)  # type: ignore[call-overload]
    finally:
        await db.dispose()


@pytest.mark.skipif(
    shutil.which("pg_ctlcluster") is None or not os.path.isdir("/etc/postgresql"),
    reason="needs a local PostgreSQL cluster managed by pg_ctlcluster",
)
async def test_postgres_restart_under_load_recovers_by_itself(postgres_url: str, tmp_path: Path) -> None:
    url = postgres_url
    await _truncate_postgres(url)
    chats = list(range(810_000, 810_000 + BROADCAST))
    port = free_port()
    async with FakeTelegram(enforce_limits=True, global_per_second=120) as fake:
        for chat in chats:
            fake.user(chat, "x")
        users: list[FakeUser] = [fake.user(820_000 + n, f"u{n}") for n in range(USERS)]
        await queue_broadcast(url, chats)
        bot = start_bot(
            tmp_path,
            url,
            fake,
            "pg",
            FORUMBOT_HTTP_PORT=str(port),
            FORUMBOT_TICK_SECONDS="1",
            FORUMBOT_SENDING_STALE_SECONDS="120",  # nobody dies here: a slow row is not a lost one
        )
        down_for = 0.0
        try:
            for user in users:
                fake.send_text(user, "/help")
            await fake.wait_for_count(BROADCAST // 3, method="sendMessage", timeout=60)
            sent_before = len(fake.requests_for("sendMessage", ok_only=True))
            started = time.monotonic()
            restart = asyncio.create_task(pg("restart", "-m", "fast"))
            await asyncio.sleep(0.2)
            for user in users:  # written while the database goes away and comes back
                fake.send_text(user, "/help")
            assert await restart == 0
            down_for = time.monotonic() - started
            for user in users:
                fake.send_text(user, "/help")
            await accepts_connections(url)
            deadline = time.monotonic() + 120
            handled = 0
            while time.monotonic() < deadline:
                handled = await count(url, select(func.count()).select_from(ProcessedUpdate))
                if handled >= USERS * ROUNDS and await unsent(url) == 0:
                    break
                assert bot.poll() is None, (tmp_path / "bot-pg.log").read_text()[-3000:]
                await asyncio.sleep(0.5)
            status, body = 0, {}
            for _ in range(60):
                status, body = await healthz(port)
                if status == 200:
                    break
                await asyncio.sleep(0.5)
            alive = bot.poll() is None
        finally:
            bot.send_signal(signal.SIGTERM)
            with contextlib.suppress(Exception):
                bot.wait(timeout=60)
            if bot.poll() is None:
                bot.kill()
            await ensure_running(url)
        failed = await count(
            url, select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "failed")
        )
    log = (tmp_path / "bot-pg.log").read_text()
    counts = per_chat(fake)
    lost = [chat for chat in chats if chat not in counts]
    doubled = sum(counts[chat] - 1 for chat in chats if counts.get(chat, 0) > 1)
    replies = {u.id: counts.get(u.id, 0) for u in users}
    print(
        f"\nPostgreSQL restarted after {sent_before} of {BROADCAST} sent ({down_for:.1f} s): lost {len(lost)}, "
        f"sent twice {doubled}; updates handled {handled} of {USERS * ROUNDS}, replies "
        f"{sum(replies.values())}; /healthz {status} {body.get('status')}; alive {alive}"
    )
    assert alive
    assert status == 200 and body.get("status") == "ok"
    assert handled == USERS * ROUNDS
    assert all(n >= ROUNDS for n in replies.values()), replies
    assert lost == [] and failed == 0
    assert doubled + sum(n - ROUNDS for n in replies.values()) <= 100  # at most what was in flight
    assert "הודעה" not in log and "[parameters" not in log  # no message text or SQL values in the log
