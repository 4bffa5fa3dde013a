"""The escalation board of the web page: a forum's gaps with their origins, filtered and sorted.

Reads only; every action on a gap goes through :mod:`bot.services.escalation.forwarding`, as from the chat.
Who may see a board is the permission table's ``HANDLE_ESCALATED`` (the forum's leads, the
coordinators above, administrators): :func:`boards_of` lists them for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.escalation import OPEN_GAP, age_days
from bot.domain.permissions import Action, allowed
from bot.services.forums import people
from bot.storage.models import AuditLog, Forum, OrgUnit, Person
from bot.storage.models_agenda import IssueHistory, RaisedIssue
from bot.storage.models_escalation import EscalatedGap, EscalationLink

SORTS = ("age", "origins", "status", "title")
STATUS_FILTERS = ("open", "all", "acknowledged", "in_progress", "resolved", "forwarded", "waiting")
MAX_ROWS = 500


@dataclass(frozen=True)
class Filters:
    status: str = "open"  # open (all not yet answered) / all / a gap status / waiting (= nobody acted)
    area: str = ""
    unit: int | None = None  # the forum below that passed it on
    min_age: int | None = None  # days since it arrived
    q: str = ""
    sort: str = "age"

    @classmethod
    def parse(cls, params: dict[str, str]) -> Filters:
        status = params.get("status", "open")
        sort = params.get("sort", "age")
        unit = params.get("unit", "")
        age = params.get("age", "")
        return cls(
            status=status if status in STATUS_FILTERS else "open",
            area=params.get("area", "")[:16],
            unit=int(unit) if unit.isdigit() else None,
            min_age=int(age) if age.isdigit() and int(age) < 10_000 else None,
            q=" ".join(params.get("q", "").split())[:80],
            sort=sort if sort in SORTS else "age",
        )


@dataclass
class GapRow:
    id: int
    kind: str
    category: str | None
    title: str
    status: str
    arrived_at: datetime
    origins: int
    via_forum_ids: list[int] = field(default_factory=list)

    def age(self, now: datetime) -> int:
        return age_days(self.arrived_at, now)


@dataclass
class Board:
    forum: Forum
    rows: list[GapRow]
    units: dict[int, OrgUnit]  # via forum id → its unit
    total: int  # before MAX_ROWS
    areas: list[str]


async def may_handle(session: AsyncSession, person: Person, forum: Forum) -> bool:
    return allowed(Action.HANDLE_ESCALATED, await people.standings(session, person, forum))


async def boards_of(session: AsyncSession, person: Person) -> list[tuple[Forum, OrgUnit]]:
    """The forums whose board this person may open: those they lead, and those one tier below
    that have gaps (the coordinators' view)."""
    seats = [s for s in await people.seats_of(session, person.id) if s.is_lead]
    result = {s.forum.id: (s.forum, s.unit) for s in seats}
    units = [s.unit.id for s in seats]
    if units:
        below = (await session.execute(
            select(Forum, OrgUnit).join(OrgUnit, Forum.org_unit_id == OrgUnit.id)
            .where(OrgUnit.parent_id.in_(units), Forum.kind == "main")
            .where(Forum.id.in_(select(EscalatedGap.forum_id).distinct()))
            .order_by(OrgUnit.name)
        )).all()
        for forum, unit in below:
            result.setdefault(forum.id, (forum, unit))
    if person.is_admin:  # administrators may open any board: HQ's and the districts' are listed
        upper = (await session.execute(
            select(Forum, OrgUnit).join(OrgUnit, Forum.org_unit_id == OrgUnit.id)
            .where(OrgUnit.tier.in_(("hq", "district")), Forum.kind == "main").order_by(OrgUnit.tier, OrgUnit.name)
        )).all()
        for forum, unit in upper:
            result.setdefault(forum.id, (forum, unit))
    return list(result.values())


async def board(session: AsyncSession, forum: Forum, filters: Filters, now: datetime) -> Board:
    links = (
        select(EscalationLink.gap_id, func.count(EscalationLink.id).label("origins"))
        .join(EscalatedGap, EscalatedGap.id == EscalationLink.gap_id)
        .where(EscalatedGap.forum_id == forum.id)
        .group_by(EscalationLink.gap_id)
        .subquery()
    )
    stmt = (
        select(EscalatedGap.id, EscalatedGap.kind, EscalatedGap.category, EscalatedGap.title, EscalatedGap.status,
               EscalatedGap.arrived_at, func.coalesce(links.c.origins, 0))
        .outerjoin(links, links.c.gap_id == EscalatedGap.id)
        .where(EscalatedGap.forum_id == forum.id)
    )
    if filters.status == "open":
        stmt = stmt.where(EscalatedGap.status.in_([s.value for s in OPEN_GAP]))
    elif filters.status == "waiting":
        stmt = stmt.where(EscalatedGap.status == "open")
    elif filters.status != "all":
        stmt = stmt.where(EscalatedGap.status == filters.status)
    if filters.area:
        stmt = stmt.where(EscalatedGap.category == filters.area)
    if filters.min_age is not None:
        stmt = stmt.where(EscalatedGap.arrived_at <= now - timedelta(days=filters.min_age))
    if filters.q:
        like = f"%{filters.q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(EscalatedGap.title.ilike(like), EscalatedGap.details.ilike(like),
                              EscalatedGap.id == (int(filters.q.lstrip("#")) if filters.q.lstrip("#").isdigit()
                                                  else -1)))
    if filters.unit is not None:
        stmt = stmt.where(EscalatedGap.id.in_(
            select(EscalationLink.gap_id).where(EscalationLink.via_forum_id == filters.unit)
        ))
    rows = [GapRow(int(i), k, c, t, s, a, int(n)) for i, k, c, t, s, a, n in (await session.execute(stmt)).all()]
    order = {"open": 0, "acknowledged": 1, "in_progress": 2, "forwarded": 3, "resolved": 4}
    if filters.sort == "age":
        rows.sort(key=lambda r: (r.arrived_at, r.id))
    elif filters.sort == "origins":
        rows.sort(key=lambda r: (-r.origins, r.arrived_at))
    elif filters.sort == "status":
        rows.sort(key=lambda r: (order.get(r.status, 9), r.arrived_at))
    else:
        rows.sort(key=lambda r: (r.title, r.id))
    total = len(rows)
    rows = rows[:MAX_ROWS]
    by_id = {r.id: r for r in rows}
    if by_id:
        ids = list(by_id)
        for start in range(0, len(ids), 900):
            via = await session.execute(
                select(EscalationLink.gap_id, EscalationLink.via_forum_id).distinct()
                .where(EscalationLink.gap_id.in_(ids[start:start + 900]))
            )
            for gap_id, forum_id in via.all():
                by_id[gap_id].via_forum_ids.append(int(forum_id))
    via_ids = sorted({f for r in rows for f in r.via_forum_ids})
    units = await units_of_forums(session, via_ids)
    for r in rows:
        r.via_forum_ids.sort(key=lambda f: units[f].name if f in units else "")
    areas = sorted(c for c in (await session.scalars(
        select(EscalatedGap.category).where(EscalatedGap.forum_id == forum.id).distinct()
    )).all() if c)
    return Board(forum=forum, rows=rows, units=units, total=total, areas=areas)


