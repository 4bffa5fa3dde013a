"""Meeting outcomes: a decision or a status for each agenda item and open issue, the summary to
the members, carry-over to the next agenda, and reminders to owners before their due dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import agenda as rules
from bot.domain.agenda import HistoryKind, IssueStatus, ItemStatus
from bot.domain.permissions import Action
from bot.i18n import N_, Raw, Translator
from bot.services import audit
from bot.services.agenda import issues
from bot.services.agenda import items as agenda
from bot.services.agenda.items import ONLY_LEAD, clean_note, load_forum, people_by_id, require, role_in
from bot.services.delivery import notify
from bot.services.delivery.outbox import PRIORITY_BULK
from bot.services.errors import Refused
from bot.services.sql import claim_step, get_or_refuse
from bot.services.texts import day, decision_line, fit, forum_title, when
from bot.storage.models import Forum, JobRun, Person
from bot.storage.models_agenda import AgendaItem, IssueHistory, MeetingDecision, RaisedIssue

DEFAULT_TZ = ZoneInfo("Asia/Jerusalem")


def _closed_key(forum_id: int, meeting_at: datetime) -> str:
    return f"agenda:closed:f{forum_id}:{meeting_at.isoformat()}"


async def is_closed(session: AsyncSession, forum_id: int, meeting_at: datetime) -> bool:
    return await session.get(JobRun, _closed_key(forum_id, meeting_at)) is not None


async def meeting_to_record(session: AsyncSession, *, forum: Forum, person: Person, now: datetime) -> datetime:
    """The meeting whose outcomes the lead records now: the latest that has begun and is not closed."""
    await require(session, person, forum, Action.RECORD_OUTCOMES, ONLY_LEAD)
    meeting = await agenda.last_meeting(session, forum.id, now)
    if meeting is None:
        coming = await agenda.next_meeting(session, forum.id, now)
        if coming is None:
            raise Refused(N_("No meeting date is set. Set it in /agenda, then record the outcomes after the meeting."))
        raise Refused(N_("The next meeting has not begun yet. Record its outcomes once it has."))
    if await is_closed(session, forum.id, meeting):
        raise Refused(N_("The outcomes of the last meeting were already recorded and sent to the members."))
    return meeting


@dataclass(frozen=True)
class Subject:
    kind: str  # "item" / "issue"
    id: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, key: str) -> Subject:
        kind, _, ident = key.partition(":")
        return cls(kind, int(ident))


async def open_subjects(session: AsyncSession, forum: Forum, meeting_at: datetime) -> list[Subject]:
    """What is left to record: the meeting's undecided items, then its issues without an outcome yet."""
    items = await agenda.items_for(session, forum, meeting_at)
    recorded = set(
        (
            await session.scalars(
                select(MeetingDecision.issue_id).where(
                    MeetingDecision.forum_id == forum.id,
                    MeetingDecision.meeting_at == meeting_at,
                    MeetingDecision.issue_id.is_not(None),
                )
            )
        ).all()
    )
    unresolved = await agenda.unresolved_issues(session, forum.id)
    open_issues = [i for i in unresolved if i.created_at <= meeting_at and i.id not in recorded]
    return [Subject("item", i.id) for i in items] + [Subject("issue", i.id) for i in open_issues]


async def _upsert_decision(
    session: AsyncSession,
    *,
    forum_id: int,
    meeting_at: datetime,
    item_id: int | None = None,
    issue_id: int | None = None,
    status: str | None,
    text: str | None,
    owner_person_id: int | None,
    due_date: date | None,
    person: Person,
    now: datetime,
) -> MeetingDecision:
    match = MeetingDecision.item_id == item_id if item_id is not None else MeetingDecision.issue_id == issue_id
    owner_role = await role_in(session, owner_person_id, forum_id) if owner_person_id else None
    values = {
        "status": status,
        "text": text or None,
        "owner_person_id": owner_person_id,
        "owner_role": owner_role,
        "due_date": due_date,
        "recorded_by_person_id": person.id,
        "recorded_at": now,
    }
    decision = await session.scalar(select(MeetingDecision).where(match, MeetingDecision.meeting_at == meeting_at))
    if decision is None:
        decision = MeetingDecision(forum_id=forum_id, meeting_at=meeting_at, item_id=item_id, issue_id=issue_id,
                                   **values)
        session.add(decision)
    else:
        for key, value in values.items():
            setattr(decision, key, value)
    await session.flush()
    return decision


