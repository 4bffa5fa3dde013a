"""A database that cannot be reached is waited for; a bug or bad data is not retried."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.app import App
from bot.conversation import Conversations
from bot.storage import db as db_module
from bot.storage.db import database_unavailable, retry_unavailable
from tests.helpers import import_demo, make_invite, plain, register


def unreachable() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "Connection refused"))


def test_what_counts_as_the_database_being_away() -> None:
    assert database_unavailable(unreachable())
    assert database_unavailable(ConnectionResetError())
    assert database_unavailable(TimeoutError())
    assert not database_unavailable(IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")))
    assert not database_unavailable(ValueError("a bug"))
    assert not database_unavailable(FileNotFoundError("a missing file is not an outage"))


async def test_retry_waits_for_the_database_and_raises_anything_else_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db_module, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise unreachable()
        return "ok"

    assert await retry_unavailable(flaky, what="a test") == "ok"
    assert calls == 3

    async def always_away() -> str:
        raise unreachable()

    with pytest.raises(OperationalError):
        await retry_unavailable(always_away, what="a test")  # gives up after the delays

    bugs = 0

    async def buggy() -> str:
        nonlocal bugs
        bugs += 1
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await retry_unavailable(buggy, what="a test")
    assert bugs == 1


async def test_an_event_that_meets_an_outage_is_handled_once_when_the_database_is_back(
    sqlite_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sqlite_app
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, "S-DEMO-210101", "principal"))
    monkeypatch.setattr(db_module, "RETRY_DELAYS", (0.0, 0.0))
    real = Conversations._handle_once
    outages = 0

    async def first_the_database_is_away(self: Conversations, *args: object, **kwargs: object) -> object:
        nonlocal outages
        if outages < 2:
            outages += 1
            raise unreachable()
        return await real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Conversations, "_handle_once", first_the_database_is_away)
    before = len(dana.received)
    text = plain((await dana.say("/forums"))[-1].text)
    assert outages == 2
    assert "הפורומים שלך" in text  # answered, not apologised to
    assert len(dana.received) == before + 1  # once
