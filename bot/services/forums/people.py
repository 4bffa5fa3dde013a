"""People, their identities, memberships and registration by role."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, literal_column, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.domain.permissions import Standing
from bot.domain.roles import CATALOGUE, lead_roles
from bot.domain.text import clean_name
from bot.i18n import LOCALES, N_
from bot.services import audit
from bot.services.errors import Refused
from bot.services.forums.invites import usable_invite
from bot.services.forums.membership_notices import Change, tell_leads
from bot.storage.models import (
    ChannelIdentity,
    ConversationState,
    Forum,
    Invite,
    Membership,
    OrgUnit,
    Person,
)

CONSENT_VERSION = "2026-11"
ADDRESS_FORMS = ("m", "f", "p")


@dataclass(frozen=True)
class JoinResult:
    person: Person
    forum: Forum
    role: str
    created_membership: bool
    created_person: bool


@dataclass(frozen=True)
class ForumSeat:
    forum: Forum
    unit: OrgUnit
    role: str

    @property
    def is_lead(self) -> bool:
        return self.role in lead_roles(self.unit.tier, self.forum.kind)


TOUCH_IDENTITY = timedelta(minutes=1)  # precise enough for WhatsApp's 24-hour window
TOUCH_PERSON = timedelta(hours=1)  # activity, for the retention period


# The statements run for every inbound event are built once: building one and computing its cache
# key costs more than running it. Values go in as bound parameters.
# Every (role, tier, forum kind) that leads a forum, from the domain's catalogue: whether a person
# leads anywhere is then one EXISTS inside the identity's own query (no statement of its own).
LEAD_SEATS = sorted(
    (role.key, tier.value, kind.value) for (tier, kind), roles in CATALOGUE.items() for role in roles if role.leads
)


def _inline(rows: list[tuple[str, str, str]]) -> list[object]:
    """The catalogue's own keys written into the statement (not an expanding parameter list that is
    rendered again on every execution); keys are lowercase identifiers, checked here."""
    for row in rows:
        if not all(re.fullmatch(r"[a-z_]+", key) for key in row):
            raise ValueError(f"not a catalogue key: {row}")
    return [tuple_(*(literal_column(f"'{key}'") for key in row)) for row in rows]


_LEADS_SOMEWHERE = (
    exists()
    .where(
        Membership.person_id == ChannelIdentity.person_id,
        Membership.revoked_at.is_(None),
        Membership.forum_id == Forum.id,
        Forum.org_unit_id == OrgUnit.id,
        tuple_(Membership.role, OrgUnit.tier, Forum.kind).in_(_inline(LEAD_SEATS)),
    )
    .correlate(ChannelIdentity)
    .label("leads")
)
_LOAD_IDENTITY = (
    select(ChannelIdentity, ConversationState)
    .outerjoin(ConversationState, ConversationState.identity_id == ChannelIdentity.id)
    .where(ChannelIdentity.channel == bindparam("channel"), ChannelIdentity.external_id == bindparam("external_id"))
    .options(joinedload(ChannelIdentity.person))
)
# The same with whether the person leads a forum: the EXISTS is not free (on PostgreSQL it is about
# as much of the server's time as the rest of the query), so it is asked for only when wanted.
_LOAD_IDENTITY_AND_LEADS = _LOAD_IDENTITY.add_columns(_LEADS_SOMEWHERE)
_SEATS = (
    select(Membership.role, Forum, OrgUnit)
    .join(Forum, Membership.forum_id == Forum.id)
    .join(OrgUnit, Forum.org_unit_id == OrgUnit.id)
    .where(Membership.person_id == bindparam("person_id"), Membership.revoked_at.is_(None))
    .order_by(OrgUnit.tier, OrgUnit.name, Membership.id)
)
_SEAT_ROLES = (
    select(Membership.role, OrgUnit.tier, Forum.kind)
    .join(Forum, Membership.forum_id == Forum.id)
    .join(OrgUnit, Forum.org_unit_id == OrgUnit.id)
    .where(Membership.person_id == bindparam("person_id"), Membership.revoked_at.is_(None))
)


async def load_identity(
    session: AsyncSession, channel: str, external_id: str
) -> tuple[ChannelIdentity | None, ConversationState | None]:
    """An identity with its person and its conversation state, in one query."""
    row = (await session.execute(_LOAD_IDENTITY, {"channel": channel, "external_id": external_id})).first()
    return (row[0], row[1]) if row is not None else (None, None)


async def load_event_identity(
    session: AsyncSession, channel: str, external_id: str
) -> tuple[ChannelIdentity | None, ConversationState | None, bool]:
    """What an inbound event needs of its sender, in one query: the identity with its person, the
    conversation state, and whether the person leads a forum anywhere (for a lead's menu)."""
    params = {"channel": channel, "external_id": external_id}
    row = (await session.execute(_LOAD_IDENTITY_AND_LEADS, params)).first()
    return (row[0], row[1], bool(row[2])) if row is not None else (None, None, False)


async def get_or_create_identity(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    chat_id: str,
    now: datetime,
    locale_hint: str | None = None,
    phone: str | None = None,
    preloaded: ChannelIdentity | None = None,
) -> ChannelIdentity:
    identity = preloaded
    if identity is None:
        identity, _state = await load_identity(session, channel, external_id)
    if identity is None:
        identity = ChannelIdentity(
            channel=channel, external_id=external_id, chat_id=chat_id, created_at=now,
            last_inbound_at=now, locale_hint=locale_hint, phone=phone, status="active",
        )
        session.add(identity)
        await session.flush()
        await session.refresh(identity, ["person"])
        return identity
    # Writes are kept for when something changed: most events only read.
    if identity.last_inbound_at is None or now - identity.last_inbound_at >= TOUCH_IDENTITY:
        identity.last_inbound_at = now
    if identity.status != "active":
        identity.status = "active"
    if phone and identity.person_id is not None and identity.phone != phone:
        identity.phone = phone
    person = identity.person
    if person is not None and now - person.last_active_at >= TOUCH_PERSON:
        person.last_active_at = now
    return identity


async def join_with_invite(
    session: AsyncSession,
    *,
    identity: ChannelIdentity,
    code: str,
    now: datetime,
    name: str | None = None,
    address_form: str = "p",
    locale: str = "he",
    consent_version: str | None = CONSENT_VERSION,
) -> JoinResult:
    """Register (or add a seat to) the person behind ``identity``; a repeat is a no-op."""
    invite: Invite = await usable_invite(session, code, now=now, lock=True)
    forum = invite.forum
    person = identity.person
    created_person = False
    if person is None:
        if name is None or consent_version is None:
            raise Refused(N_("Registration needs your consent and your name."))
        if address_form not in ADDRESS_FORMS or locale not in LOCALES:
            raise Refused(N_("Please choose one of the options."))
        person = Person(
            display_name=clean_name(name),
            address_form=address_form,
            locale=locale,
            consent_version=consent_version,
            consent_at=now,
            created_at=now,
            last_active_at=now,
        )
        session.add(person)
        await session.flush()
        identity.person_id = person.id
        identity.person = person
        created_person = True
    existing = await session.scalar(
        select(Membership).where(
            Membership.person_id == person.id, Membership.forum_id == forum.id, Membership.role == invite.role
        )
    )
    if existing is not None and existing.revoked_at is None:
        return JoinResult(person, forum, invite.role, created_membership=False, created_person=created_person)
    if not created_person:
        await check_not_revoked(session, person=person, invite=invite)
    if existing is not None:
        existing.revoked_at = None
        existing.invite_id = invite.id
        seat = existing
    else:
        seat = Membership(person_id=person.id, forum_id=forum.id, role=invite.role, invite_id=invite.id, created_at=now)
        session.add(seat)
    invite.uses += 1
    await session.flush()
    await tell_leads(session, forum=forum, membership=seat, change=Change.JOINED, now=now, person=person)
    audit.record_by(session, person, "membership.join", now=now, subject=f"forum:{forum.id}",
                    details={"role": invite.role, "invite": invite.id})
    return JoinResult(person, forum, invite.role, created_membership=True, created_person=created_person)


REVOKED_SEAT = N_(
    "The forum's lead ended your membership in this forum, so an invite cannot bring you back. "
    "If you think this is a mistake, ask the lead to re-admit you."
)


async def check_not_revoked(session: AsyncSession, *, person: Person, invite: Invite) -> None:
    """Refuse an invite that would restore a seat a lead ended.

    A seat ended by a lead comes back only when a lead re-admits the person (``/members``) or
    through a single-use invite made after the seat was ended (an invite for that one person);
    a multi-use invite, or one made before, does not restore it. This holds for the ended role,
    and for any role in that forum while the person holds no seat in it.
    """
    seats = (
        await session.scalars(
            select(Membership).where(Membership.person_id == person.id, Membership.forum_id == invite.forum_id)
        )
    ).all()
    active = any(m.revoked_at is None for m in seats)
    for seat in seats:
        if seat.revoked_at is None or (active and seat.role != invite.role):
            continue
        personal = invite.max_uses == 1 and invite.created_at >= seat.revoked_at
        if not personal:
            raise Refused(REVOKED_SEAT)


async def seats_of(session: AsyncSession, person_id: int) -> list[ForumSeat]:
    rows = await session.execute(_SEATS, {"person_id": person_id})
    return [ForumSeat(forum=f, unit=u, role=role) for role, f, u in rows.all()]


async def standings(session: AsyncSession, person: Person | None, forum: Forum) -> frozenset[Standing]:
    """How a person stands toward a forum (see bot.domain.permissions)."""
    if person is None:
        return frozenset({Standing.NONE})
    result: set[Standing] = set()
    if person.is_admin:
        result.add(Standing.ADMIN)
    unit = await session.get(OrgUnit, forum.org_unit_id)
    assert unit is not None
    for seat in await seats_of(session, person.id):
        if seat.forum.id == forum.id:
            result.add(Standing.LEAD if seat.is_lead else Standing.MEMBER)
        elif seat.is_lead and unit.parent_id is not None and seat.unit.id == unit.parent_id:
            result.add(Standing.COORDINATOR)
    return frozenset(result or {Standing.NONE})


async def set_locale(session: AsyncSession, person: Person, locale: str) -> None:
    if locale not in LOCALES:
        raise Refused(N_("Please choose one of the options."))
    person.locale = locale


async def set_address_form(session: AsyncSession, person: Person, form: str) -> None:
    if form not in ADDRESS_FORMS:
        raise Refused(N_("Please choose one of the options."))
    person.address_form = form


async def leads_a_forum(session: AsyncSession, person_id: int) -> bool:
    """Whether the person holds a lead role in any forum (one query, three columns a seat)."""
    rows = await session.execute(_SEAT_ROLES, {"person_id": person_id})
    return any(role in lead_roles(tier, kind) for role, tier, kind in rows.all())
