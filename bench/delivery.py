"""Delivery: N messages to N chats through the real delivery path against the fake Bot API.

    python -m bench.delivery [--messages 50000] [--mode single|multi|both] [--rate 28]

``single``: one process, the embedded default (SQLite, limits in memory).
``multi``: two worker processes on PostgreSQL + Redis sharing one bot token.
Prints achieved messages/s against the 30/s ceiling, limit violations (the fake enforces 30/s
and 1/s per chat, as Telegram does), lost and doubled messages, and peak memory.
At 29/s, 50,000 messages take about 29 minutes; use --messages 3000 for a quick look.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bench.common import peak_rss_mb, scratch_database
from bot.app import App
from bot.channels.telegram import TelegramSender
from bot.clock import SystemClock
from bot.config import Settings
from bot.core.messages import Outbound, OutKind
from bot.services.delivery.outbox import PRIORITY_BULK, enqueue
from bot.storage.db import Database
from tests.fakes.telegram import FakeTelegram

FIRST_CHAT = 10_000_000


async def enqueue_broadcast(url: str, n: int) -> None:
    db = Database(url)
    now = SystemClock().now()
    batch = 2000
    for start in range(0, n, batch):
        async with db.unit_of_work() as session:
            for chat in range(FIRST_CHAT + start, FIRST_CHAT + min(n, start + batch)):
                await enqueue(session, channel="telegram", chat_id=str(chat), now=now, priority=PRIORITY_BULK,
                              message=Outbound(kind=OutKind.TEXT, text=f"הודעה {chat}"), dedup_key=f"bench:{chat}")
    await db.dispose()


def report(label: str, fake: FakeTelegram, n: int, seconds: float, memory: float) -> None:
    sent = [m for m in fake.sent_messages() if m.method == "sendMessage"]
    per_chat: dict[int, int] = {}
    for message in sent:
        per_chat[message.chat_id] = per_chat.get(message.chat_id, 0) + 1
    lost = sum(1 for chat in range(FIRST_CHAT, FIRST_CHAT + n) if chat not in per_chat)
    doubled = sum(count - 1 for count in per_chat.values() if count > 1)
    rate = len(sent) / seconds if seconds else 0.0
    times = sorted(r.at for r in fake.requests if r.method == "sendMessage")
    densest, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        densest = max(densest, i - j + 1)
    if fake.limit_violations:
        print("violations:", [(round(v.at, 2), v.rule) for v in fake.limit_violations[:5]], "densest second:", densest)
    print(f"{label:<28} {n:>7} msgs {seconds:>8.1f} s {rate:>7.2f}/s ({rate / 30:>5.1%} of 30/s)  "
          f"429s {len(fake.limit_violations):>3}  lost {lost}  doubled {doubled}  peak {memory:.0f} MB")


async def wait_sent(fake: FakeTelegram, n: int, timeout: float) -> float:
    """Wait until ``n`` messages were accepted; the seconds from the first to the last (fake's clock)."""
    started = time.monotonic()
    seen = 0
    ok: list[float] = []
    while time.monotonic() - started < timeout:
        fresh = fake.requests[seen:]  # scan only what is new: the list grows to 50,000
        seen += len(fresh)
        ok += [r.at for r in fresh if r.ok and r.method == "sendMessage"]
        if len(ok) >= n:
            return ok[-1] - ok[0]
        await asyncio.sleep(1.0)
    raise SystemExit(f"only {len(ok)} of {n} sent in {timeout:.0f}s")


def settle_heap() -> None:
    """The fake and the seeded rows are a big, long-lived heap: keep the collector off it, so its
    pauses do not stall the sender (a paused smooth bucket cannot catch up, by design)."""
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def queued_broadcast(database: str, n: int) -> AsyncIterator[tuple[str, FakeTelegram, str]]:
    """A scratch folder, the fake Bot API (enforcing Telegram's limits) knowing ``n`` chats, and a
    scratch ``database`` (``sqlite`` or ``postgres``) with one message queued to each: (folder, fake, url)."""
    with tempfile.TemporaryDirectory() as folder:
        async with FakeTelegram(enforce_limits=True) as fake, scratch_database(database, Path(folder)) as url:
            for chat in range(FIRST_CHAT, FIRST_CHAT + n):
                fake.user(chat, "x")
            await enqueue_broadcast(url, n)
            yield folder, fake, url


async def single(n: int, rate: float) -> None:
    async with queued_broadcast("sqlite", n) as (folder, fake, url):
        settings = Settings(DATABASE_URL=url, FORUMBOT_DATA_DIR=folder, TELEGRAM_RATE_PER_SECOND=rate,
                            _env_file=None)  # type: ignore[call-arg]
        app = App(settings=settings, db=Database(url), clock=SystemClock())
        bot = fake.make_bot()
        app.add_sender(TelegramSender(bot))
        settle_heap()
        stop = asyncio.Event()
        task = asyncio.create_task(app.delivery.run(stop))
        seconds = await wait_sent(fake, n, timeout=n / rate * 2 + 60)
        stop.set()
        await task
        await bot.session.close()
        await app.close()
        report("one process, SQLite", fake, n, seconds, peak_rss_mb())


WORKER = """
import asyncio, sys
from bot.app import App
from bot.channels.telegram import TelegramSender, make_bot
from bot.config import load_settings
from bot.storage.db import Database
from bot.clock import SystemClock
from bot.runner import freeze_startup_heap

async def main():
    settings = load_settings()
    app = App(settings=settings, db=Database(settings.effective_database_url), clock=SystemClock())
    bot = make_bot(settings)
    app.add_sender(TelegramSender(bot))
    freeze_startup_heap()  # as `forumbot run` does
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(15, stop.set)
    await app.delivery.run(stop)
    print("sent", app.delivery.stats.sent, flush=True)
    await bot.session.close()
    await app.close()

asyncio.run(main())
"""


async def multi(n: int, rate: float) -> None:
    async with queued_broadcast("postgres", n) as (_, fake, url):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_"))}
        env.update({"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/0",
                    "FORUMBOT_REDIS_NAMESPACE": f"bench-{uuid.uuid4().hex[:6]}",
                    "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_SERVER": fake.base_url,
                    "TELEGRAM_RATE_PER_SECOND": str(rate), "FORUMBOT_LOG_LEVEL": "WARNING"})
        # The fake is the measuring instrument: keep its own pauses (GC of a large heap of recorded
        # requests) from bunching arrivals and reporting 429s the senders did not cause.
        settle_heap()
        gc.disable()
        workers = [subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE, text=True)
                   for _ in range(2)]
        try:
            seconds = await wait_sent(fake, n, timeout=n / rate * 2 + 60)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            shares = [worker.communicate(timeout=60)[0].strip() for worker in workers]
            gc.enable()
        report("two processes, PG + Redis", fake, n, seconds, peak_rss_mb(children=True))
        print(f"{'':<28} per worker: {', '.join(shares)}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--mode", choices=["single", "multi", "both"], default="both")
    parser.add_argument("--rate", type=float, default=29.0, help="what the bot allows itself (default 29/s)")
    args = parser.parse_args()
    if args.mode in ("single", "both"):
        await single(args.messages, args.rate)
    if args.mode in ("multi", "both"):
        await multi(args.messages, args.rate)


if __name__ == "__main__":
    asyncio.run(main())
