"""Engines and sessions for SQLite (embedded default) and PostgreSQL (scale)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
T = TypeVar("T")
WRITER_WAIT = 30.0  # seconds a unit of work waits for SQLite's write turn (its busy timeout)


def create_engine(url: str, *, echo: bool = False, checkpointer: Checkpointer | None = None) -> AsyncEngine:
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
                async_creator=_loop_connector(database, timeout=30.0, checkpointer=checkpointer),
                pool_size=2,
                max_overflow=2,
                pool_timeout=120,
                hide_parameters=True,  # an error's message never carries the values (names, texts)
            )
        _configure_sqlite(engine)
        return engine
    engine = create_async_engine(url, echo=echo, pool_size=20, max_overflow=10, hide_parameters=True)
    _check_out_live_connections(engine)
    return engine


def _check_out_live_connections(engine: AsyncEngine) -> None:
    """A pooled PostgreSQL connection the server has closed (a restart, a failover, an idle timeout)
    is never handed out: asyncpg notices the closed socket as it happens, so asking it costs nothing.

    SQLAlchemy's pre-ping asked the server instead, with three round trips (BEGIN, a ping, ROLLBACK)
    before every transaction: on a plain update, more than its own statements. A connection that
    dies without the socket saying so fails its first statement; SQLAlchemy then drops the whole
    pool, and the event or job is run again (retry_unavailable) on a new connection.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "_connection", None)
        if driver is not None and driver.is_closed():
            raise DisconnectionError("the server closed this pooled connection")  # the pool takes another


