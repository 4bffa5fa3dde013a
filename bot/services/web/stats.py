"""The web page's overviews: the tree of forums below a district or HQ, trends per month, and the
national picture (open data: no names, nothing below the authority, small cells suppressed).

All set-based: a few grouped or streamed queries whatever the number of units, then plain Python.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
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
    """The two tiers below ``unit_id`` (a district: authorities → schools; HQ: districts → authorities),
    read with two indexed queries for the units and a few grouped ones for their numbers."""
    level = (OrgUnit, Forum.id)
    first_rows = (await session.execute(
        select(*level).outerjoin(Forum, (Forum.org_unit_id == OrgUnit.id) & (Forum.kind == "main"))
        .where(OrgUnit.parent_id == unit_id).order_by(OrgUnit.name, OrgUnit.id)
    )).all()
    first_ids = [u.id for u, _ in first_rows]
    second_rows: list[Any] = []
    for chunk in _chunks(first_ids):
        second_rows += (await session.execute(
            select(*level).outerjoin(Forum, (Forum.org_unit_id == OrgUnit.id) & (Forum.kind == "main"))
            .where(OrgUnit.parent_id.in_(chunk)).order_by(OrgUnit.name, OrgUnit.id)
        )).all()
    tier_of = {f: u.tier for u, f in [*first_rows, *second_rows] if f is not None}
    forum_ids = list(tier_of)
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
    met = await _met(session, tier_of, now, tz)
    reachable = await _lead_reachable(session, tier_of)

    def node(u: OrgUnit, fid: int | None) -> Node:
        return Node(u.id, u.name, u.tier, fid, counts.get(fid, 0) if fid else 0, oldest.get(fid) if fid else None,
                    fid in met, fid in reachable)

    children: dict[int, list[Node]] = defaultdict(list)
    for u, fid in second_rows:
        assert u.parent_id is not None
        children[u.parent_id].append(node(u, fid))
    result = []
    for u, fid in first_rows:
        top = node(u, fid)
        top.children = children.get(u.id, [])
        top.below_open = sum(c.open for c in top.children)
        result.append(top)
    return result


async def _met(session: AsyncSession, tier_of: dict[int, str], now: datetime, tz: ZoneInfo) -> set[int]:
    monthly, weekly = period_start(now, tz, False), period_start(now, tz, True)
    met: set[int] = set()
    for chunk in _chunks(list(tier_of)):
        for fid, at in (await session.execute(
            select(Meeting.forum_id, func.max(Meeting.starts_at))
            .where(Meeting.forum_id.in_(chunk), Meeting.status.in_(("confirmed", "held")), Meeting.starts_at <= now)
            .group_by(Meeting.forum_id)
        )).all():
            hq = tier_of[fid] == Tier.HQ.value
            if at is not None and at >= (weekly if hq else monthly):
                met.add(fid)
    return met


async def _lead_reachable(session: AsyncSession, tier_of: dict[int, str]) -> set[int]:
    """Forums with at least one lead whom a message can reach (an active channel identity)."""
    found: set[int] = set()
    for chunk in _chunks(list(tier_of)):
        for fid, role in (await session.execute(
            select(Membership.forum_id, Membership.role).distinct()
            .join(Person, Person.id == Membership.person_id)
            .join(ChannelIdentity, ChannelIdentity.person_id == Person.id)
            .where(Membership.forum_id.in_(chunk), Membership.revoked_at.is_(None), Person.forgotten_at.is_(None),
                   ChannelIdentity.status == "active")
        )).all():
            if role in lead_roles(tier_of[fid]):
                found.add(fid)
    return found


def _chunks(ids: list[int], size: int = 900) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


# -- trends ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class IssueFacts:
    forum_id: int
    category: str | None
    created_at: datetime
    resolved_at: datetime | None
    answered_tier: str  # where the answer came from (its own forum's tier when answered there)


async def fingerprint(session: AsyncSession) -> tuple[object, ...]:
    """What the overviews are computed from, in one cheap read: any new issue, status change
    (an answer resolves its issues too) or unit change gives another value."""
    bind = session.get_bind()
    issues = (await session.execute(
        select(RaisedIssue.status, func.count(), func.max(RaisedIssue.updated_at), func.max(RaisedIssue.id))
        .group_by(RaisedIssue.status).order_by(RaisedIssue.status)
    )).all()
    history = await session.scalar(select(func.max(IssueHistory.id)))
    gaps = (await session.execute(select(func.count(), func.max(EscalatedGap.updated_at)))).one()
    org = (await session.execute(select(func.count(), func.max(OrgUnit.updated_at), func.max(OrgUnit.id)))).one()
    forums = await session.scalar(select(func.count()).select_from(Forum))
    return (str(bind.engine.url), tuple(tuple(r) for r in issues), history, *gaps, *org, forums)


@dataclass
class _Snapshot:
    key: tuple[object, ...]
    units: Units
    facts: list[IssueFacts]


_snapshot: _Snapshot | None = None  # the latest facts of the whole country, reused while the data is unchanged
_results: dict[tuple[object, ...], object] = {}


async def snapshot(session: AsyncSession) -> _Snapshot:
    global _snapshot
    key = await fingerprint(session)
    if _snapshot is None or _snapshot.key != key:
        units = await load_units(session)
        _snapshot = _Snapshot(key, units, await _all_facts(session, units))
        _results.clear()
    return _snapshot


async def issue_facts(session: AsyncSession, units: Units, unit_id: int | None) -> list[IssueFacts]:
    """Every issue raised in the unit's subtree (all when None), with when and where it was answered."""
    facts = await _all_facts(session, units)
    if unit_id is None:
        return facts
    scope = {units.main_forum[u] for u in units.below(unit_id) if u in units.main_forum}
    return [f for f in facts if f.forum_id in scope]


