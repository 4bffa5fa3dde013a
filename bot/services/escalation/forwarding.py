"""Escalation up the tiers: forwarding (by the lead or when the window passes), merging similar
gaps, acting on a gap for all its origins, and answers back down to whoever raised them.

The origin issue stays in its forum with its history, now ``escalated`` (the history note names
the forum it went to); the forum above sees a **gap** (``EscalatedGap``) linked to every origin
issue behind it. Forwarding a gap further up links the same origin issues to the gap above, so an
answer given at any tier reaches every origin forum and every raiser below it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, selectinload

from bot.domain import escalation as rules
from bot.domain.agenda import HistoryKind, IssueKind, IssueStatus
from bot.domain.calendar import IsraeliCalendar
from bot.domain.escalation import OPEN_GAP, GapStatus, Via
from bot.domain.permissions import Action
from bot.domain.tiers import ForumKind
from bot.i18n import N_, Raw
from bot.services import audit
from bot.services.agenda import issues
from bot.services.agenda.items import ONLY_LEAD, clean_note, load_forum, require, role_in
from bot.services.delivery import notify
from bot.services.errors import Forbidden, Refused
from bot.services.escalation import notices as escalation_notices
from bot.services.escalation.actions import ShowGap
from bot.services.sql import claim_step, get_or_refuse, insert_ignore
from bot.services.texts import forum_title, quoted
from bot.storage.models import Forum, OrgUnit, Person
from bot.storage.models_agenda import IssueHistory, RaisedIssue
from bot.storage.models_escalation import EscalatedGap, EscalationLink

DEFAULT_TZ = ZoneInfo("Asia/Jerusalem")
ESCALATABLE = (IssueStatus.OPEN, IssueStatus.DISCUSSED, IssueStatus.IN_PROGRESS)
SEVERITY = {IssueKind.NEED: 0, IssueKind.DIFFICULTY: 1, IssueKind.BLOCKER: 2}
ONLY_COORDINATORS = N_("Only the leads of the forum it was forwarded to can do that.")
NO_FORUM_ABOVE = N_("This forum has no forum above it to forward to.")


async def parent_forum(session: AsyncSession, forum: Forum) -> Forum | None:
    """The main forum of the unit above the forum's unit, or None (HQ, or not set up)."""
    unit = await session.get(OrgUnit, forum.org_unit_id)
    if unit is None or unit.parent_id is None:
        return None
    return await session.scalar(
        select(Forum)
        .where(Forum.org_unit_id == unit.parent_id, Forum.kind == ForumKind.MAIN)
        .options(selectinload(Forum.org_unit))
    )


async def get_gap(session: AsyncSession, gap_id: int) -> EscalatedGap:
    return await get_or_refuse(session, EscalatedGap, gap_id, N_("That item no longer exists."))


async def _gap_for(
    session: AsyncSession, target: Forum, *, kind: str, category: str | None, title: str, details: str | None,
    now: datetime,
) -> tuple[EscalatedGap, bool]:
    """The open gap in ``target`` this forwarded issue joins (same category, close wording), or a new one."""
    norm = rules.normalise(title)
    stmt = select(EscalatedGap.id, EscalatedGap.norm_title).where(
        EscalatedGap.forum_id == target.id,
        EscalatedGap.status.in_([s.value for s in OPEN_GAP]),
        EscalatedGap.category.is_(None) if category is None else EscalatedGap.category == category,
    )
    candidates = [(int(i), n) for i, n in (await session.execute(stmt)).all()]
    match = rules.best_match(norm, candidates)
    if match is not None:
        gap = await get_gap(session, match)
        if SEVERITY[IssueKind(kind)] > SEVERITY[IssueKind(gap.kind)]:
            gap.kind = kind
        gap.updated_at = now
        return gap, False
    gap = EscalatedGap(
        forum_id=target.id, kind=kind, category=category, title=title, norm_title=norm[:160], details=details,
        status=GapStatus.OPEN, arrived_at=now, created_at=now, updated_at=now,
    )
    session.add(gap)
    await session.flush()
    return gap, True