async def units_of_forums(session: AsyncSession, forum_ids: list[int]) -> dict[int, OrgUnit]:
    units: dict[int, OrgUnit] = {}
    for start in range(0, len(forum_ids), 900):
        result = await session.execute(
            select(Forum.id, OrgUnit).join(OrgUnit, Forum.org_unit_id == OrgUnit.id)
            .where(Forum.id.in_(forum_ids[start:start + 900]))
        )
        units.update({int(i): u for i, u in result.all()})
    return units


async def below_units(session: AsyncSession, forum: Forum) -> list[tuple[int, OrgUnit]]:
    """The main forums of the units right below this forum's unit (for the unit filter)."""
    rows = await session.execute(
        select(Forum.id, OrgUnit).join(OrgUnit, Forum.org_unit_id == OrgUnit.id)
        .where(OrgUnit.parent_id == forum.org_unit_id, Forum.kind == "main").order_by(OrgUnit.name)
    )
    return [(int(i), u) for i, u in rows.all()]


@dataclass(frozen=True)
class Origin:
    issue_id: int
    unit: OrgUnit
    forum: Forum
    raiser_role: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class Event:
    at: datetime
    what: str  # an audit action (escalation.ack ...) or an issue history kind
    issue_id: int | None
    to_status: str | None
    note: str | None


async def origins(session: AsyncSession, gap_id: int) -> list[Origin]:
    rows = (await session.execute(
        select(RaisedIssue, Forum, OrgUnit)
        .join(EscalationLink, EscalationLink.issue_id == RaisedIssue.id)
        .join(Forum, Forum.id == RaisedIssue.forum_id).join(OrgUnit, OrgUnit.id == Forum.org_unit_id)
        .where(EscalationLink.gap_id == gap_id).order_by(RaisedIssue.created_at, RaisedIssue.id)
    )).all()
    return [Origin(i.id, u, f, i.raiser_role, i.status, i.created_at) for i, f, u in rows]


async def history(session: AsyncSession, gap: EscalatedGap, issue_ids: list[int]) -> list[Event]:
    """What happened to the gap here and to its origin issues, oldest first (roles only, no names)."""
    events = [Event(a.at, a.action, None, None, None) for a in (await session.scalars(
        select(AuditLog).where(AuditLog.subject == f"gap:{gap.id}").order_by(AuditLog.at, AuditLog.id)
    )).all()]
    if issue_ids:
        events += [Event(h.at, h.kind, h.issue_id, h.to_status, h.note) for h in (await session.scalars(
            select(IssueHistory).where(IssueHistory.issue_id.in_(issue_ids[:200]))
            .order_by(IssueHistory.at, IssueHistory.id)
        )).all()]
    events.sort(key=lambda e: e.at)
    return events[-100:]


@dataclass(frozen=True)
class Raised:
    """One issue a person raised, and where it stands now (the gap furthest up, when escalated)."""

    issue: RaisedIssue
    at_unit: OrgUnit | None  # the unit whose forum holds it now, when escalated
    gap_status: str | None


async def raised_by(session: AsyncSession, person_id: int, forum_id: int) -> list[Raised]:
    issues = list((await session.scalars(
        select(RaisedIssue).where(RaisedIssue.raiser_person_id == person_id, RaisedIssue.forum_id == forum_id)
        .order_by(RaisedIssue.created_at.desc(), RaisedIssue.id.desc()).limit(100)
    )).all())
    where: dict[int, tuple[OrgUnit, str]] = {}
    escalated = [i.id for i in issues if i.status == "escalated"]
    if escalated:
        for issue_id, status, unit in (await session.execute(
            select(EscalationLink.issue_id, EscalatedGap.status, OrgUnit)
            .join(EscalatedGap, EscalatedGap.id == EscalationLink.gap_id)
            .join(Forum, Forum.id == EscalatedGap.forum_id).join(OrgUnit, OrgUnit.id == Forum.org_unit_id)
            .where(EscalationLink.issue_id.in_(escalated), EscalatedGap.status != "forwarded")
        )).all():
            where[issue_id] = (unit, status)
    return [Raised(i, where[i.id][0] if i.id in where else None, where[i.id][1] if i.id in where else None)
            for i in issues]
