"""A forum's leads hear about every arrival and departure: a join, a re-admission, a revocation, /forget.

Each notice goes through ``notify.recipients`` with a de-duplication key (one notice per event,
however often the transaction is retried). A person who erased themselves is named by role only:
the notice must not keep the name that ``/forget`` erased.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Raw, Translator
from bot.services.delivery.notify import lead_ids, recipients
from bot.services.texts import forum_title, role_label
from bot.storage.models import Forum, Membership, OrgUnit, Person


class Change(StrEnum):
    JOINED = "joined"
    READMITTED = "readmitted"
    REVOKED = "revoked"
    FORGOTTEN = "forgotten"  # /forget
    RETIRED = "retired"  # forgotten by the retention job


async def tell_leads(
    session: AsyncSession,
    *,
    forum: Forum,
    membership: Membership,
    change: Change,
    now: datetime,
    person: Person | None = None,
    actor: Person | None = None,
    exclude: Iterable[int] = (),
) -> int:
    """Tell the forum's leads (but not the person concerned nor the one who acted); returns how many."""
    unit: OrgUnit = await _unit(session, forum)
    skip = {membership.person_id, *exclude}
    if actor is not None:
        skip.add(actor.id)
    ids = [i for i in await lead_ids(session, forum.id) if i not in skip]
    key = f"membership:{change.value}:{membership.id}:{now.isoformat()}"
    told = 0
    for r in await recipients(session, ids, now=now):
        text = _text(change, r.t, forum, unit, membership, person, actor)
        if await r.send(r.message(text), dedup_key=key):
            told += 1
    return told


async def _unit(session: AsyncSession, forum: Forum) -> OrgUnit:
    unit = await session.get(OrgUnit, forum.org_unit_id)
    assert unit is not None
    return unit


def _text(
    change: Change, t: Translator, forum: Forum, unit: OrgUnit, membership: Membership,
    person: Person | None, actor: Person | None,
) -> str:
    title = Raw(forum_title(t, forum, unit))
    form = person.address_form if person is not None else None
    role = role_label(t, unit, forum, membership.role, form)
    name = person.display_name if person is not None and person.forgotten_at is None else ""
    by = actor.display_name if actor is not None else ""
    texts: dict[Change, Callable[[], str]] = {
        Change.JOINED: lambda: t._("{name} joined {forum} as {role}.", name=name, forum=title, role=role),
        Change.READMITTED: lambda: t._(
            "{actor} re-admitted {name} to {forum} as {role}.", actor=by, name=name, forum=title, role=role
        ),
        Change.REVOKED: lambda: t._(
            "{actor} ended the membership of {name} ({role}) in {forum}.", actor=by, name=name, forum=title, role=role
        ),
        Change.FORGOTTEN: lambda: t._(
            "A member of {forum} ({role}) left the forum and erased their details from the bot.",
            forum=title, role=role,
        ),
        Change.RETIRED: lambda: t._(
            "A member of {forum} ({role}) was removed automatically after a long time without activity.",
            forum=title, role=role,
        ),
    }
    return texts[change]()
