"""The dispatcher's own guarantees: an update is handled once, however often and wherever it arrives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from bot.app import App
from bot.core.messages import EventKind, Inbound
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ProcessedUpdate
from tests.conftest import make_settings


def hello(key: str, user: str = "rivka") -> Inbound:
    return Inbound(channel="console", user_id=user, chat_id=user, kind=EventKind.TEXT, text="hello", update_key=key)


async def test_a_redelivered_update_is_handled_once(app: App, database_url: str, tmp_path: Path) -> None:
    [reply] = await app.conversations.handle(hello("u1"))
    assert reply.text
    assert await app.conversations.handle(hello("u1")) == []  # the same update again: nothing

    # Two processes given the same updates at the same moment: each update is handled by one of them.
    other = App(settings=make_settings(database_url, tmp_path), db=Database(database_url), clock=app.clock)
    try:
        keys = [f"u{n}" for n in range(2, 8)]
        answers = await asyncio.gather(
            *(process.conversations.handle(hello(key)) for key in keys for process in (app, other))
        )
    finally:
        await other.close()
    assert sorted(len(a) for a in answers) == [0] * len(keys) + [1] * len(keys)

    async with app.db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1 + len(keys)
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1 + len(keys)


async def test_an_event_without_an_update_key_is_always_handled(app: App) -> None:
    event = hello("", user="moshe")
    assert len(await app.conversations.handle(event)) == 1
    assert len(await app.conversations.handle(event)) == 1
