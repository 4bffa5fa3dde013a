"""Every scheduled step, run by `forumbot jobs run-due` and by the ticking scheduler alike."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.domain import escalation as escalation_rules
from bot.services.agenda import items as agenda
from bot.services.escalation import announcements
from bot.services.escalation import digest as escalation_digest
from bot.services.escalation import forwarding as escalation
from bot.services.meetings import outcomes, polls
from bot.services.meetings import schedule as meetings
from bot.services.privacy import retention as privacy
from bot.services.sql import claim_step
from bot.storage.models import ChoiceToken, Forum, JobRun, ProcessedUpdate
from bot.storage.models_escalation import EscalatedGap
from scheduler.claims import claim, finish

log = logging.getLogger(__name__)

JobFn = Callable[[App, datetime], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    name: str
    run: JobFn


async def each_in_own_transaction(
    app: App, ids: Iterable[Any], step: Callable[[AsyncSession, Any], Awaitable[int | bool]], what: str
) -> int:
    """Run ``step`` for each id in a transaction of its own: one failure is logged and retried at the
    next tick without holding back (or rolling back) the others. Returns the sum of what steps did."""
    done = 0
    for ident in ids:
        try:
            async with app.db.unit_of_work() as session:
                done += int(await step(session, ident))
        except Exception:
            log.exception("%s %s failed; it will be tried at the next tick", what, ident)
    return done


async def each_due(
    app: App,
    due: Callable[[AsyncSession], Awaitable[Iterable[Any]]],
    step: Callable[[AsyncSession, Any], Awaitable[int | bool]],
    what: str,
) -> int:
    """Read the ids ``due`` returns in a read-only session, then ``each_in_own_transaction``."""
    async with app.db.sessions() as session:
        ids = await due(session)
    return await each_in_own_transaction(app, ids, step, what)


async def in_one_transaction(app: App, work: Callable[[AsyncSession], Awaitable[int]]) -> int:
    """Run a job's whole ``work`` in one transaction: a sweep that claims each of its rows itself."""
    async with app.db.unit_of_work() as session:
        return await work(session)


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


async def retention(app: App, now: datetime) -> int:
    """Once a day: forget people inactive beyond FORUMBOT_RETENTION_DAYS; purge old personal rows.

    Each person is forgotten in a transaction of their own, re-checked under a row lock, so a run
    cut short (or racing another process) leaves nobody half-forgotten and forgets nobody twice.
    """
    key = f"retention:{now.date().isoformat()}"
    if not await claim(app.db, key, now=now):
        return 0
    settings = app.settings
    forgotten = 0
    while True:
        async with app.db.unit_of_work() as session:
            batch = await privacy.inactive_people(session, now, settings.retention_days)
        done = 0
        for person_id in batch:
            async with app.db.unit_of_work() as session:
                done += await privacy.forget_inactive(session, person_id, now, settings.retention_days)
        forgotten += done
        if len(batch) < privacy.BATCH or not done:
            break
    async with app.db.unit_of_work() as session:
        purged = await privacy.purge(
            session, now, outbox_days=settings.outbox_retention_days, audit_days=settings.audit_retention_days
        )
    log.info(
        "retention: %d people forgotten, %d outbox, %d audit, %d conversations, %d whatsapp rows purged",
        forgotten, purged.outbox, purged.audit, purged.conversations, purged.whatsapp,
    )
    await finish(app.db, key, now=now)
    return forgotten + purged.outbox + purged.audit + purged.conversations + purged.whatsapp


async def agenda_due_reminders(app: App, now: datetime) -> int:
    """Owners hear of what they took on a few days before it is due: once per item per due date."""
    return await in_one_transaction(app, lambda session: outcomes.due_reminders(session, now, app.settings.tz))


# -- meeting-date polls and meetings ------------------------------------------------------------
# Each step claims its row inside the transaction that sends its messages (an UPDATE … WHERE …
# that only one process wins), one transaction per poll or meeting, so one failure does not
# hold back the others and nothing is sent twice.


