"""What one plain inbound update costs the database, counted (not timed): the figures bench.inbound prints."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select, update

from bot.app import App
from bot.core.messages import EventKind, Inbound
from bot.services.forums.people import load_event_identity
from bot.storage.models import Membership
from tests.helpers import import_demo, make_invite, register


def hello(n: int, user: str) -> Inbound:
    return Inbound(channel="console", user_id=user, chat_id=user, kind=EventKind.TEXT, text="hello",
                   update_key=f"cost{n}")


async def test_a_plain_update_costs_the_mark_the_person_and_the_reply(app: App) -> None:
    await import_demo(app)
    await register(app, "miri", await make_invite(app, "S-DEMO-210101", "parent"), display="מירי כהן")
    await app.conversations.handle(hello(0, "miri"))  # she wrote a moment ago: nothing of hers to touch
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(app.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        [reply] = await app.conversations.handle(hello(1, "miri"))
    finally:
        event.remove(app.db.engine.sync_engine, "before_cursor_execute", count)
    assert reply.text
    # The processed mark (with PostgreSQL's per-person lock in the same statement), the identity with
    # her person, state and lead standing, and the reply's outbox row. SQLite adds its BEGIN IMMEDIATE.
    begin = ["BEGIN"] if app.db.dialect == "sqlite" else []
    assert seen == [*begin, "INSERT", "SELECT", "INSERT"]


async def test_whether_someone_leads_comes_with_their_identity(app: App) -> None:
    await import_demo(app)
    await register(app, "dana", await make_invite(app, "S-DEMO-210101", "principal"), display="דנה לוי")
    await register(app, "miri", await make_invite(app, "S-DEMO-210101", "parent"), display="מירי כהן")
    async with app.db.unit_of_work() as session:
        assert (await load_event_identity(session, "console", "dana"))[2] is True
        assert (await load_event_identity(session, "console", "miri"))[2] is False
        assert (await load_event_identity(session, "console", "nobody")) == (None, None, False)
        dana = (await load_event_identity(session, "console", "dana"))[0]
        assert dana is not None
        await session.execute(
            update(Membership).where(Membership.person_id == dana.person_id).values(revoked_at=app.clock.now())
        )
    async with app.db.unit_of_work() as session:
        assert (await load_event_identity(session, "console", "dana"))[2] is False
        assert await session.scalar(select(Membership.id).where(Membership.revoked_at.is_(None))) is not None


def test_lead_seats_written_into_the_statement_are_only_catalogue_keys() -> None:
    from bot.services.forums import people

    rendered = str(people._LOAD_IDENTITY_AND_LEADS.compile())
    assert "'principal', 'school', 'main'" in rendered  # inline, not an expanding parameter
    with pytest.raises(ValueError):
        people._inline([("principal'; --", "school", "main")])


async def test_whether_someone_leads_is_read_once_a_while_per_chat_and_on_presses(app: App) -> None:
    """The lead-menu check rides on the identity's query, but not on every update: a chat whose
    person leads nothing is checked again after LEAD_RECHECK, or when a button is pressed."""
    from datetime import UTC, datetime

    from aiogram import Bot
    from aiogram.types import Update

    from bench.inbound import NoNetworkSession
    from bot.channels import telegram
    from bot.storage.models import ChannelIdentity, Forum, Person

    await import_demo(app)
    now = app.clock.now()
    async with app.db.unit_of_work() as session:
        forum = await session.scalar(select(Forum).where(Forum.code == "S-DEMO-210101"))
        assert forum is not None
        for user, role in (("7001", "parent"), ("7002", "principal")):
            person = Person(display_name="מ", address_form="p", locale="he", consent_version="2026-11",
                            consent_at=now, created_at=now, last_active_at=now)
            session.add(person)
            await session.flush()
            session.add(ChannelIdentity(channel="telegram", external_id=user, chat_id=user, person_id=person.id,
                                        status="active", created_at=now, last_inbound_at=now))
            session.add(Membership(person_id=person.id, forum_id=forum.id, role=role, created_at=now))
    bot = Bot(token="123456:" + "A" * 35, session=NoNetworkSession())
    channel = telegram.TelegramChannel(app, bot)
    channel.username = "forumbot_test_bot"
    asked: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "channel_identities" in statement and statement.lstrip().upper().startswith("SELECT"):
            asked.append("leads" if "EXISTS" in statement.upper() else "plain")

    def says(n: int, user: str, text: str) -> Update:
        return Update.model_validate({"update_id": n, "message": {
            "message_id": n, "date": int(datetime.now(UTC).timestamp()), "text": text,
            "chat": {"id": int(user), "type": "private"},
            "from": {"id": int(user), "is_bot": False, "first_name": "M"}}})

    event.listen(app.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        for n, text in enumerate(["hello", "hello", "/help"]):
            await channel.feed(says(n + 1, "7001", text))
        assert asked == ["leads", "plain", "leads"]  # /help lists lead commands to leads only: it asks
        channel._not_leads[7001] -= telegram.LEAD_RECHECK
        asked.clear()
        await channel.feed(says(10, "7001", "hello"))
        assert asked == ["leads"]  # checked again after a while
        asked.clear()
        for n in range(2):
            await channel.feed(says(20 + n, "7002", "hello"))
        assert asked == ["leads", "plain"]  # a lead: found once, the menu set, never asked again
        assert 7002 in channel._scoped_leads
    finally:
        event.remove(app.db.engine.sync_engine, "before_cursor_execute", count)
