"""A date poll's ballots: what each member and each linked group receives, and how an answer to a
messenger's own poll (a Telegram native poll) finds the date poll it belongs to.

Every ballot is one ``Outbound``: a native multi-answer poll for channels that have one, and the
same choices as toggle buttons (``Vote``) for channels that do not. Its outbox de-duplication key
is ``datepoll:<id>:ballot`` (per group ``…:ballot:g<group>``), which the close uses to withdraw
ballots still queued and the results use to name who could not be reached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.actions import Action as ButtonAction
from bot.core.messages import Button, Outbound, OutKind, PollSpec
from bot.i18n import N_, Raw, Translator
from bot.services.delivery.notify import forum_groups, member_ids, recipients
from bot.services.delivery.outbox import CHAT_GROUP, CHAT_PRIVATE, PRIORITY_NOTICE, enqueue
from bot.services.meetings import schedule as meetings
from bot.services.meetings.poll_actions import Vote
from bot.services.meetings.poll_texts import forum_name, option_label, short_label, when
from bot.services.sql import insert_ignore
from bot.storage.models import UNSURE_POLL, ExternalRef, Forum, GroupChat, OutboxMessage
from bot.storage.models_polls import DatePoll, DatePollOption

log = logging.getLogger(__name__)

CORRELATION = "datepoll"
NONE_OPTION = 0  # the "none of these dates works for me" choice in button payloads
QUESTION_LIMIT = 300
NONE_WORKS = N_("None of these dates works for me")


def correlation_of(poll_id: int) -> str:
    return f"{CORRELATION}:{poll_id}"


Mint = Callable[[str, ButtonAction], Button]  # ctx.button or Recipient.button


def question(t: Translator, poll: DatePoll, title: str) -> str:
    text = t._(
        "When shall we meet? {forum} is choosing the date of its next meeting. "
        "Choose every date that suits you; voting closes on {deadline}.",
        forum=Raw(title),
        deadline=Raw(when(t, poll.deadline)),
    )
    return text if len(text) <= QUESTION_LIMIT else text[: QUESTION_LIMIT - 1] + "…"


def ballot_buttons(
    t: Translator, poll: DatePoll, options: list[DatePollOption], mint: Mint, chosen: set[int], none_works: bool
) -> list[list[Button]]:
    rows = []
    for option in options:
        on = option.id in chosen
        label = ("✅ " if on else "▫️ ") + short_label(t, option.starts_at)
        rows.append([mint(label, Vote(poll.id, option.id, not on))])
    label = ("✅ " if none_works else "▫️ ") + t._(NONE_WORKS)
    rows.append([mint(label, Vote(poll.id, NONE_OPTION, not none_works))])
    return rows


def ballot(
    t: Translator, poll: DatePoll, forum: Forum, options: list[DatePollOption], mint: Mint | None
) -> Outbound:
    """The poll as sent: a native multi-answer poll, and the same choices as buttons for
    channels without native polls (Telegram shows only the poll)."""
    title = forum_name(t, forum, forum.org_unit)
    labels = [option_label(t, o.starts_at) for o in options] + [t._(NONE_WORKS)]
    return Outbound(
        kind=OutKind.POLL,
        text=t._(
            "Tap every date that suits you (tap again to take it back). You can change your answer until voting closes."
        ),
        rtl=t.rtl,
        buttons=ballot_buttons(t, poll, options, mint, set(), False) if mint else [],
        poll=PollSpec(
            question=question(t, poll, title),
            options=labels,
            multiple=True,
            correlation=correlation_of(poll.id),
            close_at=poll.deadline.isoformat(),
        ),
    )


async def send_ballots(
    session: AsyncSession,
    poll: DatePoll,
    forum: Forum,
    options: list[DatePollOption],
    *,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[int, int]:
    """A ballot to every member on every channel they use, and the native poll to the forum's groups."""
    reached: set[int] = set()
    for r in await recipients(session, await member_ids(session, forum.id), now=now, tz=tz):
        if await r.send(ballot(r.t, poll, forum, options, r.button), dedup_key=f"{correlation_of(poll.id)}:ballot"):
            reached.add(r.person.id)
    groups = await forum_groups(session, forum.id)
    t = Translator(meetings.group_locale(forum), "p", tz)
    for group in groups:
        await enqueue(
            session,
            channel=group.channel,
            chat_id=group.chat_id,
            chat_kind=CHAT_GROUP,
            message=ballot(t, poll, forum, options, None),
            now=now,
            priority=PRIORITY_NOTICE,
            dedup_key=f"{correlation_of(poll.id)}:ballot:g{group.id}",
        )
    return len(reached), len(groups)


