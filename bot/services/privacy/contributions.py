"""What a person contributed to agendas and raised issues: shown by /mydata, kept by /forget.

Forgetting a person keeps their items, issues and decisions (the forum's work), but cuts the link
to them: each keeps only the role it was contributed in.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Forum
from bot.storage.models_agenda import AgendaItem, IssueHistory, MeetingDecision, RaisedIssue


async def contributions_of(session: AsyncSession, person_id: int) -> dict[str, Any]:
    issues = await session.execute(
        select(RaisedIssue, Forum.code)
        .join(Forum, RaisedIssue.forum_id == Forum.id)
        .where(RaisedIssue.raiser_person_id == person_id)
        .order_by(RaisedIssue.id)
    )
    items = await session.execute(
        select(AgendaItem, Forum.code)
        .join(Forum, AgendaItem.forum_id == Forum.id)
        .where(AgendaItem.proposer_person_id == person_id)
        .order_by(AgendaItem.id)
    )
    tasks = await session.execute(
        select(MeetingDecision, Forum.code)
        .join(Forum, MeetingDecision.forum_id == Forum.id)
        .where(MeetingDecision.owner_person_id == person_id)
        .order_by(MeetingDecision.id)
    )
    return {
        "raised_issues": [
            {
                "id": i.id,
                "forum": code,
                "kind": i.kind,
                "category": i.category,
                "title": i.title,
                "details": i.details,
                "role": i.raiser_role,
                "name_shown_to_members": i.show_name,
                "name_shown_to_group": i.show_name_to_group,
                "status": i.status,
                "created_at": i.created_at.isoformat(),
            }
            for i, code in issues.all()
        ],
        "proposed_agenda_items": [
            {
                "id": i.id,
                "forum": code,
                "title": i.title,
                "details": i.details,
                "role": i.proposer_role,
                "status": i.status,
                "decline_reason": i.decline_reason,
                "created_at": i.created_at.isoformat(),
            }
            for i, code in items.all()
        ],
        "in_charge_of": [
            {
                "forum": code,
                "meeting_at": d.meeting_at.isoformat(),
                "decision": d.text,
                "due_date": d.due_date.isoformat() if d.due_date else None,
            }
            for d, code in tasks.all()
        ],
    }


async def forget_contributions(session: AsyncSession, person_id: int) -> None:
    """Keep the contributions, attributed to the role only."""
    links = (
        (RaisedIssue, RaisedIssue.raiser_person_id,
         {"raiser_person_id": None, "show_name": False, "show_name_to_group": False}),
        (RaisedIssue, RaisedIssue.owner_person_id, {"owner_person_id": None}),
        (AgendaItem, AgendaItem.proposer_person_id, {"proposer_person_id": None}),
        (IssueHistory, IssueHistory.actor_person_id, {"actor_person_id": None}),
        (MeetingDecision, MeetingDecision.owner_person_id, {"owner_person_id": None}),
        (MeetingDecision, MeetingDecision.recorded_by_person_id, {"recorded_by_person_id": None}),
    )
    for model, column, values in links:
        await session.execute(update(model).where(column == person_id).values(**values))
