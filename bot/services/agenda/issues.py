"""Raised issues (הצפת פערים): needs, difficulties and blockers, their statuses and their history.

Who raised an issue is always known to forumbot (to tell them when it moves), but the forum sees
their name only when they chose so; otherwise, and after they are forgotten, only their role.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import agenda as rules
from bot.domain.agenda import DETAILS_MAX, HistoryKind, IssueCategory, IssueKind, IssueStatus, Problem
from bot.domain.permissions import Action
from bot.domain.text import clean_text
from bot.i18n import N_, Raw
from bot.services import audit
from bot.services.agenda.items import (
    NOT_A_MEMBER,
    ONLY_LEAD,
    clean_note,
    clean_title,
    insert_once,
    load_forum,
    people_by_id,
    require,
    role_in,
    unresolved_issues,
)
from bot.services.delivery import notify
from bot.services.errors import Refused
from bot.services.sql import get_or_refuse
from bot.services.texts import day, forum_title, kind_label, quoted, short, status_label, who
from bot.storage.models import Forum, Person
from bot.storage.models_agenda import IssueHistory, RaisedIssue

SECTION_SIZE = 5

PROBLEMS = {
    Problem.NOT_ALLOWED: N_("That change is not possible from the issue's current status."),
    Problem.NEEDS_OWNER: N_("“In progress” needs someone in charge."),
    Problem.NEEDS_DUE: N_("“In progress” needs a due date."),
    Problem.NEEDS_RESOLUTION: N_("“Resolved” needs the resolution, in a sentence or two."),
    Problem.NEEDS_REASON: N_("Declining needs a reason: the person who raised it will see it."),
}


@dataclass(frozen=True)
class Raised:
    issue: RaisedIssue
    created: bool  # False when this submission was already recorded (a second press)


def parse_kind(value: str) -> IssueKind:
    try:
        return IssueKind(value)
    except ValueError:
        raise Refused(N_("Please choose one of the options.")) from None


def parse_category(value: str | None) -> IssueCategory | None:
    if not value:
        return None
    try:
        return IssueCategory(value)
    except ValueError:
        raise Refused(N_("Please choose one of the options.")) from None


def clean_issue_details(text: str) -> str:
    return clean_text(text, max_length=DETAILS_MAX, multiline=True, min_length=2)


async def raise_issue(
    session: AsyncSession,
    *,
    forum: Forum,
    person: Person,
    kind: str,
    title: str,
    details: str,
    category: str | None,
    show_name: bool,
    now: datetime,
    submit_key: str | None = None,
    show_name_to_group: bool = False,
) -> Raised:
    """A member raises an issue; ``show_name``: members see the name (else the role only),
    ``show_name_to_group``: the forum's group chat sees it too (only with ``show_name``)."""
    await require(session, person, forum, Action.RAISE_ISSUE, NOT_A_MEMBER)
    role = await role_in(session, person.id, forum.id)
    assert role is not None
    issue, created = await insert_once(
        session,
        RaisedIssue,
        {
            "forum_id": forum.id,
            "kind": parse_kind(kind),
            "category": parse_category(category),
            "title": clean_title(title),
            "details": clean_issue_details(details),
            "show_name": show_name,
            "show_name_to_group": show_name and show_name_to_group,
            "raiser_person_id": person.id,
            "raiser_role": role,
            "status": IssueStatus.OPEN,
            "carried_count": 0,
            "created_at": now,
            "updated_at": now,
        },
        submit_key,
    )
    if created:
        session.add(
            IssueHistory(issue_id=issue.id, at=now, actor_person_id=person.id, actor_role=role,
                         kind=HistoryKind.CREATED, to_status=IssueStatus.OPEN)
        )
        await _tell_leads(session, forum, issue, person, now)
    return Raised(issue=issue, created=created)


async def _tell_leads(session: AsyncSession, forum: Forum, issue: RaisedIssue, raiser: Person, now: datetime) -> None:
    unit = forum.org_unit
    leads = [i for i in await notify.lead_ids(session, forum.id) if i != raiser.id]
    for r in await notify.recipients(session, leads, now=now):
        text = "\n".join([
            r.t._("A new issue was raised in {forum} ({kind}):", forum=Raw(forum_title(r.t, forum, unit)),
                  kind=kind_label(r.t, issue.kind)),
            quoted(r.t, issue.title) + " — "
            + who(r.t, unit, forum, issue.raiser_role, raiser, show_name=issue.show_name),
            short(issue.details, 600),
        ])
        await r.send(r.message(text), dedup_key=f"issue:new:{issue.id}")


async def get_issue(session: AsyncSession, issue_id: int) -> RaisedIssue:
    return await get_or_refuse(session, RaisedIssue, issue_id, N_("That issue no longer exists."))


async def change_status(
    session: AsyncSession,
    *,
    issue_id: int,
    person: Person,
    to: IssueStatus | str,
    now: datetime,
    note: str | None = None,
    owner_person_id: int | None = None,
    due_date: date | None = None,
    meeting_at: datetime | None = None,
    tz: ZoneInfo | None = None,
) -> RaisedIssue:
    """The lead records a new status (at a meeting, or between meetings)."""
    issue = await get_issue(session, issue_id)
    forum = await load_forum(session, issue.forum_id)
    await require(session, person, forum, Action.RECORD_OUTCOMES, ONLY_LEAD)
    return await apply_status(
        session, issue, IssueStatus(to), now=now, actor_person_id=person.id,
        actor_role=await role_in(session, person.id, forum.id), note=note, owner_person_id=owner_person_id,
        due_date=due_date, meeting_at=meeting_at, tz=tz,
    )


