"""The two steps every use case starts with: load the forum, check the person may act on it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.domain.permissions import Action, allowed
from bot.i18n import N_
from bot.services.errors import Forbidden, NotFound
from bot.services.forums import people
from bot.storage.models import Forum, Person


async def load_forum(session: AsyncSession, forum_id: int) -> Forum:
    """The forum with its unit, or a plain "no longer exists" refusal."""
    forum = await session.scalar(select(Forum).where(Forum.id == forum_id).options(selectinload(Forum.org_unit)))
    if forum is None:
        raise NotFound(N_("That forum no longer exists."))
    return forum


async def require(session: AsyncSession, person: Person | None, forum: Forum, action: Action, msgid: str) -> None:
    """Refuse with ``msgid`` unless the permission table lets this person do ``action`` in ``forum``."""
    if not allowed(action, await people.standings(session, person, forum)):
        raise Forbidden(msgid)
