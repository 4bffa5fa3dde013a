"""KeShet partnerships: the process tracker, choosing the field, the inputs ledger and the self-assessment.

A partner is a seat in a forum of kind ``partnership``; its sector is read from the seat's role
(``bot.domain.keshet.sector_of``). Every function re-checks the person's standing toward the
forum: nothing a button carries is trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import keshet as k
from bot.domain.permissions import Action, allowed
from bot.domain.text import clean_text
from bot.domain.tiers import ForumKind, Tier
from bot.i18n import N_, Raw, Translator
from bot.services import audit
from bot.services.delivery import notify
from bot.services.errors import Forbidden, NotFound, Refused
from bot.services.forums import orgs, people
from bot.services.forums.access import load_forum as load_forum  # one definition, used from here too
from bot.services.forums.access import require as require
from bot.services.keshet.actions import AnswerQuestion, ScoreFields, ShowAssessment, ShowTimeline
from bot.services.meetings.poll_texts import forum_name
from bot.services.sql import get_or_refuse, insert_or_find
from bot.services.upsert import upsert
from bot.storage.models import Forum, Membership, Person
from bot.storage.models_keshet import (
    KeshetAssessmentAnswer,
    KeshetAssessmentRound,
    KeshetCandidate,
    KeshetInput,
    KeshetPartnership,
    KeshetScore,
    KeshetStageEntry,
)

NOT_A_PARTNERSHIP = N_("This is not a tri-sector partnership.")
LEADS_ONLY = N_("Only the partnership's lead can do that.")
PARTNERS_ONLY = N_("Only the partnership's partners can do that.")


# --------------------------------------------------------------------------------------------
# Partnerships and seats
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seat:
    membership_id: int
    person_id: int
    role: str
    sector: k.Sector


async def partnership_forum(session: AsyncSession, forum_id: int) -> Forum:
    forum = await session.get(Forum, forum_id)
    if forum is None or forum.kind != ForumKind.PARTNERSHIP.value:
        raise NotFound(NOT_A_PARTNERSHIP)
    await session.refresh(forum, ["org_unit"])
    return forum


async def partnership_of(session: AsyncSession, forum: Forum, *, now: datetime) -> KeshetPartnership:
    """The forum's partnership row, created on first use (first self-assessment six months on)."""
    if forum.kind != ForumKind.PARTNERSHIP.value:
        raise NotFound(NOT_A_PARTNERSHIP)
    found = await session.scalar(select(KeshetPartnership).where(KeshetPartnership.forum_id == forum.id))
    if found is not None:
        return found
    partnership, _created = await insert_or_find(
        session,
        KeshetPartnership,
        {
            "forum_id": forum.id,
            "weights": {},
            "assessment_every_months": k.DEFAULT_EVERY_MONTHS,
            "next_assessment_at": k.add_months(now, k.DEFAULT_EVERY_MONTHS),
            "created_at": now,
        },
        conflict=["forum_id"],
    )
    return partnership


async def seats(session: AsyncSession, forum_id: int) -> list[Seat]:
    """The partnership's active seats, public sector first."""
    rows = await session.execute(
        select(Membership.id, Membership.person_id, Membership.role)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.forum_id == forum_id, Membership.revoked_at.is_(None), Person.forgotten_at.is_(None))
        .order_by(Membership.id)
    )
    result = [Seat(mid, pid, role, sector) for mid, pid, role in rows.all() if (sector := k.sector_of(role))]
    return sorted(result, key=lambda s: (k.seat_order(s.role), s.membership_id))


def sectors_of(seat_list: Sequence[Seat]) -> set[k.Sector]:
    return {s.sector for s in seat_list}


async def my_seat(session: AsyncSession, person: Person | None, forum_id: int) -> Seat | None:
    """The seat a person speaks from in a partnership (the first, if they hold two)."""
    if person is None:
        return None
    for seat in await seats(session, forum_id):
        if seat.person_id == person.id:
            return seat
    return None


async def partner_seat(session: AsyncSession, person: Person | None, forum: Forum) -> Seat:
    await require(session, person, forum, Action.CONTRIBUTE_PARTNERSHIP, PARTNERS_ONLY)
    seat = await my_seat(session, person, forum.id)
    if seat is None:
        raise Forbidden(PARTNERS_ONLY)
    return seat


