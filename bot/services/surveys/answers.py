"""Surveys of a forum's members: sending, answering (the later answer counts), results and exports.

A respondent is a seat: one response per seat and survey, and answering again replaces the
earlier answer to that question. Results and exports name roles, never people.
"""

from __future__ import annotations

import importlib
import io
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import surveys as d
from bot.domain.keshet import seat_order
from bot.domain.permissions import Action, allowed
from bot.domain.roles import UnknownRole, get_role
from bot.domain.text import clean_text
from bot.domain.tiers import ForumKind
from bot.i18n import N_, Translator, ascii_filename
from bot.services import audit, sheets
from bot.services.delivery import notify
from bot.services.errors import Forbidden, Refused
from bot.services.forums import people
from bot.services.sql import get_or_refuse, insert_ignore, insert_or_find
from bot.services.surveys import actions as survey_actions
from bot.services.upsert import upsert
from bot.storage.models import Forum, Membership, OrgUnit, Person
from bot.storage.models_keshet import Survey, SurveyAnswer, SurveyPromotion, SurveyQuestion, SurveyResponse

log = logging.getLogger(__name__)

LEADS_ONLY = N_("Only the forum's lead can do that.")
MEMBERS_ONLY = N_("This survey is for the forum's members.")
CLOSED = N_("This survey has closed.")


def text_of(t: Translator, survey: Survey, text: str) -> str:
    """A stored title, question or option, in the reader's language when it is a template's."""
    return t._(text) if survey.translatable and text else text


# --------------------------------------------------------------------------------------------
# Creating and sending
# --------------------------------------------------------------------------------------------


def new_request_key() -> str:
    return f"req:{secrets.token_urlsafe(12)}"


async def templates_for(session: AsyncSession, forum: Forum) -> list[d.Template]:
    """The ready surveys offered in this forum (the municipal mapping: authorities and partnerships)."""
    unit = await session.get(OrgUnit, forum.org_unit_id)
    assert unit is not None
    return [t for t in d.TEMPLATES.values() if t.offered_in(unit.tier, forum.kind)]


async def create_from_template(
    session: AsyncSession,
    *,
    forum: Forum,
    template: str,
    now: datetime,
    request_key: str,
    by_person: Person | None = None,
    system: bool = False,
) -> Survey | None:
    """A survey of the forum from a template; None when this request was already carried out.

    ``request_key`` is the request's identity (a nonce for a lead's button, ``needs:2027`` for the
    yearly job): a second press or a second process creates nothing.
    """
    if not system:
        await require_lead(session, by_person, forum)
    spec = d.TEMPLATES.get(template)
    if spec is None or (not system and spec not in await templates_for(session, forum)):
        raise Refused(N_("Please choose one of the options."))
    survey, created = await insert_or_find(
        session,
        Survey,
        {
            "forum_id": forum.id,
            "template": spec.key,
            "title": spec.title,
            "intro": spec.intro,
            "translatable": True,
            "status": "open",
            "request_key": request_key,
            "created_by_person_id": by_person.id if by_person else None,
            "created_at": now,
        },
        conflict=["forum_id", "request_key"],
    )
    if not created:
        return None
    for position, question in enumerate(spec.questions, 1):
        session.add(
            SurveyQuestion(
                survey_id=survey.id,
                position=position,
                kind=question.kind.value,
                text=question.text,
                options=list(question.options),
            )
        )
    await session.flush()
    audit.record_by(session, by_person, "survey.create", now=now, subject=f"forum:{forum.id}",
                    details={"survey": survey.id, "template": spec.key})
    return survey


async def send_survey(session: AsyncSession, survey: Survey, *, now: datetime, tz: ZoneInfo | None = None) -> int:
    """Invite every member of the survey's forum to answer; returns how many people."""
    questions = await questions_of(session, survey.id)
    person_ids = await notify.member_ids(session, survey.forum_id)
    reached: set[int] = set()
    for r in await notify.recipients(session, person_ids, now=now, tz=tz):
        text = "\n".join(
            (
                r.t._("A survey: {title}", title=text_of(r.t, survey, survey.title)),
                text_of(r.t, survey, survey.intro),
                r.t.n_("It has one question.", "It has {n} questions.", len(questions)),
            )
        )
        await r.send(
            r.message(text, [[r.button(r.t._("Answer the survey"), survey_actions.OpenSurvey(survey.id))]]),
            dedup_key=f"survey:{survey.id}:p{r.person.id}",
        )
        reached.add(r.person.id)
    return len(reached)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


