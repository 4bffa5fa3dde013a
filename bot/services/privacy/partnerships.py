"""What a person gave through their seats in partnerships and surveys: shown by /mydata.

Answers, scores and inputs belong to a seat (a membership); after /forget they stay with the seat,
which keeps only its role.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.services.privacy.mydata_text import answer_text, stored_text
from bot.storage.models import Forum, Membership
from bot.storage.models_keshet import (
    KeshetAssessmentAnswer,
    KeshetAssessmentRound,
    KeshetCandidate,
    KeshetInput,
    KeshetScore,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)


def _given_through(
    seats: Select[int],
    given: type[KeshetScore] | type[KeshetAssessmentAnswer],
    about: type[KeshetCandidate] | type[KeshetAssessmentRound],
    on: ColumnElement[bool],
    *columns: Any,
) -> Select[*tuple[Any, ...]]:
    """``columns`` of what the ``seats`` gave (a ``given`` row each, joined ``on`` to what it is ``about``),
    in the order they gave it."""
    return select(*columns).join(about, on).where(given.membership_id.in_(seats)).order_by(given.id)


async def keshet_data_of(session: AsyncSession, person_id: int, t: Translator | None = None) -> dict[str, Any]:
    """``t``: the person's language, for the survey titles, questions and options written out beside each answer."""
    t = t or Translator("he")
    seats = select(Membership.id).where(Membership.person_id == person_id)
    answers = await session.execute(
        select(Survey, SurveyQuestion, SurveyAnswer.value, SurveyAnswer.answered_at)
        .select_from(SurveyAnswer)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .where(SurveyResponse.membership_id.in_(seats))
        .order_by(SurveyResponse.survey_id, SurveyQuestion.position)
    )
    scores = await session.execute(_given_through(
        seats, KeshetScore,
        KeshetCandidate, KeshetCandidate.id == KeshetScore.candidate_id,
        KeshetCandidate.id, KeshetCandidate.suggested, KeshetCandidate.title,
        KeshetScore.criterion, KeshetScore.score, KeshetScore.scored_at,
    ))
    inputs = await session.execute(
        select(KeshetInput, Forum.code)
        .join(Membership, Membership.id == KeshetInput.membership_id)
        .join(Forum, Forum.id == Membership.forum_id)
        .where(KeshetInput.membership_id.in_(seats), KeshetInput.removed_at.is_(None))
        .order_by(KeshetInput.id)
    )
    assessment = await session.execute(_given_through(
        seats, KeshetAssessmentAnswer,
        KeshetAssessmentRound, KeshetAssessmentRound.id == KeshetAssessmentAnswer.round_id,
        KeshetAssessmentRound.number, KeshetAssessmentAnswer.question, KeshetAssessmentAnswer.yes,
        KeshetAssessmentAnswer.answered_at,
    ))
    return {
        "survey_answers": [
            {
                "survey": survey.id,
                "survey_title": stored_text(t, survey, survey.title),
                "question": question.position,
                "question_text": stored_text(t, survey, question.text),
                "options": [stored_text(t, survey, o) for o in question.options or []],
                "answer": value,
                "answer_text": answer_text(t, survey, question, value),
                "answered_at": at.isoformat(),
            }
            for survey, question, value, at in answers.all()
        ],
        "partnership_field_scores": [
            {
                "field": suggested or title,
                "field_id": cid,
                "criterion": criterion,
                "score": score,
                "scored_at": at.isoformat(),
            }
            for cid, suggested, title, criterion, score, at in scores.all()
        ],
        "partnership_inputs": [
            {
                "forum": code,
                "kind": row.kind,
                "amount": row.amount,
                "description": row.description,
                "recorded_at": row.recorded_at.isoformat(),
            }
            for row, code in inputs.all()
        ],
        "partnership_self_assessment": [
            {"round": number, "question": question, "yes": yes, "answered_at": at.isoformat()}
            for number, question, yes, at in assessment.all()
        ],
    }
