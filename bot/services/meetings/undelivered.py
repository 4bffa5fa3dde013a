"""When the delivery path gives up on a message for good: tell the lead who did not get it.

``bot.delivery.Delivery`` calls :func:`on_failed` in the transaction that marks an outbox row
``failed`` (a permanent error, or retries exhausted). Two notices are followed: a date poll's
ballot (dedup key ``datepoll:<poll>:ballot:i<identity>``) and a meeting's invitation
(``meeting:<meeting>:s<sequence>:<status>:i<identity>``). A person has it on every channel they
use, so the forum's leads are told only once none of that person's copies can still arrive — and
only once per person and notice (the notice's own dedup key).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.meeting_polls import LIVE_POLL
from bot.domain.roles import UnknownRole, get_role
from bot.i18n import N_, Raw, Translator
from bot.services.delivery import notify
from bot.services.meetings.poll_texts import forum_name, option_label
from bot.storage.models import ChannelIdentity, Forum, Membership, OrgUnit, OutboxMessage, Person
from bot.storage.models_polls import DatePoll, Meeting

log = logging.getLogger(__name__)

_BALLOT = re.compile(r"^(datepoll:(\d+):ballot):i(\d+)$")
_INVITATION = re.compile(r"^(meeting:(\d+):s\d+:[a-z]+):i(\d+)$")

POLL_NOT_DELIVERED = N_(
    "⚠️ The date poll of {forum} could not be delivered to {name} ({role}). They will not see it "
    "until they write to the bot again; you may want to tell them yourself."
)
INVITATION_NOT_DELIVERED = N_(
    "⚠️ The invitation to the meeting of {forum} on {date} could not be delivered to {name} ({role}). "
    "You may want to tell them yourself."
)


async def on_failed(session: AsyncSession, *, dedup_key: str | None, now: datetime) -> int:
    """Tell the leads about a notice that will not reach someone; returns the notices queued."""
    if not dedup_key:
        return 0
    if match := _BALLOT.match(dedup_key):
        poll = await session.get(DatePoll, int(match[2]))
        if poll is None or poll.status not in LIVE_POLL:
            return 0
        return await _tell(session, match[1], int(match[3]), poll.forum_id, now=now, meeting=None)
    if match := _INVITATION.match(dedup_key):
        meeting = await session.get(Meeting, int(match[2]))
        if meeting is None or meeting.status != "confirmed" or meeting.starts_at <= now:
            return 0
        return await _tell(session, match[1], int(match[3]), meeting.forum_id, now=now, meeting=meeting)
    return 0


async def not_reached(session: AsyncSession, notice: str) -> list[int]:
    """People every copy of a notice failed for (e.g. ``datepoll:7:ballot``), by person id."""
    rows = await session.execute(
        select(ChannelIdentity.person_id, OutboxMessage.status)
        .join(ChannelIdentity, ChannelIdentity.id == OutboxMessage.identity_id)
        .where(OutboxMessage.dedup_key.like(f"{notice}:i%"))
    )
    statuses: dict[int, set[str]] = {}
    for person_id, status in rows.all():
        if person_id is not None:
            statuses.setdefault(person_id, set()).add(status)
    return sorted(p for p, found in statuses.items() if found == {"failed"})


async def _tell(
    session: AsyncSession, notice: str, identity_id: int, forum_id: int, *, now: datetime, meeting: Meeting | None
) -> int:
    identity = await session.get(ChannelIdentity, identity_id)
    if identity is None or identity.person_id is None:
        return 0
    person = await session.get(Person, identity.person_id)
    if person is None or person.forgotten_at is not None:
        return 0
    others = select(ChannelIdentity.id).where(ChannelIdentity.person_id == person.id)
    still_coming = await session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.dedup_key.in_([f"{notice}:i{i}" for i in (await session.scalars(others)).all()]),
            OutboxMessage.status != "failed",
        )
        .limit(1)
    )
    if still_coming is not None:
        return 0  # another channel of theirs has it, or may still
    forum = await session.get(Forum, forum_id)
    if forum is None:
        return 0
    unit = await session.get(OrgUnit, forum.org_unit_id)
    assert unit is not None
    roles = (
        await session.scalars(
            select(Membership.role).where(
                Membership.forum_id == forum.id, Membership.person_id == person.id, Membership.revoked_at.is_(None)
            )
        )
    ).all()
    if not roles:
        return 0
    leads = [p for p in await notify.lead_ids(session, forum.id) if p != person.id]
    queued = 0
    for r in await notify.recipients(session, leads, now=now):
        text = _text(r.t, forum, unit, person, list(roles), meeting)
        if await r.send(r.message(text), dedup_key=f"undelivered:{notice}:p{person.id}"):
            queued += 1
    log.info("told %d lead(s) of forum %s that %s did not reach person %s", queued, forum.id, notice, person.id)
    return queued


def _text(
    t: Translator, forum: Forum, unit: OrgUnit, person: Person, roles: list[str], meeting: Meeting | None
) -> str:
    names = []
    for role in sorted(roles):
        try:
            names.append(get_role(unit.tier, forum.kind, role).name(t.locale))
        except UnknownRole:
            names.append(role)
    title = Raw(forum_name(t, forum, unit))
    role_names = ("، " if t.locale == "ar" else ", ").join(names)
    if meeting is None:
        return t._(POLL_NOT_DELIVERED, forum=title, name=person.display_name, role=role_names)
    return t._(
        INVITATION_NOT_DELIVERED,
        forum=title,
        date=Raw(option_label(t, meeting.starts_at)),
        name=person.display_name,
        role=role_names,
    )
