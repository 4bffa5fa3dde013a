"""Small SQL helpers shared by the services: dialect-aware inserts, once-only claims and work batches,
and reading a row or refusing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, String, Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import NotFound
from bot.storage.models import JobRun

M = TypeVar("M")


async def insert_ignore(session: AsyncSession, table: Table, values: dict[str, Any], *, conflict: list[str]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when a row was written.

    The statement is built once per table and dialect and the values go in as bound parameters
    (the outbox runs this for many messages: no statement built and cache-keyed per row).
    """
    dialect = dialect_of(session)
    key = (dialect, table.name, tuple(conflict))
    stmt = _IGNORING.get(key)
    if stmt is None:
        module: Any = postgresql if dialect == "postgresql" else sqlite
        stmt = _IGNORING[key] = module.insert(table).on_conflict_do_nothing(index_elements=conflict)
    result = await session.execute(stmt, values)
    return bool(getattr(result, "rowcount", 0))


_IGNORING: dict[tuple[str, str, tuple[str, ...]], Any] = {}


async def insert_or_find(
    session: AsyncSession, model: type[M], values: dict[str, Any], *, conflict: list[str]
) -> tuple[M, bool]:
    """:func:`insert_ignore` a ``model`` row, then read the row that holds those ``conflict`` values.

    Returns it (read afresh from the database) and True when this call wrote it; a second call with
    the same ``conflict`` values (a repeated request) gets the first one's row and False.
    """
    mapped: Any = model
    created = await insert_ignore(session, mapped.__table__, values, conflict=conflict)
    row = await session.scalar(
        select(model)
        .where(*(getattr(mapped, column) == values[column] for column in conflict))
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row, created


async def claim_step(session: AsyncSession, key: str, now: datetime, *, owner: str | None = None) -> bool:
    """Claim a step in the caller's transaction: it runs once, and a failure leaves it due.

    True for the one caller that wrote the ``done`` row for ``key``; a rollback takes the claim back.
    """
    return await insert_ignore(
        session,
        JobRun.__table__,  # type: ignore[arg-type]
        {"key": key, "status": "done", "claimed_at": now, "finished_at": now, "owner": owner},
        conflict=["key"],
    )


async def get_or_refuse(
    session: AsyncSession, model: type[M], key: int, missing: str, *, lock: bool = False, fresh: bool = False
) -> M:
    """The ``model`` row with primary key ``key``, or :class:`NotFound` with the msgid ``missing``.

    ``lock`` reads it ``FOR UPDATE``; ``fresh`` reads it again even when the session holds it already.
    """
    row = await session.get(model, key, with_for_update=lock, populate_existing=fresh)
    if row is None:
        raise NotFound(missing)
    return row


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


# One person's events are handled one at a time across every process: on PostgreSQL under this
# transaction-scoped advisory lock, keyed "channel:user id" (SQLite has one writer at a time anyway).
PERSON_LOCK_PG = select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("lock_key", type_=String), 0)))


def person_lock_key(channel: str, user_id: str) -> str:
    return f"{channel}:{user_id}"


async def lock_person(session: AsyncSession, channel: str, user_id: str) -> None:
    """Wait for, then hold until the transaction ends, the lock the person's inbound events take
    (PostgreSQL; on SQLite the transaction's write lock already excludes them)."""
    if dialect_of(session) == "postgresql":
        await session.execute(PERSON_LOCK_PG, {"lock_key": person_lock_key(channel, user_id)})


class Claimable(Protocol):
    """A work row: a status, when a worker took it, and how many times one did."""

    status: Any
    claimed_at: Any
    attempts: Any


R = TypeVar("R", bound=Claimable)


async def claim_batch(
    session: AsyncSession,
    model: type[R],
    *,
    now: datetime,
    waiting: str,
    taken: str,
    stale_after: timedelta,
    limit: int,
    order_by: Sequence[Any],
    scope: Sequence[ColumnElement[bool]] = (),
    due: Sequence[ColumnElement[bool]] = (),
) -> list[R]:
    """Take up to ``limit`` rows waiting for work: the one claim the outbox and the WhatsApp inbox share.

    A row another worker took more than ``stale_after`` ago and never finished (it crashed) waits
    again first. On PostgreSQL the rows are locked ``SKIP LOCKED``, so two processes never take one
    row; SQLite's single writer (BEGIN IMMEDIATE) gives the same. ``scope`` narrows both the reset and
    the claim (a channel, a shard); ``due`` only the claim (what is due now). Each taken row is marked
    ``taken`` with the time and one more attempt, in the caller's transaction.
    """
    table: Any = model
    await session.execute(
        update(table)
        .where(table.status == taken, table.claimed_at < now - stale_after, *scope)
        .values(status=waiting)
    )
    stmt = select(table).where(table.status == waiting, *scope, *due).order_by(*order_by).limit(limit)
    if dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows: list[R] = list((await session.scalars(stmt)).all())
    for row in rows:
        row.status, row.claimed_at, row.attempts = taken, now, row.attempts + 1
    return rows