async def partnerships_of(session: AsyncSession, person: Person) -> list[people.ForumSeat]:
    """The partnership forums a person sits in (one entry per forum, the leading seat first)."""
    found: dict[int, people.ForumSeat] = {}
    for seat in await people.seats_of(session, person.id):
        if seat.forum.kind != ForumKind.PARTNERSHIP.value:
            continue
        if seat.forum.id not in found or (seat.is_lead and not found[seat.forum.id].is_lead):
            found[seat.forum.id] = seat
    return list(found.values())


async def authorities_led(session: AsyncSession, person: Person) -> list[people.ForumSeat]:
    """The authorities' main forums this person leads: where they may open the KeShet partnership."""
    return [
        seat
        for seat in await people.seats_of(session, person.id)
        if seat.is_lead and seat.unit.tier == Tier.AUTHORITY.value and seat.forum.kind == ForumKind.MAIN.value
    ]


async def open_partnership(session: AsyncSession, *, forum_id: int, person: Person, now: datetime) -> Forum:
    """An authority's lead opens its tri-sector partnership (or sits in the one it has) and holds
    the public sector's seat, which leads it; the other sectors join by invite."""
    main = await load_forum(session, forum_id)
    if main.kind != ForumKind.MAIN.value or main.org_unit.tier != Tier.AUTHORITY.value:
        raise Refused(N_("A tri-sector partnership is opened from a local authority's forum."))
    await require(session, person, main, Action.MANAGE_PARTNERSHIP, N_("Only the authority forum's lead can do that."))
    created = await orgs.ensure_forum(session, main.org_unit, ForumKind.PARTNERSHIP, now=now)
    forum = await session.scalar(
        select(Forum).where(Forum.org_unit_id == main.org_unit_id, Forum.kind == ForumKind.PARTNERSHIP.value)
    )
    assert forum is not None
    seat = await session.scalar(
        select(Membership).where(
            Membership.person_id == person.id, Membership.forum_id == forum.id, Membership.role == k.PUBLIC_SECTOR_ROLE
        )
    )
    if seat is None:
        session.add(Membership(person_id=person.id, forum_id=forum.id, role=k.PUBLIC_SECTOR_ROLE, created_at=now))
    elif seat.revoked_at is not None:
        seat.revoked_at = None
    await session.flush()
    await partnership_of(session, await partnership_forum(session, forum.id), now=now)
    audit.record(
        session,
        now=now,
        action="keshet.open" if created else "keshet.join_public_seat",
        actor_person_id=person.id,
        subject=f"forum:{forum.id}",
    )
    return await partnership_forum(session, forum.id)


# --------------------------------------------------------------------------------------------
# The process tracker
# --------------------------------------------------------------------------------------------


def _entry(row: KeshetStageEntry) -> k.StageEntry:
    return k.StageEntry(k.Stage(row.stage), k.When(row.happened_on, k.Precision(row.precision)), row.note, row.id)


async def stage_entries(session: AsyncSession, partnership: KeshetPartnership) -> list[k.StageEntry]:
    rows = await session.scalars(
        select(KeshetStageEntry).where(KeshetStageEntry.partnership_id == partnership.id).order_by(KeshetStageEntry.id)
    )
    return [_entry(r) for r in rows.all()]


async def check_stage(
    session: AsyncSession, *, forum: Forum, person: Person | None, stage: k.Stage, when: k.When, now: datetime
) -> KeshetPartnership:
    """Refuse an entry the process does not allow (see ``bot.domain.keshet.stage_problem``)."""
    await require(session, person, forum, Action.MANAGE_PARTNERSHIP, LEADS_ONLY)
    partnership = await partnership_of(session, forum, now=now)
    entries = await stage_entries(session, partnership)
    problem = k.stage_problem(entries, stage, when)
    if problem is k.StageProblem.BACKWARDS:
        raise Refused(N_("The partnership is already past that stage; stages are recorded in order."))
    if problem is k.StageProblem.BEFORE_CURRENT:
        raise Refused(N_("That date is before the current stage was reached. Type a later date."))
    if problem is k.StageProblem.BEFORE_PREVIOUS:
        raise Refused(
            N_(
                "A later stage cannot be dated before the progress already recorded (the last on {date}). "
                "Type a date on or after it."
            ),
            date=_when_text_plain(entries),
        )
    return partnership


