"""Agenda items: proposals, suggestions from a higher tier, the lead's choices, and the meeting seam.

An accepted item is on the agenda of every meeting whose intake closes after the item came in
(``intake_at``), until a meeting records a decision on it: what a meeting did not reach is on the
next agenda without anyone moving it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import agenda as rules
from bot.domain.agenda import DETAILS_MAX, TITLE_MAX, ItemOrigin, ItemStatus, Problem
from bot.domain.permissions import Action, allowed
from bot.domain.text import clean_text
from bot.i18n import N_, Raw
from bot.services import audit
from bot.services.agenda.actions import AcceptItem, DeclineItem
from bot.services.delivery import notify
from bot.services.errors import Forbidden, Refused
from bot.services.forums import people
from bot.services.forums.access import load_forum as load_forum  # one definition, used from here too
from bot.services.forums.access import require as require
from bot.services.sql import get_or_refuse, insert_or_find
from bot.services.texts import agenda_text, forum_title, from_tier_label, quoted, short, who
from bot.storage.models import Forum, Membership, OrgUnit, Person
from bot.storage.models_agenda import AgendaItem, RaisedIssue
from bot.storage.models_polls import Meeting

INTAKE_KEY = "agenda_intake_hours"

# ==============================================================================================
# The meeting seam
#
# Meetings belong to the meeting-date polls feature (bot.services.meetings.schedule, its Meeting table).
# The agenda follows the forum's confirmed meetings; these four functions are the only place the
# agenda feature reads or sets them.
# ==============================================================================================


async def next_meeting(session: AsyncSession, forum_id: int, now: datetime) -> datetime | None:
    """The forum's next confirmed meeting that has not begun, or None."""
    result: datetime | None = await session.scalar(
        select(func.min(Meeting.starts_at)).where(
            Meeting.forum_id == forum_id, Meeting.status == "confirmed", Meeting.starts_at > now
        )
    )
    return result


async def last_meeting(session: AsyncSession, forum_id: int, now: datetime) -> datetime | None:
    """The forum's latest meeting that has begun (the one whose outcomes /meeting records), or None."""
    result: datetime | None = await session.scalar(
        select(func.max(Meeting.starts_at)).where(
            Meeting.forum_id == forum_id, Meeting.status.in_(("confirmed", "held")), Meeting.starts_at <= now
        )
    )
    return result


# -- forums and permissions ---------------------------------------------------------------------


NOT_A_MEMBER = N_("Only the forum's members can do that.")
ONLY_LEAD = N_("Only the forum's lead can do that.")


async def role_in(session: AsyncSession, person_id: int, forum_id: int) -> str | None:
    """The role a person holds in a forum (a leading one first)."""
    seats = [s for s in await people.seats_of(session, person_id) if s.forum.id == forum_id]
    seats.sort(key=lambda s: not s.is_lead)
    return seats[0].role if seats else None


async def people_by_id(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, Person]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {p.id: p for p in (await session.scalars(select(Person).where(Person.id.in_(wanted)))).all()}


async def members_of(session: AsyncSession, forum_id: int) -> list[tuple[Person, str]]:
    """The forum's active members with their roles (a leading role first for each person)."""
    rows = await session.execute(
        select(Person, Membership.role)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.forum_id == forum_id, Membership.revoked_at.is_(None), Person.forgotten_at.is_(None))
        .order_by(Person.display_name, Person.id)
    )
    seen: dict[int, tuple[Person, str]] = {}
    for person, role in rows.all():
        seen.setdefault(person.id, (person, role))
    return list(seen.values())


def intake_hours(forum: Forum) -> int:
    value = (forum.settings or {}).get(INTAKE_KEY, rules.DEFAULT_INTAKE_HOURS)
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else rules.DEFAULT_INTAKE_HOURS


async def set_intake_hours(session: AsyncSession, *, forum: Forum, person: Person, hours: int, now: datetime) -> None:
    await require(session, person, forum, Action.MANAGE_AGENDA, ONLY_LEAD)
    if hours not in rules.INTAKE_CHOICES:
        raise Refused(N_("Please choose one of the options."))
    forum.settings = {**(forum.settings or {}), INTAKE_KEY: hours}
    audit.record(session, now=now, action="agenda.intake", actor_person_id=person.id, subject=f"forum:{forum.id}",
                 details={"hours": hours})


