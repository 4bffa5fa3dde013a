"""The one durable, rate-limited delivery path for every outgoing message.

Rows are claimed from the outbox (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, an IMMEDIATE
transaction on SQLite), sent through the channel's sender under a smooth global token bucket
and a per-chat spacing, and marked sent, retried or failed. A row left "sending" by a crash is
put back in the queue after a grace period: delivery is at least once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, delete, func, or_, select, update

from bot import metrics
from bot.core.messages import (
    DeliveryError,
    Outbound,
    PermanentError,
    RetryAfter,
    Sender,
    SendResult,
    TransientError,
)
from bot.ratelimit import Limiter, LocalLimiter
from bot.services.delivery.outbox import ERASE_AFTER_SEND
from bot.services.meetings import undelivered
from bot.services.sql import claim_batch, insert_ignore
from bot.storage.db import database_unavailable, retry_unavailable
from bot.storage.models import CHAT_GROUP, UNSURE_POLL, ChannelIdentity, ExternalRef, OutboxMessage

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.storage.db import Database

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
STALE_SENDING = timedelta(minutes=5)


@dataclass(frozen=True)
class ChannelLimits:
    per_second: float  # the pace of the bot's whole throughput
    chat_interval: float  # seconds between two messages to one private chat
    group_interval: float  # seconds between two messages to one group
    ceiling: int | None = None  # the API's hard limit: requests in any one second (default: the pace)


LIMITS: dict[str, ChannelLimits] = {
    "telegram": ChannelLimits(per_second=29.0, chat_interval=1.0, group_interval=3.1, ceiling=30),
    "whatsapp": ChannelLimits(per_second=70.0, chat_interval=6.0, group_interval=6.0),
    "console": ChannelLimits(per_second=1000.0, chat_interval=0.0, group_interval=0.0),
}


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    failed: dict[str, int] = field(default_factory=dict)


class Delivery:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        senders: dict[str, Sender],
        *,
        batch: int = 50,
        limiter: Limiter | None = None,
        limits: dict[str, ChannelLimits] | None = None,
        stale_after: timedelta = STALE_SENDING,
    ) -> None:
        self.stale_after = stale_after
        self.db = db
        self.clock = clock
        self.senders = senders
        self.batch = batch
        self.limiter: Limiter = limiter or LocalLimiter()
        self.limits = {**LIMITS, **(limits or {})}
        self.wake = asyncio.Event()
        self._wakes: list[asyncio.Event] = []
        self.stats = DeliveryStats()
        self.only_chats: dict[str, frozenset[str]] = {}

    def restrict(self, channel: str, chats: set[str]) -> None:
        """Claim only these chats' rows of a channel (a console claims its own person's alone)."""
        self.only_chats[channel] = frozenset(chats)

    def _mine(self) -> list[ColumnElement[bool]]:
        return [
            or_(OutboxMessage.channel != channel, OutboxMessage.chat_id.in_(sorted(chats)))
            for channel, chats in self.only_chats.items()
        ]

    def notify(self) -> None:
        self.wake.set()
        for wake in self._wakes:
            wake.set()

    # -- claiming -----------------------------------------------------------------------------

    async def claim(
        self, limit: int | None = None, *, replies: bool | None = None, busy_chats: set[str] | None = None
    ) -> list[OutboxMessage]:
        """Claim due rows: ``replies=True`` only replies, ``False`` only the rest, ``None`` all."""
        now = self.clock.now()
        channels = list(self.senders)
        if not channels:
            return []
        due: list[ColumnElement[bool]] = [OutboxMessage.next_attempt_at <= now]
        if busy_chats:  # chats with messages still in flight here: keep each chat's order
            due.append(OutboxMessage.chat_id.not_in(sorted(busy_chats)))
        if replies is True:
            due.append(OutboxMessage.priority == 0)
        elif replies is False:
            due.append(OutboxMessage.priority > 0)
        async with self.db.unit_of_work() as session:
            rows = await claim_batch(
                session,
                OutboxMessage,
                now=now,
                waiting="queued",
                taken="sending",
                stale_after=self.stale_after,
                limit=limit or self.batch,
                order_by=[OutboxMessage.priority, OutboxMessage.id],
                scope=[OutboxMessage.channel.in_(channels), *self._mine()],
                due=due,
            )
        return rows

    # -- sending ------------------------------------------------------------------------------

    async def _send_one(self, row: OutboxMessage) -> None:
        sender = self.senders[row.channel]
        limits = self.limits.get(row.channel, LIMITS["telegram"])
        interval = limits.group_interval if row.chat_kind == CHAT_GROUP else limits.chat_interval
        message = Outbound.from_json(row.payload)
        try:
            await self.limiter.wait_for_chat(row.channel, row.chat_id, interval)
            ticket = await self.limiter.wait_global(row.channel, limits.per_second, limits.ceiling)
        except Exception as exc:  # the limiter's store (Redis) failing must not strand the row
            log.warning("rate limiter unavailable (%s); row %s goes back to the queue", type(exc).__name__, row.id)
            await self._requeue(row, timedelta(seconds=2), f"limiter: {type(exc).__name__}", count=False)
            return
        try:
            try:
                result = await sender.send(row.chat_id, message)
            finally:
                await self._done(row.channel, ticket)
        except RetryAfter as exc:
            await self._keep_progress(row, message, exc)
            await self.limiter.pause(row.channel, row.chat_id, exc.seconds, whole_channel=not exc.chat_only)
            await self._requeue(row, timedelta(seconds=exc.seconds), f"retry_after {exc.seconds}", count=False)
            metrics.RETRIED.labels(row.channel, "rate_limited").inc()
        except TransientError as exc:
            await self._unsure_poll(row, message)
            await self._keep_progress(row, message, exc)
            await self._retry_or_fail(row, str(exc))
        except PermanentError as exc:
            await self._fail(row, exc.reason, unreachable=exc.identity_unreachable)
        except DeliveryError as exc:
            await self._keep_progress(row, message, exc)
            await self._retry_or_fail(row, str(exc))
        except Exception as exc:  # a bug in a sender must not lose the message
            log.exception("sender %s crashed on outbox row %s", row.channel, row.id)
            await self._retry_or_fail(row, f"{type(exc).__name__}")
        else:
            # Sent: recording it must outlast a database restart, or the row would be sent again.
            await retry_unavailable(lambda: self._mark_sent(row, result, message), what="recording a sent message")

    async def _done(self, channel: str, ticket: str) -> None:
        try:
            await self.limiter.done(channel, ticket)
        except Exception as exc:  # Redis away: the send stops counting by itself after a while
            log.warning("rate limiter unavailable (%s) when a send completed", type(exc).__name__)

    async def _mark_sent(self, row: OutboxMessage, result: SendResult, message: Outbound) -> None:
        now = self.clock.now()
        async with self.db.unit_of_work() as session:
            if row.dedup_key and row.dedup_key.startswith(ERASE_AFTER_SEND):
                await session.execute(delete(OutboxMessage).where(OutboxMessage.id == row.id))
                marked = 0
            else:
                marked = _rowcount(
                    await session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id == row.id)
                        .values(status="sent", sent_at=now, external_message_id=result.message_id, last_error=None)
                    )
                )
            # (a row gone meanwhile was to a person who has since been forgotten: nothing to refer to)
            if marked and result.poll_id and message.poll is not None and message.poll.correlation:
                await insert_ignore(
                    session,
                    ExternalRef.__table__,  # type: ignore[arg-type]
                    {
                        "channel": row.channel,
                        "kind": "poll",
                        "external_id": result.poll_id,
                        "correlation": message.poll.correlation,
                        "chat_id": row.chat_id,
                        "message_id": result.message_id,
                        "created_at": now,
                    },
                    conflict=["channel", "kind", "external_id"],
                )
        self.stats.sent += 1
        metrics.SENT.labels(row.channel).inc()

    async def _keep_progress(self, row: OutboxMessage, message: Outbound, exc: DeliveryError) -> None:
        """Parts of the message that went out before the error are not sent again by the retry."""
        if exc.parts_sent <= message.parts_sent:
            return
        async with self.db.unit_of_work() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(payload={**row.payload, "parts_sent": exc.parts_sent})
            )

    async def _unsure_poll(self, row: OutboxMessage, message: Outbound) -> None:
        """A poll whose send failed without a clear answer (a timeout) may have been delivered all the
        same, under a poll id we never learn: remember that this chat may hold such a copy, so that
        an answer to it can still be matched to its ballot (see polls.native_poll_copy)."""
        if message.poll is None or not message.poll.correlation:
            return
        try:
            async with self.db.unit_of_work() as session:
                await insert_ignore(
                    session,
                    ExternalRef.__table__,  # type: ignore[arg-type]
                    {
                        "channel": row.channel,
                        "kind": UNSURE_POLL,
                        "external_id": f"outbox:{row.id}",
                        "correlation": message.poll.correlation,
                        "chat_id": row.chat_id,
                        "message_id": None,
                        "created_at": self.clock.now(),
                    },
                    conflict=["channel", "kind", "external_id"],
                )
        except Exception:
            log.exception("could not note the unsure send of outbox row %s", row.id)

    async def _requeue(self, row: OutboxMessage, delay: timedelta, reason: str, *, count: bool) -> None:
        now = self.clock.now()
        async with self.db.unit_of_work() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(
                    status="queued",
                    next_attempt_at=now + delay,
                    last_error=reason[:500],
                    attempts=OutboxMessage.attempts if count else OutboxMessage.attempts - 1,
                )
            )
        self.stats.retried += 1

    async def _retry_or_fail(self, row: OutboxMessage, reason: str) -> None:
        metrics.RETRIED.labels(row.channel, "transient").inc()
        if row.attempts >= MAX_ATTEMPTS:
            await self._fail(row, f"gave up: {reason}")
            return
        delay = timedelta(seconds=min(2 ** (row.attempts - 1), 300))
        await self._requeue(row, delay, reason, count=True)

    async def _fail(self, row: OutboxMessage, reason: str, *, unreachable: bool = False) -> None:
        log.warning("outbox row %s to %s failed: %s", row.id, row.channel, reason)
        async with self.db.unit_of_work() as session:
            if row.dedup_key and row.dedup_key.startswith(ERASE_AFTER_SEND):
                await session.execute(delete(OutboxMessage).where(OutboxMessage.id == row.id))
            else:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(status="failed", last_error=reason[:500])
                )
            if unreachable and row.identity_id is not None:
                await session.execute(
                    update(ChannelIdentity)
                    .where(ChannelIdentity.id == row.identity_id, ChannelIdentity.chat_id == row.chat_id)
                    .values(status="blocked")
                )
            # Whoever is waiting on this message hears that it will not arrive (same transaction).
            try:
                async with session.begin_nested():
                    await undelivered.on_failed(session, dedup_key=row.dedup_key, now=self.clock.now())
            except Exception:  # telling the lead must never keep the row from being marked failed
                log.exception("telling the lead that outbox row %s failed went wrong", row.id)
        key = reason.split(":")[0][:40]
        self.stats.failed[key] = self.stats.failed.get(key, 0) + 1
        metrics.FAILED.labels(row.channel, key).inc()

    async def _send_batch(self, rows: list[OutboxMessage]) -> None:
        by_chat: dict[tuple[str, str], list[OutboxMessage]] = {}
        for row in rows:
            by_chat.setdefault((row.channel, row.chat_id), []).append(row)

        async def chat_worker(chat_rows: list[OutboxMessage]) -> None:
            for row in chat_rows:  # one chat's messages go in order
                try:
                    await self._send_one(row)
                except Exception:  # e.g. the database went away while marking; the row is re-queued later
                    log.exception("delivering outbox row %s failed", row.id)

        await asyncio.gather(*(chat_worker(r) for r in by_chat.values()))

    async def drain(self, *, max_rounds: int = 1000, replies: bool | None = None) -> int:
        """Send everything due now; returns how many rows were handled."""
        handled = 0
        for _ in range(max_rounds):
            rows = await self.claim(replies=replies)
            if not rows:
                break
            await self._send_batch(rows)
            handled += len(rows)
        return handled

    async def run(self, stop: asyncio.Event, *, idle: float = 1.0) -> None:
        """Send until ``stop`` is set, in two lanes: replies go out at once, bulk messages queue."""
        await asyncio.gather(self._lane(stop, idle, replies=True), self._lane(stop, idle, replies=False))

    async def _lane(self, stop: asyncio.Event, idle: float, *, replies: bool) -> None:
        """Claim the next batch while the current one is still sending, so the pace never stalls."""
        wake = asyncio.Event()
        self._wakes.append(wake)
        busy: set[str] = set()
        batches: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                rows: list[OutboxMessage] = []
                if len(batches) < 2:
                    try:
                        rows = await self.claim(replies=replies, busy_chats=busy)
                    except Exception as exc:
                        if database_unavailable(exc):
                            log.warning("database unavailable (%s); delivery waits for it", type(exc).__name__)
                        else:
                            log.exception("claiming from the outbox failed; retrying")
                        await asyncio.sleep(idle)
                if rows:
                    chats = {row.chat_id for row in rows}
                    busy.update(chats)
                    task = asyncio.create_task(self._send_batch(rows))
                    task.add_done_callback(functools.partial(_release, busy, chats))
                    batches.add(task)
                    task.add_done_callback(batches.discard)
                    if len(batches) < 2:
                        continue
                wake.clear()
                woken = asyncio.ensure_future(wake.wait())
                await asyncio.wait({*batches, woken}, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
        finally:
            if batches:
                await asyncio.gather(*batches, return_exceptions=True)

    async def queue_depth(self) -> tuple[int, datetime | None]:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.status.in_(("queued", "sending"))
                    )
                )
            ).one()
        depth, oldest = int(row[0]), row[1]
        metrics.OUTBOX_DEPTH.set(depth)
        metrics.OUTBOX_OLDEST.set((self.clock.now() - oldest).total_seconds() if oldest else 0)
        return depth, oldest


def _release(busy: set[str], chats: set[str], _task: object) -> None:
    busy.difference_update(chats)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
