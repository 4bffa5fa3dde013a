"""Button tokens: the opaque string a client sends back instead of a payload, minted in one place."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import ChoiceToken

TOKEN_DAYS = 60  # a button in an old message still works for two months, then says it is stale


def mint(
    session: AsyncSession, *, channel: str, chat_id: str, identity_id: int | None, payload: str, now: datetime
) -> str:
    """A new token for ``payload``; ``identity_id=None`` lets anyone in the chat press it (groups)."""
    token = secrets.token_urlsafe(9)
    session.add(
        ChoiceToken(
            token=token,
            identity_id=identity_id,
            chat_id=chat_id,
            channel=channel,
            payload=payload,
            created_at=now,
            expires_at=now + timedelta(days=TOKEN_DAYS),
        )
    )
    return token
