"""What a person gave through their seats in partnerships and surveys: shown by /mydata.

Answers, scores and inputs belong to a seat (a membership); after /forget they stay with the seat,
which keeps only its role.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Forum, Membership
from bot.storage.models_keshet import (
    KeshetAssessmentAnswer,
    KeshetAssessmentRound,
    KeshetCandidate,
    KeshetInput,
    KeshetScore,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)


async def keshet_data_of(session: AsyncSession, person_id: int) -> dict[str, Any]:
    seats = select(Membership.id).where(Membership.person_id == person_id)
    answers = await session.execute(
        select(SurveyResponse.survey_id, SurveyQuestion.position, SurveyAnswer.value, SurveyAnswer.answered_at)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(SurveyResponse.membership_id.in_(seats))
        .order_by(SurveyResponse.survey_id, SurveyQuestion.position)
    )
    scores = await session.execute(
        select(
            KeshetCandidate.id,
            KeshetCandidate.suggested,
            KeshetCandidate.title,
            KeshetScore.criterion,
            KeshetScore.score,
            KeshetScore.scored_at,
        )
        .join(KeshetCandidate, KeshetCandidate.id == KeshetScore.candidate_id)
        .where(KeshetScore.membership_id.in_(seats))
        .order_by(KeshetScore.id)
    )
    inputs = await session.execute(
        select(KeshetInput, Forum.code)
        .join(Membership, Membership.id == KeshetInput.membership_id)
        .join(Forum, Forum.id == Membership.forum_id)
        .where(KeshetInput.membership_id.in_(seats), KeshetInput.removed_at.is_(None))
        .order_by(KeshetInput.id)
    )
    assessment = await session.execute(
        select(
            KeshetAssessmentRound.number,
            KeshetAssessmentAnswer.question,
            KeshetAssessmentAnswer.yes,
            KeshetAssessmentAnswer.answered_at,
        )
        .join(KeshetAssessmentRound, KeshetAssessmentRound.id == KeshetAssessmentAnswer.round_id)
        .where(KeshetAssessmentAnswer.membership_id.in_(seats))
        .order_by(KeshetAssessmentAnswer.id)
    )
    return {
        "survey_answers": [
            {"survey": survey, "question": position, "answer": value, "answered_at": at.isoformat()}
            for survey, position, value, at in answers.all()
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
