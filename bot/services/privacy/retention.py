"""What forumbot keeps about a person beyond their profile, and how long anything is kept.

``export_extras`` adds to /mydata what the other features store (date-poll ballots, invites the
person made, administrative actions they took, revoked seats). ``retention`` forgets people who
have been inactive longer than the retention period and purges rows with personal content once
they have served their purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.roles import get_role
from bot.domain.tiers import Tier
from bot.i18n import Translator
from bot.services import guesses
from bot.services.forums import people
from bot.services.privacy.contributions import contributions_of
from bot.services.privacy.erasure import forget
from bot.services.privacy.partnerships import keshet_data_of
from bot.storage.models import (
    AuditLog,
    Base,
    ChannelIdentity,
    ConversationState,
    Forum,
    Invite,
    Membership,
    OutboxMessage,
    Person,
)
from bot.storage.models_polls import DatePoll, DatePollBallot, DatePollOption
from bot.storage.models_whatsapp import HeldMessage, LinkCode, WhatsAppInbox

STALE_CONVERSATION = timedelta(days=30)  # a half-typed flow nobody came back to
BATCH = 200


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def export_person(session: AsyncSession, person: Person) -> dict[str, Any]:
    """Everything stored about the person (/mydata): the profile and seats, then what the other
    features keep about them."""
    return {**await export_profile(session, person), **await export_extras(session, person)}


async def export_profile(session: AsyncSession, person: Person) -> dict[str, Any]:
    """The person's profile, channels, seats and contributions (the rest of /mydata is `privacy.export_person`)."""
    identities = (await session.scalars(select(ChannelIdentity).where(ChannelIdentity.person_id == person.id))).all()
    seats = await people.seats_of(session, person.id)
    states = []
    for identity in identities:
        state = await session.get(ConversationState, identity.id)
        if state is not None:
            states.append({"channel": identity.channel, "flow": state.flow, "step": state.step})
    return {
        "person": {
            "id": person.id,
            "display_name": person.display_name,
            "address_form": person.address_form,
            "language": person.locale,
            "consent_version": person.consent_version,
            "consent_at": person.consent_at.isoformat() if person.consent_at else None,
            "created_at": person.created_at.isoformat(),
            "last_active_at": person.last_active_at.isoformat(),
        },
        "channel_identities": [
            {
                "channel": i.channel,
                "external_id": i.external_id,
                "phone": i.phone,
                "status": i.status,
                "last_inbound_at": i.last_inbound_at.isoformat() if i.last_inbound_at else None,
            }
            for i in identities
        ],
        "memberships": [
            {
                "forum": s.forum.code,
                "unit": s.unit.name,
                "tier": s.unit.tier,
                "role": s.role,
                "role_name": get_role(Tier(s.unit.tier), s.forum.kind, s.role).he,
            }
            for s in seats
        ],
        "conversation_state": states,
        **await contributions_of(session, person.id),
        **await keshet_data_of(session, person.id, Translator(person.locale, person.address_form)),
    }


async def export_extras(session: AsyncSession, person: Person) -> dict[str, Any]:
    ballots = await session.execute(
        select(DatePollBallot, DatePoll, Forum.code)
        .join(DatePoll, DatePoll.id == DatePollBallot.poll_id)
        .join(Forum, Forum.id == DatePoll.forum_id)
        .where(DatePollBallot.person_id == person.id)
        .order_by(DatePollBallot.poll_id)
    )
    ballot_rows = ballots.all()
    option_ids = {o for b, _, _ in ballot_rows for o in b.choices}
    starts = (
        {
            o.id: o.starts_at
            for o in await session.scalars(select(DatePollOption).where(DatePollOption.id.in_(option_ids)))
        }
        if option_ids
        else {}
    )
    invites = await session.execute(
        select(Invite, Forum.code)
        .join(Forum, Forum.id == Invite.forum_id)
        .where(Invite.created_by_person_id == person.id)
    )
    revoked = await session.execute(
        select(Membership, Forum.code)
        .join(Forum, Forum.id == Membership.forum_id)
        .where(Membership.person_id == person.id, Membership.revoked_at.is_not(None))
    )
    actions = await session.scalars(
        select(AuditLog).where(AuditLog.actor_person_id == person.id).order_by(AuditLog.at, AuditLog.id)
    )
    # Rows about them that someone else (or the system) wrote: their seat ended, their account
    # found unreachable, a wrong code typed from it, an admin grant.
    identity_ids = select(ChannelIdentity.id).where(ChannelIdentity.person_id == person.id)
    identity_subjects = [f"identity:{i}" for i in (await session.scalars(identity_ids)).all()]
    about = await session.scalars(
        select(AuditLog)
        .where(
            or_(
                AuditLog.subject.in_([f"person:{person.id}", *identity_subjects]),
                and_(
                    AuditLog.action == "membership.revoke",
                    AuditLog.details["person"].as_integer() == person.id,
                ),
            ),
            or_(AuditLog.actor_person_id.is_(None), AuditLog.actor_person_id != person.id),
        )
        .order_by(AuditLog.at, AuditLog.id)
    )
    return {
        "date_poll_ballots": [
            {
                "poll": b.poll_id,
                "forum": code,
                "dates_chosen": [starts[o].isoformat() for o in b.choices if o in starts],
                "none_of_these_dates": b.none_works,
                "channel": b.channel,
                "updated_at": b.updated_at.isoformat(),
            }
            for b, _poll, code in ballot_rows
        ],
        "invites_created": [
            {
                "forum": code,
                "role": i.role,
                "uses": i.uses,
                "max_uses": i.max_uses,
                "expires_at": i.expires_at.isoformat(),
                "created_at": i.created_at.isoformat(),
            }
            for i, code in invites.all()
        ],
        "past_memberships": [
            {
                "forum": code,
                "role": m.role,
                "from": m.created_at.isoformat(),
                "until": m.revoked_at.isoformat() if m.revoked_at else None,
            }
            for m, code in revoked.all()
        ],
        "actions_recorded_in_audit_log": [
            {"at": a.at.isoformat(), "action": a.action, "subject": a.subject} for a in actions.all()
        ],
        "audit_log_about_me": [
            {"at": a.at.isoformat(), "action": a.action, "subject": a.subject, "details": a.details}
            for a in about.all()
        ],
        **await _messages_and_records(session, person),
    }


