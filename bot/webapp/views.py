"""What each page shows, gathered from the services into plain values for the templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.agenda import IssueCategory
from bot.domain.escalation import OPEN_GAP, GapStatus
from bot.i18n import N_, Translator
from bot.services import agenda, board, escalation, people
from bot.services.agenda_text import category_label, forum_title, kind_label, role_label, status_label, unit_name
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
    return {"boards": boards, "seats": seats}


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
