"""Every scheduled step, run by `forumbot jobs run-due` and by the ticking scheduler alike."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete

from bot.app import App
from bot.storage.models import ChoiceToken, ProcessedUpdate
from scheduler.claims import claim, finish

log = logging.getLogger(__name__)

JobFn = Callable[[App, datetime], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    name: str
    run: JobFn


async def housekeeping(app: App, now: datetime) -> int:
    """Once an hour: forget expired buttons and old de-duplication marks."""
    key = f"housekeeping:{now.strftime('%Y-%m-%dT%H')}"
    if not await claim(app.db, key, now=now):
        return 0
    async with app.db.unit_of_work() as session:
        await session.execute(delete(ChoiceToken).where(ChoiceToken.expires_at <= now))
        await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < now - timedelta(days=14)))
    await finish(app.db, key, now=now)
    return 1


def all_jobs() -> list[Job]:
    """Feature modules add their jobs here, in the order they should run in one tick."""
    return [Job("housekeeping", housekeeping)]


async def run_due(app: App, now: datetime | None = None) -> dict[str, int]:
    """Run every step due at ``now`` exactly once; returns how many steps each job ran."""
    now = now or app.clock.now()
    done: dict[str, int] = {}
    for job in all_jobs():
        try:
            done[job.name] = await job.run(app, now)
        except Exception:
            log.exception("scheduled job %s failed; it will be tried at the next tick", job.name)
            done[job.name] = -1
    if any(done.values()):
        app.notify_outbox()
    return done
