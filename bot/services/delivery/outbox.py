"""Writing to the durable outbox, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Outbound
from bot.services.sql import insert_ignore
from bot.storage.models import CHAT_GROUP, CHAT_PRIVATE, OutboxMessage

__all__ = [
    "CHAT_GROUP",
    "CHAT_PRIVATE",
    "PRIORITY_BULK",
    "PRIORITY_NOTICE",
    "PRIORITY_REPLY",
    "enqueue",
    "withdraw_queued",
]

PRIORITY_REPLY = 0
PRIORITY_NOTICE = 5
PRIORITY_BULK = 10
# A message whose row is deleted once it was sent or failed (the goodbye to a forgotten person).
ERASE_AFTER_SEND = "erase-after-send:"
# Built once: a reply is the statement every inbound event runs, with bound values (no ORM flush,
# no statement built and cache-keyed per message; insert_ignore keeps its own the same way).
_TABLE: Table = OutboxMessage.__table__  # type: ignore[assignment]
_INSERT = insert(_TABLE)


async def enqueue(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    message: Outbound,
    now: datetime,
    identity_id: int | None = None,
    priority: int = PRIORITY_REPLY,
    dedup_key: str | None = None,
    not_before: datetime | None = None,
    chat_kind: str = CHAT_PRIVATE,
) -> bool:
    """Queue a message; with a ``dedup_key`` a second enqueue of the same thing is a no-op."""
    values = {
        "channel": channel,
        "chat_id": chat_id,
        "chat_kind": chat_kind,
        "identity_id": identity_id,
        "payload": message.to_json(),
        "priority": priority,
        "status": "queued",
        "dedup_key": dedup_key,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "created_at": now,
    }
    if dedup_key is None:
        await session.execute(_INSERT, values)
        return True
    return await insert_ignore(session, _TABLE, values, conflict=["dedup_key"])


async def withdraw_queued(session: AsyncSession, *, key_prefix: str, reason: str) -> int:
    """Messages still queued under keys that begin with ``key_prefix`` are not sent after all (they
    count as failed, with ``reason``); how many. A message already being sent goes on."""
    escaped = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "queued", OutboxMessage.dedup_key.like(escaped + "%", escape="\\"))
        .values(status="failed", last_error=reason)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