def _check_owner_and_due(owner_person_id: int | None, owner_role: str | None, due: date | None, today: date) -> None:
    if owner_person_id is not None and owner_role is None:
        raise Refused(N_("The person in charge must be a member of the forum."))
    if due is not None and due < today:
        raise Refused(N_("That date has already passed. Please choose a later one."))


async def record_item_decision(
    session: AsyncSession,
    *,
    item_id: int,
    person: Person,
    meeting_at: datetime,
    text: str,
    now: datetime,
    owner_person_id: int | None = None,
    due_date: date | None = None,
    tz: ZoneInfo = DEFAULT_TZ,
) -> MeetingDecision:
    item = await get_or_refuse(session, AgendaItem, item_id, N_("That item no longer exists."))
    forum = await load_forum(session, item.forum_id)
    await require(session, person, forum, Action.RECORD_OUTCOMES, ONLY_LEAD)
    decided = clean_note(text)
    if not decided:
        raise Refused(N_("Please write the decision in a sentence or two."))
    owner_role = await role_in(session, owner_person_id, forum.id) if owner_person_id else None
    _check_owner_and_due(owner_person_id, owner_role, due_date, now.astimezone(tz).date())
    problem = rules.item_transition_problem(ItemStatus(item.status), ItemStatus.DONE, note=decided)
    if problem is not None:
        raise Refused(N_("This item is no longer on the agenda."))
    item.status = ItemStatus.DONE
    item.updated_at = now
    audit.record(
        session, now=now, action="meeting.decision", actor_person_id=person.id, subject=f"agenda_item:{item.id}"
    )
    return await _upsert_decision(
        session, forum_id=forum.id, meeting_at=meeting_at, item_id=item.id, status=None, text=decided,
        owner_person_id=owner_person_id, due_date=due_date, person=person, now=now,
    )


async def record_issue_outcome(
    session: AsyncSession,
    *,
    issue_id: int,
    person: Person,
    meeting_at: datetime,
    status: IssueStatus | str,
    now: datetime,
    note: str | None = None,
    owner_person_id: int | None = None,
    due_date: date | None = None,
    tz: ZoneInfo = DEFAULT_TZ,
) -> MeetingDecision:
    issue = await issues.change_status(
        session, issue_id=issue_id, person=person, to=status, now=now, note=note,
        owner_person_id=owner_person_id, due_date=due_date, meeting_at=meeting_at, tz=tz,
    )
    in_progress = issue.status == IssueStatus.IN_PROGRESS
    return await _upsert_decision(
        session, forum_id=issue.forum_id, meeting_at=meeting_at, issue_id=issue.id, status=issue.status,
        text=clean_note(note), owner_person_id=issue.owner_person_id if in_progress else None,
        due_date=issue.due_date if in_progress else None, person=person, now=now,
    )


async def record_issue_escalation(
    session: AsyncSession, *, issue_id: int, person: Person, meeting_at: datetime, now: datetime
) -> MeetingDecision:
    """The lead forwards an issue to the forum above at the meeting (bot.services.escalation.forwarding)."""
    from bot.services.escalation import forwarding as escalation

    done = await escalation.escalate_issue(session, issue_id=issue_id, person=person, now=now, meeting_at=meeting_at)
    return await _upsert_decision(
        session, forum_id=(await issues.get_issue(session, issue_id)).forum_id, meeting_at=meeting_at,
        issue_id=issue_id, status=IssueStatus.ESCALATED, text=escalation.unit_name_he(done.target),
        owner_person_id=None, due_date=None, person=person, now=now,
    )


@dataclass(frozen=True)
class Closed:
    decisions: int
    carried_items: int
    carried_issues: int
    sent: int