async def _all_facts(session: AsyncSession, units: Units) -> list[IssueFacts]:
    resolved: dict[int, datetime] = dict((await session.execute(
        select(IssueHistory.issue_id, func.max(IssueHistory.at)).where(IssueHistory.to_status == "resolved")
        .group_by(IssueHistory.issue_id)
    )).all())
    answered_at: dict[int, str] = {}
    for iid, fid in (await session.execute(
        select(EscalationLink.issue_id, EscalatedGap.forum_id)
        .join(EscalatedGap, EscalatedGap.id == EscalationLink.gap_id)
        .where(EscalatedGap.status == "resolved", EscalatedGap.forwarded_to_gap_id.is_(None))
    )).all():
        tier = units.by_id[units.unit_of_forum[fid]][1]
        if iid not in answered_at or TIER_ORDER[tier] > TIER_ORDER[answered_at[iid]]:
            answered_at[iid] = tier
    tier_of_forum = {fid: units.by_id[uid][1] for fid, uid in units.unit_of_forum.items()}
    facts = []
    for iid, fid, cat, at, status in (await session.execute(
        select(RaisedIssue.id, RaisedIssue.forum_id, RaisedIssue.category, RaisedIssue.created_at,
               RaisedIssue.status)
    )).all():
        done = resolved.get(iid) if status == "resolved" else None
        facts.append(IssueFacts(fid, cat, at, done, answered_at.get(iid) or tier_of_forum[fid]))
    return facts


async def trends_of(session: AsyncSession, unit_id: int, now: datetime, tz: ZoneInfo) -> Trends:
    """Trends of a unit's subtree, recomputed only when the data changed (or the month did)."""
    snap = await snapshot(session)
    key = ("trends", unit_id, months_back(now, tz, 1)[0], str(tz))
    found = _results.get(key)
    if not isinstance(found, Trends):
        scope = {snap.units.main_forum[u] for u in snap.units.below(unit_id) if u in snap.units.main_forum}
        found = _results[key] = trends([f for f in snap.facts if f.forum_id in scope], now, tz)
    return found


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


def months_back(now: datetime, tz: ZoneInfo, count: int) -> list[str]:
    local = now.astimezone(tz).date().replace(day=1)
    keys = []
    for _ in range(count):
        keys.append(local.strftime("%Y-%m"))
        local = (local - timedelta(days=1)).replace(day=1)
    return keys[::-1]


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


