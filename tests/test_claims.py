"""Scheduled steps claimed once: a claim whose process died is taken over, a live one never is."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from bot.storage.models import JobRun
from scheduler.claims import STALE_RUNNING, claim, finish
from scheduler.jobs import retention
from tests.conftest import T0


async def test_a_claim_left_running_by_a_killed_process_is_taken_over(app: App) -> None:
    key = "retention:2026-11-22"
    assert await claim(app.db, key, now=T0)
    assert not await claim(app.db, key, now=T0 + timedelta(minutes=1))  # still running somewhere
    assert not await claim(app.db, key, now=T0 + STALE_RUNNING)  # not yet stale
    # The process that claimed it was SIGKILLed before `finish`: the next tick takes it over, once.
    later = T0 + STALE_RUNNING + timedelta(minutes=1)
    assert await claim(app.db, key, now=later, owner="second")
    assert not await claim(app.db, key, now=later)
    await finish(app.db, key, now=later)
    assert not await claim(app.db, key, now=later + 10 * STALE_RUNNING)  # done is done
    async with app.db.sessions() as session:
        row = await session.scalar(select(JobRun).where(JobRun.key == key))
    assert row is not None and row.status == "done" and row.owner == "second"


async def test_retention_cut_short_runs_again_the_same_day(app: App) -> None:
    now = T0
    assert await claim(app.db, f"retention:{now.date().isoformat()}", now=now)  # and then the process died
    assert await retention(app, now + timedelta(minutes=5)) == 0  # another process leaves it alone meanwhile
    async with app.db.sessions() as session:
        status = await session.scalar(select(JobRun.status).where(JobRun.key.like("retention:%")))
    assert status == "running"
    await retention(app, now + STALE_RUNNING + timedelta(minutes=5))
    async with app.db.sessions() as session:
        status = await session.scalar(select(JobRun.status).where(JobRun.key.like("retention:%")))
    assert status == "done"
