"""SQLite's calls run in place on the loop, except those that can wait on another connection.

A second process (here: a plain sqlite3 connection in a thread) holding the write lock must delay
only the transaction that needs the lock, never the event loop; and the work done once the lock is
held must still be committed, or rolled back on an error, as one unit.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.core.messages import Outbound, OutKind
from bot.services.delivery.outbox import enqueue, withdraw_queued
from bot.storage.db import Database
from bot.storage.models import OutboxMessage

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _path(url: str) -> str:
    return url.split(":///", 1)[1]


async def _queue(db: Database, key: str) -> None:
    async with db.unit_of_work() as session:
        await enqueue(session, channel="console", chat_id="dana", now=NOW, dedup_key=key,
                      message=Outbound(kind=OutKind.TEXT, text="שלום"))


async def test_another_holder_of_the_write_lock_does_not_stop_the_loop(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    holder = sqlite3.connect(_path(sqlite_url), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process, mid-transaction
    release = threading.Timer(0.6, holder.rollback)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(ticker())
    try:
        started = time.monotonic()
        release.start()
        await _queue(db, "k:1")  # waits for the lock off the loop
        waited = time.monotonic() - started
    finally:
        beat.cancel()
        release.cancel()
        holder.close()
    assert waited >= 0.5  # it did wait for the other holder ...
    assert ticks >= 20  # ... while the loop went on (a blocked loop would tick once or twice)
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    await db.dispose()


async def test_an_error_after_the_lock_rolls_back_what_ran_in_place(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        async with db.unit_of_work() as session:
            await enqueue(session, channel="console", chat_id="dana", now=NOW, dedup_key="k:2",
                          message=Outbound(kind=OutKind.TEXT, text="שלום"))
            await session.flush()
            raise RuntimeError("half way")
    except RuntimeError:
        pass
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    await db.dispose()


async def test_withdrawing_by_prefix_takes_the_prefix_literally(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    for key in ("datepoll:1:ballot:i1", "datepoll:1:ballot:g2", "datepoll:10:ballot:i1", "datepoll_1:ballot:i1",
                "datepoll:1:closed:i1"):
        await _queue(db, key)
    async with db.unit_of_work() as session:
        # "_" and "%" are LIKE's wildcards: a prefix holding them must not match more than itself.
        assert await withdraw_queued(session, key_prefix="datepoll_1:ballot:", reason="gone") == 1
        assert await withdraw_queued(session, key_prefix="datepoll:1:ballot:", reason="gone") == 2
        assert await withdraw_queued(session, key_prefix="datepoll:%", reason="gone") == 0
    async with db.sessions() as session:
        rows = dict((await session.execute(select(OutboxMessage.dedup_key, OutboxMessage.status))).all())
    assert rows == {
        "datepoll:1:ballot:i1": "failed", "datepoll:1:ballot:g2": "failed", "datepoll_1:ballot:i1": "failed",
        "datepoll:10:ballot:i1": "queued", "datepoll:1:closed:i1": "queued",
    }
    await db.dispose()


async def test_a_unit_of_work_hands_nothing_to_the_thread(sqlite_url: str, monkeypatch) -> None:
    """This process's writers take turns before BEGIN, so BEGIN finds the lock free and runs in place;
    COMMIT never checkpoints (the Checkpointer does, apart), so it runs in place too."""
    import aiosqlite

    db = Database(sqlite_url)
    await _queue(db, "warm")  # the pool's connection and its PRAGMAs
    handed: list[str] = []
    original = aiosqlite.Connection._execute

    async def counting(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        handed.append(getattr(fn, "__name__", "?"))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    await asyncio.gather(*(_queue(db, f"k:{i}") for i in range(10)))
    assert handed == []
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 11
    await db.dispose()


async def test_a_unit_of_work_inside_another_gives_up_as_unavailable(sqlite_url: str, monkeypatch) -> None:
    """Waiting for one's own turn would wait forever: it ends, as the busy timeout did, as 'unavailable'."""
    from bot.storage import db as storage
    from bot.storage.db import database_unavailable

    monkeypatch.setattr(storage, "WRITER_WAIT", 0.2)
    db = Database(sqlite_url)
    async with db.unit_of_work():
        try:
            async with db.unit_of_work():
                raise AssertionError("a second writer got in")
        except TimeoutError as exc:
            assert database_unavailable(exc)
    await _queue(db, "after")  # the turn was given back
    await db.dispose()


async def test_the_log_is_checkpointed_apart_and_stays_small(sqlite_url: str, monkeypatch) -> None:
    """With automatic checkpoints off on the pool's connections, the Checkpointer keeps the log from
    growing: without it, these commits would leave several megabytes of log behind."""
    import os

    from bot.storage import db as storage

    monkeypatch.setattr(storage, "CHECKPOINT_EVERY", 20)
    db = Database(sqlite_url)
    wal = _path(sqlite_url) + "-wal"
    big = "א" * 3000  # a couple of pages a commit
    for i in range(600):
        async with db.unit_of_work() as session:
            await enqueue(session, channel="console", chat_id="dana", now=NOW, dedup_key=f"w:{i}",
                          message=Outbound(kind=OutKind.TEXT, text=big))
        if i % 20 == 19:
            await db.checkpointer.wait()  # type: ignore[union-attr]
    assert db.checkpointer is not None and db.checkpointer.commits >= 600
    assert await asyncio.to_thread(os.path.getsize, wal) < 1_000_000
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 600
    await db.dispose()


async def test_a_checkpoint_that_fails_is_logged_and_writing_goes_on(sqlite_url: str, monkeypatch, caplog) -> None:
    """The log only grows meanwhile: no commit waits for a checkpoint or fails with it."""
    import logging

    from bot.storage import db as storage

    monkeypatch.setattr(storage, "CHECKPOINT_EVERY", 2)
    db = Database(sqlite_url)
    assert db.checkpointer is not None
    db.checkpointer.path = _path(sqlite_url) + ".missing/nowhere.sqlite3"  # cannot be opened
    with caplog.at_level(logging.WARNING, logger="bot.storage.db"):
        for i in range(4):
            await _queue(db, f"f:{i}")
        await db.checkpointer.wait()
    assert any("checkpoint failed" in r.getMessage() for r in caplog.records)
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 4
    await db.dispose()