# Already shown above under their own heading (or the person's own row).
_SHOWN = {
    ("channel_identities", "person_id"), ("memberships", "person_id"), ("raised_issues", "raiser_person_id"),
    ("agenda_items", "proposer_person_id"), ("meeting_decisions", "owner_person_id"),
    ("date_poll_ballots", "person_id"), ("invites", "created_by_person_id"), ("audit_log", "actor_person_id"),
}


async def _messages_and_records(session: AsyncSession, person: Person) -> dict[str, Any]:
    """The messages kept for them (texts; a file by its name only), held messages, link codes, and
    every other row that points at them (what they created, recorded or own), by table and id."""
    identity_rows = (
        await session.execute(
            select(ChannelIdentity.id, ChannelIdentity.channel, ChannelIdentity.chat_id).where(
                ChannelIdentity.person_id == person.id
            )
        )
    ).all()
    ids = [i for i, _c, _chat in identity_rows]
    chats = [(c, chat) for _i, c, chat in identity_rows]
    messages = []
    if ids:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(
                or_(
                    OutboxMessage.identity_id.in_(ids),
                    tuple_(OutboxMessage.channel, OutboxMessage.chat_id).in_(chats),
                )
            )
            .order_by(OutboxMessage.id)
        )
        for m in rows.all():
            file = (m.payload or {}).get("file") or {}
            messages.append({
                "channel": m.channel,
                "status": m.status,
                "created_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "text": (m.payload or {}).get("text", ""),
                "file": file.get("name"),
            })
    held_rows = select(HeldMessage).where(HeldMessage.identity_id.in_(ids)).order_by(HeldMessage.id)
    held = (await session.scalars(held_rows)).all() if ids else []
    codes = (await session.scalars(select(LinkCode).where(LinkCode.person_id == person.id))).all()
    records: list[dict[str, Any]] = []
    for table in Base.metadata.sorted_tables:
        primary = list(table.primary_key.columns)
        if table.name == "people" or len(primary) != 1:
            continue
        for column in table.columns:
            points_at_people = any(fk.column.table.name == "people" for fk in column.foreign_keys)
            if not points_at_people or (table.name, column.name) in _SHOWN:
                continue
            found = (await session.scalars(select(primary[0]).where(column == person.id).order_by(primary[0]))).all()
            if found:
                records.append({"table": table.name, "column": column.name, "ids": list(found)})
    return {
        "messages_kept_for_me": messages,
        "held_messages": [
            {"kind": h.kind, "text": (h.payload or {}).get("text", ""), "created_at": h.created_at.isoformat()}
            for h in held
        ],
        "link_codes": [
            {"created_at": c.created_at.isoformat(), "expires_at": c.expires_at.isoformat(),
             "used_at": c.used_at.isoformat() if c.used_at else None}
            for c in codes
        ],
        "other_records_pointing_at_me": records,
    }


@dataclass
class Purged:
    people_forgotten: int = 0
    outbox: int = 0
    audit: int = 0
    conversations: int = 0
    whatsapp: int = 0


async def inactive_people(session: AsyncSession, now: datetime, days: int) -> list[int]:
    rows = await session.scalars(
        select(Person.id)
        .where(Person.forgotten_at.is_(None), Person.last_active_at < now - timedelta(days=days))
        .order_by(Person.id)
        .limit(BATCH)
    )
    return list(rows.all())


async def forget_inactive(session: AsyncSession, person_id: int, now: datetime, days: int) -> bool:
    """Forget one person if they are (still) inactive: checked again under the row lock."""
    person = await session.get(Person, person_id, with_for_update=True, populate_existing=True)
    if person is None or person.forgotten_at is not None or person.last_active_at >= now - timedelta(days=days):
        return False
    await forget(session, person, now=now, reason="retention")
    return True


async def purge(session: AsyncSession, now: datetime, *, outbox_days: int, audit_days: int) -> Purged:
    result = Purged()
    # Delivered, failed-for-good or superseded messages carry names and texts: gone after the outbox period.
    done = await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status.in_(("sent", "failed", "superseded")),
            OutboxMessage.created_at < now - timedelta(days=outbox_days),
        )
    )
    result.outbox = _count(done)
    old_audit = await session.execute(delete(AuditLog).where(AuditLog.at < now - timedelta(days=audit_days)))
    wrong_codes = await session.execute(
        delete(AuditLog).where(
            AuditLog.action.in_([limit.action for limit in guesses.ALL]), AuditLog.at < now - guesses.KEPT
        )
    )
    result.audit = _count(old_audit) + _count(wrong_codes)
    stale = await session.execute(
        delete(ConversationState).where(ConversationState.updated_at < now - STALE_CONVERSATION)
    )
    result.conversations = _count(stale)
    inbox = await session.execute(
        delete(WhatsAppInbox).where(
            WhatsAppInbox.status == "done", WhatsAppInbox.received_at < now - timedelta(days=outbox_days)
        )
    )
    held = await session.execute(
        delete(HeldMessage).where(
            HeldMessage.released_at.is_not(None), HeldMessage.created_at < now - timedelta(days=outbox_days)
        )
    )
    result.whatsapp = _count(inbox) + _count(held)
    return result
