"""Leads manage who is in their forum: invites made in the chat, the member list, revoking a seat.

Also the limit on guessing invite codes (the mechanism is ``bot.services.guesses``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.permissions import Action
from bot.i18n import N_, Raw
from bot.services import audit, guesses
from bot.services.delivery import notify
from bot.services.errors import NotFound, Refused
from bot.services.forums import invites, membership_notices
from bot.services.forums.access import load_forum as load_forum  # one definition, used from here too
from bot.services.forums.access import require as require
from bot.services.forums.membership_notices import Change
from bot.services.sql import get_or_refuse
from bot.services.texts import forum_title
from bot.storage.models import ChannelIdentity, Forum, Invite, Membership, Person

ONLY_LEAD_INVITES = N_("Only a forum's lead can create invites.")
ONLY_LEAD = N_("Only the forum's lead can do that.")

CODE_ATTEMPTS_PER_HOUR = guesses.INVITE_CODES.attempts
TOO_MANY_CODES = guesses.INVITE_CODES.refusal


async def invite_as(
    session: AsyncSession,
    *,
    person: Person | None,
    forum: Forum,
    role: str,
    now: datetime,
    uses: int = 1,
    expires_days: int = 14,
) -> Invite:
    """An invite made by a person in the chat (operators use ``invites.create_invite`` directly)."""
    await require(session, person, forum, Action.CREATE_INVITE, ONLY_LEAD_INVITES)
    assert person is not None
    return await invites.create_invite(
        session, forum=forum, role=role, now=now, uses=uses, expires_days=expires_days, created_by=person.id
    )


# -- guessing codes ------------------------------------------------------------------------------


async def checked_invite(session: AsyncSession, identity: ChannelIdentity, code: str, *, now: datetime) -> Invite:
    """``invites.usable_invite`` for a person typing a code, with wrong guesses limited (``guesses``)."""
    await guesses.check(session, guesses.INVITE_CODES, identity, now)
    try:
        return await invites.usable_invite(session, code, now=now)
    except NotFound:
        guesses.record_failure(session, guesses.INVITE_CODES, identity, now)
        raise


# -- members -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    membership: Membership
    person: Person


async def members(session: AsyncSession, *, person: Person | None, forum: Forum) -> list[Member]:
    """The forum's current members, by name, for its lead."""
    by_name = (Person.display_name, Membership.id)
    return await _seats_shown_to_lead(session, person, forum, Membership.revoked_at.is_(None), order_by=by_name)


async def _seats_shown_to_lead(
    session: AsyncSession,
    person: Person | None,
    forum: Forum,
    which: ColumnElement[bool],
    *,
    order_by: Sequence[Any],
) -> list[Member]:
    """The forum's seats ``which`` the lead asks for, of people still registered, in ``order_by``."""
    await require(session, person, forum, Action.VIEW_MEMBERS, ONLY_LEAD)
    rows = await session.execute(
        select(Membership, Person)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.forum_id == forum.id, which, Person.forgotten_at.is_(None))
        .order_by(*order_by)
    )
    return [Member(m, p) for m, p in rows.all()]


async def _seat_for_lead(
    session: AsyncSession, person: Person | None, membership_id: int
) -> tuple[Membership, Forum, Person]:
    """The seat (locked) and its forum, once ``person`` may end or give back seats there."""
    membership = await get_or_refuse(
        session, Membership, membership_id, N_("That membership no longer exists."), lock=True
    )
    forum = await session.get(Forum, membership.forum_id)
    assert forum is not None
    await session.refresh(forum, ["org_unit"])
    await require(session, person, forum, Action.REVOKE_MEMBERSHIP, ONLY_LEAD)
    assert person is not None
    return membership, forum, person


async def revoke(
    session: AsyncSession, *, person: Person | None, membership_id: int, now: datetime
) -> tuple[Membership, Forum]:
    """A lead (or an admin) takes someone's seat in a forum away; the person is told."""
    membership, forum, person = await _seat_for_lead(session, person, membership_id)
    if membership.person_id == person.id:
        raise Refused(N_("You cannot revoke your own membership. Use /forget to leave forumbot."))
    if membership.revoked_at is not None:
        raise Refused(N_("That membership was already revoked."))
    membership.revoked_at = now
    await _audit_seat(session, "membership.revoke", membership, forum, person, now)
    for r in await notify.recipients(session, [membership.person_id], now=now):
        text = r.t._(
            "Your membership in {forum} was ended by the forum's lead. "
            "If you think this is a mistake, please contact them.",
            forum=Raw(forum_title(r.t, forum, forum.org_unit)),
        )
        await r.send(r.message(text), dedup_key=f"membership:revoked:{membership.id}:{now.isoformat()}")
    await membership_notices.tell_leads(
        session, forum=forum, membership=membership, change=Change.REVOKED, now=now,
        person=await session.get(Person, membership.person_id), actor=person,
    )
    return membership, forum


async def ended(session: AsyncSession, *, person: Person | None, forum: Forum) -> list[Member]:
    """Seats a lead ended in this forum, of people still registered: the lead may re-admit them."""
    latest_first = (Membership.revoked_at.desc(), Membership.id)
    return await _seats_shown_to_lead(session, person, forum, Membership.revoked_at.is_not(None), order_by=latest_first)


async def readmit(
    session: AsyncSession, *, person: Person | None, membership_id: int, now: datetime
) -> tuple[Membership, Forum, Person]:
    """A lead (or an admin) gives back a seat they ended; the person and the other leads are told."""
    membership, forum, person = await _seat_for_lead(session, person, membership_id)
    member = await session.get(Person, membership.person_id)
    if member is None or member.forgotten_at is not None:
        raise NotFound(N_("That membership no longer exists."))
    if membership.revoked_at is None:
        raise Refused(N_("That person is already a member again."))
    membership.revoked_at = None
    await _audit_seat(session, "membership.readmit", membership, forum, person, now)
    for r in await notify.recipients(session, [membership.person_id], now=now):
        text = r.t._(
            "You are a member of {forum} again: the forum's lead re-admitted you.",
            forum=Raw(forum_title(r.t, forum, forum.org_unit)),
        )
        await r.send(r.message(text), dedup_key=f"membership:readmitted:{membership.id}:{now.isoformat()}")
    await membership_notices.tell_leads(
        session, forum=forum, membership=membership, change=Change.READMITTED, now=now, person=member, actor=person,
    )
    return membership, forum, member


async def _audit_seat(
    session: AsyncSession, action: str, membership: Membership, forum: Forum, actor: Person, now: datetime
) -> None:
    """The audit row of a lead's change to someone's seat, flushed before the notices go out."""
    audit.record(
        session, now=now, action=action, actor_person_id=actor.id, subject=f"forum:{forum.id}",
        details={"membership": membership.id, "person": membership.person_id, "role": membership.role},
    )
    await session.flush()
