"""PostgreSQL's pool never hands out a connection the server has closed, and asks the server
nothing before a transaction to know it (no pre-ping round trips)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage.db import Database

pytestmark = pytest.mark.postgres


async def _backend(db: Database) -> int:
    async with db.unit_of_work() as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")))


async def test_a_connection_the_server_closed_is_not_handed_out(postgres_url: str) -> None:
    db = Database(postgres_url)
    first = await _backend(db)  # back in the pool now, idle
    admin = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    await admin.dispose()
    await asyncio.sleep(0.3)  # the loop reads the server's goodbye on the idle connection
    second = await _backend(db)  # no error: the pool took a new connection
    assert second != first
    await db.dispose()


async def test_a_transaction_sends_nothing_before_its_own_statements(postgres_url: str) -> None:
    db = Database(postgres_url)
    await _backend(db)
    sent: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    original = db.engine.dialect.do_ping
    pings: list[object] = []

    def counting_ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return bool(original(dbapi_connection))

    db.engine.dialect.do_ping = counting_ping  # type: ignore[method-assign]
    for _ in range(3):
        await _backend(db)
    assert pings == []
    assert sent == ["SELECT pg_backend_pid()"] * 3
    await db.dispose()
