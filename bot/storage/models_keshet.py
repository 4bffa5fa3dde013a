"""Tables of KeShet partnerships (process, field choice, inputs, self-assessment) and of surveys.

A partner is a seat (``memberships.id``): the sector is read from the seat's role, never stored
on a person or copied onto these rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Entity, PersonRef, SeatRef
from bot.storage.types import JSONType


class KeshetPartnership(Entity):
    """A partnership forum's own settings and schedule (one row per forum of kind partnership)."""

    __tablename__ = "keshet_partnerships"

    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id", ondelete="CASCADE"), unique=True)
    weights: Mapped[dict[str, Any]] = mapped_column(default=dict)  # criterion → 0..5 (default 1)
    assessment_every_months: Mapped[int] = mapped_column(Integer, default=6)
    next_assessment_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]


# A row of one partnership's process, looked up by the partnership; it goes with the partnership.
PartnershipRef = Annotated[int, mapped_column(ForeignKey("keshet_partnerships.id", ondelete="CASCADE"), index=True)]


class KeshetStageEntry(Entity):
    """The partnership reached a stage, or made progress in it, on a date (past dates welcome)."""

    __tablename__ = "keshet_stage_entries"

    partnership_id: Mapped[PartnershipRef]
    stage: Mapped[str] = mapped_column(String(16))
    happened_on: Mapped[date] = mapped_column(Date)
    precision: Mapped[str] = mapped_column(String(8))  # day / month
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_person_id: Mapped[PersonRef]
    recorded_at: Mapped[datetime]


class KeshetCandidate(Entity):
    """A candidate field of action; ``key`` is a suggested field's key or the folded free text."""

    __tablename__ = "keshet_candidates"

    partnership_id: Mapped[PartnershipRef]
    key: Mapped[str] = mapped_column(String(160))
    suggested: Mapped[str | None] = mapped_column(String(24))
    title: Mapped[str | None] = mapped_column(String(160))
    added_by_person_id: Mapped[PersonRef]
    added_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("partnership_id", "key", name="uq_keshet_candidate"),)


class KeshetScore(Entity):
    """One partner's score (1–5) of one candidate on one criterion; a new score replaces the old."""

    __tablename__ = "keshet_scores"

    candidate_id: Mapped[int] = mapped_column(ForeignKey("keshet_candidates.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[SeatRef]
    criterion: Mapped[str] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(Integer)
    scored_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("candidate_id", "membership_id", "criterion", name="uq_keshet_score"),)


class KeshetInput(Entity):
    """What a partner brings: management, volunteering, money or money's worth."""

    __tablename__ = "keshet_inputs"

    partnership_id: Mapped[PartnershipRef]
    membership_id: Mapped[SeatRef]
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int | None] = mapped_column(Integer)  # shekels, or hours a month
    description: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


class KeshetAssessmentRound(Entity):
    """One round of the self-assessment; ``seats`` maps the partners asked (seat id) to their sector."""

    __tablename__ = "keshet_assessment_rounds"

    partnership_id: Mapped[PartnershipRef]
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(12))  # schedule / lead
    opened_by_person_id: Mapped[PersonRef]
    opened_at: Mapped[datetime]
    seats: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (UniqueConstraint("partnership_id", "number", name="uq_keshet_round"),)


class KeshetAssessmentAnswer(Entity):
    __tablename__ = "keshet_assessment_answers"

    round_id: Mapped[int] = mapped_column(ForeignKey("keshet_assessment_rounds.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[SeatRef]
    question: Mapped[int] = mapped_column(Integer)
    yes: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("round_id", "membership_id", "question", name="uq_keshet_assessment_answer"),)


# --------------------------------------------------------------------------------------------
# Surveys
# --------------------------------------------------------------------------------------------


class Survey(Entity):
    """A survey of one forum's members. ``request_key`` makes a second send of the same request a no-op."""

    __tablename__ = "surveys"

    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id", ondelete="CASCADE"), index=True)
    template: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    intro: Mapped[str] = mapped_column(Text, default="")
    translatable: Mapped[bool] = mapped_column(Boolean, default=True)  # title and questions are msgids
    status: Mapped[str] = mapped_column(String(12), default="open")  # open / closed
    request_key: Mapped[str] = mapped_column(String(48))
    created_by_person_id: Mapped[PersonRef]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("forum_id", "request_key", name="uq_survey_request"),)


class SurveyQuestion(Entity):
    __tablename__ = "survey_questions"

    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSONType, default=list)

    __table_args__ = (UniqueConstraint("survey_id", "position", name="uq_survey_question"),)


class SurveyResponse(Entity):
    """One seat's answers to a survey; answering again replaces answers, it never adds a response."""

    __tablename__ = "survey_responses"

    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[SeatRef]
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("survey_id", "membership_id", name="uq_survey_response"),)


class SurveyAnswer(Entity):
    __tablename__ = "survey_answers"

    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_questions.id", ondelete="CASCADE"))
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    answered_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("response_id", "question_id", name="uq_survey_answer"),)


class SurveyPromotion(Entity):
    """An answer a lead turned into an agenda item or a raised issue.

    ``status`` is ``delivered`` once the agenda / issues service took it (``target_ref`` is its
    id there), ``pending`` while that service is missing or failing (the ``survey_promotions`` job
    hands it over later: nothing is lost), ``refused`` when it said no to a pending one.
    """

    __tablename__ = "survey_promotions"

    answer_id: Mapped[int] = mapped_column(ForeignKey("survey_answers.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(8))  # agenda / issue
    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    target_ref: Mapped[str | None] = mapped_column(String(48))
    requested_by_person_id: Mapped[PersonRef]
    requested_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("answer_id", "target", name="uq_survey_promotion"),)