async def native_poll(session: AsyncSession, channel: str, poll_ref: str) -> tuple[int, ExternalRef] | None:
    """Which date poll a channel's own poll id belongs to (None: not one of ours)."""
    ref = await session.scalar(
        select(ExternalRef).where(
            ExternalRef.channel == channel, ExternalRef.kind == "poll", ExternalRef.external_id == poll_ref
        )
    )
    if ref is None:
        return None
    prefix, _, poll_id = ref.correlation.partition(":")
    if prefix != CORRELATION or not poll_id.isdigit():
        return None
    return int(poll_id), ref


async def native_poll_copy(
    session: AsyncSession, channel: str, poll_ref: str, chat_id: str, option_ids: tuple[int, ...], *, now: datetime
) -> tuple[int, ExternalRef] | None:
    """The date poll an answer to an unrecorded copy of a ballot belongs to, or None.

    A sendPoll that timed out after the messenger delivered it leaves a copy whose poll id was
    never recorded (the delivery path notes the chat, ``UNSURE_POLL``), and the retry sends a
    second one. An answer to such a copy is matched by the chat (the open date polls whose ballot
    to this chat had an unsure send) and the poll's options (the answer's positions must exist in
    it); exactly one match counts, and the copy is recorded so that its later answers are matched
    directly. More than one, or none: None (the caller says so).
    """
    unsure = (
        await session.scalars(
            select(ExternalRef.correlation).where(
                ExternalRef.channel == channel, ExternalRef.kind == UNSURE_POLL, ExternalRef.chat_id == chat_id
            )
        )
    ).all()
    pairs = [c.partition(":") for c in unsure]
    ids = {int(poll_id) for prefix, _, poll_id in pairs if prefix == CORRELATION and poll_id.isdigit()}
    if not ids:
        return None
    open_ids = (await session.scalars(select(DatePoll.id).where(DatePoll.id.in_(ids), DatePoll.status == "open"))).all()
    fitting = []
    for poll_id in open_ids:
        count = await session.scalar(select(func.count()).where(DatePollOption.poll_id == poll_id))
        positions = int(count or 0) + 1  # the dates and "none works"
        if all(0 <= i < positions for i in option_ids):
            fitting.append(poll_id)
    if len(fitting) != 1:
        return None
    values = {
        "channel": channel,
        "kind": "poll",
        "external_id": poll_ref,
        "correlation": correlation_of(fitting[0]),
        "chat_id": chat_id,
        "message_id": None,
        "created_at": now,
    }
    await insert_ignore(session, ExternalRef.__table__, values, conflict=["channel", "kind", "external_id"])  # type: ignore[arg-type]
    log.info("an answer to an unrecorded copy of date poll %s's ballot was matched by its chat and options", fitting[0])
    return await native_poll(session, channel, poll_ref)


# Built once: an early answer asks these several times while it waits.
_POLL_RECORDED = select(ExternalRef.id).where(
    ExternalRef.channel == bindparam("channel"), ExternalRef.kind == "poll", ExternalRef.external_id == bindparam("ref")
)
_SENDING_TO = (
    select(OutboxMessage.id)
    .where(
        OutboxMessage.status == "sending",
        OutboxMessage.channel == bindparam("channel"),
        or_(OutboxMessage.chat_id == bindparam("chat_id"), OutboxMessage.chat_kind == CHAT_GROUP),
    )
    .limit(1)
)


async def native_poll_pending(session: AsyncSession, channel: str, poll_ref: str, chat_id: str) -> bool:
    """Whether an answer to ``poll_ref`` may be early: the poll is not recorded as sent yet while a
    message to the person (or to a group) is still being sent, so its record may be moments away."""
    if await session.scalar(_POLL_RECORDED, {"channel": channel, "ref": poll_ref}):
        return False
    return await session.scalar(_SENDING_TO, {"channel": channel, "chat_id": chat_id}) is not None


async def stop_native(session: AsyncSession, poll_id: int, ref: ExternalRef, *, now: datetime) -> None:
    if not ref.message_id:
        return
    in_group = await session.scalar(
        select(GroupChat.id).where(GroupChat.channel == ref.channel, GroupChat.chat_id == ref.chat_id).limit(1)
    )
    await enqueue(
        session,
        channel=ref.channel,
        chat_id=ref.chat_id,
        chat_kind=CHAT_GROUP if in_group is not None else CHAT_PRIVATE,
        message=Outbound(kind=OutKind.STOP_POLL, text="", edit_ref=ref.message_id),
        now=now,
        priority=PRIORITY_NOTICE,
        dedup_key=f"{correlation_of(poll_id)}:stop:r{ref.id}",
    )