async def _link(session: AsyncSession, gap_id: int, issue_id: int, via_forum_id: int, via: Via, now: datetime) -> None:
    await insert_ignore(
        session,
        EscalationLink.__table__,  # type: ignore[arg-type]
        {"gap_id": gap_id, "issue_id": issue_id, "via_forum_id": via_forum_id, "via": via.value, "created_at": now},
        conflict=["gap_id", "issue_id"],
    )


@dataclass(frozen=True)
class Forwarded:
    gap: EscalatedGap
    target: Forum
    merged: bool  # joined a similar gap that was already there


async def escalate_issue(
    session: AsyncSession,
    *,
    issue_id: int,
    person: Person | None,
    now: datetime,
    via: Via = Via.LEAD,
    meeting_at: datetime | None = None,
) -> Forwarded:
    """Forward a raised issue to the forum above (``person`` None: the window passed)."""
    issue = await issues.get_issue(session, issue_id)
    forum = await load_forum(session, issue.forum_id)
    if person is not None:
        await require(session, person, forum, Action.RECORD_OUTCOMES, ONLY_LEAD)
    target = await parent_forum(session, forum)
    if target is None:
        raise Refused(NO_FORUM_ABOVE)
    if issue.status not in ESCALATABLE:
        raise Refused(N_("That change is not possible from the issue's current status."))
    gap, created = await _gap_for(
        session, target, kind=issue.kind, category=issue.category, title=issue.title, details=issue.details, now=now
    )
    await _link(session, gap.id, issue.id, forum.id, via, now)
    actor_role = await role_in(session, person.id, forum.id) if person is not None else None
    await issues.apply_status(
        session, issue, IssueStatus.ESCALATED, now=now, actor_person_id=person.id if person else None,
        actor_role=actor_role, note=unit_name_he(target), meeting_at=meeting_at, tell=False,
    )
    audit.record_by(session, person, "escalation.forward", now=now, subject=f"issue:{issue.id}",
                    details={"gap": gap.id, "to": target.code, "via": via.value})
    await escalation_notices.forwarded(session, issues=[issue], left=forum, target=target, gap=None, actor=person,
                                       now=now)
    return Forwarded(gap=gap, target=target, merged=not created)


def unit_name_he(forum: Forum) -> str:
    """The forum above as the history note records it (names are data, kept as imported)."""
    return forum.org_unit.name


async def gap_to_handle(session: AsyncSession, gap_id: int, person: Person) -> tuple[EscalatedGap, Forum]:
    """A gap and its forum, for someone who may handle it (Forbidden for anyone else)."""
    gap = await get_gap(session, gap_id)
    return gap, await _coordinator(session, gap, person)


async def _coordinator(session: AsyncSession, gap: EscalatedGap, person: Person | None) -> Forum:
    forum = await load_forum(session, gap.forum_id)
    if person is not None:
        await require(session, person, forum, Action.HANDLE_ESCALATED, ONLY_COORDINATORS)
    return forum


async def origin_issue_ids(session: AsyncSession, gap_id: int) -> list[int]:
    rows = await session.scalars(
        select(EscalationLink.issue_id).where(EscalationLink.gap_id == gap_id).order_by(EscalationLink.issue_id)
    )
    return list(rows.all())


async def origin_issues(session: AsyncSession, gap_id: int) -> list[RaisedIssue]:
    rows = await session.scalars(
        select(RaisedIssue).join(EscalationLink, EscalationLink.issue_id == RaisedIssue.id)
        .where(EscalationLink.gap_id == gap_id).order_by(RaisedIssue.id)
    )
    return list(rows.all())