async def get_survey(session: AsyncSession, survey_id: int) -> tuple[Survey, Forum]:
    survey = await get_or_refuse(session, Survey, survey_id, N_("There is no such survey."))
    forum = await session.get(Forum, survey.forum_id)
    assert forum is not None
    await session.refresh(forum, ["org_unit"])
    return survey, forum


async def questions_of(session: AsyncSession, survey_id: int) -> list[SurveyQuestion]:
    rows = await session.scalars(
        select(SurveyQuestion).where(SurveyQuestion.survey_id == survey_id).order_by(SurveyQuestion.position)
    )
    return list(rows.all())


async def require_lead(session: AsyncSession, person: Person | None, forum: Forum) -> None:
    if not allowed(Action.MANAGE_SURVEYS, await people.standings(session, person, forum)):
        raise Forbidden(LEADS_ONLY)


async def respondent_seat(session: AsyncSession, person: Person | None, forum: Forum) -> Membership:
    """The seat a person answers from (the first, if they hold two in the forum)."""
    if person is None or not allowed(Action.ANSWER_SURVEY, await people.standings(session, person, forum)):
        raise Forbidden(MEMBERS_ONLY)
    seats = (
        await session.scalars(
            select(Membership)
            .where(Membership.forum_id == forum.id, Membership.person_id == person.id, Membership.revoked_at.is_(None))
            .order_by(Membership.id)
        )
    ).all()
    if not seats:
        raise Forbidden(MEMBERS_ONLY)
    return sorted(seats, key=lambda m: (seat_order(m.role), m.id))[0]


@dataclass(frozen=True)
class OpenSurvey:
    survey: Survey
    forum: Forum
    unit: OrgUnit
    answered: int
    questions: int


async def open_surveys_for(session: AsyncSession, person: Person) -> list[OpenSurvey]:
    """Open surveys of the forums a person sits in, newest first, with how far they got."""
    result: list[OpenSurvey] = []
    seen: set[int] = set()
    for seat in await people.seats_of(session, person.id):
        if seat.forum.id in seen:
            continue
        seen.add(seat.forum.id)
        rows = await session.scalars(
            select(Survey)
            .where(Survey.forum_id == seat.forum.id, Survey.status == "open")
            .order_by(Survey.id.desc())
            .limit(5)
        )
        for survey in rows.all():
            membership = await respondent_seat(session, person, seat.forum)
            answered = len(await answers_of(session, survey.id, membership.id))
            total = len(await questions_of(session, survey.id))
            result.append(OpenSurvey(survey, seat.forum, seat.unit, answered, total))
    return sorted(result, key=lambda s: -s.survey.id)


async def surveys_led_by(session: AsyncSession, person: Person) -> list[tuple[Survey, Forum, OrgUnit]]:
    """Recent surveys of the forums a person leads (or every forum, for an admin it is not offered)."""
    result = []
    for seat in await people.seats_of(session, person.id):
        if not seat.is_lead:
            continue
        rows = await session.scalars(
            select(Survey).where(Survey.forum_id == seat.forum.id).order_by(Survey.id.desc()).limit(5)
        )
        result += [(s, seat.forum, seat.unit) for s in rows.all()]
    return sorted(result, key=lambda x: -x[0].id)


async def response_of(session: AsyncSession, survey_id: int, membership_id: int) -> SurveyResponse | None:
    return await session.scalar(
        select(SurveyResponse).where(
            SurveyResponse.survey_id == survey_id, SurveyResponse.membership_id == membership_id
        )
    )


