"""Shared set-up for the benchmarks: throw-away databases and peak memory."""

from __future__ import annotations

import asyncio
import resource
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage.migrate import upgrade_async

POSTGRES_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def peak_rss_mb(children: bool = False) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024


@asynccontextmanager
async def scratch_database(kind: str, folder: Path) -> AsyncIterator[str]:
    """A migrated database that is dropped afterwards: ``sqlite`` or ``postgres``."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / f'bench-{uuid.uuid4().hex[:6]}.sqlite3'}"
        await upgrade_async(url)
        yield url
        return
    name = f"forumbot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        await upgrade_async(url)
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]
