"""The web page's overviews: the tree of forums below a district or HQ, trends per month, and the
national picture (open data: no names, nothing below the authority, small cells suppressed).

All set-based: a few grouped or streamed queries whatever the number of units, then plain Python.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.escalation import OPEN_GAP
from bot.domain.roles import lead_roles
from bot.domain.tiers import Tier
from bot.storage.models import ChannelIdentity, Forum, Membership, OrgUnit, Person
from bot.storage.models_agenda import IssueHistory, RaisedIssue
from bot.storage.models_escalation import EscalatedGap, EscalationLink
from bot.storage.models_polls import Meeting

UNRESOLVED = ("open", "discussed", "in_progress", "escalated")
SUPPRESS_BELOW = 5  # any cell counting fewer issues than this is withheld from the national picture
TIER_ORDER = {Tier.SCHOOL.value: 0, Tier.AUTHORITY.value: 1, Tier.DISTRICT.value: 2, Tier.HQ.value: 3}


# -- the org tree -------------------------------------------------------------------------------


@dataclass
class Units:
    """Every unit with its parent, read once (5,265 rows nationally)."""

    by_id: dict[int, tuple[str, str, int | None]]  # id → (name, tier, parent id)
    children: dict[int | None, list[int]]
    main_forum: dict[int, int]  # unit id → its main forum id
    unit_of_forum: dict[int, int]

    def below(self, unit_id: int) -> list[int]:
        """The unit and every unit under it."""
        found, frontier = [unit_id], [unit_id]
        while frontier:
            frontier = [c for u in frontier for c in self.children.get(u, [])]
            found += frontier
        return found

    def ancestor_at(self, unit_id: int, tier: str) -> int | None:
        current: int | None = unit_id
        while current is not None:
            _name, t, parent = self.by_id[current]
            if t == tier:
                return current
            current = parent
        return None


async def load_units(session: AsyncSession) -> Units:
    by_id: dict[int, tuple[str, str, int | None]] = {}
    children: dict[int | None, list[int]] = defaultdict(list)
    for uid, name, tier, parent in (await session.execute(
        select(OrgUnit.id, OrgUnit.name, OrgUnit.tier, OrgUnit.parent_id).order_by(OrgUnit.name, OrgUnit.id)
    )).all():
        by_id[uid] = (name, tier, parent)
        children[parent].append(uid)
    main_forum, unit_of_forum = {}, {}
    for fid, uid, kind in (await session.execute(select(Forum.id, Forum.org_unit_id, Forum.kind))).all():
        unit_of_forum[fid] = uid
        if kind == "main":
            main_forum[uid] = fid
    return Units(by_id, dict(children), main_forum, unit_of_forum)


def period_start(now: datetime, tz: ZoneInfo, weekly: bool) -> datetime:
    """The start of the framework's current period: the month, or at HQ the week (from Sunday)."""
    local = now.astimezone(tz).date()
    first = local - timedelta(days=(local.weekday() + 1) % 7) if weekly else local.replace(day=1)
    return datetime.combine(first, datetime.min.time(), tzinfo=tz)


@dataclass
class Node:
    unit_id: int
    name: str
    tier: str
    forum_id: int | None
    open: int = 0  # unresolved issues raised in its forum + gaps waiting at it
    oldest: datetime | None = None
    met: bool = False
    lead_reachable: bool = False
    children: list[Node] = field(default_factory=list)
    below_open: int = 0  # the children's open, added up

    @property
    def stuck(self) -> bool:
        return self.open > 0 and (not self.met or not self.lead_reachable)


