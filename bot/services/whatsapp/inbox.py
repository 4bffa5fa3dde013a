"""The WhatsApp webhook's inbox: every item Meta delivers is stored first (Meta retries a delivery
it saw no 200 for), then handled once, in the order received, by whichever worker claims it.

A status that says a message Meta accepted was not delivered after all is judged here, with the
same policy as a refused send: the window closed (send it again, as a template), a rate limit (send
it again later), the person cannot be reached (mark the identity), or anything else (the row failed).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Outbound
from bot.services.delivery import held
from bot.services.delivery.outbox import PRIORITY_NOTICE, enqueue
from bot.services.forums import reachability
from bot.services.meetings import undelivered
from bot.services.sql import claim_batch, insert_ignore
from bot.services.whatsapp.window import CHANNEL, identity_id
from bot.storage.models import OutboxMessage
from bot.storage.models_whatsapp import WhatsAppInbox

BATCH = 50
STALE = timedelta(minutes=5)
ATTEMPTS = 5
KEEP = timedelta(days=14)  # Meta re-delivers for up to a week

# Cloud API error codes (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
# that decide more than "failed", for a send and for a status alike.
WINDOW_CLOSED = 131047
RATE_LIMITS = {  # code: seconds to wait before trying again
    130429: 2.0,  # throughput of the number: slow down for a moment
    131056: 6.0,  # pair rate: too many messages to one person; about one per 6 s
    131048: 60.0,  # spam rate limit
    4: 60.0,  # app-level call limit
    80007: 60.0,  # WhatsApp Business Account rate limit
}


@dataclass(frozen=True)
class Item:
    """One item of a webhook delivery, before it is stored."""

    key: str
    kind: str  # "event" or "status"
    payload: dict[str, Any]


async def store(session: AsyncSession, items: Sequence[Item], *, now: datetime) -> None:
    """Keep every item once (a re-delivery of the same wamid is ignored)."""
    for item in items:
        await insert_ignore(
            session,
            WhatsAppInbox.__table__,  # type: ignore[arg-type]
            {
                "update_key": item.key,
                "kind": item.kind,
                "payload": item.payload,
                "status": "pending",
                "attempts": 0,
                "received_at": now,
            },
            conflict=["update_key"],
        )


async def claim(session: AsyncSession, *, now: datetime) -> list[WhatsAppInbox]:
    return await claim_batch(
        session,
        WhatsAppInbox,
        now=now,
        waiting="pending",
        taken="processing",
        stale_after=STALE,
        limit=BATCH,
        order_by=[WhatsAppInbox.id],
    )


async def finish(session: AsyncSession, row_id: int, *, now: datetime) -> None:
    """Done; the content is dropped at once (only the key stays, to recognise a re-delivery)."""
    await session.execute(
        update(WhatsAppInbox).where(WhatsAppInbox.id == row_id).values(status="done", processed_at=now, payload={})
    )


async def failed(session: AsyncSession, row: WhatsAppInbox, error: str) -> None:
    """Handling ``row`` raised: it waits for another attempt, or fails for good after the last one."""
    await session.execute(
        update(WhatsAppInbox)
        .where(WhatsAppInbox.id == row.id)
        .values(status="failed" if row.attempts >= ATTEMPTS else "pending", last_error=error[:500])
    )


async def purge(session: AsyncSession, *, now: datetime) -> None:
    await session.execute(
        delete(WhatsAppInbox).where(
            WhatsAppInbox.status.in_(["done", "failed"]), WhatsAppInbox.received_at < now - KEEP
        )
    )
    await held.purge(session, now=now)


async def not_delivered(
    session: AsyncSession,
    *,
    wamid: str | None,
    code: int,
    recipient: str | None,
    reason: str,
    unreachable: bool,
    now: datetime,
    tz: ZoneInfo,
) -> str | None:
    """A status saying Meta did not deliver ``wamid``, for ``reason``; ``unreachable`` when the code
    means the person cannot be reached. Returns what to log, if anything."""
    sent = await session.scalar(
        select(OutboxMessage).where(OutboxMessage.channel == CHANNEL, OutboxMessage.external_message_id == wamid)
    )
    if code == WINDOW_CLOSED or code in RATE_LIMITS:
        if sent is not None:
            payload = copy.deepcopy(sent.payload)
            if code == WINDOW_CLOSED:
                payload["template"] = {**(payload.get("template") or {}), "always": True}
            await enqueue(
                session,
                channel=CHANNEL,
                chat_id=sent.chat_id,
                message=Outbound.from_json(payload),
                now=now,
                identity_id=sent.identity_id,
                priority=PRIORITY_NOTICE,
                dedup_key=f"wa-again:{wamid}",
                not_before=now + timedelta(seconds=RATE_LIMITS.get(code, 0.0)),
            )
        return None
    identity = sent.identity_id if sent is not None else None
    if identity is None and recipient:
        identity = await identity_id(session, recipient)
    note = None
    if unreachable and identity is not None:
        await reachability.mark_unreachable(session, identity_id=identity, reason=reason, now=now, tz=tz)
    else:
        note = f"WhatsApp could not deliver {wamid}: {reason}"
    if sent is not None and sent.status == "sent":
        # Accepted, then not delivered: the row failed after all, and whoever waits on it
        # (a date poll's lead) hears who did not get it.
        sent.status = "failed"
        sent.last_error = f"status {code}"[:500]
        await undelivered.on_failed(session, dedup_key=sent.dedup_key, now=now)
    return note