async def answers_of(session: AsyncSession, survey_id: int, membership_id: int) -> dict[int, dict[str, Any]]:
    """A seat's current answers to a survey: question id → value."""
    rows = await session.execute(
        select(SurveyAnswer.question_id, SurveyAnswer.value)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyResponse.survey_id == survey_id, SurveyResponse.membership_id == membership_id)
        .execution_options(populate_existing=True)
    )
    return {qid: dict(value) for qid, value in rows.all()}


# --------------------------------------------------------------------------------------------
# Answering
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answering:
    survey: Survey
    forum: Forum
    question: SurveyQuestion
    membership_id: int


async def question_for(session: AsyncSession, question_id: int, person: Person | None) -> Answering:
    """A question the person may answer now (an open survey of a forum they sit in)."""
    question = await get_or_refuse(session, SurveyQuestion, question_id, N_("There is no such survey."))
    survey, forum = await get_survey(session, question.survey_id)
    membership = await respondent_seat(session, person, forum)
    if survey.status != "open":
        raise Refused(CLOSED)
    return Answering(survey, forum, question, membership.id)


async def _response(session: AsyncSession, survey_id: int, membership_id: int, now: datetime) -> SurveyResponse:
    await insert_ignore(
        session,
        SurveyResponse.__table__,  # type: ignore[arg-type]
        {"survey_id": survey_id, "membership_id": membership_id, "started_at": now, "updated_at": now},
        conflict=["survey_id", "membership_id"],
    )
    response = await response_of(session, survey_id, membership_id)
    assert response is not None
    response.updated_at = now
    return response


async def answer(
    session: AsyncSession, *, question_id: int, person: Person | None, value: dict[str, Any], now: datetime
) -> Answering:
    """Store a person's answer to one question; answering again replaces it (the later answer counts)."""
    at = await question_for(session, question_id, person)
    kind = d.QuestionKind(at.question.kind)
    if kind is d.QuestionKind.TEXT and isinstance(value.get("text"), str):
        value = {"text": clean_text(value["text"], max_length=d.TEXT_MAX, multiline=True)}
    try:
        clean = d.normalise_answer(kind, len(at.question.options), value)
    except d.BadAnswer:
        raise Refused(N_("Please choose one of the options.")) from None
    response = await _response(session, at.survey.id, at.membership_id, now)
    await upsert(
        session,
        SurveyAnswer.__table__,  # type: ignore[arg-type]
        {"response_id": response.id, "question_id": at.question.id, "value": clean, "answered_at": now},
        conflict=["response_id", "question_id"],
        update=["value", "answered_at"],
    )
    return at


async def set_choice(
    session: AsyncSession, *, question_id: int, person: Person | None, option: int, on: bool, now: datetime
) -> Answering:
    """Mark one option of a multiple-choice question on or off (idempotent: a double press changes nothing)."""
    at = await question_for(session, question_id, person)
    if d.QuestionKind(at.question.kind) is not d.QuestionKind.MULTI or not 0 <= option < len(at.question.options):
        raise Refused(N_("Please choose one of the options."))
    current = (await answers_of(session, at.survey.id, at.membership_id)).get(question_id)
    return await answer(session, question_id=question_id, person=person, value=d.toggle(current, option, on), now=now)


async def next_question(session: AsyncSession, survey_id: int, after_position: int) -> SurveyQuestion | None:
    return await session.scalar(
        select(SurveyQuestion)
        .where(SurveyQuestion.survey_id == survey_id, SurveyQuestion.position > after_position)
        .order_by(SurveyQuestion.position)
        .limit(1)
    )


async def complete(session: AsyncSession, *, survey_id: int, membership_id: int, now: datetime) -> None:
    response = await _response(session, survey_id, membership_id, now)
    response.completed_at = now


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionResult:
    question: SurveyQuestion
    summary: d.QuestionSummary


@dataclass(frozen=True)
class Results:
    survey: Survey
    forum: Forum
    members: int
    responded: int
    questions: list[QuestionResult]


