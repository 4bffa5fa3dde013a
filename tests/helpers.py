"""Test helpers: people chatting through the console channel's own code path."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.app import App
from bot.channels.console import CHANNEL, ConsoleSender, parse_line
from bot.clock import SystemClock
from bot.core.messages import Outbound, OutKind
from bot.i18n import FSI, LRI, LRM, PDI, RLM
from bot.services.delivery.outbox import PRIORITY_BULK, enqueue
from bot.services.forums.orgs import import_org_rows, parse_org_csv
from bot.storage.db import Database
from bot.storage.models import ChannelIdentity, Forum, GroupChat, Person
from tests.conftest import DEMO_ORG

_counter = itertools.count(1)


def plain(text: str | None) -> str:
    """The text without its bidi marks and isolates (what a reader sees), "" for none."""
    text = text or ""
    for mark in (RLM, LRM, FSI, LRI, PDI):
        text = text.replace(mark, "")
    return text


def console_sender(app: App) -> ConsoleSender:
    sender = app.senders.get(CHANNEL)
    if sender is None:
        sender = ConsoleSender(io.StringIO())
        app.add_sender(sender)
    assert isinstance(sender, ConsoleSender)
    return sender


@dataclass
class ConsoleUser:
    """Someone typing into `forumbot console --as NAME`."""

    app: App
    name: str
    received: list[Outbound] = field(default_factory=list)

    async def say(self, line: str) -> list[Outbound]:
        sender = console_sender(self.app)
        before = len(sender.sent)
        event = parse_line(self.name, line, sender.last_tokens.get(self.name, []), lambda: next(_counter))
        assert event is not None
        await self.app.conversations.handle(event)
        await self.app.delivery.drain()
        mine = [m for chat, m in sender.sent[before:] if chat == self.name]
        self.received += mine
        return mine

    async def text_of(self, line: str) -> str:
        return "\n".join(plain(m.text) for m in await self.say(line))

    @property
    def last(self) -> Outbound:
        return self.received[-1]

    def button_index(self, label: str) -> int:
        labels = [plain(b.label) for b in self.last.all_buttons]
        return labels.index(label) + 1


async def person_of(app: App, external_id: str) -> Person:
    """The person behind a channel identity (a console user's name, a Telegram user id)."""
    async with app.db.sessions() as session:
        person = await session.scalar(
            select(Person).join(ChannelIdentity, ChannelIdentity.person_id == Person.id)
            .where(ChannelIdentity.external_id == external_id)
        )
        assert person is not None
        return person


async def import_demo(app: App) -> None:
    rows = parse_org_csv(DEMO_ORG.read_text(encoding="utf-8"), str(DEMO_ORG))
    async with app.db.unit_of_work() as session:
        await import_org_rows(session, rows, now=app.clock.now())


async def make_invite(app: App, forum: str, role: str, *, uses: int = 1, days: int = 14) -> str:
    from bot.services.forums import invites

    async with app.db.unit_of_work() as session:
        f = await invites.forum_by_code(session, forum)
        invite = await invites.create_invite(
            session, forum=f, role=role, now=app.clock.now(), uses=uses, expires_days=days
        )
        return invite.code


async def register(app: App, name: str, code: str, *, language: str = "he", form: str = "f",
                   display: str = "דנה לוי") -> ConsoleUser:
    user = ConsoleUser(app, name)
    await user.say(f"/start {code}")
    await user.say({"he": "1", "ar": "2", "en": "3"}[language])
    await user.say("1")  # consent
    await user.say(display)
    if language != "en":
        await user.say({"m": "1", "f": "2", "p": "3"}[form])
    return user


async def principal_and_parent(app: App, school: str) -> tuple[ConsoleUser, ConsoleUser]:
    """The demo organisation, with a school's principal (Dana, its lead) and a father (Avi) registered."""
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, school, "principal"))
    avi = await register(app, "avi", await make_invite(app, school, "parent"), form="m", display="אבי כהן")
    return dana, avi


async def link_console_group(app: App, forum_code: str, chat_id: str, title: str = "הורים ומורים") -> None:
    """A console group chat linked to the forum, as its lead's /linkgroup leaves it."""
    async with app.db.unit_of_work() as session:
        forum = await session.scalar(select(Forum).where(Forum.code == forum_code))
        assert forum is not None
        now = app.clock.now()
        session.add(GroupChat(channel="console", chat_id=chat_id, title=title, forum_id=forum.id,
                              active=True, linked_at=now, created_at=now))


async def queue_broadcast(
    url: str, chats: list[int], *, text: str = "הודעה {chat}", dedup_key: str = "broadcast:{chat}"
) -> None:
    """A bulk message to every chat, queued in one transaction as an announcement would be.

    ``text`` and ``dedup_key`` are templates filled in with each ``{chat}``.
    """
    db = Database(url)
    async with db.unit_of_work() as session:
        now = SystemClock().now()
        for chat in chats:
            await enqueue(
                session,
                channel="telegram",
                chat_id=str(chat),
                now=now,
                priority=PRIORITY_BULK,
                message=Outbound(kind=OutKind.TEXT, text=text.format(chat=chat)),
                dedup_key=dedup_key.format(chat=chat),
            )
    await db.dispose()
