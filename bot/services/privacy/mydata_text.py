"""/mydata in words: a short message a parent can read beside the JSON file.

Their forums and roles, what they raised and where it stands, what they proposed for an agenda,
what they answered (meeting-date polls and surveys, with the questions and options as text), and
what they are in charge of; dates in Israel time, in the person's language. The JSON file keeps
everything (``privacy.export_person``); ``answer_text`` is shared with it so that both say the
same thing about a survey answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.domain import surveys as d
from bot.i18n import Raw, Translator
from bot.services.texts import (
    fit,
    forum_title,
    item_status_label,
    quoted,
    role_label,
    short,
    status_label,
    when,
)
from bot.storage.models import Forum, Membership, OrgUnit, Person
from bot.storage.models_agenda import AgendaItem, MeetingDecision, RaisedIssue
from bot.storage.models_keshet import Survey, SurveyAnswer, SurveyQuestion, SurveyResponse
from bot.storage.models_polls import DatePoll, DatePollBallot, DatePollOption

SHOWN = 10  # per section; the file has the rest


def stored_text(t: Translator, survey: Survey, text: str) -> str:
    """A survey's stored title, question or option in the reader's language when it is a template's."""
    return t._(text) if survey.translatable and text else text


def answer_text(t: Translator, survey: Survey, question: SurveyQuestion, value: dict[str, Any]) -> str:
    """An answer as the person gave it: the options' texts, "4 of 5", or what they wrote."""
    options = [stored_text(t, survey, o) for o in question.options or []]
    kind = question.kind
    if kind == d.QuestionKind.SINGLE and isinstance(value.get("choice"), int) and value["choice"] < len(options):
        return str(options[value["choice"]])
    if kind == d.QuestionKind.MULTI and isinstance(value.get("choices"), list):
        chosen = [options[c] for c in value["choices"] if isinstance(c, int) and 0 <= c < len(options)]
        return ", ".join(chosen) if chosen else t._("nothing chosen")
    if kind == d.QuestionKind.SCALE and isinstance(value.get("scale"), int):
        return t._("{n} of 5", n=value["scale"])
    if isinstance(value.get("text"), str):
        return str(value["text"])
    return ""


def _section(t: Translator, heading: str, lines: list[str]) -> str:
    more = len(lines) - SHOWN
    shown = [f"• {line}" for line in lines[:SHOWN]]
    if more > 0:
        shown.append(t._("…and {n} more in the file", n=Raw(t.number(more))))
    return heading + "\n" + "\n".join(shown)


async def summary(session: AsyncSession, person: Person, t: Translator) -> str:
    """The message sent beside the /mydata file."""
    sections: list[str] = []
    form = person.address_form

    seats = (
        await session.execute(
            select(Membership, Forum, OrgUnit)
            .join(Forum, Forum.id == Membership.forum_id)
            .join(OrgUnit, OrgUnit.id == Forum.org_unit_id)
            .where(Membership.person_id == person.id)
            .order_by(Membership.revoked_at.is_not(None), OrgUnit.tier, OrgUnit.name, Membership.id)
        )
    ).all()
    seat_lines = []
    for membership, forum, unit in seats:
        line = t._("{role} in {forum}", role=role_label(t, unit, forum, membership.role, form),
                   forum=Raw(forum_title(t, forum, unit)))
        if membership.revoked_at is not None:
            line += " · " + t._("until {date}", date=t.date(membership.revoked_at, "medium"))
        seat_lines.append(line)
    if seat_lines:
        sections.append(_section(t, t._("Your forums and roles:"), seat_lines))

    raised = await _newest_first(session, RaisedIssue, RaisedIssue.raiser_person_id, person)
    if raised:
        sections.append(_section(t, t._("What you raised:"), [
            t._("{title} · {status} · raised on {date}", **_titled(t, issue, status_label(t, issue.status)))
            for issue in raised
        ]))

    proposed = await _newest_first(session, AgendaItem, AgendaItem.proposer_person_id, person)
    if proposed:
        sections.append(_section(t, t._("What you proposed for the agenda:"), [
            t._("{title} · {status} · proposed on {date}", **_titled(t, item, item_status_label(t, item.status)))
            for item in proposed
        ]))

    answered = await _answers(session, person, t)
    if answered:
        sections.append(_section(t, t._("What you answered:"), answered))

    tasks = (
        await session.scalars(
            select(MeetingDecision).where(MeetingDecision.owner_person_id == person.id).order_by(MeetingDecision.id)
        )
    ).all()
    if tasks:
        lines = []
        for task in tasks:
            line = quoted(t, short(task.text or ""))
            if task.due_date is not None:
                line = t._("{task} · until {date}", task=Raw(line), date=t.date(task.due_date, "medium"))
            lines.append(line)
        sections.append(_section(t, t._("What you are in charge of:"), lines))

    if not sections:
        return t._("The bot keeps only your profile about you: you have no forum, and you have not raised, "
                   "proposed or answered anything. Everything is in the file.")
    head = t._("In short, what the bot keeps about you (everything, with every date, is in the file):")
    return fit(head + "\n\n" + "\n\n".join(sections))