async def record_stage(
    session: AsyncSession,
    *,
    forum: Forum,
    person: Person | None,
    stage: k.Stage,
    when: k.When,
    note: str,
    now: datetime,
) -> KeshetStageEntry:
    """The lead records that the partnership reached ``stage`` (or progressed in it) on ``when``."""
    partnership = await check_stage(session, forum=forum, person=person, stage=stage, when=when, now=now)
    note = clean_text(note, max_length=k.NOTE_MAX, multiline=True, min_length=0) if note else ""
    row = KeshetStageEntry(
        partnership_id=partnership.id,
        stage=stage.value,
        happened_on=when.day,
        precision=when.precision.value,
        note=note,
        recorded_by_person_id=person.id if person else None,
        recorded_at=now,
    )
    session.add(row)
    await session.flush()
    details = {"stage": stage.value, "on": when.day.isoformat(), "precision": when.precision.value}
    audit.record_by(session, person, "keshet.stage", now=now, subject=f"forum:{forum.id}", details=details)
    await _tell_partners_of_stage(session, forum, row, by=person, now=now)
    return row


def _when_text_plain(entries: Sequence[k.StageEntry]) -> str:
    """The latest recorded date the way the lead types it (15.06.2008, or 06/2008)."""
    last = k.latest(entries)
    if last is None:
        return ""
    return last.day.strftime("%m/%Y" if last.precision is k.Precision.MONTH else "%d.%m.%Y")


def _when_text(t: Translator, when: k.When) -> str:
    return t.date(when.day, "LLLL y" if when.precision is k.Precision.MONTH else "long")


async def _tell_partners_of_stage(
    session: AsyncSession, forum: Forum, row: KeshetStageEntry, *, by: Person | None, now: datetime
) -> int:
    """Every other partner hears that the process moved (or has a new note), once per entry."""
    others = [s.person_id for s in await seats(session, forum.id) if by is None or s.person_id != by.id]
    entry = _entry(row)
    told = 0
    for r in await notify.recipients(session, others, now=now):
        t = r.t
        text = t._(
            "📌 {forum}: the lead recorded progress in the process — {stage}, {date}.",
            forum=Raw(forum_name(t, forum, forum.org_unit)),
            stage=t._(k.STAGE_NAMES[entry.stage]),
            date=_when_text(t, entry.when),
        )
        if entry.note:
            text += "\n" + entry.note
        buttons = [[r.button(t._("The process and its timeline"), ShowTimeline(forum.id))]]
        told += int(await r.send(r.message(text, buttons), dedup_key=f"keshet:stage:{row.id}"))
    return told


async def announce_fields(session: AsyncSession, *, forum: Forum, person: Person | None, now: datetime) -> int:
    """The lead tells the partners the candidate fields are ready to score; once per list of fields.

    Returns how many partners were told (0: they were already told about exactly these fields)."""
    await require(session, person, forum, Action.MANAGE_PARTNERSHIP, LEADS_ONLY)
    partnership = await partnership_of(session, forum, now=now)
    listed = await candidates(session, partnership)
    if not listed:
        raise Refused(N_("List the candidate fields first."))
    key = f"keshet:fields:{partnership.id}:" + "-".join(str(c.id) for c in sorted(listed, key=lambda c: c.id))
    others = [s.person_id for s in await seats(session, forum.id) if person is None or s.person_id != person.id]
    told = 0
    for r in await notify.recipients(session, others, now=now):
        t = r.t
        names = ", ".join(
            t._(k.SUGGESTED_FIELDS[c.suggested]) if c.suggested else (c.title or "") for c in listed
        )
        text = t._(
            "🗳 {forum}: the candidate fields are ready for your scores: {fields}. Score each field on the "
            "eight criteria; you may skip a criterion.",
            forum=Raw(forum_name(t, forum, forum.org_unit)),
            fields=names,
        )
        buttons = [[r.button(t._("Score the fields"), ScoreFields(forum.id))]]
        told += int(await r.send(r.message(text, buttons), dedup_key=key[:140]))
    audit.record_by(session, person, "keshet.fields_ready", now=now, subject=f"forum:{forum.id}",
                    details={"fields": len(listed), "told": told})
    return told


