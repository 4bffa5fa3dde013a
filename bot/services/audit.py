from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AuditLog


def record(
    session: AsyncSession,
    *,
    now: datetime,
    action: str,
    actor_person_id: int | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Keep what a lead or an admin did. Never put names, phones or secrets in ``details``."""
    session.add(
        AuditLog(at=now, actor_person_id=actor_person_id, action=action, subject=subject, details=details or {})
    )
