"""Inbound: updates/s and latency of the real handlers fed through aiogram's dispatcher, no network.

    python -m bench.inbound [--updates 3000] [--concurrency 20] [--db sqlite,postgres]

Beside it, in the same run, a bare aiogram echo handler is fed the same updates; the ratio shows
what forumbot's own work (a transaction, the person, their seats, the outbox row) costs. The SQL
statements forumbot sent per update are counted too (BEGIN included where the driver sends it as a
statement, as SQLite's BEGIN IMMEDIATE is). The start-up heap is frozen first, as `forumbot run`
does. The updates are not bound to the bot, so aiogram copies each through JSON on every side; the
echo is run once more with bound updates (as polling and the webhook deliver them) and printed apart.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.types import Chat, Message, Update
from sqlalchemy import event, text

from bench.common import peak_rss_mb, scratch_database
from bot.app import App
from bot.channels.telegram import TelegramChannel
from bot.clock import SystemClock
from bot.config import Settings
from bot.runner import freeze_startup_heap
from bot.storage.db import Database
from bot.storage.models import ChannelIdentity, Forum, Membership, Person


class NoNetworkSession(BaseSession):
    """Answers every Bot API call at once, as if Telegram said OK."""

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        chat_id = getattr(method, "chat_id", 1)
        if method.__returning__ is Message:
            return Message(message_id=1, date=datetime.now(UTC), chat=Chat(id=int(chat_id), type="private"),
                           text=getattr(method, "text", None))
        return True

    async def close(self) -> None:
        return None

    async def stream_content(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - unused
        raise NotImplementedError


def make_updates(n: int, people: int) -> list[Update]:
    updates = []
    texts = ["/forums", "/help", "/forums", "hello"]
    for i in range(n):
        user_id = 900_000 + (i % people)
        updates.append(Update.model_validate({
            "update_id": 1_000_000 + i,
            "message": {"message_id": i + 1, "date": 1764000000, "text": texts[i % len(texts)],
                        "chat": {"id": user_id, "type": "private", "first_name": "M"},
                        "from": {"id": user_id, "is_bot": False, "first_name": "M", "language_code": "he"}},
        }))
    return updates


async def seed(app: App, people: int) -> None:
    from tests.helpers import import_demo

    await import_demo(app)
    now = app.clock.now()
    async with app.db.unit_of_work() as session:
        forum = await session.scalar(__import__("sqlalchemy").select(Forum).where(Forum.code == "S-DEMO-210101"))
        assert forum is not None
        for i in range(people):
            person = Person(display_name=f"חבר {i}", address_form="p", locale="he", consent_version="2026-11",
                            consent_at=now, created_at=now, last_active_at=now)
            session.add(person)
            await session.flush()
            session.add(ChannelIdentity(channel="telegram", external_id=str(900_000 + i), chat_id=str(900_000 + i),
                                        person_id=person.id, status="active", created_at=now))
            session.add(Membership(person_id=person.id, forum_id=forum.id, role="parent", created_at=now))


async def measure(feed: Any, updates: list[Update], concurrency: int) -> tuple[float, list[float], float]:
    """Updates/s, each update's latency, and the process's CPU ms per update (steal-proof on a shared VM)."""
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(update: Update) -> None:
        async with semaphore:
            started = time.perf_counter()
            await feed(update)
            latencies.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(u) for u in updates))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return len(updates) / elapsed, latencies, cpu * 1000 / len(updates)


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] * 1000


async def bench(kind: str, n: int, concurrency: int, people: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        async with scratch_database(kind, Path(folder)) as url:
            settings = Settings(DATABASE_URL=url, FORUMBOT_DATA_DIR=folder, _env_file=None)  # type: ignore[call-arg]
            app = App(settings=settings, db=Database(url), clock=SystemClock())
            await seed(app, people)
            freeze_startup_heap()  # as `forumbot run` does once it has started
            bot = Bot(token="123456:" + "A" * 35, session=NoNetworkSession())
            channel = TelegramChannel(app, bot)
            channel.username = "forumbot_bench_bot"
            statements = 0

            def count(*_: Any) -> None:
                nonlocal statements
                statements += 1

            event.listen(app.db.engine.sync_engine, "before_cursor_execute", count)
            rate, latencies, cpu = await measure(channel.feed, make_updates(n, people), concurrency)
            sql_mix = statements / n
            # A plain update: "hello" from someone who wrote a moment ago (the common case on a busy
            # morning), one at a time so every statement counted is that update's.
            statements = 0
            plain = [u for u in make_updates(4 * people, people) if u.message and u.message.text == "hello"][:200]
            for i, update in enumerate(plain):
                await channel.feed(update.model_copy(update={"update_id": 5_000_000 + i}))
            sql_plain = statements / len(plain)
            event.remove(app.db.engine.sync_engine, "before_cursor_execute", count)

            echo = Dispatcher()
            router = Router()

            async def echo_handler(message: Message) -> None:
                await message.answer(message.text or "")

            router.message.register(echo_handler)
            echo.include_router(router)
            echo_rate, echo_latencies, echo_cpu = await measure(
                lambda u: echo.feed_update(bot, u), make_updates(n, people), concurrency
            )
            # Polling and the webhook hand aiogram updates already bound to the bot; these are not,
            # so feed_update copies each through JSON first, on every side. The echo once more with
            # bound updates shows what that costs (printed apart; the ratios use the unbound echo).
            mounted = [Update.model_validate(u.model_dump(), context={"bot": bot}) for u in make_updates(n, people)]
            mounted_rate, _mounted_latencies, mounted_cpu = await measure(
                lambda u: echo.feed_update(bot, u), mounted, concurrency
            )
            floor = floor_dispatcher(app)
            floor_rate, _floor_latencies, floor_cpu = await measure(
                lambda u: floor.feed_update(bot, u), make_updates(n, people), concurrency
            )
            await app.close()
    return {
        "rate": rate, "p50": pct(latencies, 50), "p99": pct(latencies, 99), "sql": sql_mix, "sql_plain": sql_plain,
        "cpu": cpu, "echo_rate": echo_rate, "echo_p99": pct(echo_latencies, 99), "echo_cpu": echo_cpu,
        "floor_rate": floor_rate, "floor_cpu": floor_cpu, "mounted_rate": mounted_rate, "mounted_cpu": mounted_cpu,
    }


def floor_dispatcher(app: App) -> Dispatcher:
    """The floor under forumbot's own code: the echo's dispatcher, and per update one unit of work
    running a plain update's three statements as text (mark, identity, outbox row), no ORM objects."""
    mark = text("INSERT INTO processed_updates (channel, update_key, processed_at) VALUES ('floor', :key, :now)")
    who = text("SELECT id, person_id FROM channel_identities WHERE channel = 'telegram' AND external_id = :user")
    queue = text("INSERT INTO outbox (channel, chat_id, chat_kind, payload, priority, status, attempts, "
                 "next_attempt_at, created_at) VALUES ('floor', :user, 'private', '{}', 0, 'sent', 0, :now, :now)")

    async def handler(message: Message, event_update: Update) -> None:
        user, now = str(message.chat.id), datetime.now(UTC)
        async with app.db.unit_of_work() as session:
            await session.execute(mark, {"key": str(event_update.update_id), "now": now})
            await session.execute(who, {"user": user})
            await session.execute(queue, {"user": user, "now": now})

    floor, router = Dispatcher(), Router()
    router.message.register(handler)
    floor.include_router(router)
    return floor


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"inbound: {args.updates} updates, concurrency {args.concurrency}, {args.people} registered people")
    print(f"{'database':<10} {'forumbot/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'SQL/update':>11} {'SQL/plain':>10} "
          f"{'echo/s':>9} {'echo p99':>9} {'ratio':>7} {'floor/s':>8} {'ratio':>7} | "
          f"{'CPU ms: forumbot':>16} {'echo':>6} {'floor':>6} {'ratio':>6}")
    mounted = []
    for kind in args.db.split(","):
        r = await bench(kind, args.updates, args.concurrency, args.people)
        mounted.append(f"{kind} {r['mounted_rate']:.0f}/s, {r['mounted_cpu']:.2f} CPU ms "
                       f"(forumbot {r['mounted_rate'] / r['rate']:.1f}x slower)")
        print(f"{kind:<10} {r['rate']:>11.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['sql']:>11.2f} "
              f"{r['sql_plain']:>10.2f} {r['echo_rate']:>9.0f} {r['echo_p99']:>9.2f} "
              f"{r['echo_rate'] / r['rate']:>6.1f}x {r['floor_rate']:>8.0f} "
              f"{r['echo_rate'] / r['floor_rate']:>6.1f}x | "
              f"{r['cpu']:>16.2f} {r['echo_cpu']:>6.2f} {r['floor_cpu']:>6.2f} {r['cpu'] / r['echo_cpu']:>5.1f}x")
    print("ratio: how many times slower than the echo; floor: the echo plus one unit of work with a plain update's "
          "three statements as text")
    print("echo fed updates bound to the bot, as polling and the webhook deliver them: " + "; ".join(mounted))
    print(f"peak memory: {peak_rss_mb():.0f} MB; the delivery ceiling is 30 messages/s per bot")


if __name__ == "__main__":
    asyncio.run(main())
