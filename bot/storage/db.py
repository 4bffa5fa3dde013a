"""Engines and sessions for SQLite (embedded default) and PostgreSQL (scale)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
T = TypeVar("T")


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        if not database or database == ":memory:":
            engine = create_async_engine(url, echo=echo, poolclass=NullPool)
        else:
            # Few connections: writers queue in the pool (fairly, without spinning on the file lock).
            engine = create_async_engine(
                url,
                echo=echo,
                connect_args={"timeout": 30},
                pool_size=2,
                max_overflow=2,
                pool_timeout=120,
                hide_parameters=True,  # an error's message never carries the values (names, texts)
            )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and write transactions that take the lock up front.

    A deferred BEGIN that reads and then writes fails at once with "database is locked" when
    another writer holds the lock (busy_timeout is not honoured for the upgrade), so every
    transaction begins IMMEDIATE.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and a session factory; one unit of work per inbound event or job."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed at the end, or rolled back on any error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


# A database restarted, failed over or briefly unreachable: worth waiting for, not a bug.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0)  # about half a minute in all
_UNAVAILABLE = {
    "CannotConnectNowError",  # "the database system is starting up / shutting down"
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "PostgresConnectionError",
    "AdminShutdownError",  # "terminating connection due to administrator command"
    "InterfaceError",
}


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database could not be reached (as opposed to a bug or bad data)."""
    from sqlalchemy.exc import DBAPIError, OperationalError
    from sqlalchemy.exc import InterfaceError as SAInterfaceError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        if isinstance(seen, (OperationalError, SAInterfaceError, PoolTimeout, ConnectionError, TimeoutError)):
            return True
        if isinstance(seen, OSError) and not isinstance(seen, FileNotFoundError):
            return True
        if type(seen).__name__ in _UNAVAILABLE:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


async def retry_unavailable(op: Callable[[], Awaitable[T]], *, what: str) -> T:
    """Run ``op`` again while the database is unavailable (about half a minute), then give up."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return await op()
        except Exception as exc:
            if delay is None or not database_unavailable(exc):
                raise
            log.warning("database unavailable (%s) while %s; retrying in %.1f s", type(exc).__name__, what, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