# --------------------------------------------------------------------------------------------
# Choosing the field of action
# --------------------------------------------------------------------------------------------


def candidate_key(suggested: str | None, title: str | None) -> str:
    return f"s:{suggested}" if suggested else f"t:{(title or '').casefold()}"


async def candidates(session: AsyncSession, partnership: KeshetPartnership) -> list[KeshetCandidate]:
    rows = await session.scalars(
        select(KeshetCandidate)
        .where(KeshetCandidate.partnership_id == partnership.id, KeshetCandidate.removed_at.is_(None))
        .order_by(KeshetCandidate.id)
    )
    return list(rows.all())


async def add_candidate(
    session: AsyncSession,
    *,
    forum: Forum,
    person: Person | None,
    now: datetime,
    suggested: str | None = None,
    title: str | None = None,
) -> tuple[KeshetCandidate, bool]:
    """List a candidate field (a suggested one or free text); a second add of the same field is a no-op."""
    await require(session, person, forum, Action.MANAGE_PARTNERSHIP, LEADS_ONLY)
    partnership = await partnership_of(session, forum, now=now)
    if suggested is not None:
        if suggested not in k.SUGGESTED_FIELDS:
            raise Refused(N_("Please choose one of the options."))
        title = None
    else:
        title = clean_text(title or "", max_length=k.FIELD_TITLE_MAX, min_length=2)
    key = candidate_key(suggested, title)
    row, created = await insert_or_find(
        session,
        KeshetCandidate,
        {
            "partnership_id": partnership.id,
            "key": key,
            "suggested": suggested,
            "title": title,
            "added_by_person_id": person.id if person else None,
            "added_at": now,
        },
        conflict=["partnership_id", "key"],
    )
    if row.removed_at is not None:
        row.removed_at = None
        created = True
    return row, created


async def candidate_in(session: AsyncSession, candidate_id: int) -> tuple[KeshetCandidate, Forum]:
    row = await session.get(KeshetCandidate, candidate_id)
    if row is None or row.removed_at is not None:
        raise NotFound(N_("That field is no longer on the list."))
    partnership = await session.get(KeshetPartnership, row.partnership_id)
    assert partnership is not None
    return row, await partnership_forum(session, partnership.forum_id)


async def remove_candidate(session: AsyncSession, *, candidate_id: int, person: Person | None, now: datetime) -> None:
    row, forum = await candidate_in(session, candidate_id)
    await require(session, person, forum, Action.MANAGE_PARTNERSHIP, LEADS_ONLY)
    row.removed_at = now


async def set_score(
    session: AsyncSession,
    *,
    candidate_id: int,
    person: Person | None,
    criterion: k.Criterion,
    score: int,
    now: datetime,
) -> None:
    """A partner scores a candidate on one criterion (1–5); scoring again replaces the score."""
    if not k.MIN_SCORE <= score <= k.MAX_SCORE:
        raise Refused(N_("Please choose one of the options."))
    candidate, forum = await candidate_in(session, candidate_id)
    seat = await partner_seat(session, person, forum)
    await upsert(
        session,
        KeshetScore.__table__,  # type: ignore[arg-type]
        {
            "candidate_id": candidate.id,
            "membership_id": seat.membership_id,
            "criterion": criterion.value,
            "score": score,
            "scored_at": now,
        },
        conflict=["candidate_id", "membership_id", "criterion"],
        update=["score", "scored_at"],
    )


async def my_scores(session: AsyncSession, candidate_id: int, membership_id: int) -> dict[k.Criterion, int]:
    rows = await session.execute(
        select(KeshetScore.criterion, KeshetScore.score).where(
            KeshetScore.candidate_id == candidate_id, KeshetScore.membership_id == membership_id
        )
    )
    return {k.Criterion(c): s for c, s in rows.all()}