async def close_meeting(
    session: AsyncSession, *, forum: Forum, person: Person, meeting_at: datetime, now: datetime
) -> Closed:
    """Carry what is left to the next agenda and send the members a summary — once per meeting."""
    await require(session, person, forum, Action.RECORD_OUTCOMES, ONLY_LEAD)
    if not await claim_step(session, _closed_key(forum.id, meeting_at), now):
        raise Refused(N_("The outcomes of the last meeting were already recorded and sent to the members."))
    carried_items = 0
    for item in await agenda.items_for(session, forum, meeting_at):
        item.carried_from = meeting_at
        item.updated_at = now
        carried_items += 1
    carried_issues = 0
    actor_role = await role_in(session, person.id, forum.id)
    for issue in await agenda.unresolved_issues(session, forum.id):
        if issue.created_at > meeting_at:
            continue
        issue.carried_count += 1
        session.add(
            IssueHistory(issue_id=issue.id, at=now, actor_person_id=person.id, actor_role=actor_role,
                         kind=HistoryKind.CARRIED_OVER, from_status=issue.status, to_status=issue.status,
                         meeting_at=meeting_at)
        )
        carried_issues += 1
    decisions = await decisions_of(session, forum.id, meeting_at)
    audit.record(session, now=now, action="meeting.close", actor_person_id=person.id, subject=f"forum:{forum.id}",
                 details={"meeting_at": meeting_at.isoformat(), "decisions": len(decisions)})
    sent = await _send_summary(session, forum, meeting_at, decisions, carried_items, carried_issues, now)
    return Closed(len(decisions), carried_items, carried_issues, sent)


async def decisions_of(
    session: AsyncSession, forum_id: int, meeting_at: datetime | None = None
) -> list[MeetingDecision]:
    stmt = select(MeetingDecision).where(MeetingDecision.forum_id == forum_id)
    if meeting_at is not None:
        stmt = stmt.where(MeetingDecision.meeting_at == meeting_at)
    stmt = stmt.order_by(MeetingDecision.meeting_at, MeetingDecision.item_id.is_(None), MeetingDecision.id)
    return list((await session.scalars(stmt)).all())


async def subject_titles(session: AsyncSession, decisions: list[MeetingDecision]) -> dict[str, str]:
    """'item:5' / 'issue:12' → the title, for the decisions given."""
    titles: dict[str, str] = {}
    item_ids = [d.item_id for d in decisions if d.item_id]
    issue_ids = [d.issue_id for d in decisions if d.issue_id]
    if item_ids:
        rows = await session.execute(select(AgendaItem.id, AgendaItem.title).where(AgendaItem.id.in_(item_ids)))
        for i, title in rows.all():
            titles[f"item:{i}"] = title
    if issue_ids:
        rows = await session.execute(select(RaisedIssue.id, RaisedIssue.title).where(RaisedIssue.id.in_(issue_ids)))
        for i, title in rows.all():
            titles[f"issue:{i}"] = f"#{i} {title}"
    return titles


def subject_key(decision: MeetingDecision) -> str:
    return f"item:{decision.item_id}" if decision.item_id else f"issue:{decision.issue_id}"


def summary_text(
    t: Translator,
    forum: Forum,
    meeting_at: datetime,
    decisions: list[MeetingDecision],
    titles: dict[str, str],
    people: dict[int, Person],
    carried_items: int,
    carried_issues: int,
) -> str:
    unit = forum.org_unit
    lines = [t._("Summary of the meeting of {forum} on {when}:", forum=Raw(forum_title(t, forum, unit)),
                 when=Raw(when(t, meeting_at)))]
    item_lines = [d for d in decisions if d.item_id]
    issue_lines = [d for d in decisions if d.issue_id]
    if item_lines:
        lines += ["", t._("Decisions:")]
        lines += ["• " + decision_line(t, d, titles.get(subject_key(d), ""), unit, forum, people) for d in item_lines]
    if issue_lines:
        lines += ["", t._("Raised issues:")]
        lines += ["• " + decision_line(t, d, titles.get(subject_key(d), ""), unit, forum, people) for d in issue_lines]
    if not decisions:
        lines.append(t._("No decisions were recorded."))
    carried = []
    if carried_items:
        carried.append(t.n_("One item moves on to the next meeting.", "{n} items move on to the next meeting.",
                            carried_items))
    if carried_issues:
        carried.append(t.n_("One open issue stays on the agenda.", "{n} open issues stay on the agenda.",
                            carried_issues))
    if carried:
        lines += ["", *carried]
    return fit("\n".join(lines))


