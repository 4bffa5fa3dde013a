"""Invites: role-bound, limited in uses and time, and impossible to guess."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.domain.roles import UnknownRole, get_role
from bot.i18n import N_
from bot.services import audit
from bot.services.errors import NotFound, Refused
from bot.storage.models import Forum, Invite, OrgUnit

CODE_BYTES = 12  # 16 URL-safe characters, 96 bits: fits Telegram's 64-character start payload
MAX_USES = 500
MAX_DAYS = 90


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def looks_like_code(text: str) -> bool:
    return 8 <= len(text) <= 64 and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in text)


async def forum_by_code(session: AsyncSession, code: str) -> Forum:
    forum = await session.scalar(select(Forum).where(Forum.code == code).options(selectinload(Forum.org_unit)))
    if forum is None:
        raise NotFound(N_("There is no forum with the code {code}."), code=code)
    return forum


async def create_invite(
    session: AsyncSession,
    *,
    forum: Forum,
    role: str,
    now: datetime,
    uses: int = 1,
    expires_days: int = 14,
    created_by: int | None = None,
) -> Invite:
    unit: OrgUnit = forum.org_unit
    try:
        get_role(unit.tier, forum.kind, role)
    except UnknownRole:
        raise Refused(N_("The role {role} does not belong to this forum."), role=role) from None
    if not 1 <= uses <= MAX_USES:
        raise Refused(N_("An invite can be used between 1 and {max} times."), max=MAX_USES)
    if not 1 <= expires_days <= MAX_DAYS:
        raise Refused(N_("An invite can be valid for 1 to {max} days."), max=MAX_DAYS)
    invite = Invite(
        code=new_code(),
        forum_id=forum.id,
        role=role,
        max_uses=uses,
        uses=0,
        expires_at=now + timedelta(days=expires_days),
        created_by_person_id=created_by,
        created_at=now,
    )
    session.add(invite)
    await session.flush()
    audit.record(
        session,
        now=now,
        action="invite.create",
        actor_person_id=created_by,
        subject=f"forum:{forum.id}",
        details={"role": role, "uses": uses, "days": expires_days},
    )
    return invite


async def usable_invite(session: AsyncSession, code: str, *, now: datetime, lock: bool = False) -> Invite:
    """The invite behind a code, or a refusal saying plainly what is wrong with it."""
    stmt = select(Invite).where(Invite.code == code).options(selectinload(Invite.forum).selectinload(Forum.org_unit))
    if lock:
        stmt = stmt.with_for_update()
    invite = await session.scalar(stmt) if looks_like_code(code) else None
    if invite is None:
        raise NotFound(N_("This invite code is not known. Check it, or ask your forum's lead for a new one."))
    if invite.revoked_at is not None:
        raise Refused(N_("This invite was cancelled. Ask your forum's lead for a new one."))
    if invite.expires_at <= now:
        raise Refused(N_("This invite has expired. Ask your forum's lead for a new one."))
    if invite.uses >= invite.max_uses:
        raise Refused(N_("This invite has already been used. Ask your forum's lead for a new one."))
    return invite


def telegram_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"
