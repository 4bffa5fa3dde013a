"""Escalation: gaps forwarded to the forum above, their origins, and announcements sent down.

A **gap** is what a forum above sees of one or more raised issues forwarded to it (merged when
they are of the same category and close wording). Each origin issue is linked to every gap it
reached on the way up (``escalation_links``), so an answer at any tier finds everyone below.
The origin issue keeps its own row and history in ``raised_issues``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, Entity, ForumListItem, PersonRef, RoleKey


class EscalatedGap(ForumListItem, Entity):
    __tablename__ = "escalated_gaps"

    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id"))  # the forum it was forwarded to
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    norm_title: Mapped[str] = mapped_column(String(160))
    details: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    owner_person_id: Mapped[PersonRef]
    owner_role: Mapped[RoleKey | None]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_role: Mapped[RoleKey | None]
    forwarded_to_gap_id: Mapped[int | None] = mapped_column(ForeignKey("escalated_gaps.id", ondelete="SET NULL"))
    first_digest_at: Mapped[datetime | None]  # when a digest first listed it as new (None: still new)
    arrived_at: Mapped[datetime]  # starts its window in this forum


class EscalationLink(Entity):
    """An origin issue (raised in a forum below) behind a gap, and which child forum passed it on."""

    __tablename__ = "escalation_links"

    gap_id: Mapped[int] = mapped_column(ForeignKey("escalated_gaps.id", ondelete="CASCADE"), index=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("raised_issues.id", ondelete="CASCADE"), index=True)
    via_forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id"))  # the child forum it came from
    via: Mapped[str] = mapped_column(String(8))  # lead / auto
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("gap_id", "issue_id", name="uq_escalation_links_gap_issue"),)


class Announcement(Entity):
    """A decision or an update a higher forum sends to the forums below (all, or some tiers)."""

    __tablename__ = "announcements"

    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id"), index=True)
    author_person_id: Mapped[PersonRef]
    author_role: Mapped[RoleKey | None]
    title: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    tiers: Mapped[str] = mapped_column(String(64))  # comma-separated tiers below
    status: Mapped[str] = mapped_column(String(12), index=True)  # due / done
    forums_reached: Mapped[int] = mapped_column(Integer, default=0)
    submit_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class AnnouncementDelivery(Base):
    """One forum below reached by an announcement (written once: the fan-out resumes after a crash)."""

    __tablename__ = "announcement_deliveries"

    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True)
    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id"), primary_key=True)
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    delivered_at: Mapped[datetime]