async def set_weight(
    session: AsyncSession, *, forum: Forum, person: Person | None, criterion: k.Criterion, weight: int, now: datetime
) -> dict[k.Criterion, int]:
    await require(session, person, forum, Action.MANAGE_PARTNERSHIP, LEADS_ONLY)
    if not 0 <= weight <= k.MAX_WEIGHT:
        raise Refused(N_("Please choose one of the options."))
    partnership = await partnership_of(session, forum, now=now)
    weights = k.valid_weights(partnership.weights)
    weights[criterion] = weight
    if not any(weights.values()):
        raise Refused(N_("At least one criterion must carry weight."))
    partnership.weights = {c.value: w for c, w in weights.items()}
    return weights


@dataclass(frozen=True)
class Ranking:
    fields: list[k.RankedField]
    candidates: dict[int, KeshetCandidate]
    weights: dict[k.Criterion, int]
    present: set[k.Sector]
    partners: int


async def ranking(session: AsyncSession, forum: Forum, *, now: datetime) -> Ranking:
    partnership = await partnership_of(session, forum, now=now)
    listed = await candidates(session, partnership)
    seat_list = await seats(session, forum.id)
    sector_by_seat = {s.membership_id: s.sector for s in seat_list}
    rows = await session.execute(
        select(KeshetScore.candidate_id, KeshetScore.membership_id, KeshetScore.criterion, KeshetScore.score).where(
            KeshetScore.candidate_id.in_([c.id for c in listed])
        )
    )
    scores = [
        k.FieldScore(cand, seat, sector_by_seat[seat], k.Criterion(crit), value)
        for cand, seat, crit, value in rows.all()
        if seat in sector_by_seat  # a partner who left the table no longer steers the choice
    ]
    weights = k.valid_weights(partnership.weights)
    present = sectors_of(seat_list)
    ranked = k.rank_fields([c.id for c in listed], scores, weights, present)
    return Ranking(ranked, {c.id: c for c in listed}, weights, present, len(seat_list))


# --------------------------------------------------------------------------------------------
# The inputs ledger
# --------------------------------------------------------------------------------------------