class MonthKeys:
    """Month keys (YYYY-MM, local) of instants, remembered per local day: 20,000 issues fall on a
    few hundred days."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._by_day: dict[date, str] = {}

    def of(self, at: datetime) -> str:
        day = at.astimezone(self.tz).date()
        key = self._by_day.get(day)
        if key is None:
            key = self._by_day[day] = day.strftime("%Y-%m")
        return key


def open_at_end(keys: list[str], created: dict[str, int], done: dict[str, int], before: tuple[int, int]) -> list[int]:
    """Still unresolved at the end of each month: everything raised so far minus everything resolved."""
    raised_so_far, resolved_so_far = before
    result = []
    for k in keys:
        raised_so_far += created.get(k, 0)
        resolved_so_far += done.get(k, 0)
        result.append(raised_so_far - resolved_so_far)
    return result


def trends(facts: list[IssueFacts], now: datetime, tz: ZoneInfo, months: int = 12) -> Trends:
    keys = months_back(now, tz, months)
    first = keys[0]
    month_of = MonthKeys(tz)
    table = {k: Month(k) for k in keys}
    created_in: dict[str, int] = defaultdict(int)
    done_in: dict[str, int] = defaultdict(int)
    raised_before = resolved_before = 0
    waits: dict[str, list[float]] = defaultdict(list)
    area_waits: dict[str, list[float]] = defaultdict(list)
    tier_waits: dict[str, list[float]] = defaultdict(list)
    for f in facts:
        created = month_of.of(f.created_at)
        if created < first:
            raised_before += 1
        else:
            created_in[created] += 1
        if f.resolved_at is not None:
            days = (f.resolved_at - f.created_at).total_seconds() / 86400
            done = month_of.of(f.resolved_at)
            if done < first:
                resolved_before += 1
            else:
                done_in[done] += 1
                waits[done].append(days)
            area_waits[f.category or "other"].append(days)
            tier_waits[f.answered_tier].append(days)
    still_open = open_at_end(keys, created_in, done_in, (raised_before, resolved_before))
    for k, left in zip(keys, still_open, strict=True):
        m = table[k]
        m.new, m.resolved, m.open_at_end = created_in.get(k, 0), done_in.get(k, 0), left
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
    snap = await snapshot(session)
    key = ("national", months, months_back(now, tz, 1)[0], str(tz))
    found = _results.get(key)
    if isinstance(found, list):
        return found
    units = snap.units
    codes = dict((await session.execute(select(OrgUnit.id, OrgUnit.code).where(OrgUnit.tier == "district"))).all())
    keys = months_back(now, tz, months)
    first = keys[0]
    month_of = MonthKeys(tz)
    district_of: dict[int, int | None] = {}
    raised: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    resolved: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    before: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for f in snap.facts:
        if f.forum_id not in district_of:
            district_of[f.forum_id] = units.ancestor_at(units.unit_of_forum[f.forum_id], "district")
        district = district_of[f.forum_id]
        if district is None:
            continue  # raised at HQ itself
        group = (district, f.category or "other")
        created = month_of.of(f.created_at)
        if created < first:
            before[group][0] += 1
        else:
            raised[group][created] += 1
        if f.resolved_at is not None:
            done = month_of.of(f.resolved_at)
            if done < first:
                before[group][1] += 1
            else:
                resolved[group][done] += 1
    cells = []
    groups = set(raised) | set(resolved) | set(before)
    for group in sorted(groups, key=lambda g: (units.by_id[g[0]][0], g[1])):
        district, area = group
        prior = before.get(group, [0, 0])
        still_open = open_at_end(keys, raised.get(group, {}), resolved.get(group, {}), (prior[0], prior[1]))
        for k, left in zip(keys, still_open, strict=True):
            r, d = raised.get(group, {}).get(k, 0), resolved.get(group, {}).get(k, 0)
            if r == d == left == 0:
                continue
            cells.append(Cell(codes.get(district, ""), units.by_id[district][0], area, k, _suppress(r), _suppress(d),
                              _suppress(left)))
    _results[key] = cells
    return cells
