"""The scheduler's tick: one at a time, a failing tick does not stop the next, `stop` ends it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

import scheduler.clock as ticker
from tests.conftest import T0


async def test_ticks_survive_a_failure_and_stop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    running = 0
    overlap = False
    stop = asyncio.Event()

    async def fake_run_due(app: Any) -> int:
        nonlocal running, overlap
        running += 1
        overlap = overlap or running > 1
        calls.append(len(calls))
        try:
            await asyncio.sleep(0.03)  # longer than the tick: ticks must not pile up
            if len(calls) == 1:
                raise RuntimeError("the database hiccuped")
            if len(calls) == 4:
                stop.set()
            return 0
        finally:
            running -= 1

    monkeypatch.setattr(ticker, "run_due", fake_run_due)
    app = SimpleNamespace(settings=SimpleNamespace(scheduler_tick_seconds=0.01))
    await asyncio.wait_for(ticker.tick_forever(app, stop), timeout=10)  # type: ignore[arg-type]
    assert len(calls) == 4  # the failure of the first tick did not end the loop; stop ended it
    assert not overlap


async def test_stop_before_the_first_tick_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(app: Any) -> int:
        raise AssertionError("ran after stop")

    monkeypatch.setattr(ticker, "run_due", never)
    stop = asyncio.Event()
    stop.set()
    app = SimpleNamespace(settings=SimpleNamespace(scheduler_tick_seconds=30))
    await asyncio.wait_for(ticker.tick_forever(app, stop), timeout=5)  # type: ignore[arg-type]


async def test_one_failing_step_rolls_back_alone(sqlite_app: Any) -> None:
    """Each id runs in its own transaction: the failing one is rolled back and logged, the others commit."""
    from sqlalchemy import select

    from bot.storage.models import JobRun
    from scheduler.jobs import each_in_own_transaction

    async def step(session: Any, ident: int) -> int:
        session.add(JobRun(key=f"test:{ident}", status="done", claimed_at=T0, finished_at=T0))
        await session.flush()
        if ident == 2:
            raise RuntimeError("this one breaks")
        return 1

    done = await each_in_own_transaction(sqlite_app, [1, 2, 3], step, "test step")
    assert done == 2
    async with sqlite_app.db.sessions() as session:
        keys = set((await session.scalars(select(JobRun.key).where(JobRun.key.like("test:%")))).all())
        assert keys == {"test:1", "test:3"}