async def record_input(
    session: AsyncSession,
    *,
    forum: Forum,
    person: Person | None,
    kind: k.InputKind,
    description: str,
    amount: int | None,
    now: datetime,
) -> KeshetInput:
    seat = await partner_seat(session, person, forum)
    partnership = await partnership_of(session, forum, now=now)
    description = clean_text(description, max_length=k.INPUT_TEXT_MAX, min_length=2)
    if amount is not None and not 0 <= amount <= k.AMOUNT_MAX:
        raise Refused(N_("Please type a whole number."))
    row = KeshetInput(
        partnership_id=partnership.id,
        membership_id=seat.membership_id,
        kind=kind.value,
        amount=amount,
        description=description,
        recorded_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def remove_input(session: AsyncSession, *, input_id: int, person: Person | None, now: datetime) -> None:
    """A partner takes back an input they recorded (the lead may remove any)."""
    row = await session.get(KeshetInput, input_id)
    if row is None or row.removed_at is not None:
        raise NotFound(N_("That input is no longer in the ledger."))
    partnership = await session.get(KeshetPartnership, row.partnership_id)
    assert partnership is not None
    forum = await partnership_forum(session, partnership.forum_id)
    standing = await people.standings(session, person, forum)
    seat = await my_seat(session, person, forum.id)
    mine = seat is not None and seat.membership_id == row.membership_id
    if not mine and not allowed(Action.MANAGE_PARTNERSHIP, standing):
        raise Forbidden(PARTNERS_ONLY)
    row.removed_at = now


@dataclass(frozen=True)
class LedgerLine:
    id: int
    sector: k.Sector
    kind: k.InputKind
    amount: int | None
    description: str
    membership_id: int


@dataclass(frozen=True)
class Ledger:
    lines: list[LedgerLine]
    summary: tuple[k.SectorInputs, ...]
    present: set[k.Sector]


async def ledger(session: AsyncSession, forum: Forum, *, now: datetime) -> Ledger:
    partnership = await partnership_of(session, forum, now=now)
    rows = await session.execute(
        select(KeshetInput, Membership.role)
        .join(Membership, Membership.id == KeshetInput.membership_id)
        .where(KeshetInput.partnership_id == partnership.id, KeshetInput.removed_at.is_(None))
        .order_by(KeshetInput.id)
    )
    lines = [
        LedgerLine(row.id, sector, k.InputKind(row.kind), row.amount, row.description, row.membership_id)
        for row, role in rows.all()
        if (sector := k.sector_of(role))
    ]
    present = sectors_of(await seats(session, forum.id))
    summary = k.summarise_inputs((k.PartnerInput(line.sector, line.kind, line.amount) for line in lines), present)
    return Ledger(lines, summary, present)


# --------------------------------------------------------------------------------------------
# The self-assessment
# --------------------------------------------------------------------------------------------


async def latest_round(session: AsyncSession, partnership_id: int) -> KeshetAssessmentRound | None:
    return await session.scalar(
        select(KeshetAssessmentRound)
        .where(KeshetAssessmentRound.partnership_id == partnership_id)
        .order_by(KeshetAssessmentRound.number.desc())
        .limit(1)
    )


async def open_round(
    session: AsyncSession,
    *,
    forum: Forum,
    now: datetime,
    trigger: str,
    by_person: Person | None = None,
    after_number: int | None = None,
) -> KeshetAssessmentRound | None:
    """Open the next round of the self-assessment; None when it is already open.

    ``after_number`` is the round the lead saw when pressing the button: if another round was
    opened since (a double press, a second lead), nothing happens. The round remembers the seats
    asked and their sectors; the next scheduled round is due ``every_months`` from now.
    """
    if trigger == "lead":
        await require(session, by_person, forum, Action.MANAGE_PARTNERSHIP, LEADS_ONLY)
    partnership = await partnership_of(session, forum, now=now)
    last = await latest_round(session, partnership.id)
    number = (last.number if last else 0) + 1
    if after_number is not None and number != after_number + 1:
        return None
    seat_list = await seats(session, forum.id)
    row, created = await insert_or_find(
        session,
        KeshetAssessmentRound,
        {
            "partnership_id": partnership.id,
            "number": number,
            "trigger": trigger,
            "opened_by_person_id": by_person.id if by_person else None,
            "opened_at": now,
            "seats": {"seats": {str(s.membership_id): s.sector.value for s in seat_list}},
        },
        conflict=["partnership_id", "number"],
    )
    if not created:
        return None
    partnership.next_assessment_at = k.add_months(now, partnership.assessment_every_months)
    audit.record_by(session, by_person, "keshet.assessment.open", now=now, subject=f"forum:{forum.id}",
                    details={"round": number, "trigger": trigger})
    return row


def question_text(t: Translator, number: int, question: int) -> str:
    """One question of the self-assessment, under its title, as a partner receives it."""
    position = k.ASKED_QUESTIONS.index(question) + 1
    return "\n".join(
        (
            t._(k.ASSESSMENT_TITLE),
            t._(
                "Round {round} · question {n} of {total}",
                round=number,
                n=position,
                total=len(k.ASKED_QUESTIONS),
            ),
            "",
            t._(k.QUESTIONS[question]),
        )
    )


def answer_actions(round_id: int, question: int) -> list[tuple[str, AnswerQuestion]]:
    """(label msgid, action) for the yes and no buttons of one question."""
    return [
        (N_("Yes"), AnswerQuestion(round_id, question, True)),
        (N_("No"), AnswerQuestion(round_id, question, False)),
    ]


async def send_round(
    session: AsyncSession, assessment: KeshetAssessmentRound, *, now: datetime, tz: ZoneInfo | None = None
) -> int:
    """Ask every partner of the round its first question, on every channel they use; returns how many people."""
    seat_ids = [int(s) for s in assessment.seats.get("seats", {})]
    person_ids = (
        (await session.scalars(select(Membership.person_id).where(Membership.id.in_(seat_ids)))).all()
        if seat_ids
        else []
    )
    first = k.ASKED_QUESTIONS[0]
    sent: set[int] = set()
    for r in await notify.recipients(session, person_ids, now=now, tz=tz):
        buttons = [[r.button(r.t._(label), value) for label, value in answer_actions(assessment.id, first)]]
        await r.send(
            r.message(question_text(r.t, assessment.number, first), buttons),
            dedup_key=f"keshet:assess:{assessment.id}:p{r.person.id}",
        )
        sent.add(r.person.id)
    return len(sent)


async def answer_question(
    session: AsyncSession, *, round_id: int, person: Person | None, question: int, yes: bool, now: datetime
) -> tuple[KeshetAssessmentRound, int | None]:
    """Record a partner's answer (a later answer replaces it); returns the round and the next question to ask."""
    if question not in k.ASKED_QUESTIONS:
        raise Refused(N_("Please choose one of the options."))
    assessment = await get_or_refuse(
        session, KeshetAssessmentRound, round_id, N_("This self-assessment round has closed.")
    )
    partnership = await session.get(KeshetPartnership, assessment.partnership_id)
    assert partnership is not None
    forum = await partnership_forum(session, partnership.forum_id)
    seat = await partner_seat(session, person, forum)
    last = await latest_round(session, partnership.id)
    if last is None or last.id != assessment.id:
        raise Refused(N_("This self-assessment round has closed."))
    seat_map = dict(assessment.seats.get("seats", {}))
    if str(seat.membership_id) not in seat_map:  # joined after the round opened: counted from now on
        seat_map[str(seat.membership_id)] = seat.sector.value
        assessment.seats = {**assessment.seats, "seats": seat_map}
    await upsert(
        session,
        KeshetAssessmentAnswer.__table__,  # type: ignore[arg-type]
        {
            "round_id": assessment.id,
            "membership_id": seat.membership_id,
            "question": question,
            "yes": yes,
            "answered_at": now,
        },
        conflict=["round_id", "membership_id", "question"],
        update=["yes", "answered_at"],
    )
    answered = set(
        (
            await session.scalars(
                select(KeshetAssessmentAnswer.question).where(
                    KeshetAssessmentAnswer.round_id == assessment.id,
                    KeshetAssessmentAnswer.membership_id == seat.membership_id,
                )
            )
        ).all()
    )
    after = [q for q in k.ASKED_QUESTIONS if q > question and q not in answered]
    before = [q for q in k.ASKED_QUESTIONS if q not in answered]
    nxt = after[0] if after else before[0] if before else None
    return assessment, nxt


@dataclass(frozen=True)
class RoundView:
    round: KeshetAssessmentRound
    result: k.AssessmentResult


async def assessment_rounds(session: AsyncSession, forum: Forum, *, now: datetime) -> list[RoundView]:
    """Every round's results, oldest first."""
    partnership = await partnership_of(session, forum, now=now)
    rounds = (
        await session.scalars(
            select(KeshetAssessmentRound)
            .where(KeshetAssessmentRound.partnership_id == partnership.id)
            .order_by(KeshetAssessmentRound.number)
        )
    ).all()
    if not rounds:
        return []
    answers = (
        await session.execute(
            select(
                KeshetAssessmentAnswer.round_id,
                KeshetAssessmentAnswer.membership_id,
                KeshetAssessmentAnswer.question,
                KeshetAssessmentAnswer.yes,
            ).where(KeshetAssessmentAnswer.round_id.in_([r.id for r in rounds]))
        )
    ).all()
    views = []
    for assessment in rounds:
        partners = {int(seat): k.Sector(sector) for seat, sector in assessment.seats.get("seats", {}).items()}
        mine = [k.AssessmentAnswer(seat, q, yes) for rid, seat, q, yes in answers if rid == assessment.id]
        views.append(RoundView(assessment, k.assess(mine, partners, set(partners.values()))))
    return views


async def set_every_months(
    session: AsyncSession, *, forum: Forum, person: Person | None, months: int, now: datetime
) -> KeshetPartnership:
    await require(session, person, forum, Action.MANAGE_PARTNERSHIP, LEADS_ONLY)
    if months not in k.EVERY_MONTHS_CHOICES:
        raise Refused(N_("Please choose one of the options."))
    partnership = await partnership_of(session, forum, now=now)
    last = await latest_round(session, partnership.id)
    partnership.assessment_every_months = months
    partnership.next_assessment_at = k.add_months(last.opened_at if last else partnership.created_at, months)
    if partnership.next_assessment_at <= now:
        partnership.next_assessment_at = now
    return partnership


# --------------------------------------------------------------------------------------------
# The schedule
# --------------------------------------------------------------------------------------------


async def ensure_partnerships(session: AsyncSession, *, now: datetime) -> int:
    """Give every partnership forum its row (a forum opened by `forumbot forum create`)."""
    missing = (
        await session.scalars(
            select(Forum)
            .outerjoin(KeshetPartnership, KeshetPartnership.forum_id == Forum.id)
            .where(Forum.kind == ForumKind.PARTNERSHIP.value, KeshetPartnership.id.is_(None))
        )
    ).all()
    for forum in missing:
        await partnership_of(session, forum, now=now)
    return len(missing)


async def due_assessments(session: AsyncSession, *, now: datetime) -> list[tuple[int, datetime]]:
    """(partnership id, due time) of every scheduled self-assessment due at ``now``."""
    rows = await session.execute(
        select(KeshetPartnership.id, KeshetPartnership.next_assessment_at)
        .where(KeshetPartnership.next_assessment_at <= now)
        .order_by(KeshetPartnership.id)
    )
    return [(pid, due) for pid, due in rows.all()]


async def open_scheduled_round(
    session: AsyncSession, *, partnership_id: int, due: datetime, now: datetime, tz: ZoneInfo | None = None
) -> int:
    """Open and send the round due at ``due``, unless someone moved the schedule meanwhile; returns people asked."""
    partnership = await session.get(KeshetPartnership, partnership_id)
    if partnership is None:
        return 0
    moved = await session.execute(
        update(KeshetPartnership)
        .where(KeshetPartnership.id == partnership_id, KeshetPartnership.next_assessment_at == due)
        .values(next_assessment_at=k.next_due(due, now, partnership.assessment_every_months))
        .execution_options(synchronize_session=False)
    )
    if not getattr(moved, "rowcount", 0):
        return 0
    await session.refresh(partnership)
    forum = await partnership_forum(session, partnership.forum_id)
    if not await seats(session, forum.id):
        return 0
    assessment = await open_round(session, forum=forum, now=now, trigger="schedule")
    if assessment is None:
        return 0
    partnership.next_assessment_at = k.next_due(due, now, partnership.assessment_every_months)
    return await send_round(session, assessment, now=now, tz=tz)


async def tell_verdict_when_complete(
    session: AsyncSession, forum: Forum, round_id: int, *, now: datetime, tz: ZoneInfo
) -> None:
    """When every partner of the round has answered every question, each of them gets the verdict (once)."""
    views = await assessment_rounds(session, forum, now=now)
    view = next((v for v in views if v.round.id == round_id), None)
    if view is None:
        return
    result = view.result
    asked = [q for q in result.questions if not q.computed]
    if result.partners == 0 or any(q.answered < result.partners for q in asked):
        return
    for r in await notify.recipients(session, [s.person_id for s in await seats(session, forum.id)], now=now, tz=tz):
        text = "\n".join(
            [
                r.t._(k.ASSESSMENT_TITLE),
                r.t._("Every partner has answered round {round}.", round=view.round.number),
                "",
                *verdict_lines(r.t, result),
            ]
        )
        await r.send(
            r.message(text, [[r.button(r.t._("See the results"), ShowAssessment(forum.id))]]),
            dedup_key=f"keshet:verdict:{round_id}:p{r.person.id}",
        )


def verdict_lines(t: Translator, result: k.AssessmentResult) -> list[str]:
    if result.responded == 0:
        return [t._("No partner has answered yet.")]
    if result.passes:
        return [t._("The verdict: yes — the partnership passes all six questions.")]
    lines = [t._("The verdict: not yet. These questions fail:")]
    for question in result.questions:
        if question.passes:
            continue
        if question.computed:
            reason = t._("fewer than two sectors sit at the table")
        else:
            reason = t.n_(
                "one of {total} partners said yes",
                "{n} of {total} partners said yes",
                question.yes,
                total=question.partners,
            )
        lines.append(f"• {question.question}. {t._(k.QUESTIONS[question.question])} ({reason})")
    return lines
