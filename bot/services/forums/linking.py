"""One person on several messengers: a short one-time code links another channel identity.

`/link` on a channel where the person is registered gives a code valid for 10 minutes; sending
`/link CODE` from another channel identity attaches that identity to the same person. Wrong codes
are counted per identity (``guesses.LINK_CODES``: five per quarter of an hour), so six characters
from 32 (about 10⁹ codes, a handful valid at any moment) are plenty.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit, guesses
from bot.services.errors import Refused
from bot.storage.models import ChannelIdentity, Person
from bot.storage.models_whatsapp import LinkCode

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read aloud and type
CODE_LENGTH = 6
VALID_FOR = timedelta(minutes=10)

BAD_CODE = N_("This code is not valid or has expired. Send /link again on your other messenger to get a new one.")


def normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


async def create_code(session: AsyncSession, identity: ChannelIdentity, *, now: datetime) -> LinkCode:
    """A new code for the person behind ``identity``; their earlier unused codes stop working."""
    if identity.person_id is None:
        raise Refused(
            N_(
                "To link this account, send /link on the messenger where you are already registered, "
                "and then send the code you get here: /link CODE"
            )
        )
    await session.execute(
        update(LinkCode)
        .where(LinkCode.person_id == identity.person_id, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
        .values(expires_at=now)
    )
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if await session.get(LinkCode, code) is None:
            break
    row = LinkCode(
        code=code, person_id=identity.person_id, identity_id=identity.id, created_at=now, expires_at=now + VALID_FOR
    )
    session.add(row)
    await session.flush()
    return row


async def redeem(session: AsyncSession, identity: ChannelIdentity, code: str, *, now: datetime) -> Person:
    """Attach ``identity`` to the person who asked for ``code``; refusals say what to do."""
    await guesses.check(session, guesses.LINK_CODES, identity, now)
    row = await session.scalar(select(LinkCode).where(LinkCode.code == normalise(code)).with_for_update())
    person = await session.get(Person, row.person_id) if row is not None else None
    if row is None or row.used_at is not None or row.expires_at <= now or person is None or person.forgotten_at:
        guesses.record_failure(session, guesses.LINK_CODES, identity, now)  # kept: a refusal is a reply
        raise Refused(BAD_CODE)
    if identity.person_id == person.id:
        raise Refused(N_("This account is already linked to you."))
    if identity.person_id is not None:
        raise Refused(
            N_(
                "This account is already registered as a separate person, so it cannot be linked. "
                "Ask your forum's lead for help."
            )
        )
    identity.person_id = person.id
    identity.person = person
    row.used_at = now
    row.used_by_identity_id = identity.id
    await session.flush()
    audit.record_by(session, person, "identity.link", now=now, subject=f"identity:{identity.id}",
                    details={"channel": identity.channel})
    return person