class LoopConnection(aiosqlite.Connection):
    """aiosqlite, with only the calls that can wait on another connection sent to its thread.

    aiosqlite hands every call to a thread of the connection's own (for a statement, four: cursor,
    execute, fetch, close), and each hand-off costs the event loop a wake-up; a plain update was
    about 36 of them. Every transaction here begins IMMEDIATE, so the only calls that can wait for
    another connection or process are that BEGIN (for the write lock), the COMMIT that checkpoints
    (a disk sync) and the connection's PRAGMAs. BEGIN runs in place when the lock is free and goes
    to the thread, waiting up to the busy timeout, when another process holds it; COMMIT runs in
    place because checkpoints are the Checkpointer's, on a thread of its own; PRAGMAs and closing go
    to the thread. Everything else runs in place, at memory speed, because the transaction already
    holds the lock it needs.
    """

    patience_ms = 30_000  # how long a BEGIN waits for another connection's write lock
    checkpointer: Checkpointer | None = None  # set: COMMIT runs in place and never checkpoints

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        where = _where(fn, args)
        if where is _IN_PLACE:
            return fn(*args, **kwargs)
        if where is _BEGIN:
            return await self._begin(fn, *args, **kwargs)
        if where is _COMMIT and self.checkpointer is not None:
            result = fn(*args, **kwargs)  # appends to the log; with synchronous=NORMAL, no disk sync
            self.checkpointer.committed()
            return result
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    async def _begin(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """BEGIN in place when the write lock is free (the common case: this process's writers
        queue before it, see Database.unit_of_work); when another connection holds it, on the
        thread, waiting up to the busy timeout as before."""
        connection = self._connection
        assert connection is not None
        try:
            return fn(*args, **kwargs)  # the connection's busy timeout is 0: this never sleeps
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY":
                raise

        def patiently() -> Any:
            connection.execute(f"PRAGMA busy_timeout={int(self.patience_ms)}")
            try:
                return fn(*args, **kwargs)
            finally:
                connection.execute("PRAGMA busy_timeout=0")

        return await super()._execute(patiently)  # type: ignore[no-untyped-call]


# Where a call to the sqlite3 connection runs: in place, on the thread (it may wait on another
# connection or the disk), or as BEGIN or COMMIT, which LoopConnection runs in place when it can.
_IN_PLACE, _BEGIN, _COMMIT, _THREAD = "in place", "begin", "commit", "thread"


def _where(fn: Callable[..., Any], args: tuple[Any, ...]) -> str:
    name = getattr(fn, "__name__", "")
    if name == "execute" or name == "executemany":
        if args and isinstance(args[0], str):
            head = args[0].lstrip()[:6].upper()
            if head.startswith("BEGIN"):
                return _BEGIN
            if head.startswith(("PRAGMA", "VACUUM")):
                return _THREAD
        return _IN_PLACE
    if (name == "commit" or name == "close") and isinstance(getattr(fn, "__self__", None), sqlite3.Connection):
        return _COMMIT if name == "commit" else _THREAD  # a cursor's close is not the connection's
    return _THREAD if name == "executescript" else _IN_PLACE


def _loop_connector(
    database: str, *, timeout: float, checkpointer: Checkpointer | None = None
) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    def connect() -> sqlite3.Connection:
        # Used from the loop's thread and the connection's own, one call at a time.
        connection = sqlite3.connect(database, timeout=timeout, check_same_thread=False)
        if checkpointer is not None:
            connection.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job, off the loop
        return connection

    async def creator() -> aiosqlite.Connection:
        connection = LoopConnection(connect, 64)
        connection.checkpointer = checkpointer
        connection._thread.daemon = True  # as SQLAlchemy's own aiosqlite connect does
        return await connection

    return creator


CHECKPOINT_EVERY = 200  # commits between two checkpoints: about SQLite's own 1,000 pages of log
_CHECKPOINTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")


class Checkpointer:
    """Copies SQLite's write-ahead log into the database file, off the event loop.

    A COMMIT in WAL mode with synchronous=NORMAL only appends to the log, at memory speed, unless it
    is the commit that checkpoints (copies the log into the file and syncs the disk). So the pool's
    connections run COMMIT in place with automatic checkpoints off, and every CHECKPOINT_EVERY commits
    a PASSIVE checkpoint runs on a worker thread, on a connection of its own: it waits for no writer
    and no writer waits for it, and one already running is not started again.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.commits = 0
        self.running: Future[None] | None = None

    def committed(self) -> None:
        self.commits += 1
        if self.commits % CHECKPOINT_EVERY == 0:
            self.start()

    def start(self) -> Future[None]:
        if self.running is None or self.running.done():
            self.running = _CHECKPOINTS.submit(self._checkpoint)
        return self.running

    def _checkpoint(self) -> None:
        try:
            with closing(sqlite3.connect(self.path, timeout=30.0)) as connection:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # the next one tries again; the log only grows meanwhile
            log.warning("SQLite checkpoint failed: %s", exc)

    async def wait(self) -> None:
        if self.running is not None:
            await asyncio.wrap_future(self.running)


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
        # A LoopConnection waits for the lock itself, only in BEGIN (see LoopConnection._begin).
        patient = not isinstance(getattr(dbapi_connection, "_connection", None), LoopConnection)
        cursor.execute(f"PRAGMA busy_timeout={30000 if patient else 0}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and a session factory; one unit of work per inbound event or job."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        on_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
        self.checkpointer = Checkpointer(str(parsed.database)) if on_file else None
        self.engine = create_engine(url, echo=echo, checkpointer=self.checkpointer)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        # SQLite has one writer at a time: this process's units of work take turns here, first come
        # first served, instead of at the file's lock, where a waiter sleeps in steps of up to 100 ms
        # however soon the lock comes free (on a busy morning, a tenth of a second lost per update
        # at the tail, and the lock idle meanwhile). The lock is per event loop.
        self._queue_writers = on_file
        self._writers: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed at the end, or rolled back on any error."""
        turn = self._writer_turn()
        if turn is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with asyncio.timeout(WRITER_WAIT):  # as long as SQLite's busy timeout; then "unavailable"
            await turn.acquire()
        try:
            async with self.sessions() as session, session.begin():
                yield session
        finally:
            turn.release()

    def _writer_turn(self) -> asyncio.Lock | None:
        if not self._queue_writers:
            return None
        loop = asyncio.get_running_loop()
        if self._writers is None or self._writers[0] is not loop:
            self._writers = (loop, asyncio.Lock())
        return self._writers[1]

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.checkpointer is not None:
            await self.checkpointer.wait()


# A database restarted, failed over or briefly unreachable: worth waiting for, not a bug.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0)  # about half a minute in all
_UNAVAILABLE = {
    "CannotConnectNowError",  # "the database system is starting up / shutting down"
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "PostgresConnectionError",
    "AdminShutdownError",  # "terminating connection due to administrator command"
    "CrashShutdownError",
    "TooManyConnectionsError",
}
# PostgreSQL's SQLSTATEs for "the server is away": class 08 (connection exception) and these.
_PG_AWAY = {"57P01", "57P02", "57P03", "53300"}  # admin/crash shutdown, cannot connect now, too many connections
# SQLite's result codes for "the file is busy or out of reach" (the lock beyond busy_timeout included).
_SQLITE_AWAY = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PROTOCOL")
# What a driver says when the connection itself failed, for errors that carry no code.
_AWAY_WORDS = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
    "connection refused",
    "connection reset",
    "connection is closed",
    "connection was closed",
    "connection has been closed",
    "server closed the connection",
    "terminating connection",
    "could not connect",
    "cannot connect",
    "the database system is",
    "timed out",
    "timeout expired",
    "no route to host",
    "broken pipe",
)
_DRIVERS = {"sqlite3", "aiosqlite", "asyncpg", "psycopg", "psycopg2", "sqlalchemy"}


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps: a DBAPI error's ``orig``, then explicit and implicit causes."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8 and all(seen is not c for c in chain):
        chain.append(seen)
        implicit = None if seen.__suppress_context__ else seen.__context__
        seen = getattr(seen, "orig", None) or seen.__cause__ or implicit
    return chain


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database could not be reached (as opposed to a bug or bad data).

    Only connection-level failures count: refused, reset or closed connections, timeouts (the
    pool's included), SQLite's lock beyond its busy timeout, PostgreSQL shutting down or not yet
    accepting connections. A missing table, a typo'd statement or a violated constraint is a
    bug or bad data, however the driver classes it (SQLite calls "no such table" an
    OperationalError): retrying it would only hold the person's lock for half a minute.
    """
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    for seen in _causes(exc):
        if isinstance(seen, PoolTimeout):
            return True  # no pooled connection came free in time
        if isinstance(seen, DBAPIError):
            continue  # judged by what it wraps
        if type(seen).__name__ in _UNAVAILABLE:
            return True
        sqlstate = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate:
            return sqlstate.startswith("08") or sqlstate in _PG_AWAY
        code_name = getattr(seen, "sqlite_errorname", None)
        if isinstance(code_name, str) and code_name:
            return code_name.startswith(_SQLITE_AWAY)
        if isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        if isinstance(seen, OSError) and not isinstance(seen, (FileNotFoundError, PermissionError)):
            return True
        driver = type(seen).__module__.split(".")[0]
        if driver in _DRIVERS and any(words in str(seen).lower() for words in _AWAY_WORDS):
            return True
    return False


_HERE = Path("bot/storage/db.py")


def origin_of(exc: BaseException) -> str:
    """Where a failed statement came from: the innermost frame of forumbot's own code, and the
    statement's first words (never its values)."""
    where = "?"
    tb = exc.__traceback__
    root = Path(__file__).resolve().parents[2]
    while tb is not None:
        filename = Path(tb.tb_frame.f_code.co_filename)
        try:
            relative = filename.resolve().relative_to(root)
        except ValueError:
            relative = None
        if relative is not None and relative.parts[0] not in (".venv", "venv") and relative != _HERE:
            where = f"{relative.as_posix()}:{tb.tb_lineno} in {tb.tb_frame.f_code.co_name}"
        tb = tb.tb_next
    statement = " ".join(str(getattr(exc, "statement", "") or "").split())
    if len(statement) > 80:
        statement = statement[:77] + "..."
    cause = next((c for c in _causes(exc)[1:] if not hasattr(c, "orig")), None)
    reason = str(cause if cause is not None else exc).splitlines()[0][:200] if str(cause or exc) else ""
    text = f"{type(exc).__name__} ({reason}) at {where}"
    return f"{text}; statement: {statement}" if statement else text


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