async def _latest_answers(session: AsyncSession, survey_id: int) -> list[tuple[SurveyAnswer, SurveyResponse]]:
    rows = await session.execute(
        select(SurveyAnswer, SurveyResponse)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyResponse.survey_id == survey_id)
        .order_by(SurveyAnswer.answered_at.desc(), SurveyAnswer.id.desc())
        .execution_options(populate_existing=True)
    )
    return [(a, r) for a, r in rows.all()]


async def results(session: AsyncSession, *, survey_id: int, person: Person | None) -> Results:
    survey, forum = await get_survey(session, survey_id)
    await require_lead(session, person, forum)
    questions = await questions_of(session, survey.id)
    answers = await _latest_answers(session, survey.id)
    summaries = [
        QuestionResult(
            q,
            d.summarise(d.QuestionKind(q.kind), len(q.options), (a.value for a, _ in answers if a.question_id == q.id)),
        )
        for q in questions
    ]
    responded = len({r.id for a, r in answers if a.value})
    members = len(await notify.member_ids(session, forum.id))
    return Results(survey, forum, members, responded, summaries)


async def close_survey(session: AsyncSession, *, survey_id: int, person: Person | None, now: datetime) -> Survey:
    survey, forum = await get_survey(session, survey_id)
    await require_lead(session, person, forum)
    if survey.status == "open":
        survey.status = "closed"
        survey.closed_at = now
    return survey


async def text_answers(
    session: AsyncSession, *, survey_id: int, person: Person | None, limit: int = 10
) -> tuple[list[tuple[SurveyAnswer, SurveyQuestion]], int]:
    """The newest free-text answers (to promote), and how many there are in all."""
    survey, forum = await get_survey(session, survey_id)
    await require_lead(session, person, forum)
    rows = await session.execute(
        select(SurveyAnswer, SurveyQuestion)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(SurveyQuestion.survey_id == survey.id, SurveyQuestion.kind == d.QuestionKind.TEXT.value)
        .order_by(SurveyAnswer.answered_at.desc(), SurveyAnswer.id.desc())
    )
    listed = [(a, q) for a, q in rows.all() if a.value.get("text")]
    return listed[:limit], len(listed)


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


def _role_label(t: Translator, unit: OrgUnit, forum: Forum, role: str) -> str:
    try:
        return get_role(unit.tier, forum.kind, role).name(t.locale)
    except UnknownRole:
        return role


async def export_rows(session: AsyncSession, survey: Survey, forum: Forum, t: Translator) -> list[list[str]]:
    """A header and one row per respondent: role (and sector in a partnership), time, one cell per question."""
    unit = forum.org_unit
    questions = await questions_of(session, survey.id)
    header = [t._("Respondent"), t._("Role"), t._("Last answered")]
    header += [f"{q.position}. {text_of(t, survey, q.text)}" for q in questions]
    responses = (
        await session.execute(
            select(SurveyResponse, Membership.role)
            .join(Membership, Membership.id == SurveyResponse.membership_id)
            .where(SurveyResponse.survey_id == survey.id)
            .order_by(SurveyResponse.id)
        )
    ).all()
    answers = await _latest_answers(session, survey.id)
    rows = [header]
    for number, (response, role) in enumerate(responses, 1):
        mine = {a.question_id: a.value for a, r in answers if r.id == response.id}
        if not any(mine.values()):
            continue
        cells = [str(number), _role_label(t, unit, forum, role), t.datetime(response.updated_at, "yyyy-MM-dd HH:mm")]
        for q in questions:
            options = [text_of(t, survey, o) for o in q.options]
            cells.append(d.answer_cells(d.QuestionKind(q.kind), mine.get(q.id), options))
        rows.append(cells)
    return rows


@dataclass(frozen=True)
class SurveyFile:
    name: str  # in the reader's language
    mime: str
    data: bytes
    rows: int  # respondents
    ascii_name: str = ""  # the same from the English msgid (the CLI's default, an ASCII-only channel)


SURVEY_FILE = N_("survey-{number}")


FORMATS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


