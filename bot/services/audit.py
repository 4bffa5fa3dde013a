from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AuditLog, Person


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


def record_by(
    session: AsyncSession,
    actor: Person | None,
    action: str,
    *,
    now: datetime,
    subject: str,
    details: dict[str, Any] | None = None,
) -> None:
    """:func:`record` what ``actor`` did; None when no person did it (a scheduled job, the system)."""
    actor_person_id = actor.id if actor else None
    record(session, now=now, action=action, actor_person_id=actor_person_id, subject=subject, details=details)
