"""The tick: `run_due` every few seconds inside `forumbot run`.

A plain asyncio loop, not a scheduling library: what is due, and that each step runs once, lives in
the database (`scheduler.jobs`, `scheduler.claims`), so the tick only has to wake up. One tick runs
at a time, a slow tick delays the next instead of piling up, and a failing tick is logged and
retried on the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.app import App
from scheduler.jobs import run_due

log = logging.getLogger(__name__)


async def tick_forever(app: App, stop: asyncio.Event) -> None:
    every = app.settings.scheduler_tick_seconds
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
        if stop.is_set():
            return
        try:
            await run_due(app)
        except Exception:
            log.exception("scheduled steps failed; the next tick tries again")