async def tree(session: AsyncSession, unit_id: int, now: datetime, tz: ZoneInfo) -> list[Node]:
    """The two tiers below ``unit_id`` (a district: authorities → schools; HQ: districts → authorities)."""
    units = await load_units(session)
    first = units.children.get(unit_id, [])
    second = {u: units.children.get(u, []) for u in first}
    ids = first + [c for cs in second.values() for c in cs]
    forum_ids = [units.main_forum[u] for u in ids if u in units.main_forum]
    counts: dict[int, int] = defaultdict(int)
    oldest: dict[int, datetime] = {}

    def add(fid: int, n: int, at: datetime | None) -> None:
        counts[fid] += int(n)
        if at is not None and (fid not in oldest or at < oldest[fid]):
            oldest[fid] = at

    for chunk in _chunks(forum_ids):
        for fid, n, at in (await session.execute(
            select(RaisedIssue.forum_id, func.count(), func.min(RaisedIssue.created_at))
            .where(RaisedIssue.forum_id.in_(chunk), RaisedIssue.status.in_(UNRESOLVED))
            .group_by(RaisedIssue.forum_id)
        )).all():
            add(fid, n, at)
        for fid, n, at in (await session.execute(
            select(EscalatedGap.forum_id, func.count(), func.min(EscalatedGap.arrived_at))
            .where(EscalatedGap.forum_id.in_(chunk), EscalatedGap.status.in_([s.value for s in OPEN_GAP]))
            .group_by(EscalatedGap.forum_id)
        )).all():
            add(fid, n, at)
    met = await _met(session, forum_ids, units, now, tz)
    reachable = await _lead_reachable(session, forum_ids, units)

    def node(u: int) -> Node:
        name, tier, _parent = units.by_id[u]
        fid = units.main_forum.get(u)
        return Node(u, name, tier, fid, counts.get(fid, 0) if fid else 0, oldest.get(fid) if fid else None,
                    fid in met, fid in reachable)

    result = []
    for u in first:
        top = node(u)
        top.children = [node(c) for c in second[u]]
        top.below_open = sum(c.open for c in top.children)
        result.append(top)
    return result


async def _met(session: AsyncSession, forum_ids: list[int], units: Units, now: datetime, tz: ZoneInfo) -> set[int]:
    monthly, weekly = period_start(now, tz, False), period_start(now, tz, True)
    met: set[int] = set()
    for chunk in _chunks(forum_ids):
        for fid, at in (await session.execute(
            select(Meeting.forum_id, func.max(Meeting.starts_at))
            .where(Meeting.forum_id.in_(chunk), Meeting.status.in_(("confirmed", "held")), Meeting.starts_at <= now)
            .group_by(Meeting.forum_id)
        )).all():
            hq = units.by_id[units.unit_of_forum[fid]][1] == Tier.HQ.value
            if at is not None and at >= (weekly if hq else monthly):
                met.add(fid)
    return met


async def _lead_reachable(session: AsyncSession, forum_ids: list[int], units: Units) -> set[int]:
    """Forums with at least one lead whom a message can reach (an active channel identity)."""
    found: set[int] = set()
    for chunk in _chunks(forum_ids):
        for fid, role in (await session.execute(
            select(Membership.forum_id, Membership.role).distinct()
            .join(Person, Person.id == Membership.person_id)
            .join(ChannelIdentity, ChannelIdentity.person_id == Person.id)
            .where(Membership.forum_id.in_(chunk), Membership.revoked_at.is_(None), Person.forgotten_at.is_(None),
                   ChannelIdentity.status == "active")
        )).all():
            if role in lead_roles(units.by_id[units.unit_of_forum[fid]][1]):
                found.add(fid)
    return found


def _chunks(ids: list[int], size: int = 900) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


# -- trends ---------------------------------------------------------------------------------------


@dataclass
class IssueFacts:
    forum_id: int
    category: str | None
    created: date  # local month key is taken from these
    created_at: datetime
    resolved_at: datetime | None
    answered_tier: str  # where the answer came from (its own forum's tier when answered there)


async def issue_facts(session: AsyncSession, units: Units, unit_id: int | None) -> list[IssueFacts]:
    """Every issue raised in the unit's subtree (all when None), with when and where it was answered."""
    scope = None if unit_id is None else {units.main_forum[u] for u in units.below(unit_id) if u in units.main_forum}
    stmt = select(RaisedIssue.id, RaisedIssue.forum_id, RaisedIssue.category, RaisedIssue.created_at,
                  RaisedIssue.status)
    issues = {}
    for iid, fid, cat, at, status in (await session.execute(stmt)).all():
        if scope is None or fid in scope:
            issues[iid] = (fid, cat, at, status)
    resolved: dict[int, datetime] = {}
    for iid, at in (await session.execute(
        select(IssueHistory.issue_id, func.max(IssueHistory.at)).where(IssueHistory.to_status == "resolved")
        .group_by(IssueHistory.issue_id)
    )).all():
        if iid in issues:
            resolved[iid] = at
    answered_at: dict[int, str] = {}
    for iid, fid in (await session.execute(
        select(EscalationLink.issue_id, EscalatedGap.forum_id)
        .join(EscalatedGap, EscalatedGap.id == EscalationLink.gap_id)
        .where(EscalatedGap.status == "resolved", EscalatedGap.forwarded_to_gap_id.is_(None))
    )).all():
        if iid in resolved:
            tier = units.by_id[units.unit_of_forum[fid]][1]
            if iid not in answered_at or TIER_ORDER[tier] > TIER_ORDER[answered_at[iid]]:
                answered_at[iid] = tier
    facts = []
    for iid, (fid, cat, at, status) in issues.items():
        done = resolved.get(iid) if status == "resolved" else None
        own_tier = units.by_id[units.unit_of_forum[fid]][1]
        facts.append(IssueFacts(fid, cat, at.date(), at, done, answered_at.get(iid, own_tier)))
    return facts