async def export(
    session: AsyncSession,
    *,
    survey_id: int,
    fmt: str,
    t: Translator,
    person: Person | None = None,
    system: bool = False,
) -> SurveyFile:
    """A survey's answers as CSV (UTF-8 with BOM, for Excel) or XLSX, one row per respondent."""
    if fmt not in FORMATS:
        raise Refused(N_("Please choose one of the options."))
    survey, forum = await get_survey(session, survey_id)
    if not system:
        await require_lead(session, person, forum)
    rows = await export_rows(session, survey, forum, t)
    name = t.filename(SURVEY_FILE, fmt, number=survey.id)
    ascii_name = ascii_filename(SURVEY_FILE, fmt, number=survey.id)
    if fmt == "csv":
        return SurveyFile(name, FORMATS[fmt], sheets.csv_bytes(rows), len(rows) - 1, ascii_name)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = t._("Answers")[:31]
    sheet.sheet_view.rightToLeft = t.rtl
    sheets.write_rows(sheet, rows)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index, column in enumerate(sheet.columns, 1):
        width = max((len(str(c.value or "")) for c in column), default=8)
        sheet.column_dimensions[column[0].column_letter].width = min(max(width, 8), 60) if index > 1 else 6
    sheet.freeze_panes = "A2"
    buffer_b = io.BytesIO()
    book.save(buffer_b)
    return SurveyFile(name, FORMATS[fmt], buffer_b.getvalue(), len(rows) - 1, ascii_name)


# --------------------------------------------------------------------------------------------
# From an answer to an agenda item or a raised issue (the seam to the agenda/issues feature)
# --------------------------------------------------------------------------------------------

TARGETS: dict[str, tuple[str, str]] = {
    "agenda": ("bot.services.agenda.items", "propose_item"),
    "issue": ("bot.services.agenda.issues", "raise_issue"),
}
PROMOTED_ISSUE_KIND = "need"  # צורך: what a survey of needs brings up; the lead can reclassify it in /issues


def _target_function(target: str) -> Any:
    """The agenda / issues service function, or None in a build without that feature."""
    module_name, function_name = TARGETS[target]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None
    return getattr(module, function_name, None)


async def _call_target(
    function: Any, session: AsyncSession, promotion: SurveyPromotion, forum: Forum, person: Person, now: datetime
) -> object:
    """Call ``propose_item`` / ``raise_issue``; returns the id of what they created (or found)."""
    title = d.promoted_title(promotion.text)
    details = promotion.text if promotion.text.strip() != title else None
    submit_key = f"survey-answer:{promotion.answer_id}"  # their own once-only key: a retry finds the first
    if promotion.target == "agenda":
        proposal = await function(
            session, forum=forum, person=person, title=title, details=details, now=now, submit_key=submit_key
        )
        return getattr(getattr(proposal, "item", proposal), "id", proposal)
    raised = await function(
        session,
        forum=forum,
        person=person,
        kind=PROMOTED_ISSUE_KIND,
        title=title,
        details=promotion.text,
        category=None,
        show_name=False,
        now=now,
        submit_key=submit_key,
    )
    return getattr(getattr(raised, "issue", raised), "id", raised)


async def _hand_over(session: AsyncSession, promotion: SurveyPromotion, now: datetime) -> None:
    """Give a pending promotion to the agenda or issues service, if there is one.

    The call runs in a savepoint, so whatever the other service wrote is undone if it fails. A
    refusal (the person may no longer propose, say) is raised for the caller; any other failure is
    kept on the promotion, which stays pending for the ``survey_promotions`` job to try again.
    """
    function = _target_function(promotion.target)
    if function is None:
        return
    forum = await session.get(Forum, promotion.forum_id)
    person = await session.get(Person, promotion.requested_by_person_id) if promotion.requested_by_person_id else None
    if forum is None or person is None or person.forgotten_at is not None:
        promotion.status, promotion.last_error = "refused", "the person who asked is no longer there"
        return
    try:
        async with session.begin_nested():
            created = await _call_target(function, session, promotion, forum, person, now)
    except Refused:
        raise
    except Exception as exc:  # another feature's bug must not lose the request
        log.warning("promotion %s to %s stays pending: %s", promotion.id, promotion.target, exc)
        promotion.last_error = f"{type(exc).__name__}: {exc}"[:500]
        return
    promotion.status = "delivered"
    promotion.delivered_at = now
    promotion.target_ref = str(created)[:48]
    promotion.last_error = None


