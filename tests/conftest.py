"""Shared fixtures: real SQLite files and a real PostgreSQL database, migrated with Alembic."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import App
from bot.clock import FixedClock
from bot.config import Settings
from bot.storage.db import Database
from bot.storage.migrate import upgrade
from bot.storage.models import Base

ROOT = Path(__file__).resolve().parent.parent
DEMO_ORG = ROOT / "data" / "demo_org.csv"
POSTGRES_ADMIN_URL = os.environ.get(
    "FORUMBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# Sunday 2026-11-22, 09:00 in Jerusalem.
T0 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)


def _postgres_available() -> bool:
    async def probe() -> None:
        engine = create_async_engine(POSTGRES_ADMIN_URL)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(probe())
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of our own on the PostgreSQL server, migrated once for the session."""
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} (required under CI)")
        pytest.skip("PostgreSQL is not reachable")
    name = f"forumbot_test_{uuid.uuid4().hex[:10]}"
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]

    async def admin(sql: str) -> None:
        engine = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = f"{base}/{name}"
    upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_postgres(url: str) -> None:
    import bot.storage.all_models  # noqa: F401

    engine = create_async_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "forumbot.sqlite3"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate_postgres(url))
    return url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "forumbot.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def make_settings(url: str, tmp_path: Path, **extra: object) -> Settings:
    # The fixed clock never moves by itself, so a scripted conversation would look like a flood:
    # flood control is off unless a test turns it on (tests/test_abuse.py).
    extra.setdefault("FORUMBOT_FLOOD_EVENTS", 0)
    return Settings(DATABASE_URL=url, FORUMBOT_DATA_DIR=tmp_path, _env_file=None, **extra)  # type: ignore[call-arg]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
async def app(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[App]:
    application = App(settings=make_settings(database_url, tmp_path), db=Database(database_url), clock=clock)
    yield application
    await application.close()


@pytest.fixture
async def sqlite_app(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[App]:
    application = App(settings=make_settings(sqlite_url, tmp_path), db=Database(sqlite_url), clock=clock)
    yield application
    await application.close()
