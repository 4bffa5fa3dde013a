"""Meeting-date polls and the meetings they set.

``Meeting`` is the forum's meeting itself (issue 5's agenda and outcomes hang off it); a
``DatePoll`` is how its date was found. Everything due later (closing, reminders) is a column
here that a job claims with an ``UPDATE … WHERE … IS NULL`` only one process wins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.storage.models import Base, Entity, Forum, PersonRef
from bot.storage.types import JSONType

POLL_STATUSES = ("draft", "open", "closed", "decided", "cancelled")
MEETING_STATUSES = ("proposed", "confirmed", "cancelled", "held")


class Meeting(Entity):
    """One meeting of a forum.

    ``status``: ``proposed`` (a poll closed and suggested it; the lead has not confirmed),
    ``confirmed`` (announced to the members with an .ics invitation), ``cancelled``, ``held``
    (after the fact, set by the meeting-outcomes flow). ``ics_uid`` never changes;
    ``ics_sequence`` goes up every time a sent invitation changes (moved, cancelled), so
    calendar apps update the event they already have instead of adding a second one.
    """

    __tablename__ = "meetings"

    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer, default=90)
    status: Mapped[str] = mapped_column(String(12), default="proposed")
    ics_uid: Mapped[str] = mapped_column(String(96), unique=True)
    ics_sequence: Mapped[int] = mapped_column(Integer, default=0)
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("date_polls.id", ondelete="SET NULL"), index=True)
    created_by_person_id: Mapped[PersonRef]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]  # the day-before reminder for the current date went out
    location: Mapped[str | None] = mapped_column(String(300))  # a place or an online link, set by the lead

    forum: Mapped[Forum] = relationship()

    __table_args__ = (
        Index("ix_meetings_forum_starts", "forum_id", "starts_at"),
        Index("ix_meetings_status_starts", "status", "starts_at"),
    )


class DatePoll(Entity):
    """A poll for a forum's next meeting date: a draft the lead edits, then open until ``deadline``."""

    __tablename__ = "date_polls"

    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id", ondelete="CASCADE"), index=True)
    created_by_person_id: Mapped[PersonRef]
    status: Mapped[str] = mapped_column(String(12), default="draft")
    meeting_time: Mapped[str] = mapped_column(String(5))  # the usual start, "HH:MM" in Israel
    duration_minutes: Mapped[int] = mapped_column(Integer, default=90)
    deadline: Mapped[datetime]
    created_at: Mapped[datetime]
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    roles_notified_at: Mapped[datetime | None]
    proposed_option_id: Mapped[int | None] = mapped_column(Integer)

    forum: Mapped[Forum] = relationship()

    __table_args__ = (Index("ix_date_polls_status_deadline", "status", "deadline"),)


class DatePollOption(Entity):
    """A date on offer. ``position`` is its index in the native poll (0-based, by date)."""

    __tablename__ = "date_poll_options"

    poll_id: Mapped[int] = mapped_column(ForeignKey("date_polls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("poll_id", "starts_at", name="uq_date_poll_options_slot"),)


class DatePollBallot(Base):
    """One person's current answer, whatever chat it came from: the last answer wins.

    ``choices`` holds option ids; ``none_works`` says "none of these dates works for me"
    (an answer, so no reminder, but no vote for any date).
    """

    __tablename__ = "date_poll_ballots"

    poll_id: Mapped[int] = mapped_column(ForeignKey("date_polls.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    choices: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    none_works: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]