async def close_date_polls(app: App, now: datetime) -> int:
    """Polls whose deadline has passed (also one missed while the bot was down): close, stopPoll, propose."""
    async with app.db.unit_of_work() as session:
        await polls.purge_stale_drafts(session, now)
        due = await polls.due_close_ids(session, now)
    return await each_in_own_transaction(
        app, due, lambda session, poll_id: polls.close(session, poll_id, now=now, tz=app.settings.tz),
        "closing date poll",
    )


async def date_poll_reminders(app: App, now: datetime) -> int:
    """The one reminder before the deadline, to members who have not answered."""
    return await each_due(
        app, lambda session: polls.due_reminder_ids(session, now),
        lambda session, poll_id: polls.send_reminders(session, poll_id, now=now, tz=app.settings.tz),
        "the reminders of date poll",
    )


async def required_roles_answered(app: App, now: datetime) -> int:
    """Tell a lead, once, that every required role has answered (hourly safety net; votes tell at once)."""
    return await in_one_transaction(
        app, lambda session: polls.roles_complete_sweep(session, now=now, tz=app.settings.tz)
    )


async def meeting_reminders(app: App, now: datetime) -> int:
    """The day before a confirmed meeting, once per date (a moved meeting is reminded again)."""
    return await each_due(
        app, lambda session: meetings.due_reminder_ids(session, now, app.settings.tz),
        lambda session, meeting_id: meetings.send_reminder(session, meeting_id, now=now, tz=app.settings.tz),
        "the reminder of meeting",
    )


async def cadence_nudges(app: App, now: datetime) -> int:
    """Leads whose forum has no meeting for its next period: at most once per period."""
    return await in_one_transaction(app, lambda session: meetings.cadence_nudges(session, now=now, tz=app.settings.tz))


async def keshet_assessments(app: App, now: datetime) -> int:
    """Open each partnership's scheduled self-assessment round (default every six months), once.

    The claim is the compare-and-set on the partnership's ``next_assessment_at`` inside
    ``open_scheduled_round``: one process wins it, and a failure rolls it back for the next tick.
    """
    from bot.services.keshet import process as keshet

    async with app.db.unit_of_work() as session:
        await keshet.ensure_partnerships(session, now=now)
        due = await keshet.due_assessments(session, now=now)
    opened = 0
    for partnership_id, due_at in due:
        async with app.db.unit_of_work() as session:
            asked = await keshet.open_scheduled_round(
                session, partnership_id=partnership_id, due=due_at, now=now, tz=app.settings.tz
            )
        opened += asked > 0
    return opened


NEEDS_BATCH = 100
NEEDS_BATCHES_PER_TICK = 20


async def school_needs_surveys(app: App, now: datetime) -> int:
    """Late August: each school forum with members gets its yearly needs survey, once a year."""
    from bot.domain import surveys as survey_rules
    from bot.domain.calendar import IsraeliCalendar
    from bot.services.surveys import answers as surveys

    local = now.astimezone(app.settings.tz)
    if not survey_rules.needs_due(local, IsraeliCalendar().is_working_day):
        return 0
    key = survey_rules.needs_key(local.date())
    sent = 0
    for _ in range(NEEDS_BATCHES_PER_TICK):
        async with app.db.unit_of_work() as session:
            forums = await surveys.school_forums_without(session, key, limit=NEEDS_BATCH)
            for forum in forums:
                survey = await surveys.create_from_template(
                    session, forum=forum, template=survey_rules.NEEDS, now=now, request_key=key, system=True
                )
                if survey is not None:  # another process may have won this forum
                    await surveys.send_survey(session, survey, now=now, tz=app.settings.tz)
                    sent += 1
        if len(forums) < NEEDS_BATCH:
            break
    return sent


async def survey_promotions(app: App, now: datetime) -> int:
    """Hand answers promoted while the agenda/issues feature was missing over to it, once it exists."""
    from bot.services.surveys import answers as surveys

    return await in_one_transaction(app, lambda session: surveys.deliver_pending(session, now=now))
