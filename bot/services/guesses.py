"""Guessing codes, limited: one mechanism for every code a person types (invites, /link).

A wrong code is an audit-log row (action per kind of code, subject the channel identity; no table of
its own, no code or text kept), written in the event's transaction — a refusal is a reply, not a
rollback. Before a code is looked up, the wrong ones in the limit's window are counted; at the limit
the person is refused in their language, even with a right code, until the window has passed.
The rows are purged after a day by the retention job (``KEPT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import Refused
from bot.storage.models import AuditLog, ChannelIdentity

KEPT = timedelta(days=1)  # longer than any window


@dataclass(frozen=True)
class GuessLimit:
    action: str  # the audit-log action of one wrong code
    attempts: int  # wrong codes allowed within ``window``
    window: timedelta
    refusal: str  # msgid once the limit is reached


INVITE_CODES = GuessLimit(
    "invite.failed",
    10,
    timedelta(hours=1),
    N_("Too many wrong invite codes. Please wait an hour and try again, or ask your forum's lead for a link."),
)
LINK_CODES = GuessLimit(
    "link.fail",
    5,
    timedelta(minutes=15),
    N_("Too many wrong linking codes. Please wait a quarter of an hour and try again."),
)
ALL = (INVITE_CODES, LINK_CODES)


def _subject(identity: ChannelIdentity) -> str:
    return f"identity:{identity.id}"


async def failures(session: AsyncSession, limit: GuessLimit, identity: ChannelIdentity, now: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(AuditLog)
        .where(
            AuditLog.action == limit.action,
            AuditLog.subject == _subject(identity),
            AuditLog.at > now - limit.window,
        )
    )
    return int(count or 0)


async def check(session: AsyncSession, limit: GuessLimit, identity: ChannelIdentity, now: datetime) -> None:
    """Refuse (before the code is even looked up) once the limit is reached."""
    if await failures(session, limit, identity, now) >= limit.attempts:
        raise Refused(limit.refusal)


def record_failure(session: AsyncSession, limit: GuessLimit, identity: ChannelIdentity, now: datetime) -> None:
    audit.record(session, now=now, action=limit.action, subject=_subject(identity))
