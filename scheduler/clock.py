"""APScheduler ticks `run_due` every few seconds inside `forumbot run`."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from scheduler.jobs import run_due

log = logging.getLogger(__name__)


def build_scheduler(app: App) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=app.settings.tz)

    async def tick() -> None:
        await run_due(app)

    scheduler.add_job(
        tick,
        "interval",
        seconds=app.settings.scheduler_tick_seconds,
        id="tick",
        max_instances=1,
        coalesce=True,
    )
    return scheduler
