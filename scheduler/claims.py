"""Claiming a scheduled step once, whatever the number of processes or restarts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from bot.services.sql import insert_ignore
from bot.storage.db import Database
from bot.storage.models import JobRun

# A step claimed "running" and never finished (its process was killed) is taken over after this.
# Only steps that may safely run again use claim/finish (housekeeping, retention); steps that send
# claim "done" in the transaction that sends (bot.services.sql.claim_step).
STALE_RUNNING = timedelta(minutes=30)


async def claim(
    db: Database, key: str, *, now: datetime, owner: str = "local", stale_after: timedelta = STALE_RUNNING
) -> bool:
    """True for exactly one caller per key (the step is then ours to run and finish), or for one
    caller again once a "running" claim is older than ``stale_after`` (its process died)."""
    async with db.unit_of_work() as session:
        if await insert_ignore(
            session,
            JobRun.__table__,  # type: ignore[arg-type]
            {"key": key, "status": "running", "claimed_at": now, "owner": owner},
            conflict=["key"],
        ):
            return True
        taken = await session.execute(
            update(JobRun)
            .where(JobRun.key == key, JobRun.status == "running", JobRun.claimed_at < now - stale_after)
            .values(claimed_at=now, owner=owner)
        )
        return bool(getattr(taken, "rowcount", 0))


async def finish(db: Database, key: str, *, now: datetime, status: str = "done") -> None:
    async with db.unit_of_work() as session:
        await session.execute(update(JobRun).where(JobRun.key == key).values(status=status, finished_at=now))
