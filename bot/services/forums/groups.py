"""Messenger groups linked to forums: announcements and polls go there, personal matters do not."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.permissions import Action, allowed
from bot.i18n import N_, Raw
from bot.services import audit
from bot.services.delivery import notify
from bot.services.errors import Forbidden, Refused
from bot.services.forums import people
from bot.services.texts import forum_title
from bot.storage.models import ChannelIdentity, ChoiceToken, Forum, GroupChat, Person

LINK_PREFIX = "grouplink:"
LINK_VALID = timedelta(hours=1)


async def create_link_code(session: AsyncSession, *, identity: ChannelIdentity, forum: Forum, now: datetime) -> str:
    """A one-hour code the lead sends as ``/link CODE`` inside the group."""
    if not allowed(Action.LINK_GROUP, await people.standings(session, identity.person, forum)):
        raise Forbidden(N_("Only a forum's lead can link a group to it."))
    code = secrets.token_urlsafe(6)
    session.add(
        ChoiceToken(
            token=code,
            identity_id=identity.id,
            chat_id=identity.chat_id,
            channel=identity.channel,
            payload=f"{LINK_PREFIX}{forum.id}",
            created_at=now,
            expires_at=now + LINK_VALID,
        )
    )
    return code


async def seen_group(
    session: AsyncSession, *, channel: str, chat_id: str, title: str, now: datetime, active: bool = True
) -> GroupChat:
    group = await session.scalar(select(GroupChat).where(GroupChat.channel == channel, GroupChat.chat_id == chat_id))
    if group is None:
        group = GroupChat(channel=channel, chat_id=chat_id, title=title[:200] or None, active=active, created_at=now)
        session.add(group)
    else:
        group.active = active
        if title:
            group.title = title[:200]
    await session.flush()
    return group


async def link_group(
    session: AsyncSession, *, identity: ChannelIdentity, code: str, chat_id: str, title: str, now: datetime
) -> Forum:
    """Link the group to the forum the code was made for; only the lead who made it can use it."""
    token = await session.scalar(select(ChoiceToken).where(ChoiceToken.token == code.strip()))
    if (
        token is None
        or not token.payload.startswith(LINK_PREFIX)
        or token.identity_id != identity.id
        or token.expires_at <= now
    ):
        raise Refused(N_("This link code is not valid. A forum lead gets a new one with /group in a private chat."))
    forum = await session.get(Forum, int(token.payload[len(LINK_PREFIX) :]))
    if forum is None or not allowed(Action.LINK_GROUP, await people.standings(session, identity.person, forum)):
        raise Forbidden(N_("Only a forum's lead can link a group to it."))
    group = await seen_group(session, channel=identity.channel, chat_id=chat_id, title=title, now=now)
    await session.refresh(forum, ["org_unit"])
    previous = await session.get(Forum, group.forum_id) if group.forum_id not in (None, forum.id) else None
    if previous is not None:
        # Moving a group away from a forum is that forum's lead's call (or an admin's), not any lead's.
        if not allowed(Action.LINK_GROUP, await people.standings(session, identity.person, previous)):
            raise Forbidden(GROUP_TAKEN)
        await session.refresh(previous, ["org_unit"])
    group.forum_id = forum.id
    group.linked_at = now
    await session.delete(token)
    audit.record(
        session,
        now=now,
        action="group.link",
        actor_person_id=identity.person_id,
        subject=f"forum:{forum.id}",
        details={"group": group.id, **({"from_forum": previous.id} if previous is not None else {})},
    )
    if previous is not None:
        await _tell_of_move(session, group, previous, forum, identity.person, now)
    return forum


GROUP_TAKEN = N_(
    "This group is linked to another forum. Only that forum's lead can move it to a different forum."
)


async def _tell_of_move(
    session: AsyncSession, group: GroupChat, old: Forum, new: Forum, actor: Person | None, now: datetime
) -> None:
    """Both forums' leads hear that the group moved (the one who moved it sees the reply in the group)."""
    ids = set(await notify.lead_ids(session, old.id)) | set(await notify.lead_ids(session, new.id))
    ids.discard(actor.id if actor is not None else 0)
    name = group.title or ""
    for r in await notify.recipients(session, ids, now=now):
        text = r.t._(
            "The group {group} was moved from {old} to {new} by {actor}. Announcements and date polls of {new} "
            "go there now; {old} no longer posts there.",
            group=name,
            old=Raw(forum_title(r.t, old, old.org_unit)),
            new=Raw(forum_title(r.t, new, new.org_unit)),
            actor=actor.display_name if actor is not None else "",
        )
        await r.send(r.message(text), dedup_key=f"group:moved:{group.id}:{now.isoformat()}")
