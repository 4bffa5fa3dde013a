"""Messages kept for a person until they tap for them.

- ``window``: a message for someone whose 24-hour WhatsApp window is closed. A short approved
  template goes out instead (bot.services.whatsapp.window), with a quick-reply button; the tap
  reopens the window and releases every message held for that person, oldest first.
- ``page``: the rest of a menu too long for one WhatsApp list (behind its "More…" row).
- ``numbered``: options sent as numbered text (the last resort), so a typed number picks one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Outbound
from bot.storage.models_whatsapp import HeldMessage

WINDOW = "window"
PAGE = "page"
NUMBERED = "numbered"
NUMBERED_VALID = timedelta(hours=24)
KEEP = timedelta(days=60)  # as long as the buttons that release them


def digest(message: Outbound) -> str:
    body = json.dumps(message.to_json(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def unreleased(identity_id: int, kind: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions that pick this person's messages of ``kind`` held and not yet released."""
    return HeldMessage.identity_id == identity_id, HeldMessage.kind == kind, HeldMessage.released_at.is_(None)


async def hold(
    session: AsyncSession, *, identity_id: int, message: Outbound, now: datetime, kind: str = WINDOW
) -> HeldMessage:
    """Keep ``message``; holding the same message again (a retried send) returns the first row."""
    key = digest(message)
    existing = await session.scalar(
        select(HeldMessage).where(*unreleased(identity_id, kind), HeldMessage.digest == key)
    )
    if existing is not None:
        return existing
    row = HeldMessage(identity_id=identity_id, kind=kind, digest=key, payload=message.to_json(), created_at=now)
    session.add(row)
    await session.flush()
    return row


async def release_window(session: AsyncSession, identity_id: int, *, now: datetime) -> list[Outbound]:
    """Every message held for this person while their window was closed, oldest first; once."""
    rows = (
        await session.scalars(
            select(HeldMessage)
            .where(*unreleased(identity_id, WINDOW))
            .order_by(HeldMessage.id)
            .with_for_update()
        )
    ).all()
    for row in rows:
        row.released_at = now
    return [Outbound.from_json(row.payload) for row in rows]


async def page(session: AsyncSession, identity_id: int, held_id: int) -> Outbound | None:
    """The next page of a long menu (it may be asked for again: the person scrolls back)."""
    row = await session.get(HeldMessage, held_id)
    if row is None or row.identity_id != identity_id or row.kind != PAGE:
        return None
    return Outbound.from_json(row.payload)


async def replace_numbered(session: AsyncSession, identity_id: int, message: Outbound, *, now: datetime) -> None:
    """Remember the options just sent as numbered text; older numbered menus stop counting."""
    await forget_numbered(session, identity_id, now=now)
    await hold(session, identity_id=identity_id, message=message, now=now, kind=NUMBERED)


async def forget_numbered(session: AsyncSession, identity_id: int, *, now: datetime) -> None:
    await session.execute(
        update(HeldMessage).where(*unreleased(identity_id, NUMBERED)).values(released_at=now)
    )


async def numbered_choice(session: AsyncSession, identity_id: int, number: int, *, now: datetime) -> str | None:
    """The token behind option ``number`` of the latest numbered menu sent to this person."""
    row = await session.scalar(
        select(HeldMessage)
        .where(*unreleased(identity_id, NUMBERED), HeldMessage.created_at > now - NUMBERED_VALID)
        .order_by(HeldMessage.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    buttons = Outbound.from_json(row.payload).all_buttons
    return buttons[number - 1].token if 1 <= number <= len(buttons) else None


async def purge(session: AsyncSession, *, now: datetime) -> None:
    """Forget what can no longer be asked for."""
    await session.execute(
        delete(HeldMessage).where(
            or_(HeldMessage.created_at < now - KEEP, HeldMessage.released_at < now - timedelta(days=1))
        )
    )