# -- escalation, digests and decisions down -------------------------------------------------------
# Each issue or gap past its window is forwarded in its own transaction with its claim
# ("esc:auto:i12"); each digest slot is claimed per forum ("esc:digest:f3:<slot>") in the
# transaction that queues it; each forum an announcement reaches is a row written with its messages.


async def escalation_auto_forward(app: App, now: datetime) -> int:
    """Issues and gaps unresolved past their forum's window go up one tier: once each."""
    async with app.db.sessions() as session:
        issue_ids, gap_ids = await escalation.due_for_forwarding(session, now, app.settings.tz)
    issues_up = await each_in_own_transaction(
        app, issue_ids, lambda session, ident: escalation.auto_forward_issue(session, ident, now), "forwarding issue"
    )
    gaps_up = await each_in_own_transaction(
        app, gap_ids, lambda session, ident: escalation.auto_forward_gap(session, ident, now), "forwarding gap"
    )
    return issues_up + gaps_up


async def escalation_digests(app: App, now: datetime) -> int:
    """Each forum with open gaps: its leads' digest for the latest slot of its schedule, once per slot."""
    async with app.db.sessions() as session:
        rows = (await session.execute(
            select(Forum.id, Forum.settings).where(
                Forum.id.in_(select(EscalatedGap.forum_id).where(
                    EscalatedGap.status.in_([s.value for s in escalation_rules.OPEN_GAP])).distinct())
            )
        )).all()
        slots = {fid: escalation_rules.digest_slot(now, app.settings.tz, settings) for fid, settings in rows}
        keys = {fid: f"esc:digest:f{fid}:{slot.isoformat()}" for fid, slot in slots.items()}
        taken = set((await session.scalars(select(JobRun.key).where(JobRun.key.in_(list(keys.values()))))).all())
    sent = 0
    for forum_id, slot in slots.items():
        if keys[forum_id] in taken:
            continue
        try:
            async with app.db.unit_of_work() as session:
                digest = (await escalation_digest.build_digests(session, {forum_id: slot}, [forum_id])).get(forum_id)
                if digest is None or digest.empty:
                    continue  # nothing had arrived by this slot: no digest (and the slot stays unclaimed)
                if not await claim_step(session, keys[forum_id], now):
                    continue
                forum = await agenda.load_forum(session, forum_id)
                await escalation_digest.send_digest(session, forum, digest, now,
                                                    mini_app_url=app.settings.mini_app_url)
                sent += 1
        except Exception:
            log.exception("the digest of forum %s failed; it will be tried at the next tick", forum_id)
    return sent


async def announcements_fanout(app: App, now: datetime) -> int:
    """Decisions sent down: reach the forums below in batches, each forum once."""
    async with app.db.sessions() as session:
        due = await announcements.due_ids(session)
    reached = 0
    for announcement_id in due:
        for _ in range(10_000):
            try:
                async with app.db.unit_of_work() as session:
                    batch = await announcements.deliver_batch(session, announcement_id, now)
            except Exception:
                log.exception("announcement %s failed; it will be resumed at the next tick", announcement_id)
                break
            reached += batch.forums
            if batch.done:
                break
    return reached


def all_jobs() -> list[Job]:
    """Feature modules add their jobs here, in the order they should run in one tick."""
    return [
        Job("housekeeping", housekeeping),
        Job("retention", retention),
        Job("agenda_due_reminders", agenda_due_reminders),
        Job("close_date_polls", close_date_polls),
        Job("date_poll_reminders", date_poll_reminders),
        Job("required_roles_answered", required_roles_answered),
        Job("meeting_reminders", meeting_reminders),
        Job("cadence_nudges", cadence_nudges),
        Job("keshet_assessments", keshet_assessments),
        Job("school_needs_surveys", school_needs_surveys),
        Job("survey_promotions", survey_promotions),
        Job("escalation_auto_forward", escalation_auto_forward),
        Job("escalation_digests", escalation_digests),
        Job("announcements_fanout", announcements_fanout),
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