async def forward_gap(
    session: AsyncSession, *, gap_id: int, person: Person | None, now: datetime, via: Via = Via.LEAD
) -> Forwarded:
    """Send a gap on to the forum above, with every origin issue behind it."""
    gap = await get_gap(session, gap_id)
    forum = await _coordinator(session, gap, person)
    if gap.status not in OPEN_GAP:
        raise Refused(N_("This item was already answered or forwarded."))
    target = await parent_forum(session, forum)
    if target is None:
        raise Refused(NO_FORUM_ABOVE)
    up, created = await _gap_for(
        session, target, kind=gap.kind, category=gap.category, title=gap.title, details=gap.details, now=now
    )
    actor_role = await role_in(session, person.id, forum.id) if person is not None else None
    for issue_id in await origin_issue_ids(session, gap.id):
        await _link(session, up.id, issue_id, forum.id, via, now)
        session.add(IssueHistory(
            issue_id=issue_id, at=now, actor_person_id=person.id if person else None, actor_role=actor_role,
            kind=HistoryKind.ESCALATED, from_status=IssueStatus.ESCALATED, to_status=IssueStatus.ESCALATED,
            note=unit_name_he(target),
        ))
    gap.status = GapStatus.FORWARDED
    gap.forwarded_to_gap_id = up.id
    gap.updated_at = now
    await session.flush()
    audit.record_by(session, person, "escalation.forward_gap", now=now, subject=f"gap:{gap.id}",
                    details={"gap": up.id, "to": target.code, "via": via.value})
    await escalation_notices.forwarded(session, issues=await origin_issues(session, gap.id), left=forum,
                                       target=target, gap=gap, actor=person, now=now)
    return Forwarded(gap=up, target=target, merged=not created)


async def acknowledge(session: AsyncSession, *, gap_id: int, person: Person, now: datetime) -> EscalatedGap:
    gap = await get_gap(session, gap_id)
    await _coordinator(session, gap, person)
    if gap.status not in OPEN_GAP:
        raise Refused(N_("This item was already answered or forwarded."))
    forum = await load_forum(session, gap.forum_id)
    if gap.status == GapStatus.OPEN:
        gap.status = GapStatus.ACKNOWLEDGED
        gap.updated_at = now
        await escalation_notices.progressed(session, gap=gap, issues=await origin_issues(session, gap.id),
                                            above=forum, actor=person, now=now)
    audit.record(session, now=now, action="escalation.ack", actor_person_id=person.id, subject=f"gap:{gap.id}")
    return gap


async def assign_owner(
    session: AsyncSession, *, gap_id: int, person: Person, owner_person_id: int, now: datetime
) -> EscalatedGap:
    gap = await get_gap(session, gap_id)
    forum = await _coordinator(session, gap, person)
    if gap.status not in OPEN_GAP:
        raise Refused(N_("This item was already answered or forwarded."))
    owner_role = await role_in(session, owner_person_id, forum.id)
    if owner_role is None:
        raise Refused(N_("The person in charge must be a member of the forum."))
    gap.owner_person_id, gap.owner_role = owner_person_id, owner_role
    gap.status = GapStatus.IN_PROGRESS
    gap.updated_at = now
    audit.record(session, now=now, action="escalation.owner", actor_person_id=person.id, subject=f"gap:{gap.id}",
                 details={"owner": owner_person_id})
    owner = await session.get(Person, owner_person_id)
    if owner is not None:
        await escalation_notices.progressed(session, gap=gap, issues=await origin_issues(session, gap.id),
                                            above=forum, actor=person, now=now, owner=owner)
    if owner_person_id != person.id:
        for r in await notify.recipients(session, [owner_person_id], now=now):
            text = r.t._("You were put in charge of {title} in {forum}.", title=Raw(quoted(r.t, gap.title)),
                         forum=Raw(forum_title(r.t, forum, forum.org_unit)))
            await r.send(r.message(text, [[r.button(r.t._("Details"), ShowGap(gap.id))]]),
                         dedup_key=f"esc:owner:g{gap.id}:p{owner_person_id}")
    return gap


async def _gaps_below(session: AsyncSession, gap_id: int) -> list[EscalatedGap]:
    """Every gap that was forwarded into this one, directly or through other gaps."""
    found: list[EscalatedGap] = []
    frontier = [gap_id]
    while frontier:
        rows = list((await session.scalars(
            select(EscalatedGap).where(EscalatedGap.forwarded_to_gap_id.in_(frontier))
        )).all())
        found += rows
        frontier = [g.id for g in rows]
    return found


