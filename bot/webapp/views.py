"""What each page shows, gathered from the services into plain values for the templates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.agenda import IssueCategory
from bot.domain.escalation import OPEN_GAP, GapStatus
from bot.domain.permissions import Action, allowed
from bot.i18n import N_, Translator
from bot.services.agenda import items as agenda
from bot.services.escalation import board
from bot.services.escalation import forwarding as escalation
from bot.services.forums import people
from bot.services.meetings import polls
from bot.services.texts import category_label, forum_title, kind_label, role_label, status_label, unit_name
from bot.services.web import stats as webstats
from bot.storage.models import Forum, Person
from bot.storage.models_escalation import EscalatedGap

GAP_STATUS_LABELS = {
    GapStatus.OPEN: N_("Waiting"),
    GapStatus.ACKNOWLEDGED: N_("Acknowledged"),
    GapStatus.IN_PROGRESS: N_("In progress"),
    GapStatus.RESOLVED: N_("Answered"),
    GapStatus.FORWARDED: N_("Forwarded up"),
}
STATUS_FILTER_LABELS = {
    "open": N_("Not answered yet"),
    "waiting": N_("Waiting"),
    "acknowledged": N_("Acknowledged"),
    "in_progress": N_("In progress"),
    "resolved": N_("Answered"),
    "forwarded": N_("Forwarded up"),
    "all": N_("All"),
}
SORT_LABELS = {
    "age": N_("Oldest first"),
    "origins": N_("Most origins first"),
    "status": N_("By status"),
    "title": N_("By title"),
}
AGE_CHOICES = (7, 14, 30, 60)
EVENT_LABELS = {
    "escalation.ack": N_("Acknowledged"),
    "escalation.owner": N_("Someone was put in charge"),
    "escalation.answer": N_("Answered"),
    "escalation.forward_gap": N_("Forwarded up"),
    "escalation.forward": N_("Escalated"),
    "created": N_("Raised"),
    "status": N_("Status changed"),
    "escalated": N_("Escalated"),
}


def gap_status(t: Translator, status: str) -> str:
    label = GAP_STATUS_LABELS.get(GapStatus(status)) if status in GapStatus.__members__.values() else None
    return t._(label) if label else status


async def home(session: AsyncSession, person: Person, now: datetime) -> dict[str, Any]:
    boards = await board.boards_of(session, person)
    seats = await people.seats_of(session, person.id)
    led = [(s.forum, s.unit) for s in seats if s.is_lead and s.unit.tier != "school" and s.forum.kind == "main"]
    if person.is_admin:
        led += [(f, u) for f, u in boards if u.tier in ("hq", "district") and all(f.id != g.id for g, _ in led)]
    national = person.is_admin or any(s.is_lead and s.unit.tier == "hq" for s in seats)
    return {"boards": boards, "seats": seats, "trees": led, "national": national}


async def board_context(
    session: AsyncSession, t: Translator, forum: Forum, filters: board.Filters, now: datetime
) -> dict[str, Any]:
    result = await board.board(session, forum, filters, now)
    groups: dict[str, dict[str, dict[str, list[board.GapRow]]]] = {}
    for row in result.rows:
        first = row.via_forum_ids[0] if row.via_forum_ids else None
        unit = unit_name(t, result.units[first]) if first in result.units else "—"
        area = category_label(t, row.category) or t._("No area")
        groups.setdefault(unit, {}).setdefault(area, {}).setdefault(kind_label(t, row.kind), []).append(row)
    areas = [(c.value, category_label(t, c.value)) for c in IssueCategory]
    return {
        "forum": forum, "title": forum_title(t, forum, forum.org_unit), "board": result, "groups": groups,
        "filters": filters, "now": now, "areas": areas, "below": await board.below_units(session, forum),
        "status_labels": STATUS_FILTER_LABELS, "sort_labels": SORT_LABELS, "age_choices": AGE_CHOICES,
        "gap_status": gap_status, "unit_name": unit_name, "kind_label": kind_label,
        "category_label": category_label,
    }


async def gap_context(
    session: AsyncSession, t: Translator, gap: EscalatedGap, forum: Forum, now: datetime
) -> dict[str, Any]:
    origins = await board.origins(session, gap.id)
    events = await board.history(session, gap, [o.issue_id for o in origins])
    is_open = gap.status in {s.value for s in OPEN_GAP}
    above = await escalation.parent_forum(session, forum) if is_open else None
    members = await agenda.members_of(session, forum.id) if is_open else []
    return {
        "gap": gap, "forum": forum, "title": forum_title(t, forum, forum.org_unit), "origins": origins,
        "events": events, "is_open": is_open, "above": above, "now": now,
        "members": [(p.id, f"{p.display_name} ({role_label(t, forum.org_unit, forum, role)})") for p, role in members],
        "owner_role": role_label(t, forum.org_unit, forum, gap.owner_role) if gap.owner_role else "",
        "gap_status": gap_status, "kind_label": kind_label, "category_label": category_label,
        "unit_name": unit_name, "role_label": role_label, "status_label": status_label,
        "event_labels": EVENT_LABELS, "age": (now - gap.arrived_at).days,
    }


# -- the tree, trends and the national picture ------------------------------------------------------

TIER_LABELS = {
    "school": N_("Schools"),
    "authority": N_("Local authorities"),
    "district": N_("Districts"),
    "hq": N_("HQ"),
}


async def tree_context(
    session: AsyncSession, t: Translator, forum: Forum, now: datetime, *, only_stuck: bool = False
) -> dict[str, Any]:
    nodes = await webstats.tree(session, forum.org_unit_id, now, t.tz)
    if only_stuck:  # the places that are stuck, and the units above them
        for top in nodes:
            top.children = [c for c in top.children if c.stuck]
        nodes = [top for top in nodes if top.stuck or top.children]
    return {"forum": forum, "title": forum_title(t, forum, forum.org_unit), "nodes": nodes, "now": now,
            "only_stuck": only_stuck}


def chart(t: Translator, months: list[webstats.Month]) -> dict[str, Any]:
    """Bars (new, resolved) and a line (still open) per month, laid out right to left in he/ar."""
    width, height, top, bottom = 640, 240, 16, 36
    n = max(len(months), 1)
    slot = width / n
    peak = max([1, *(max(m.new, m.resolved, m.open_at_end) for m in months)])
    scale = (height - top - bottom) / peak

    def x_of(i: int) -> float:
        return (n - 1 - i) * slot if t.rtl else i * slot

    bars, labels, points = [], [], []
    for i, m in enumerate(months):
        x = x_of(i)
        base = height - bottom
        first, second = (x + slot * 0.5, x + slot * 0.15) if t.rtl else (x + slot * 0.15, x + slot * 0.5)
        bars.append({"x": round(first, 1), "y": round(base - m.new * scale, 1), "h": round(m.new * scale, 1),
                     "w": round(slot * 0.35, 1), "kind": "new", "value": m.new, "month": m.key})
        bars.append({"x": round(second, 1), "y": round(base - m.resolved * scale, 1),
                     "h": round(m.resolved * scale, 1), "w": round(slot * 0.35, 1), "kind": "resolved",
                     "value": m.resolved, "month": m.key})
        year, month = (int(p) for p in m.key.split("-"))
        labels.append({"x": round(x + slot / 2, 1), "y": height - bottom + 16, "month": m.key,
                       "text": t.date(date(year, month, 1), "MMM yy")})
        points.append(f"{round(x + slot / 2, 1)},{round(base - m.open_at_end * scale, 1)}")
    return {"width": width, "height": height, "bars": bars, "labels": labels, "points": " ".join(points),
            "axis_y": height - bottom}


def month_label(t: Translator) -> Any:
    # "MMMM y", not "LLLL y": babel 2.18 hands out the stand-alone month names of the first locale
    # it formatted to every locale after it (Hebrew months on an Arabic page).
    return lambda key: t.date(date(int(key[:4]), int(key[5:7]), 1), "MMMM y")


async def trends_context(session: AsyncSession, t: Translator, forum: Forum, now: datetime) -> dict[str, Any]:
    result = await webstats.trends_of(session, forum.org_unit_id, now, t.tz)
    return {"forum": forum, "title": forum_title(t, forum, forum.org_unit), "trends": result,
            "chart": chart(t, result.months), "category_label": category_label, "tier_labels": TIER_LABELS,
            "month_label": month_label(t)}


async def national_context(session: AsyncSession, t: Translator, now: datetime) -> dict[str, Any]:
    cells = await webstats.national(session, now, t.tz)
    return {"cells": cells, "category_label": category_label, "suppress": webstats.SUPPRESS_BELOW,
            "month_label": month_label(t)}


# -- a forum for its members: the coming agenda, what I raised, the date poll (leads) ---------------


async def forum_context(
    session: AsyncSession, t: Translator, forum: Forum, person: Person, now: datetime
) -> dict[str, Any]:
    coming = await agenda.view_agenda(session, forum=forum, person=person, now=now)
    mine = await board.raised_by(session, person.id, forum.id)
    grid = None
    standing = await people.standings(session, person, forum)
    if allowed(Action.OPEN_POLL, standing):
        poll = await polls.live_poll_for(session, forum.id)
        if poll is not None:
            grid = await poll_grid(session, t, poll, forum)
    return {"forum": forum, "title": forum_title(t, forum, forum.org_unit), "agenda": coming, "mine": mine,
            "grid": grid, "status_label": status_label, "gap_status": gap_status, "unit_name": unit_name,
            "kind_label": kind_label, "now": now}


async def poll_grid(session: AsyncSession, t: Translator, poll: Any, forum: Forum) -> dict[str, Any]:
    """Dates × members: who said which date works, and how many required roles each date covers."""
    result = await polls.tally(session, poll, forum)
    names = await agenda.people_by_id(session, list(result.members))
    unit = forum.org_unit
    rows = []
    for person_id, roles in sorted(result.members.items(), key=lambda kv: names[kv[0]].display_name
                                   if kv[0] in names else ""):
        ballot = result.ballots.get(person_id)
        chosen = {int(c) for c in ballot.choices} if ballot else set()
        rows.append({
            "name": names[person_id].display_name if person_id in names else "",
            "roles": ", ".join(sorted(role_label(t, unit, forum, r) for r in roles)),
            "required": bool(roles & result.required),
            "cells": ["yes" if o.id in chosen else ("no" if ballot and (ballot.choices or ballot.none_works)
                                                    else "") for o in result.options],
        })
    coverage = []
    for o in result.options:
        count = result.count_for(o.id)
        coverage.append({"covered": count.coverage(result.required) if count else 0,
                         "votes": len(count.voters) if count else 0})
    return {"poll": poll, "options": result.options, "rows": rows, "coverage": coverage,
            "required": len(result.required - result.unseated), "roles_line": polls.roles_line(t, result)}