async def apply_status(
    session: AsyncSession,
    issue: RaisedIssue,
    to: IssueStatus,
    *,
    now: datetime,
    actor_person_id: int | None,
    actor_role: str | None,
    note: str | None = None,
    owner_person_id: int | None = None,
    due_date: date | None = None,
    meeting_at: datetime | None = None,
    tz: ZoneInfo | None = None,
    tell: bool = True,
) -> RaisedIssue:
    """Move an issue by the transition table, keep the history, tell the raiser. Callers check permission.

    The escalation feature calls this with ``IssueStatus.ESCALATED`` and ``tell=False``: it tells the
    raiser itself, naming the forum the issue is with now and who answered it.
    """
    clean = clean_note(note)
    current = IssueStatus(issue.status)
    problem = rules.issue_transition_problem(
        current, to, has_owner=owner_person_id is not None, due=due_date, note=clean
    )
    if problem is not None:
        raise Refused(PROBLEMS[problem])
    if to is IssueStatus.IN_PROGRESS:
        assert owner_person_id is not None and due_date is not None
        today = now.astimezone(tz or ZoneInfo("Asia/Jerusalem")).date()
        if due_date < today:
            raise Refused(N_("That date has already passed. Please choose a later one."))
        owner_role = await role_in(session, owner_person_id, issue.forum_id)
        if owner_role is None:
            raise Refused(N_("The person in charge must be a member of the forum."))
        issue.owner_person_id, issue.owner_role, issue.due_date = owner_person_id, owner_role, due_date
    if to is IssueStatus.RESOLVED:
        issue.resolution = clean
    if to is IssueStatus.DECLINED:
        issue.decline_reason = clean
    issue.status = to
    issue.updated_at = now
    entry = IssueHistory(
        issue_id=issue.id, at=now, actor_person_id=actor_person_id, actor_role=actor_role,
        kind=rules.history_kind(to), from_status=current, to_status=to, note=clean or None, meeting_at=meeting_at,
    )
    session.add(entry)
    await session.flush()
    audit.record(session, now=now, action="issue.status", actor_person_id=actor_person_id,
                 subject=f"issue:{issue.id}", details={"from": current.value, "to": to.value})
    if tell and issue.raiser_person_id != actor_person_id:
        await tell_raiser(session, issue, entry, now)
    return issue


async def tell_raiser(session: AsyncSession, issue: RaisedIssue, entry: IssueHistory, now: datetime) -> None:
    """The person who raised the issue hears of every move, in their own language."""
    if issue.raiser_person_id is None:
        return
    forum = await load_forum(session, issue.forum_id)
    unit = forum.org_unit
    owners = await people_by_id(session, [issue.owner_person_id])
    for r in await notify.recipients(session, [issue.raiser_person_id], now=now):
        lines = [
            r.t._("News about the issue you raised in {forum}, “{title}”: {status}.",
                  forum=Raw(forum_title(r.t, forum, unit)), title=issue.title, status=status_label(r.t, issue.status))
        ]
        if issue.status == IssueStatus.IN_PROGRESS and issue.due_date is not None:
            lines.append(r.t._("In charge: {owner}, by {date}.",
                               owner=who(r.t, unit, forum, issue.owner_role, owners.get(issue.owner_person_id or 0)),
                               date=day(r.t, issue.due_date)))
        if issue.status == IssueStatus.RESOLVED:
            lines.append(r.t._("The resolution: {text}", text=entry.note or ""))
        elif issue.status == IssueStatus.DECLINED:
            lines.append(r.t._("The reason: {text}", text=entry.note or ""))
        elif entry.note:
            lines.append(r.t._("Note: {text}", text=entry.note))
        await r.send(r.message("\n".join(lines)), dedup_key=f"issue:{issue.id}:h{entry.id}")


@dataclass
class IssueList:
    forum: Forum
    newest: list[RaisedIssue]
    longest_open: list[RaisedIssue]
    total: int
    people: dict[int, Person]


async def open_issues(session: AsyncSession, *, forum: Forum, person: Person) -> IssueList:
    """The forum's unresolved issues for one of its members: the newest, then those open the longest."""
    await require(session, person, forum, Action.VIEW_ISSUES, NOT_A_MEMBER)
    oldest_first = await unresolved_issues(session, forum.id)
    newest = sorted(oldest_first, key=lambda i: (i.created_at, i.id), reverse=True)[:SECTION_SIZE]
    shown = {i.id for i in newest}
    longest = [i for i in oldest_first if i.id not in shown][:SECTION_SIZE]
    people = await people_by_id(
        session, [i.raiser_person_id for i in newest + longest] + [i.owner_person_id for i in newest + longest]
    )
    return IssueList(forum=forum, newest=newest, longest_open=longest, total=len(oldest_first), people=people)


async def issue_for_member(session: AsyncSession, *, issue_id: int, person: Person) -> tuple[RaisedIssue, Forum]:
    issue = await get_issue(session, issue_id)
    forum = await load_forum(session, issue.forum_id)
    await require(session, person, forum, Action.VIEW_ISSUES, NOT_A_MEMBER)
    return issue, forum


async def history_of(session: AsyncSession, issue_id: int) -> list[IssueHistory]:
    rows = await session.scalars(
        select(IssueHistory).where(IssueHistory.issue_id == issue_id).order_by(IssueHistory.at, IssueHistory.id)
    )
    return list(rows.all())
