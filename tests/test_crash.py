"""Crashes and faults: a bot killed mid-broadcast loses nothing; flaky APIs still get everything."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.channels.base import Outbound, OutKind
from bot.clock import SystemClock
from bot.services.outbox import PRIORITY_BULK, enqueue
from bot.storage.db import Database
from bot.storage.migrate import upgrade_async
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.slow

N = 300


async def queue_broadcast(url: str, chats: list[int]) -> None:
    db = Database(url)
    async with db.unit_of_work() as session:
        now = SystemClock().now()
        for chat in chats:
            await enqueue(
                session,
                channel="telegram",
                chat_id=str(chat),
                now=now,
                priority=PRIORITY_BULK,
                message=Outbound(kind=OutKind.TEXT, text=f"הודעה {chat}"),
                dedup_key=f"crash:{chat}",
            )
    await db.dispose()


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
    from bot.storage.models import OutboxMessage

    db = Database(url)
    async with db.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
        )
    await db.dispose()
    return int(count or 0)


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
            for _ in range(240):
                if await unsent(url) == 0:
                    break
                await asyncio.sleep(0.5)
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
            for _ in range(360):
                if await unsent(url) == 0:
                    break
                await asyncio.sleep(0.5)
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
