"""Messages to people who did not just write to us: notices, reminders, announcements.

A person may have several channel identities (Telegram and WhatsApp); a notice goes to each
active one, in the person's language and form of address, through the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.actions import Action, pack
from bot.core.messages import Button, Outbound, OutKind
from bot.domain.roles import lead_roles
from bot.i18n import Translator
from bot.services import tokens
from bot.services.delivery.outbox import PRIORITY_NOTICE, enqueue
from bot.storage.models import ChannelIdentity, Forum, GroupChat, Membership, OrgUnit, Person


@dataclass
class Recipient:
    """One person on one channel, with a translator and a way to mint buttons for them."""

    session: AsyncSession
    person: Person
    identity: ChannelIdentity
    t: Translator
    now: datetime

    def button(self, label: str, action: Action) -> Button:
        """A button in a message to this person: a declared action (bot.core.actions)."""
        payload = pack(action)
        token = tokens.mint(
            self.session,
            channel=self.identity.channel,
            chat_id=self.identity.chat_id,
            identity_id=self.identity.id,
            payload=payload,
            now=self.now,
        )
        return Button(token=token, label=label)

    def message(self, text: str, buttons: list[list[Button]] | None = None) -> Outbound:
        return Outbound(
            kind=OutKind.CHOICES if buttons else OutKind.TEXT, text=text, rtl=self.t.rtl, buttons=buttons or []
        )

    async def send(self, message: Outbound, *, priority: int = PRIORITY_NOTICE, dedup_key: str | None = None) -> bool:
        """Queue ``message``; ``dedup_key`` (made unique per identity here) stops a second enqueue."""
        key = f"{dedup_key}:i{self.identity.id}" if dedup_key else None
        return await enqueue(
            self.session,
            channel=self.identity.channel,
            chat_id=self.identity.chat_id,
            message=message,
            now=self.now,
            identity_id=self.identity.id,
            priority=priority,
            dedup_key=key,
        )


async def recipients(
    session: AsyncSession, person_ids: Iterable[int], *, now: datetime, tz: ZoneInfo | None = None
) -> list[Recipient]:
    """Every active channel identity of these (not forgotten) people."""
    ids = sorted(set(person_ids))
    if not ids:
        return []
    rows = await session.execute(
        select(Person, ChannelIdentity)
        .join(ChannelIdentity, ChannelIdentity.person_id == Person.id)
        .where(Person.id.in_(ids), Person.forgotten_at.is_(None), ChannelIdentity.status == "active")
        .order_by(Person.id, ChannelIdentity.id)
    )
    return [
        Recipient(session, person, identity, Translator(person.locale, person.address_form, tz), now)
        for person, identity in rows.all()
    ]


async def member_ids(session: AsyncSession, forum_id: int, roles: Iterable[str] | None = None) -> list[int]:
    """People holding an active seat in a forum (optionally only in some roles)."""
    stmt = select(Membership.person_id).where(Membership.forum_id == forum_id, Membership.revoked_at.is_(None))
    if roles is not None:
        stmt = stmt.where(Membership.role.in_(list(roles)))
    return sorted(set((await session.scalars(stmt)).all()))


async def lead_ids(session: AsyncSession, forum_id: int) -> list[int]:
    forum = await session.get(Forum, forum_id)
    if forum is None:
        return []
    unit = await session.get(OrgUnit, forum.org_unit_id)
    assert unit is not None
    return await member_ids(session, forum_id, lead_roles(unit.tier, forum.kind))


async def forum_groups(session: AsyncSession, forum_id: int) -> list[GroupChat]:
    """The messenger groups linked to a forum."""
    return list(
        (
            await session.scalars(select(GroupChat).where(GroupChat.forum_id == forum_id, GroupChat.active.is_(True)))
        ).all()
    )