@dataclass
class Month:
    key: str  # YYYY-MM
    new: int = 0
    resolved: int = 0
    open_at_end: int = 0
    median_days: float | None = None


@dataclass
class Trends:
    months: list[Month]
    by_area: dict[str, tuple[int, float | None]]  # area → (answered, median days)
    by_tier: dict[str, tuple[int, float | None]]


def _month(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m")


def months_back(now: datetime, tz: ZoneInfo, count: int) -> list[str]:
    local = now.astimezone(tz).date().replace(day=1)
    keys = []
    for _ in range(count):
        keys.append(local.strftime("%Y-%m"))
        local = (local - timedelta(days=1)).replace(day=1)
    return keys[::-1]


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def trends(facts: list[IssueFacts], now: datetime, tz: ZoneInfo, months: int = 12) -> Trends:
    keys = months_back(now, tz, months)
    table = {k: Month(k) for k in keys}
    waits: dict[str, list[float]] = defaultdict(list)
    area_waits: dict[str, list[float]] = defaultdict(list)
    tier_waits: dict[str, list[float]] = defaultdict(list)
    for f in facts:
        created = _month(f.created_at, tz)
        if created in table:
            table[created].new += 1
        if f.resolved_at is not None:
            days = (f.resolved_at - f.created_at).total_seconds() / 86400
            done = _month(f.resolved_at, tz)
            if done in table:
                table[done].resolved += 1
                waits[done].append(days)
            area_waits[f.category or "other"].append(days)
            tier_waits[f.answered_tier].append(days)
        for k in keys:  # still open at the end of month k
            if created <= k and (f.resolved_at is None or _month(f.resolved_at, tz) > k):
                table[k].open_at_end += 1
    for k, m in table.items():
        m.median_days = _median(waits[k])
    return Trends(
        months=[table[k] for k in keys],
        by_area={a: (len(v), _median(v)) for a, v in sorted(area_waits.items())},
        by_tier={t: (len(v), _median(v)) for t, v in sorted(tier_waits.items(), key=lambda kv: TIER_ORDER[kv[0]])},
    )


# -- the national picture -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    district: str  # the district's code
    district_name: str
    area: str
    month: str
    raised: int | None  # None: fewer than SUPPRESS_BELOW, withheld
    resolved: int | None
    open_at_end: int | None


def _suppress(n: int) -> int | None:
    return n if n >= SUPPRESS_BELOW else None


async def national(session: AsyncSession, now: datetime, tz: ZoneInfo, months: int = 12) -> list[Cell]:
    """Issues raised, resolved and still open, by district × area × month; no names, no unit below the
    district (authorities and schools are only counted), any count under 5 withheld."""
    units = await load_units(session)
    codes = dict((await session.execute(select(OrgUnit.id, OrgUnit.code).where(OrgUnit.tier == "district"))).all())
    keys = months_back(now, tz, months)
    raised: dict[tuple[int, str, str], int] = defaultdict(int)
    resolved: dict[tuple[int, str, str], int] = defaultdict(int)
    still_open: dict[tuple[int, str, str], int] = defaultdict(int)
    for f in await issue_facts(session, units, None):
        district = units.ancestor_at(units.unit_of_forum[f.forum_id], "district")
        if district is None:
            continue  # raised at HQ itself
        area = f.category or "other"
        created = _month(f.created_at, tz)
        raised[(district, area, created)] += 1
        done = _month(f.resolved_at, tz) if f.resolved_at else None
        if done:
            resolved[(district, area, done)] += 1
        for k in keys:
            if created <= k and (done is None or done > k):
                still_open[(district, area, k)] += 1
    cells = []
    every = set(raised) | set(resolved) | set(still_open)
    for district, area, month in sorted(every, key=lambda k: (units.by_id[k[0]][0], k[1], k[2])):
        if month not in keys:
            continue
        key = (district, area, month)
        cells.append(Cell(codes.get(district, ""), units.by_id[district][0], area, month, _suppress(raised[key]),
                          _suppress(resolved[key]), _suppress(still_open[key])))
    return cells
