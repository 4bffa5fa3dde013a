"""A database that cannot be reached is waited for; a bug or bad data is not retried."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as SATimeout

from bot.app import App
from bot.conversation import Context, Conversations
from bot.storage import db as db_module
from bot.storage.db import database_unavailable, retry_unavailable
from tests.helpers import import_demo, make_invite, plain, register


def unreachable() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "Connection refused"))


def test_what_counts_as_the_database_being_away() -> None:
    assert database_unavailable(unreachable())
    assert database_unavailable(ConnectionResetError())
    assert database_unavailable(TimeoutError())
    assert not database_unavailable(IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")))
    assert not database_unavailable(ValueError("a bug"))
    assert not database_unavailable(FileNotFoundError("a missing file is not an outage"))


async def test_retry_waits_for_the_database_and_raises_anything_else_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db_module, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise unreachable()
        return "ok"

    assert await retry_unavailable(flaky, what="a test") == "ok"
    assert calls == 3

    async def always_away() -> str:
        raise unreachable()

    with pytest.raises(OperationalError):
        await retry_unavailable(always_away, what="a test")  # gives up after the delays

    bugs = 0

    async def buggy() -> str:
        nonlocal bugs
        bugs += 1
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await retry_unavailable(buggy, what="a test")
    assert bugs == 1


async def test_an_event_that_meets_an_outage_is_handled_once_when_the_database_is_back(
    sqlite_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sqlite_app
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, "S-DEMO-210101", "principal"))
    monkeypatch.setattr(db_module, "RETRY_DELAYS", (0.0, 0.0))
    real = Conversations._handle_once
    outages = 0

    async def first_the_database_is_away(self: Conversations, *args: object, **kwargs: object) -> object:
        nonlocal outages
        if outages < 2:
            outages += 1
            raise unreachable()
        return await real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Conversations, "_handle_once", first_the_database_is_away)
    before = len(dana.received)
    text = plain((await dana.say("/forums"))[-1].text)
    assert outages == 2
    assert "הפורומים שלך" in text  # answered, not apologised to
    assert len(dana.received) == before + 1  # once


class _PgError(Exception):
    """Stands for an asyncpg error: what counts is its SQLSTATE."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _wrapped(orig: BaseException, kind: type[DBAPIError] = OperationalError) -> DBAPIError:
    return kind("SELECT 1", {}, orig)


def test_only_connection_level_failures_are_an_outage() -> None:
    # SQLite: the lock beyond its busy timeout, the file out of reach.
    assert database_unavailable(_wrapped(sqlite3.OperationalError("database is locked")))
    assert database_unavailable(_wrapped(sqlite3.OperationalError("unable to open database file")))
    # PostgreSQL: shutting down, starting up, a dropped connection, refused at connect.
    assert database_unavailable(
        DBAPIError("SELECT 1", {}, _PgError("57P01", "terminating connection due to administrator command"))
    )
    assert database_unavailable(_wrapped(_PgError("57P03", "the database system is starting up")))
    assert database_unavailable(_wrapped(_PgError("08006", "connection failure")))
    assert database_unavailable(ConnectionRefusedError(111, "Connection refused"))
    assert database_unavailable(SATimeout("QueuePool limit reached, connection timed out"))
    # Bugs and bad data, whatever the driver calls them: failed at once.
    assert not database_unavailable(_wrapped(sqlite3.OperationalError("no such table: gaps")))
    assert not database_unavailable(_wrapped(sqlite3.OperationalError('near "SELEC": syntax error')))
    assert not database_unavailable(_wrapped(sqlite3.OperationalError("no such column: x")))
    assert not database_unavailable(_wrapped(_PgError("42P01", 'relation "gaps" does not exist'), ProgrammingError))
    assert not database_unavailable(_wrapped(_PgError("42601", "syntax error at or near"), ProgrammingError))
    assert not database_unavailable(_wrapped(_PgError("22P02", "invalid input syntax for type integer")))
    assert not database_unavailable(
        _wrapped(sqlite3.InterfaceError("Error binding parameter 1: type 'dict' is not supported"), InterfaceError)
    )
    assert not database_unavailable(ValueError("timed out"))  # words alone, outside a driver, are not enough


async def test_a_missing_table_fails_the_event_at_once_with_its_origin(
    app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, "S-DEMO-210101", "principal"))
    calls = 0

    async def buggy(ctx: Context) -> None:
        nonlocal calls
        calls += 1
        await ctx.session.execute(text("SELECT title FROM no_such_table WHERE id = 1"))

    command = app.conversations.commands["forums"]
    app.conversations.commands["forums"] = type(command)("forums", command.description, buggy, "registered")
    with caplog.at_level(logging.WARNING):
        reply = plain((await dana.say("/forums"))[-1].text)
    assert calls == 1  # not retried for half a minute while the person's lock is held
    assert "משהו השתבש אצלנו" in reply  # the apology, in Hebrew
    lines = [r for r in caplog.records if r.name == "bot.conversation"]
    assert len(lines) == 1 and lines[0].levelno == logging.ERROR
    line = lines[0].getMessage()
    assert "\n" not in line and lines[0].exc_info is None  # one line, no traceback
    assert "tests/test_db_unavailable.py" in line and "in buggy" in line  # the statement's origin
    assert "no_such_table" in line
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]
