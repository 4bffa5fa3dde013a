"""WhatsApp's 24-hour window: who a chat is, whether a free-form message may reach them, and what is
held for them (behind an approved template) when it may not.

Meta lets a business send free-form messages only within 24 hours of the person's last message.
Outside it, the message is kept (bot.services.delivery.held) and one short approved template goes
out instead, at most once a day per person; its quick reply releases everything held, oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.actions import pack
from bot.core.messages import Outbound
from bot.i18n import LOCALES
from bot.services import sql, tokens
from bot.services.delivery import held
from bot.services.delivery.channel_actions import NextPage, ReleaseHeld
from bot.storage.models import ChannelIdentity, ChoiceToken, Person
from bot.storage.models_whatsapp import HeldMessage

CHANNEL = "whatsapp"
WINDOW = timedelta(hours=24)
WINDOW_MARGIN = timedelta(minutes=10)  # a message queued at 23:59:59 may arrive after the window closed
TEMPLATE_EVERY = timedelta(hours=24)  # at most one "you have a message" template a day per person


@dataclass(frozen=True)
class Who:
    """What the sender needs to know about the person behind a chat."""

    identity_id: int
    external_id: str  # the key the person's inbound events carry (their business-scoped id or number)
    chat_id: str
    name: str
    locale: str
    form: str
    last_inbound_at: datetime | None

    def in_window(self, now: datetime) -> bool:
        return in_window(self.last_inbound_at, now)


def in_window(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether a free-form message sent ``now`` reaches someone who last wrote at ``last_inbound_at``."""
    return last_inbound_at is not None and now - last_inbound_at < WINDOW - WINDOW_MARGIN


async def who(session: AsyncSession, chat_id: str, *, default_locale: str) -> Who | None:
    """The person behind ``chat_id`` (a business-scoped id, or the phone a message was queued for)."""
    stmt = (
        select(ChannelIdentity, Person)
        .outerjoin(Person, ChannelIdentity.person_id == Person.id)
        .where(ChannelIdentity.channel == CHANNEL)
    )
    row = (await session.execute(stmt.where(ChannelIdentity.external_id == chat_id))).first()
    if row is None:  # queued for the phone number before the identity moved to its business-scoped id
        row = (await session.execute(stmt.where(ChannelIdentity.phone == chat_id).limit(1))).first()
    if row is None:
        return None
    identity, person = row
    locale = person.locale if person else identity.locale_hint or default_locale
    return Who(
        identity_id=identity.id,
        external_id=identity.external_id,
        chat_id=identity.chat_id,
        name=person.display_name if person else "",
        locale=locale if locale in LOCALES else default_locale,
        form=person.address_form if person else "p",
        last_inbound_at=identity.last_inbound_at,
    )


async def identity_id(session: AsyncSession, external_id: str) -> int | None:
    return cast(
        "int | None",
        await session.scalar(
            select(ChannelIdentity.id).where(
                ChannelIdentity.channel == CHANNEL, ChannelIdentity.external_id == external_id
            )
        ),
    )


async def rekey(session: AsyncSession, identity: int, *, wa_id: str, bsuid: str) -> None:
    """An identity first known by its phone number is keyed on its business-scoped id from now on."""
    await session.execute(
        update(ChannelIdentity).where(ChannelIdentity.id == identity).values(external_id=bsuid, chat_id=bsuid)
    )
    await session.execute(
        update(ChoiceToken)
        .where(ChoiceToken.channel == CHANNEL, ChoiceToken.chat_id == wa_id)
        .values(chat_id=bsuid)
    )


def _mint(session: AsyncSession, person: Who, payload: str, now: datetime) -> str:
    return tokens.mint(
        session, channel=CHANNEL, chat_id=person.chat_id, identity_id=person.identity_id, payload=payload, now=now
    )


@dataclass(frozen=True)
class Held:
    """A message kept behind the window: the template's quick-reply token, or None when a template
    sent earlier (and not yet tapped) will release this one too."""

    held_id: int
    token: str | None


async def hold(
    session: AsyncSession, person: Who, message: Outbound, *, now: datetime, recheck: bool = True
) -> Held | None:
    """Keep ``message`` until the person taps; a retried send finds the first row again.

    ``person`` was read before this transaction, and they may have written since (tapped the
    template that releases what is held, most likely): with ``recheck`` the window is read again
    under the lock their inbound events take, and None means it is open, so send the message as
    usual. Either the tap's release sees this row, or this sees the tap; a message held just after
    a release is never left waiting for a second tap."""
    if recheck:
        await sql.lock_person(session, CHANNEL, person.external_id)
        last = await session.scalar(
            select(ChannelIdentity.last_inbound_at).where(ChannelIdentity.id == person.identity_id)
        )
        if in_window(last, now):
            return None
    row = await held.hold(session, identity_id=person.identity_id, message=message, now=now)
    waiting = await session.scalar(
        select(
            exists().where(
                *held.unreleased(person.identity_id, held.WINDOW),
                HeldMessage.template_sent_at > now - TEMPLATE_EVERY,
                HeldMessage.id != row.id,
            )
        )
    )
    if waiting:
        return Held(row.id, None)
    return Held(row.id, _mint(session, person, pack(ReleaseHeld()), now))


async def template_sent(session: AsyncSession, held_id: int, *, now: datetime) -> None:
    await session.execute(update(HeldMessage).where(HeldMessage.id == held_id).values(template_sent_at=now))


async def hold_page(session: AsyncSession, person: Who, rest: Outbound, *, now: datetime) -> str:
    """Keep the rest of a menu too long for one list; the token of its "More…" row."""
    row = await held.hold(session, identity_id=person.identity_id, message=rest, now=now, kind=held.PAGE)
    return _mint(session, person, pack(NextPage(row.id)), now)