async def _send_summary(
    session: AsyncSession,
    forum: Forum,
    meeting_at: datetime,
    decisions: list[MeetingDecision],
    carried_items: int,
    carried_issues: int,
    now: datetime,
) -> int:
    titles = await subject_titles(session, decisions)
    people = await people_by_id(session, [d.owner_person_id for d in decisions])
    sent = 0
    for r in await notify.recipients(session, await notify.member_ids(session, forum.id), now=now):
        text = summary_text(r.t, forum, meeting_at, decisions, titles, people, carried_items, carried_issues)
        if await r.send(r.message(text), priority=PRIORITY_BULK,
                        dedup_key=f"meeting:summary:f{forum.id}:{meeting_at.isoformat()}"):
            sent += 1
    return sent


async def due_reminders(session: AsyncSession, now: datetime, tz: ZoneInfo = DEFAULT_TZ) -> int:
    """Remind owners of what they took on, a few days before the due date: once per item per due date."""
    local = now.astimezone(tz)
    if not rules.is_daytime(local):
        return 0
    today = local.date()
    horizon = today + timedelta(days=rules.REMIND_DAYS_BEFORE)
    rows = (
        await session.scalars(
            select(MeetingDecision).where(
                MeetingDecision.owner_person_id.is_not(None),
                MeetingDecision.due_date.is_not(None),
                MeetingDecision.due_date <= horizon,
                or_(MeetingDecision.reminded_for.is_(None), MeetingDecision.reminded_for != MeetingDecision.due_date),
            )
        )
    ).all()
    sent = 0
    for decision in rows:
        assert decision.due_date is not None and decision.owner_person_id is not None
        needed = True
        if decision.issue_id is not None:
            issue = await session.get(RaisedIssue, decision.issue_id)
            # Moved on since (resolved, declined, re-planned): a later outcome carries its own reminder.
            needed = (
                issue is not None and issue.status == IssueStatus.IN_PROGRESS and issue.due_date == decision.due_date
            )
        claimed = await session.execute(
            update(MeetingDecision)
            .where(
                MeetingDecision.id == decision.id,
                or_(MeetingDecision.reminded_for.is_(None), MeetingDecision.reminded_for != decision.due_date),
            )
            .values(reminded_for=decision.due_date)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) and needed:
            sent += await _remind(session, decision, now, today)
    return sent


async def _remind(session: AsyncSession, decision: MeetingDecision, now: datetime, today: date) -> int:
    """The owner's reminder; one sent late (catching up after downtime, past the due date) says it is overdue."""
    assert decision.due_date is not None and decision.owner_person_id is not None
    forum = await load_forum(session, decision.forum_id)
    title = (await subject_titles(session, [decision])).get(subject_key(decision), "")
    sent = 0
    for r in await notify.recipients(session, [decision.owner_person_id], now=now):
        if decision.due_date < today:
            first = r.t._("Overdue: you are in charge of “{title}” in {forum}, which was due by {date}.", title=title,
                          forum=Raw(forum_title(r.t, forum, forum.org_unit)), date=day(r.t, decision.due_date))
        else:
            first = r.t._("A reminder: you are in charge of “{title}” in {forum}, due by {date}.", title=title,
                          forum=Raw(forum_title(r.t, forum, forum.org_unit)), date=day(r.t, decision.due_date))
        lines = [first]
        if decision.text:
            lines.append(r.t._("What was decided: {text}", text=decision.text))
        key = f"due:{decision.id}:{decision.due_date.isoformat()}"
        if await r.send(r.message("\n".join(lines)), dedup_key=key):
            sent += 1
    return sent
