"""Per-person flood control, before an event costs a transaction.

More than ``limit`` events from one person (channel + user id) within ``window`` seconds: the
first event over the limit is answered once with a polite "slow down", and everything after it is
dropped without a reply until ``quiet`` seconds have passed since the last event over the limit.
The state lives in this process's memory (bounded LRU): with several processes each one limits what
it sees, which still caps a flood at ``processes × limit``.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum


class Verdict(Enum):
    OK = "ok"
    WARN = "warn"  # over the limit: tell the person once
    DROP = "drop"  # still over: ignore silently


@dataclass
class _Track:
    times: deque[datetime] = field(default_factory=deque)
    blocked_until: datetime | None = None


class FloodControl:
    def __init__(self, limit: int = 20, window: float = 10.0, quiet: float = 30.0, capacity: int = 50_000) -> None:
        self.limit = limit
        self.window = timedelta(seconds=window)
        self.quiet = timedelta(seconds=quiet)
        self.capacity = capacity
        self._tracks: OrderedDict[str, _Track] = OrderedDict()

    def check(self, key: str, now: datetime) -> Verdict:
        if self.limit <= 0:
            return Verdict.OK
        track = self._tracks.get(key)
        if track is None:
            track = self._tracks[key] = _Track()
            while len(self._tracks) > self.capacity:
                self._tracks.popitem(last=False)
        self._tracks.move_to_end(key)
        if track.blocked_until is not None:
            if now < track.blocked_until:
                track.blocked_until = now + self.quiet  # flooding on keeps the door shut
                return Verdict.DROP
            track.blocked_until = None
            track.times.clear()
        while track.times and track.times[0] <= now - self.window:
            track.times.popleft()
        track.times.append(now)
        if len(track.times) > self.limit:
            track.blocked_until = now + self.quiet
            return Verdict.WARN
        return Verdict.OK
