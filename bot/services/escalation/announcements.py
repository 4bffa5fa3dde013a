"""Decisions down: a lead of an HQ, district or authority forum sends a decision or an update to the
forums below (all, or chosen tiers). Each forum below gets it as a suggested information item on
its next agenda (``agenda.suggest_from_above``) and its members get it as a message.

The fan-out runs in the scheduler, in batches: every forum reached is a row written in the same
transaction as its messages, so a crash resumes where it stopped and nothing is sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.escalation import ANNOUNCE_TIERS
from bot.domain.permissions import Action
from bot.domain.text import clean_text
from bot.domain.tiers import ForumKind, Tier
from bot.i18n import N_, Raw
from bot.services import audit
from bot.services.agenda import items as agenda
from bot.services.agenda.items import insert_once, load_forum, require, role_in
from bot.services.delivery import notify
from bot.services.delivery.outbox import PRIORITY_BULK
from bot.services.errors import Forbidden, Refused
from bot.services.sql import insert_ignore
from bot.services.texts import forum_title, short
from bot.storage.models import Forum, OrgUnit, Person
from bot.storage.models_escalation import Announcement, AnnouncementDelivery

TEXT_MAX = 2000
BATCH = 100
ONLY_UPPER_LEADS = N_("Only the leads of HQ, district and authority forums can send decisions down.")


def tiers_below(tier: str) -> tuple[Tier, ...]:
    return ANNOUNCE_TIERS.get(Tier(tier), ())


async def announce(
    session: AsyncSession,
    *,
    forum: Forum,
    person: Person,
    text: str,
    tiers: list[str],
    now: datetime,
    submit_key: str | None = None,
) -> Announcement:
    """Record an announcement; the scheduler delivers it (``deliver_batch``)."""
    await require(session, person, forum, Action.ANNOUNCE_DOWN, ONLY_UPPER_LEADS)
    allowed = tiers_below(forum.org_unit.tier)
    if not allowed:
        raise Forbidden(ONLY_UPPER_LEADS)
    chosen = [t for t in allowed if t.value in tiers]
    if not chosen:
        raise Refused(N_("Please choose one of the options."))
    body = clean_text(text, max_length=TEXT_MAX, multiline=True, min_length=2)
    title = short(body.splitlines()[0], 100)
    row, created = await insert_once(
        session,
        Announcement,
        {
            "forum_id": forum.id,
            "author_person_id": person.id,
            "author_role": await role_in(session, person.id, forum.id),
            "title": title,
            "text": body,
            "tiers": ",".join(t.value for t in chosen),
            "status": "due",
            "forums_reached": 0,
            "created_at": now,
        },
        submit_key,
    )
    if created:
        audit.record(session, now=now, action="announce", actor_person_id=person.id, subject=f"forum:{forum.id}",
                     details={"announcement": row.id, "tiers": row.tiers})
    return row  # type: ignore[no-any-return]


async def target_forum_ids(session: AsyncSession, announcement: Announcement) -> list[int]:
    """The main forums of the units below the announcing forum's unit, in the chosen tiers."""
    forum = await load_forum(session, announcement.forum_id)
    wanted = set(announcement.tiers.split(","))
    level = [forum.org_unit_id]
    chosen_units: list[int] = []
    while level:
        children: list[int] = []
        for start in range(0, len(level), 1000):
            rows = await session.execute(
                select(OrgUnit.id, OrgUnit.tier).where(OrgUnit.parent_id.in_(level[start:start + 1000]))
            )
            for unit_id, tier in rows.all():
                children.append(unit_id)
                if tier in wanted:
                    chosen_units.append(unit_id)
        level = children
    forums: list[int] = []
    for start in range(0, len(chosen_units), 1000):
        forums += list((await session.scalars(
            select(Forum.id).where(Forum.org_unit_id.in_(chosen_units[start:start + 1000]),
                                   Forum.kind == ForumKind.MAIN)
        )).all())
    return sorted(forums)


async def due_ids(session: AsyncSession) -> list[int]:
    return list((await session.scalars(
        select(Announcement.id).where(Announcement.status == "due").order_by(Announcement.id)
    )).all())


@dataclass(frozen=True)
class Batch:
    forums: int  # reached in this batch
    done: bool  # nothing left


async def deliver_batch(session: AsyncSession, announcement_id: int, now: datetime, size: int = BATCH) -> Batch:
    """Reach up to ``size`` more forums below: an agenda suggestion and a message to their members."""
    announcement = await session.get(Announcement, announcement_id)
    if announcement is None or announcement.status != "due":
        return Batch(0, True)
    reached = set((await session.scalars(
        select(AnnouncementDelivery.forum_id).where(AnnouncementDelivery.announcement_id == announcement.id)
    )).all())
    pending = [f for f in await target_forum_ids(session, announcement) if f not in reached]
    origin = await load_forum(session, announcement.forum_id)
    count = 0
    for forum_id in pending[:size]:
        won = await insert_ignore(
            session,
            AnnouncementDelivery.__table__,  # type: ignore[arg-type]
            {"announcement_id": announcement.id, "forum_id": forum_id, "delivered_at": now},
            conflict=["announcement_id", "forum_id"],
        )
        if not won:
            continue
        # The sender's right to announce down was checked when the announcement was made (/announce);
        # the targets were computed from the tree below it.
        item = await agenda.suggest_from_above(
            session, forum_id, announcement.title, announcement.text, origin.id, now, system=True
        )
        await session.execute(
            AnnouncementDelivery.__table__.update()  # type: ignore[attr-defined]
            .where(AnnouncementDelivery.announcement_id == announcement.id,
                   AnnouncementDelivery.forum_id == forum_id)
            .values(agenda_item_id=item.id)
        )
        await _tell_members(session, announcement, origin, forum_id, now)
        count += 1
    announcement.forums_reached += count
    done = len(pending) <= size
    if done:
        announcement.status = "done"
        announcement.finished_at = now
    return Batch(count, done)


async def _tell_members(
    session: AsyncSession, announcement: Announcement, origin: Forum, forum_id: int, now: datetime
) -> None:
    forum = await load_forum(session, forum_id)
    for r in await notify.recipients(session, await notify.member_ids(session, forum_id), now=now):
        text = "\n".join([
            r.t._("A decision or update from {forum}:", forum=Raw(forum_title(r.t, origin, origin.org_unit))),
            announcement.text,
            "",
            r.t._("It is suggested for the agenda of {forum}.", forum=Raw(forum_title(r.t, forum, forum.org_unit))),
        ])
        # Per person, not per forum: someone in several forums below hears it once.
        await r.send(r.message(text), priority=PRIORITY_BULK, dedup_key=f"ann:{announcement.id}:p{r.person.id}")