@dataclass(frozen=True)
class Answered:
    gap: EscalatedGap
    issues: int  # origin issues resolved by the answer
    forums: int  # forums below told: the origin forums and those it passed through


async def answer(session: AsyncSession, *, gap_id: int, person: Person, text: str, now: datetime) -> Answered:
    """Answer a gap: it and every gap below it are resolved, and every origin issue still escalated is
    resolved with the answer — its raiser told by ``issues.apply_status``, its forum's leads told here."""
    gap = await get_gap(session, gap_id)
    forum = await _coordinator(session, gap, person)
    if gap.status not in OPEN_GAP:
        raise Refused(N_("This item was already answered or forwarded."))
    note = clean_note(text)
    if not note:
        raise Refused(N_("Please write the answer in a sentence or two."))
    role = await role_in(session, person.id, forum.id)
    below = await _gaps_below(session, gap.id)
    for g in [gap, *below]:
        g.status = GapStatus.RESOLVED
        g.answer = note
        g.answered_by_role = role
        g.updated_at = now
    resolved: list[RaisedIssue] = []
    for issue_id in await origin_issue_ids(session, gap.id):
        issue = await session.get(RaisedIssue, issue_id)
        if issue is None or issue.status != IssueStatus.ESCALATED:
            continue  # closed in its own forum meanwhile
        await issues.apply_status(session, issue, IssueStatus.RESOLVED, now=now, actor_person_id=person.id,
                                  actor_role=role, note=note, tell=False)
        resolved.append(issue)
    audit.record(session, now=now, action="escalation.answer", actor_person_id=person.id, subject=f"gap:{gap.id}",
                 details={"issues": len(resolved)})
    forums = await escalation_notices.answered(session, gap=gap, answered_in=forum, below=below, resolved=resolved,
                                               note=note, actor=person, role=role, now=now)
    return Answered(gap=gap, issues=len(resolved), forums=forums)


# -- the window ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForumWindow:
    forum_id: int
    window: int
    cutoff: datetime  # what arrived before this instant is past the window today


def _calendar(settings: dict[str, Any] | None, cache: dict[tuple[str, ...], IsraeliCalendar]) -> IsraeliCalendar:
    observances = tuple(sorted(str(o) for o in (settings or {}).get("observances", []) or []))
    calendar = cache.get(observances)
    if calendar is None:
        try:
            calendar = IsraeliCalendar(observances)
        except ValueError:
            calendar = IsraeliCalendar()
        cache[observances] = calendar
    return calendar


async def forum_windows(session: AsyncSession, now: datetime, tz: ZoneInfo = DEFAULT_TZ) -> dict[int, ForumWindow]:
    """Each forum with a forum above: the instant before which an issue's window has passed.

    ``working_days_between(d, today) >= W`` exactly when ``d`` is before the W-th working day counted
    back from today (today included), so one cutoff per forum replaces a count per issue.
    """
    today = now.astimezone(tz).date()
    cache: dict[tuple[str, ...], IsraeliCalendar] = {}
    edges: dict[tuple[int, tuple[str, ...]], datetime] = {}
    result: dict[int, ForumWindow] = {}
    rows = await session.execute(
        select(Forum.id, Forum.settings, OrgUnit.tier).join(OrgUnit, Forum.org_unit_id == OrgUnit.id)
        .where(OrgUnit.parent_id.is_not(None))
    )
    for forum_id, settings, tier in rows.all():
        window = rules.window_days(tier, settings)
        if window is None:
            continue
        calendar = _calendar(settings, cache)
        key = (window, tuple(sorted(str(o) for o in (settings or {}).get("observances", []) or [])))
        cutoff = edges.get(key)
        if cutoff is None:
            first_late_day = calendar.add_working_days(today + timedelta(days=1), -window)
            cutoff = edges[key] = datetime.combine(first_late_day, datetime.min.time(), tzinfo=tz)
        result[forum_id] = ForumWindow(forum_id, window, cutoff)
    return result


