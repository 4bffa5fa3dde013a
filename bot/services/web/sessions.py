"""Signing in to the web page: one-time links, Telegram Mini App users, and browser sessions.

A link is single use, lives ten minutes and is bound to one person; opening it opens a session
(an opaque cookie value) with its own CSRF token. Only SHA-256 hashes of the secrets are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import ChannelIdentity, Person
from bot.storage.models_web import WebLink, WebSession

LINK_LIFETIME = timedelta(minutes=10)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def mint_link(session: AsyncSession, person_id: int, now: datetime) -> str:
    """A new one-time sign-in token for this person (put it in ``/web/link/<token>``)."""
    token = secrets.token_urlsafe(24)
    session.add(WebLink(token_hash=_hash(token), person_id=person_id, created_at=now,
                        expires_at=now + LINK_LIFETIME, used_at=None))
    await session.flush()
    return token


async def consume_link(session: AsyncSession, token: str, now: datetime) -> int | None:
    """The person the link signs in, once: a used, expired or unknown link gives None.

    One conditional UPDATE decides, so two browsers opening the same link cannot both win."""
    if not token or len(token) > 64:
        return None
    digest = _hash(token)
    result = await session.execute(
        update(WebLink)
        .where(WebLink.token_hash == digest, WebLink.used_at.is_(None), WebLink.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return await session.scalar(select(WebLink.person_id).where(WebLink.token_hash == digest))


@dataclass(frozen=True)
class Opened:
    cookie: str  # the session id, for the browser only
    csrf: str
    expires_at: datetime


async def open_session(
    session: AsyncSession, person_id: int, now: datetime, lifetime: timedelta, via: str
) -> Opened:
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = now + lifetime
    session.add(WebSession(id_hash=_hash(sid), person_id=person_id, csrf=csrf, via=via, created_at=now,
                           expires_at=expires))
    # Whoever signs in also sweeps what has expired (a handful of rows at most).
    await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    await session.execute(delete(WebLink).where(WebLink.expires_at <= now - timedelta(days=1)))
    await session.flush()
    return Opened(sid, csrf, expires)


@dataclass(frozen=True)
class SignedIn:
    person: Person
    csrf: str | None  # None: signed by Telegram on this very request (no cookie, no CSRF risk)


async def load_session(session: AsyncSession, cookie: str, now: datetime) -> SignedIn | None:
    if not cookie or len(cookie) > 96:
        return None
    row = (await session.execute(
        select(WebSession, Person).join(Person, Person.id == WebSession.person_id)
        .where(WebSession.id_hash == _hash(cookie), WebSession.expires_at > now, Person.forgotten_at.is_(None))
    )).first()
    if row is None:
        return None
    return SignedIn(person=row[1], csrf=row[0].csrf)


async def close_session(session: AsyncSession, cookie: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.id_hash == _hash(cookie)))


async def person_by_identity(session: AsyncSession, channel: str, external_id: str) -> Person | None:
    """The registered (not forgotten) person behind a channel identity."""
    return await session.scalar(
        select(Person).join(ChannelIdentity, ChannelIdentity.person_id == Person.id)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id,
               Person.forgotten_at.is_(None))
    )
