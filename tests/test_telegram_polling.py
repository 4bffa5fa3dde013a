"""Long polling loses nothing on kill -9: the getUpdates offset moves only past committed updates.

A real `forumbot run` in polling mode against the fake Bot API (real HTTP), 250 updates from 50
people (five each), SIGKILL while updates are being handled, a restart: every update was handled
exactly once (its processed mark and its one reply committed), none lost, none doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
from pathlib import Path

import pytest
from aiogram.types import Update

from bot.channels.telegram import UpdateWindow, poll_updates
from bot.storage.migrate import upgrade_async
from tests.fakes.telegram import FakeTelegram
from tests.test_crash import start_bot

PEOPLE = 50
EACH = 5
N = PEOPLE * EACH
KILL_AFTER = 60  # handled updates when the first process is killed


def read(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read without taking SQLite's write lock (the bot's transactions all begin IMMEDIATE)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        return conn.execute(sql).fetchall()


def handled_keys(path: Path) -> set[str]:
    return {str(k) for (k,) in read(path, "SELECT update_key FROM processed_updates WHERE channel = 'telegram'")}


def replies(path: Path) -> dict[str, int]:
    rows = read(path, "SELECT chat_id, count(*) FROM outbox WHERE channel = 'telegram' GROUP BY chat_id")
    return {str(chat): int(n) for chat, n in rows}  # type: ignore[call-overload]


async def until(probe: object, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not probe():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {probe}"
        await asyncio.sleep(0.01)


def test_the_window_never_acknowledges_past_an_update_in_hand() -> None:
    window = UpdateWindow()
    for i in (10, 11, 12):
        window.start(i, None)  # type: ignore[arg-type]
    window.finished(11, ok=True)
    window.finished(12, ok=True)
    assert window.offset == 10  # 10 is still being handled: nothing is acknowledged
    assert not window.is_new(11) and window.is_new(13)  # handled ones coming back are skipped
    window.finished(10, ok=False)  # it raised: it must be fetched and tried again
    assert window.offset == 10 and window.is_new(10)
    window.start(10, None)  # type: ignore[arg-type]
    window.finished(10, ok=True)
    assert window.offset == 13 and window.handled == set()


async def test_poll_updates_acknowledges_only_what_was_handled() -> None:
    async with FakeTelegram() as fake:
        bot = fake.make_bot()
        people = [fake.user(700 + i, f"p{i}") for i in range(5)]
        ids = [fake.send_text(person, "שלום")["update_id"] for person in people]
        gate = asyncio.Event()
        handled: list[int] = []
        failed: set[int] = set()

        async def handle(update: Update) -> None:
            if update.update_id == ids[0]:
                await gate.wait()  # the first one takes long
            if update.update_id == ids[2] and ids[2] not in failed:
                failed.add(ids[2])
                raise RuntimeError("a bug, once")
            handled.append(update.update_id)

        stop = asyncio.Event()
        task = asyncio.create_task(poll_updates(bot, handle, stop, polling_timeout=1))
        try:
            await until(lambda: sorted(handled) == ids[1:])  # the one that raised was tried again
            # While the first is in hand, the fake has been told to forget none of them.
            assert [u["update_id"] for u in fake.pending_updates] == ids
            gate.set()
            await until(lambda: len(handled) == len(ids))
            await until(lambda: fake.pending_updates == [])  # now every one is acknowledged
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)
            await bot.session.close()
        assert sorted(handled) == ids  # each exactly once


@pytest.mark.slow
async def test_sigkill_while_polling_loses_no_update(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    async with FakeTelegram() as fake:
        people = [fake.user(600_000 + i, f"p{i}") for i in range(PEOPLE)]
        updates = [fake.send_text(person, f"שלום {n}") for n in range(EACH) for person in people]
        ids = {str(u["update_id"]) for u in updates}
        first = start_bot(tmp_path, url, fake, "poll-first")
        handled_at_kill = 0
        try:
            for _ in range(1200):
                handled_at_kill = len(handled_keys(path)) if path.exists() else 0
                if handled_at_kill >= KILL_AFTER:
                    break
                assert first.poll() is None, (tmp_path / "bot-poll-first.log").read_text()
                await asyncio.sleep(0.02)
        finally:
            first.send_signal(signal.SIGKILL)  # no goodbye: whatever was being handled stays half done
            first.wait(timeout=30)
        handled_at_kill = len(handled_keys(path))
        second = start_bot(tmp_path, url, fake, "poll-second")
        try:
            quiet = 0
            last = -1
            for _ in range(600):  # until every update is handled, or nothing more happens for 5 s
                now = len(handled_keys(path))
                if now == N:
                    break
                quiet = quiet + 1 if now == last else 0
                last = now
                if quiet >= 50 and not fake.pending_updates:
                    break
                await asyncio.sleep(0.1)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
        log = (tmp_path / "bot-poll-second.log").read_text()
    keys = handled_keys(path)
    counts = replies(path)
    lost = sorted(ids - keys, key=int)
    doubled = sum(max(0, counts.get(str(p.id), 0) - EACH) for p in people)
    unanswered = sum(max(0, EACH - counts.get(str(p.id), 0)) for p in people)
    print(
        f"\nSIGKILL with {handled_at_kill} of {N} updates handled: lost {len(lost)}, "
        f"handled twice {doubled}, replies missing {unanswered}"
    )
    assert 0 < handled_at_kill < N  # the kill did land in the middle
    assert "Traceback" not in log
    assert lost == []
    assert doubled == 0 and unanswered == 0
