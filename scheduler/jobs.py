"""Every scheduled step, run by `forumbot jobs run-due` and by the ticking scheduler alike."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete

from bot.app import App
from bot.domain import agenda as agenda_rules
from bot.services import agenda, meetings
from bot.services.sql import insert_ignore
from bot.storage.models import ChoiceToken, JobRun, ProcessedUpdate
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


async def agenda_day_before(app: App, now: datetime) -> int:
    """The day before a meeting, every member gets its agenda: once per meeting.

    The claim is written in the same transaction as the messages, so a failure leaves it due.
    """
    async with app.db.unit_of_work() as session:
        soon = await agenda.upcoming_meetings(session, now, now + timedelta(days=2))
    sent = 0
    for forum_id, meeting_at in soon:
        if now < agenda_rules.agenda_send_at(meeting_at, app.settings.tz):
            continue
        async with app.db.unit_of_work() as session:
            claimed = await insert_ignore(
                session,
                JobRun.__table__,  # type: ignore[arg-type]
                {"key": f"agenda:send:f{forum_id}:{meeting_at.isoformat()}", "status": "done", "claimed_at": now,
                 "finished_at": now},
                conflict=["key"],
            )
            if claimed:
                await agenda.send_agenda(session, forum_id, meeting_at, now)
                sent += 1
    return sent


async def agenda_due_reminders(app: App, now: datetime) -> int:
    """Owners hear of what they took on a few days before it is due: once per item per due date."""
    async with app.db.unit_of_work() as session:
        return await meetings.due_reminders(session, now, app.settings.tz)


def all_jobs() -> list[Job]:
    """Feature modules add their jobs here, in the order they should run in one tick."""
    return [
        Job("housekeeping", housekeeping),
        Job("agenda_day_before", agenda_day_before),
        Job("agenda_due_reminders", agenda_due_reminders),
    ]


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
