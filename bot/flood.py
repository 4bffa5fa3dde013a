"""Per-person flood control, before an event costs a transaction.

More than ``limit`` events from one person (channel + user id) within ``window`` seconds: the
first event over the limit is answered once with a polite "slow down", and everything after it is
dropped without a reply until ``quiet`` seconds have passed since the last event over the limit.
In one process the state lives in memory (bounded LRU). With ``REDIS_URL`` set, every process
counts in Redis (one script per event), so a person flooding a deployment of several processes is
held to the one limit; if Redis cannot be reached, events go through (flood control fails open and
says so in the log) rather than shutting everyone out.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)


class Verdict(Enum):
    OK = "ok"
    WARN = "warn"  # over the limit: tell the person once
    DROP = "drop"  # still over: ignore silently


@dataclass
class _Track:
    times: deque[datetime] = field(default_factory=deque)
    blocked_until: datetime | None = None


class Flood(Protocol):
    async def verdict(self, key: str, now: datetime) -> Verdict: ...

    async def close(self) -> None: ...


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

    async def verdict(self, key: str, now: datetime) -> Verdict:
        return self.check(key, now)

    async def close(self) -> None:
        return None


# KEYS[1] = the person's recent events (sorted set), KEYS[2] = their "slow down" mark.
# ARGV: now (µs), window (µs), limit, quiet (ms), a unique member. Returns 0 OK, 1 WARN, 2 DROP.
_FLOOD = """
local now = tonumber(ARGV[1])
local quiet = tonumber(ARGV[4])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PEXPIRE', KEYS[2], quiet)
  return 2
end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.floor(window / 1000) + 1000)
if redis.call('ZCARD', KEYS[1]) > tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  if quiet > 0 then
    redis.call('SET', KEYS[2], '1', 'PX', quiet)
  end
  return 1
end
return 0
"""

_VERDICTS = {0: Verdict.OK, 1: Verdict.WARN, 2: Verdict.DROP}


class RedisFloodControl:
    """The same rule, counted in Redis and shared by every process of the deployment.

    The window is kept on the bot's clock (the event's time); the quiet period on Redis's, as a
    key that expires.
    """

    def __init__(self, url: str, namespace: str, limit: int = 20, window: float = 10.0, quiet: float = 30.0) -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.ns = namespace
        self.limit = limit
        self.window_us = int(window * 1_000_000)
        self.quiet_ms = int(quiet * 1000)
        self._script = self.redis.register_script(_FLOOD)
        self._id = uuid.uuid4().hex[:8]
        self._seq = 0

    async def verdict(self, key: str, now: datetime) -> Verdict:
        if self.limit <= 0:
            return Verdict.OK
        self._seq += 1
        try:
            code = await self._script(
                keys=[f"{self.ns}:flood:{key}:t", f"{self.ns}:flood:{key}:q"],
                args=[
                    int(now.timestamp() * 1_000_000),
                    self.window_us,
                    self.limit,
                    self.quiet_ms,
                    f"{self._id}-{self._seq}",
                ],
            )
        except Exception as exc:  # Redis away: let people through rather than shut everyone out
            log.warning("flood control unavailable (%s); letting the event through", type(exc).__name__)
            return Verdict.OK
        return _VERDICTS.get(int(code), Verdict.OK)

    async def close(self) -> None:
        await self.redis.aclose()


def build_flood(settings: Settings) -> Flood:
    """Counted in Redis when the deployment shares one (``REDIS_URL``), in memory otherwise."""
    if settings.redis_url:
        return RedisFloodControl(
            settings.redis_url,
            settings.redis_namespace,
            settings.flood_events,
            settings.flood_seconds,
            settings.flood_quiet_seconds,
        )
    return FloodControl(settings.flood_events, settings.flood_seconds, settings.flood_quiet_seconds)
