"""Agenda items, raised issues with their history, and what meetings decided.

A meeting is not a table here: decisions carry the meeting's start (``meeting_at``) as resolved
by ``bot.services.agenda.items.last_meeting`` / ``next_meeting`` (the seam described there), and an
item belongs to a meeting by its ``intake_at`` and that meeting's intake cutoff. Every
reference to a person keeps a role beside it, so that a contribution stays attributed to the
role after the person is forgotten.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Entity, ForumListItem, PersonRef, RoleKey


class AgendaItem(ForumListItem, Entity):
    __tablename__ = "agenda_items"

    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id"), index=True)
    # The instant that counts for intake: the item is on the agenda of every meeting whose intake
    # closes after it, until a meeting records a decision on it (see bot.domain.agenda.belongs_to).
    intake_at: Mapped[datetime]
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))
    origin_forum_id: Mapped[int | None] = mapped_column(ForeignKey("forums.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(120))
    details: Mapped[str | None] = mapped_column(Text)
    proposer_person_id: Mapped[PersonRef] = mapped_column(index=True)
    proposer_role: Mapped[RoleKey | None]
    decline_reason: Mapped[str | None] = mapped_column(Text)
    carried_from: Mapped[datetime | None]  # the meeting it was on before it moved on
    submit_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class RaisedIssue(ForumListItem, Entity):
    """A need, a difficulty or a blocker raised in a forum (הצפת פער)."""

    __tablename__ = "raised_issues"

    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    details: Mapped[str] = mapped_column(Text)
    show_name: Mapped[bool] = mapped_column(Boolean, default=False)  # members see the raiser's name
    # ...and so does the forum's group chat (what the bot posts there); only with show_name
    show_name_to_group: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    raiser_person_id: Mapped[PersonRef] = mapped_column(index=True)
    raiser_role: Mapped[RoleKey]
    status: Mapped[str] = mapped_column(String(16))
    owner_person_id: Mapped[PersonRef]
    owner_role: Mapped[RoleKey | None]
    due_date: Mapped[date | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    carried_count: Mapped[int] = mapped_column(Integer, default=0)
    submit_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class IssueHistory(Entity):
    """Every change of a raised issue: who, when, from, to, and a note."""

    __tablename__ = "issue_history"

    issue_id: Mapped[int] = mapped_column(ForeignKey("raised_issues.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor_person_id: Mapped[PersonRef]
    actor_role: Mapped[RoleKey | None]
    kind: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    meeting_at: Mapped[datetime | None]


class MeetingDecision(Entity):
    """What a meeting recorded for one agenda item or one issue (one row per subject per meeting)."""

    __tablename__ = "meeting_decisions"

    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id"), index=True)
    meeting_at: Mapped[datetime]
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"))
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("raised_issues.id", ondelete="CASCADE"))
    status: Mapped[str | None] = mapped_column(String(16))  # the issue's status recorded at the meeting
    text: Mapped[str | None] = mapped_column(Text)
    owner_person_id: Mapped[PersonRef] = mapped_column(index=True)
    owner_role: Mapped[RoleKey | None]
    due_date: Mapped[date | None] = mapped_column(index=True)
    reminded_for: Mapped[date | None]  # the due date whose reminder was handled (sent, or no longer needed)
    recorded_by_person_id: Mapped[PersonRef]
    recorded_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("item_id", "meeting_at", name="uq_meeting_decisions_item"),
        UniqueConstraint("issue_id", "meeting_at", name="uq_meeting_decisions_issue"),
    )