async def promote_answer(
    session: AsyncSession, answer_id: int, target: str, by_person: Person | None, now: datetime
) -> tuple[SurveyPromotion, bool]:
    """Turn a written survey answer into an agenda item (``"agenda"``) or a raised issue (``"issue"``), in one action.

    The request is recorded in ``survey_promotions``, once per answer and target (a second press
    returns the first record with ``created`` False). It is handed at once to
    ``bot.services.agenda.items.propose_item`` (the lead's item goes straight onto the coming agenda) or
    ``bot.services.agenda.issues.raise_issue`` (kind "need", the raiser shown by role only), titled with
    the answer's first line and carrying the whole answer as details, and becomes ``delivered``.
    If that feature is missing from the build or fails, the record stays ``pending`` and the
    ``survey_promotions`` job hands it over later; if it refuses, the refusal reaches the lead and
    nothing is recorded.
    """
    if target not in TARGETS:
        raise Refused(N_("Please choose one of the options."))
    row = await get_or_refuse(session, SurveyAnswer, answer_id, N_("That answer is no longer there."))
    question = await session.get(SurveyQuestion, row.question_id)
    assert question is not None
    _survey, forum = await get_survey(session, question.survey_id)
    await require_lead(session, by_person, forum)
    text = str(row.value.get("text") or "")
    if not text:
        raise Refused(N_("Only a written answer can become an agenda item or an issue."))
    promotion, created = await insert_or_find(
        session,
        SurveyPromotion,
        {
            "answer_id": row.id,
            "target": target,
            "forum_id": forum.id,
            "text": text,
            "status": "pending",
            "requested_by_person_id": by_person.id if by_person else None,
            "requested_at": now,
        },
        conflict=["answer_id", "target"],
    )
    if created:
        try:
            await _hand_over(session, promotion, now)
        except Refused:
            await session.delete(promotion)
            await session.flush()
            raise
        audit.record_by(session, by_person, "survey.promote", now=now, subject=f"forum:{forum.id}",
                        details={"answer": row.id, "target": target, "status": promotion.status})
    return promotion, created


async def deliver_pending(session: AsyncSession, *, now: datetime, limit: int = 100) -> int:
    """Hand pending promotions over to features that now exist; returns how many were delivered."""
    if all(_target_function(t) is None for t in TARGETS):
        return 0
    pending = (
        await session.scalars(
            select(SurveyPromotion).where(SurveyPromotion.status == "pending").order_by(SurveyPromotion.id).limit(limit)
        )
    ).all()
    delivered = 0
    for promotion in pending:
        try:
            await _hand_over(session, promotion, now)
        except Refused as refusal:
            promotion.status, promotion.last_error = "refused", refusal.msgid[:500]
        delivered += promotion.status == "delivered"
    return delivered


# --------------------------------------------------------------------------------------------
# The school forum's needs survey, every year in late August
# --------------------------------------------------------------------------------------------


async def school_forums_without(session: AsyncSession, request_key: str, *, limit: int = 200) -> list[Forum]:
    """Main forums of schools that have members and no survey for ``request_key`` yet."""
    has_members = (
        select(Membership.forum_id)
        .where(Membership.revoked_at.is_(None))
        .group_by(Membership.forum_id)
        .having(func.count() > 0)
    )
    done = select(Survey.forum_id).where(Survey.request_key == request_key)
    rows = await session.scalars(
        select(Forum)
        .join(OrgUnit, OrgUnit.id == Forum.org_unit_id)
        .where(
            OrgUnit.tier == "school",
            Forum.kind == ForumKind.MAIN.value,
            Forum.id.in_(has_members),
            Forum.id.not_in(done),
        )
        .order_by(Forum.id)
        .limit(limit)
    )
    return list(rows.all())