# -- items ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    item: AgendaItem
    created: bool  # False when this submission was already recorded (a second press)
    meeting_at: datetime | None  # the meeting it is for; None: the one after the next (or not set yet)


def clean_title(text: str) -> str:
    return clean_text(text, max_length=TITLE_MAX, min_length=2)


def clean_details(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    return clean_text(text, max_length=DETAILS_MAX, multiline=True)


def clean_note(text: str | None) -> str:
    """A reason, a resolution, a decision: may be empty here; the rules say where it must not be."""
    if text is None:
        return ""
    return clean_text(text, max_length=rules.NOTE_MAX, multiline=True, min_length=0)


async def insert_once(
    session: AsyncSession, model: Any, values: dict[str, Any], submit_key: str | None
) -> tuple[Any, bool]:
    """Insert a row, or find the one a previous press of the same submit button inserted."""
    if submit_key is None:
        row = model(**values)
        session.add(row)
        await session.flush()
        return row, True
    return await insert_or_find(session, model, {**values, "submit_key": submit_key}, conflict=["submit_key"])


async def propose_item(
    session: AsyncSession,
    *,
    forum: Forum,
    person: Person,
    title: str,
    details: str | None,
    now: datetime,
    submit_key: str | None = None,
) -> Proposal:
    """A member proposes an item; the lead's own items go straight onto the agenda."""
    standing = await people.standings(session, person, forum)
    if not allowed(Action.PROPOSE_AGENDA, standing):
        raise Forbidden(NOT_A_MEMBER)
    is_lead = allowed(Action.MANAGE_AGENDA, standing)
    title, details = clean_title(title), clean_details(details)
    hours = intake_hours(forum)
    meeting = await next_meeting(session, forum.id, now)
    intake_at = rules.lead_intake_at(now, meeting, hours) if is_lead else now
    item, created = await insert_once(
        session,
        AgendaItem,
        {
            "forum_id": forum.id,
            "intake_at": intake_at,
            "position": await _next_position(session, forum.id) if is_lead else 0,
            "status": ItemStatus.ACCEPTED if is_lead else ItemStatus.PROPOSED,
            "origin": ItemOrigin.LEAD if is_lead else ItemOrigin.MEMBER,
            "title": title,
            "details": details,
            "proposer_person_id": person.id,
            "proposer_role": await role_in(session, person.id, forum.id),
            "created_at": now,
            "updated_at": now,
        },
        submit_key,
    )
    target = meeting if meeting is not None and rules.belongs_to(item.intake_at, meeting, hours) else None
    if created and not is_lead:
        await _tell_leads_about(session, forum, item, now)
    return Proposal(item=item, created=created, meeting_at=target)


async def suggest_from_above(
    session: AsyncSession,
    forum_id: int,
    title: str,
    details: str | None,
    origin_forum_id: int,
    now: datetime,
    *,
    by: Person | None = None,
    system: bool = False,
) -> AgendaItem:
    """A higher tier suggests a topic for a forum's agenda; its lead accepts or declines it.

    The table decides for the person ``by``: ``ANNOUNCE_DOWN`` on the sending forum, whose unit must
    be above the receiving one. ``system=True`` is for a job that already checked (escalation).
    """
    forum = await load_forum(session, forum_id)
    origin = await load_forum(session, origin_forum_id)
    if not system:
        await require(session, by, origin, Action.ANNOUNCE_DOWN, ONLY_LEAD)
        if not await _is_above(session, origin.org_unit_id, forum.org_unit_id):
            raise Refused(N_("A forum can only send topics to the forums below it."))
        audit.record_by(
            session, by, "agenda.suggest_down", now=now, subject=f"forum:{forum.id}", details={"from_forum": origin.id}
        )
    item = AgendaItem(
        forum_id=forum.id,
        intake_at=now,
        position=0,
        status=ItemStatus.SUGGESTED,
        origin=ItemOrigin.ABOVE,
        origin_forum_id=origin.id,
        title=clean_title(title),
        details=clean_details(details),
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    await session.flush()
    await _tell_leads_about(session, forum, item, now, origin=origin)
    return item


async def _is_above(session: AsyncSession, upper_unit_id: int, unit_id: int) -> bool:
    current = await session.get(OrgUnit, unit_id)
    while current is not None and current.parent_id is not None:
        if current.parent_id == upper_unit_id:
            return True
        current = await session.get(OrgUnit, current.parent_id)
    return False


async def _tell_leads_about(
    session: AsyncSession, forum: Forum, item: AgendaItem, now: datetime, *, origin: Forum | None = None
) -> None:
    unit = forum.org_unit
    proposer = await session.get(Person, item.proposer_person_id) if item.proposer_person_id else None
    for r in await notify.recipients(session, await notify.lead_ids(session, forum.id), now=now):
        title = Raw(forum_title(r.t, forum, unit))
        if origin is not None:
            head = r.t._("A topic for the agenda of {forum}, {suggested}:",
                         suggested=Raw(from_tier_label(r.t, origin.org_unit.tier)), forum=title)
        else:
            head = r.t._("{who} proposed an item for the agenda of {forum}:",
                         who=who(r.t, unit, forum, item.proposer_role, proposer), forum=title)
        body = [head, quoted(r.t, item.title)]
        if item.details:
            body.append(short(item.details, 600))
        buttons = [[r.button(r.t._("Accept"), AcceptItem(item.id)), r.button(r.t._("Decline"), DeclineItem(item.id))]]
        await r.send(r.message("\n".join(body), buttons), dedup_key=f"agenda:new:{item.id}")


async def _next_position(session: AsyncSession, forum_id: int) -> int:
    top = await session.scalar(
        select(func.max(AgendaItem.position)).where(
            AgendaItem.forum_id == forum_id, AgendaItem.status == ItemStatus.ACCEPTED
        )
    )
    return int(top or 0) + 1


async def get_item(session: AsyncSession, item_id: int) -> AgendaItem:
    return await get_or_refuse(session, AgendaItem, item_id, N_("That item no longer exists."))


async def lead_item(session: AsyncSession, item_id: int, person: Person) -> tuple[AgendaItem, Forum]:
    """An agenda item and its forum, for the forum's lead (Forbidden for anyone else)."""
    item = await get_item(session, item_id)
    forum = await load_forum(session, item.forum_id)
    await require(session, person, forum, Action.MANAGE_AGENDA, ONLY_LEAD)
    return item, forum


def _refuse(problem: Problem | None, current: str) -> None:
    if problem is Problem.NEEDS_REASON:
        raise Refused(N_("Declining needs a reason: the person who proposed it will see it."))
    if problem is Problem.NOT_ALLOWED:
        if current == ItemStatus.DECLINED:
            raise Refused(N_("This item was already declined."))
        raise Refused(N_("This item was already decided at a meeting."))


async def accept_item(session: AsyncSession, *, item_id: int, person: Person, now: datetime) -> AgendaItem:
    item, forum = await lead_item(session, item_id, person)
    if item.status == ItemStatus.ACCEPTED:
        return item  # a second press
    _refuse(rules.item_transition_problem(ItemStatus(item.status), ItemStatus.ACCEPTED, note=""), item.status)
    item.status = ItemStatus.ACCEPTED
    item.position = await _next_position(session, forum.id)
    item.updated_at = now
    audit.record(session, now=now, action="agenda.accept", actor_person_id=person.id, subject=f"agenda_item:{item.id}")
    await _tell_proposer(session, forum, item, now)
    return item


async def decline_item(
    session: AsyncSession, *, item_id: int, person: Person, reason: str | None, now: datetime
) -> AgendaItem:
    item, forum = await lead_item(session, item_id, person)
    note = clean_note(reason)
    _refuse(rules.item_transition_problem(ItemStatus(item.status), ItemStatus.DECLINED, note=note), item.status)
    item.status = ItemStatus.DECLINED
    item.decline_reason = note
    item.updated_at = now
    audit.record(session, now=now, action="agenda.decline", actor_person_id=person.id, subject=f"agenda_item:{item.id}")
    await _tell_proposer(session, forum, item, now)
    return item


async def _tell_proposer(session: AsyncSession, forum: Forum, item: AgendaItem, now: datetime) -> None:
    if item.proposer_person_id is None or item.origin != ItemOrigin.MEMBER:
        return
    for r in await notify.recipients(session, [item.proposer_person_id], now=now):
        title = Raw(forum_title(r.t, forum, forum.org_unit))
        if item.status == ItemStatus.ACCEPTED:
            text = r.t._("Your item “{title}” is on the agenda of {forum}.", title=item.title, forum=title)
        else:
            text = r.t._(
                "Your item “{title}” was not added to the agenda of {forum}. The reason: {reason}",
                title=item.title, forum=title, reason=item.decline_reason or "",
            )
        await r.send(r.message(text), dedup_key=f"agenda:{item.status}:{item.id}")


async def pending_items(session: AsyncSession, *, forum: Forum, person: Person) -> list[AgendaItem]:
    await require(session, person, forum, Action.MANAGE_AGENDA, ONLY_LEAD)
    rows = await session.scalars(
        select(AgendaItem)
        .where(AgendaItem.forum_id == forum.id, AgendaItem.status.in_(list(rules.PENDING_ITEM)))
        .order_by(AgendaItem.created_at, AgendaItem.id)
    )
    return list(rows.all())


async def items_for(session: AsyncSession, forum: Forum, meeting_at: datetime | None) -> list[AgendaItem]:
    """The accepted, undecided items on the agenda of that meeting (all of them if no date is set)."""
    rows = await session.scalars(
        select(AgendaItem)
        .where(AgendaItem.forum_id == forum.id, AgendaItem.status == ItemStatus.ACCEPTED)
        .order_by(AgendaItem.position, AgendaItem.id)
    )
    hours = intake_hours(forum)
    return [i for i in rows.all() if meeting_at is None or rules.belongs_to(i.intake_at, meeting_at, hours)]


async def move_item(session: AsyncSession, *, item_id: int, person: Person, delta: int, now: datetime) -> None:
    item, forum = await lead_item(session, item_id, person)
    items = await items_for(session, forum, await next_meeting(session, forum.id, now))
    order = rules.moved([i.id for i in items], item.id, delta)
    audit.record(session, now=now, action="agenda.reorder", actor_person_id=person.id,
                 subject=f"agenda_item:{item.id}", details={"delta": delta})
    by_id = {i.id: i for i in items}
    for position, key in enumerate(order, 1):
        by_id[key].position = position
        by_id[key].updated_at = now


async def unresolved_issues(session: AsyncSession, forum_id: int) -> list[RaisedIssue]:
    """Every issue of the forum not resolved or declined, oldest first."""
    rows = await session.scalars(
        select(RaisedIssue)
        .where(RaisedIssue.forum_id == forum_id, RaisedIssue.status.in_(list(rules.UNRESOLVED_ISSUE)))
        .order_by(RaisedIssue.created_at, RaisedIssue.id)
    )
    return list(rows.all())


@dataclass
class Agenda:
    forum: Forum
    unit: OrgUnit
    meeting_at: datetime | None
    intake_closes: datetime | None
    items: list[tuple[AgendaItem, str | None]]  # with the tier of the forum it came from
    issues: list[RaisedIssue]
    people: dict[int, Person]

    def text(self, t: Any, *, with_intake: bool = True, in_group: bool = False) -> str:
        return agenda_text(
            t, self.forum, self.unit, self.meeting_at, self.items, self.issues, self.people,
            intake_closes=self.intake_closes if with_intake else None, in_group=in_group,
        )


async def coming_agenda(session: AsyncSession, forum: Forum, now: datetime) -> Agenda:
    meeting = await next_meeting(session, forum.id, now)
    items = await items_for(session, forum, meeting)
    tiers = await origin_tiers(session, items)
    issues = await unresolved_issues(session, forum.id)
    closes = rules.intake_closes_at(meeting, intake_hours(forum)) if meeting is not None else None
    return Agenda(
        forum=forum,
        unit=forum.org_unit,
        meeting_at=meeting,
        intake_closes=closes if closes is not None and closes > now else None,
        items=[(i, tiers.get(i.origin_forum_id or 0)) for i in items],
        issues=issues,
        people=await people_by_id(session, [i.raiser_person_id for i in issues] + [i.owner_person_id for i in issues]),
    )


async def view_agenda(session: AsyncSession, *, forum: Forum, person: Person, now: datetime) -> Agenda:
    await require(session, person, forum, Action.VIEW_FORUM, NOT_A_MEMBER)
    return await coming_agenda(session, forum, now)


async def origin_tiers(session: AsyncSession, items: Sequence[AgendaItem]) -> dict[int, str]:
    ids = {i.origin_forum_id for i in items if i.origin_forum_id}
    if not ids:
        return {}
    rows = await session.execute(
        select(Forum.id, OrgUnit.tier).join(OrgUnit, Forum.org_unit_id == OrgUnit.id).where(Forum.id.in_(ids))
    )
    return {forum_id: tier for forum_id, tier in rows.all()}