Authored = TypeVar("Authored", RaisedIssue, AgendaItem)


async def _newest_first(
    session: AsyncSession, model: type[Authored], author: InstrumentedAttribute[int | None], person: Person
) -> Sequence[Authored]:
    """The issues the person raised or the agenda items they proposed, the newest first."""
    stmt = select(model).where(author == person.id).order_by(model.created_at.desc(), model.id.desc())
    return (await session.scalars(stmt)).all()


def _titled(t: Translator, row: Authored, status: str) -> dict[str, object]:
    """The parameters of a line about one of them: its title quoted, its ``status`` and the day it was made."""
    return {"title": Raw(quoted(t, short(row.title))), "status": status, "date": t.date(row.created_at, "medium")}


async def _answers(session: AsyncSession, person: Person, t: Translator) -> list[str]:
    lines: list[str] = []
    ballots = (
        await session.execute(
            select(DatePollBallot, DatePoll, Forum, OrgUnit)
            .join(DatePoll, DatePoll.id == DatePollBallot.poll_id)
            .join(Forum, Forum.id == DatePoll.forum_id)
            .join(OrgUnit, OrgUnit.id == Forum.org_unit_id)
            .where(DatePollBallot.person_id == person.id)
            .order_by(DatePollBallot.updated_at.desc())
        )
    ).all()
    option_ids = {o for ballot, _p, _f, _u in ballots for o in ballot.choices}
    options = (
        (await session.scalars(select(DatePollOption).where(DatePollOption.id.in_(option_ids)))).all()
        if option_ids
        else []
    )
    starts = {o.id: o.starts_at for o in options}
    for ballot, _poll, forum, unit in ballots:
        dates = sorted(starts[o] for o in ballot.choices if o in starts)
        chosen = (
            t._("none of the dates works for you")
            if ballot.none_works or not dates
            else "; ".join(when(t, at) for at in dates)
        )
        lines.append(t._("The meeting date of {forum}: {answer}", forum=Raw(forum_title(t, forum, unit)),
                         answer=Raw(chosen)))

    seats = select(Membership.id).where(Membership.person_id == person.id)
    rows = (
        await session.execute(
            select(SurveyAnswer, SurveyQuestion, Survey)
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
            .join(Survey, Survey.id == SurveyResponse.survey_id)
            .where(SurveyResponse.membership_id.in_(seats))
            .order_by(Survey.id, SurveyQuestion.position)
        )
    ).all()
    for answer, question, survey in rows:
        lines.append(t._(
            "{survey}: {question} — {answer}",
            survey=stored_text(t, survey, survey.title),
            question=stored_text(t, survey, question.text),
            answer=short(answer_text(t, survey, question, answer.value), 120),
        ))
    return lines
