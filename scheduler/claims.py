"""Claiming a scheduled step once, whatever the number of processes or restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from bot.services.sql import insert_ignore
from bot.storage.db import Database
from bot.storage.models import JobRun


async def claim(db: Database, key: str, *, now: datetime, owner: str = "local") -> bool:
    """True for exactly one caller per key (the step is then ours to run and finish)."""
    async with db.unit_of_work() as session:
        return await insert_ignore(
            session,
            JobRun.__table__,  # type: ignore[arg-type]
            {"key": key, "status": "running", "claimed_at": now, "owner": owner},
            conflict=["key"],
        )


async def finish(db: Database, key: str, *, now: datetime, status: str = "done") -> None:
    async with db.unit_of_work() as session:
        await session.execute(update(JobRun).where(JobRun.key == key).values(status=status, finished_at=now))
