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

    rendered = str(people._LOAD_IDENTITY.compile())
    assert "'principal', 'school', 'main'" in rendered  # inline, not an expanding parameter
    with pytest.raises(ValueError):
        people._inline([("principal'; --", "school", "main")])