async def due_for_forwarding(
    session: AsyncSession, now: datetime, tz: ZoneInfo = DEFAULT_TZ
) -> tuple[list[int], list[int]]:
    """(issue ids, gap ids) unresolved past their forum's window, read set-based."""
    windows = await forum_windows(session, now, tz)
    if not windows:
        return [], []
    latest = max(w.cutoff for w in windows.values())
    issues_due = await _past_window(
        session, windows, RaisedIssue.id, RaisedIssue.forum_id, RaisedIssue.created_at,
        RaisedIssue.status.in_([s.value for s in ESCALATABLE]), latest=latest,
    )
    gaps_due = await _past_window(
        session, windows, EscalatedGap.id, EscalatedGap.forum_id, EscalatedGap.arrived_at,
        EscalatedGap.status.in_([s.value for s in OPEN_GAP]), latest=latest,
    )
    return issues_due, gaps_due


async def _past_window(
    session: AsyncSession,
    windows: dict[int, ForumWindow],
    id_col: InstrumentedAttribute[int],
    forum_col: InstrumentedAttribute[int],
    since_col: InstrumentedAttribute[datetime],
    unresolved: ColumnElement[bool],
    *,
    latest: datetime,
) -> list[int]:
    """Ids of the unresolved rows older than their forum's cutoff, streamed in id order.

    ``latest`` (the latest cutoff of any forum) bounds the read in SQL; each row's own forum decides.
    """
    due: list[int] = []
    stream = await session.stream(
        select(id_col, forum_col, since_col).where(unresolved, since_col < latest).order_by(id_col)
    )
    async for row_id, forum_id, since in stream:
        w = windows.get(forum_id)
        if w is not None and since < w.cutoff:
            due.append(row_id)
    return due


async def auto_forward_issue(session: AsyncSession, issue_id: int, now: datetime) -> bool:
    if not await _still_due(session, f"esc:auto:i{issue_id}", RaisedIssue, issue_id, ESCALATABLE, now):
        return False
    await escalate_issue(session, issue_id=issue_id, person=None, now=now, via=Via.AUTO)
    return True


async def auto_forward_gap(session: AsyncSession, gap_id: int, now: datetime) -> bool:
    if not await _still_due(session, f"esc:auto:g{gap_id}", EscalatedGap, gap_id, OPEN_GAP, now):
        return False
    await forward_gap(session, gap_id=gap_id, person=None, now=now, via=Via.AUTO)
    return True


async def _still_due(
    session: AsyncSession,
    key: str,
    model: type[RaisedIssue] | type[EscalatedGap],
    row_id: int,
    unresolved: Iterable[str],
    now: datetime,
) -> bool:
    """Whether this run forwards the row: it claimed the step ``key`` and the row is still unresolved."""
    if not await claim_step(session, key, now):
        return False
    row: RaisedIssue | EscalatedGap | None = await session.get(model, row_id)
    return row is not None and row.status in unresolved


async def mark_seen(session: AsyncSession, gap_ids: Iterable[int], now: datetime) -> None:
    ids = list(gap_ids)
    for start in range(0, len(ids), 500):
        await session.execute(
            update(EscalatedGap)
            .where(EscalatedGap.id.in_(ids[start : start + 500]), EscalatedGap.first_digest_at.is_(None))
            .values(first_digest_at=now)
            .execution_options(synchronize_session=False)
        )


async def can_escalate(session: AsyncSession, person: Person, issue: RaisedIssue) -> Forum | None:
    """The forum above, when this person may forward this issue now; else None."""
    if issue.status not in ESCALATABLE:
        return None
    forum = await load_forum(session, issue.forum_id)
    try:
        await require(session, person, forum, Action.RECORD_OUTCOMES, ONLY_LEAD)
    except Forbidden:
        return None
    return await parent_forum(session, forum)
