"""When a channel cannot deliver to someone for good: mark the identity and tell their forum leads.

The identity's status becomes ``failed`` (notices skip it); it becomes ``active`` again as soon
as the person writes to the bot. Leads hear about it once per failure: only the change from
active to failed sends a notice, and the notice carries a dedup key.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.roles import UnknownRole, get_role
from bot.i18n import N_, Raw
from bot.services import audit
from bot.services.delivery import notify
from bot.services.forums import people
from bot.storage.models import ChannelIdentity, Person

CHANNEL_NAMES = {"whatsapp": "WhatsApp", "telegram": "Telegram", "console": "console"}

UNREACHABLE = N_(
    "forumbot could not deliver messages to {name} on {channel}:\n{seats}\n"
    "Forum messages will not reach them there until they write to the bot again. "
    "It may be worth checking with them."
)


async def mark_unreachable(
    session: AsyncSession,
    *,
    identity_id: int,
    reason: str,
    now: datetime,
    tz: ZoneInfo | None = None,
) -> int:
    """Mark the identity failed; on the first failure, queue a notice to each lead. Returns notices queued."""
    identity = await session.get(ChannelIdentity, identity_id)
    if identity is None:
        return 0
    was_active = identity.status == "active"
    identity.status = "failed"
    audit.record(
        session, now=now, action="identity.unreachable", subject=f"identity:{identity.id}", details={"reason": reason}
    )
    if not was_active or identity.person_id is None:
        return 0
    person = await session.get(Person, identity.person_id)
    if person is None or person.forgotten_at is not None:
        return 0
    seats_by_lead: dict[int, list[people.ForumSeat]] = {}
    for seat in await people.seats_of(session, person.id):
        for lead_id in await notify.lead_ids(session, seat.forum.id):
            if lead_id != person.id:
                seats_by_lead.setdefault(lead_id, []).append(seat)
    queued = 0
    for recipient in await notify.recipients(session, seats_by_lead, now=now, tz=tz):
        t = recipient.t
        lines = []
        for seat in seats_by_lead[recipient.person.id]:
            try:
                role = get_role(seat.unit.tier, seat.forum.kind, seat.role).name(t.locale)
            except UnknownRole:
                role = seat.role
            unit = seat.unit.name_en if t.locale == "en" and seat.unit.name_en else seat.unit.name
            lines.append("• " + t._("{role}, {unit}", role=role, unit=unit))
        text = t._(
            UNREACHABLE,
            name=person.display_name,
            channel=CHANNEL_NAMES.get(identity.channel, identity.channel),
            seats=Raw("\n".join(lines)),
        )
        if await recipient.send(
            recipient.message(text), dedup_key=f"unreachable:{identity.id}:{now.strftime('%Y%m%d%H%M')}"
        ):
            queued += 1
    return queued
