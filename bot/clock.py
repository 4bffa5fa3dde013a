"""Time is aware and injected: services ask a clock, tests move it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.storage.db import Database


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, `jobs run-due --now`)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)


class ClockRefused(Exception):
    """The simulated clock only moves forward; `current` is where it is."""

    def __init__(self, current: datetime) -> None:
        super().__init__(f"the clock only moves forward (it is {current.isoformat(timespec='minutes')})")
        self.current = current


_DURATION = re.compile(r"(\d+)\s*([wdhms])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """`7d`, `2w`, `36h`, `1d12h`, `90m`: a positive stretch of time."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not parts or _DURATION.sub("", cleaned).strip():
        raise ValueError(f"{text!r} is not a duration such as 7d, 36h, 1d12h or 90m")
    delta = timedelta()
    for amount, unit in parts:
        delta += timedelta(**{_UNITS[unit]: int(amount)})
    if delta <= timedelta():
        raise ValueError(f"{text!r} is not a duration such as 7d, 36h, 1d12h or 90m")
    return delta


class SimulatedClock:
    """The deployment's simulated clock (FORUMBOT_SIMULATED_CLOCK): real time shifted by an offset
    that the database holds, so `run`, every console and `jobs run-due` tell the same time.

    `now()` is cheap and synchronous; `refresh()` re-reads the offset (the runner does every second,
    a console at every poll). Set at `at`, the simulated time runs on from there at the real pace.
    """

    simulated = True

    def __init__(self, db: Database, real: Clock | None = None) -> None:
        self.db = db
        self.real = real or SystemClock()
        self.offset = timedelta()
        self.moved = False  # whether the clock was ever moved away from real time

    def now(self) -> datetime:
        return self.real.now() + self.offset

    async def refresh(self) -> None:
        from bot.storage.models_clock import SimulatedClockRow

        async with self.db.sessions() as session:
            row = await session.get(SimulatedClockRow, 1)
        self.moved = row is not None
        self.offset = row.at - row.set_at if row is not None else timedelta()

    async def set(self, at: datetime) -> datetime:
        """Move the clock to `at` (forward only: what ran stays run)."""
        from bot.storage.models_clock import SimulatedClockRow

        if at.tzinfo is None:
            raise ValueError("the simulated clock needs an aware datetime")
        async with self.db.unit_of_work() as session:
            row = await session.get(SimulatedClockRow, 1, with_for_update=True)
            real = self.real.now()
            current = real + (row.at - row.set_at if row is not None else timedelta())
            if at < current - timedelta(seconds=1):
                raise ClockRefused(current)
            if row is None:
                session.add(SimulatedClockRow(id=1, at=at, set_at=real))
            else:
                row.at, row.set_at = at, real
        await self.refresh()
        return self.now()

    async def advance(self, delta: timedelta) -> datetime:
        await self.refresh()
        return await self.set(self.now() + delta)

    async def reset(self) -> datetime:
        from sqlalchemy import delete

        from bot.storage.models_clock import SimulatedClockRow

        async with self.db.unit_of_work() as session:
            await session.execute(delete(SimulatedClockRow))
        await self.refresh()
        return self.now()


async def refresh(clock: Clock) -> None:
    """Re-read a simulated clock's offset (nothing to do for any other clock)."""
    if isinstance(clock, SimulatedClock):
        await clock.refresh()


def is_simulated(clock: Clock) -> bool:
    return isinstance(clock, SimulatedClock)
