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

from bot.storage.migrate import upgrade_async
from tests.fakes.telegram import FakeTelegram
from tests.test_crash import start_bot

pytestmark = pytest.mark.slow

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
