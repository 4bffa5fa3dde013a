"""The scheduler's tick: one at a time, a failing tick does not stop the next, `stop` ends it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

import scheduler.clock as ticker


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
