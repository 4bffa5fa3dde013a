"""The API's rate limits as a physical ceiling: a smooth global bucket and per-chat spacing.

In one process the schedule lives in memory. With ``REDIS_URL``
every process reserves its slots in Redis, so a deployment of several processes stays under the
one limit that belongs to the bot token.

The pace is a bucket that holds a little credit (``BURST`` sends): a sender woken a few
milliseconds late, or held up by a commit, catches up instead of losing that time for good, which
a bucket of one does on every send. A window guard on actual send times keeps any one second at
the rate rounded down, so the credit can never add up to a burst over the ceiling.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import OrderedDict, deque
from typing import Protocol

BURST = 1  # sends of credit the pace may hold after a stall


class Limiter(Protocol):
    async def wait_for_chat(self, channel: str, chat: str, interval: float) -> None: ...

    async def wait_global(self, channel: str, per_second: float) -> None: ...

    async def pause(self, channel: str, chat: str, seconds: float, *, whole_channel: bool = True) -> None: ...


class LocalLimiter:
    """In-process buckets (the embedded default)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._tat: dict[str, float] = {}
        self._next: OrderedDict[str, float] = OrderedDict()
        self._paused: dict[str, float] = {}
        self._windows: dict[str, deque[float]] = {}
        self._capacity = capacity

    async def wait_for_chat(self, channel: str, chat: str, interval: float) -> None:
        key = f"{channel}:{chat}"
        while True:
            now = time.monotonic()
            start = max(now, self._next.get(key, 0.0), self._paused.get(channel, 0.0))
            if start <= now:
                break
            await asyncio.sleep(start - now)
        self._next[key] = time.monotonic() + interval
        self._next.move_to_end(key)
        while len(self._next) > self._capacity:
            self._next.popitem(last=False)

    async def wait_global(self, channel: str, per_second: float) -> None:
        # Reserve the next slot on the schedule (GCRA, as in Redis): a sender woken late sends late,
        # but the slots after it keep their times, so its lateness is not lost from the rate.
        interval = 1.0 / per_second
        now = time.monotonic()
        tat = max(now, self._tat.get(channel, 0.0), self._paused.get(channel, 0.0))
        self._tat[channel] = tat + interval
        start = max(now, tat - (BURST - 1) * interval)
        if start > now:
            await asyncio.sleep(start - now)
        # The bucket paces the sends; a window guard makes sure a late wake-up never lets more than
        # the rate (rounded down) through in any one second.
        window = self._windows.setdefault(channel, deque())
        cap = max(1, math.floor(per_second))
        while True:
            now = time.monotonic()
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) < cap:
                window.append(now)
                return
            await asyncio.sleep(window[0] + 1.0 - now)

    async def pause(self, channel: str, chat: str, seconds: float, *, whole_channel: bool = True) -> None:
        until = time.monotonic() + seconds
        if whole_channel:
            self._paused[channel] = max(self._paused.get(channel, 0.0), until)
            self._tat[channel] = max(self._tat.get(channel, 0.0), until)
        key = f"{channel}:{chat}"
        self._next[key] = max(self._next.get(key, 0.0), until)


# Reserve the next free slot of a key (GCRA): returns how many microseconds the caller must wait.
# The key holds the theoretical arrival time; a caller may go up to ARGV[2] µs ahead of it (credit).
# KEYS[1] = the key; ARGV[1] = interval in microseconds; ARGV[2] = tolerance in microseconds.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local interval = tonumber(ARGV[1])
local start = math.max(now, tat - tonumber(ARGV[2]))
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.floor((tat + interval - now) / 1000) + 1000)
return start - now
"""

# A window guard on actual send times: at most ARGV[2] sends in any ARGV[1] microseconds.
# Returns 0 (and records the send) or how many microseconds to wait before trying again.
_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local span = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, now .. '-' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.floor(span / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + span - now + 1
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untl = now + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local nxt = tonumber(redis.call('GET', key) or '0')
  if untl > nxt then
    redis.call('SET', key, tostring(untl), 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1000)
  end
end
return untl
"""


class RedisLimiter:
    """Slots reserved in Redis, shared by every process sending with the same bot token."""

    def __init__(self, url: str, namespace: str = "forumbot") -> None:
        from redis.asyncio import BlockingConnectionPool, Redis

        # Many sends wait on the limiter at once: they queue for a connection instead of failing.
        self.redis = Redis(connection_pool=BlockingConnectionPool.from_url(url, max_connections=32, timeout=30))
        self.ns = namespace
        self._reserve = self.redis.register_script(_RESERVE)
        self._pause = self.redis.register_script(_PAUSE)
        self._window = self.redis.register_script(_WINDOW)
        self._id = uuid.uuid4().hex[:8]
        self._sends = 0

    async def _wait(self, key: str, interval: float, burst: int = 1) -> None:
        micros = max(1, int(interval * 1_000_000))
        delay_us = int(await self._reserve(keys=[key], args=[micros, (burst - 1) * micros]))
        if delay_us > 0:
            await asyncio.sleep(delay_us / 1_000_000)

    async def wait_for_chat(self, channel: str, chat: str, interval: float) -> None:
        # A pause after a 429 is written into the global key; honour it for every chat too.
        pause_key = f"{self.ns}:rl:{channel}:pause"
        raw = await self.redis.pttl(pause_key)
        if raw and raw > 0:
            await asyncio.sleep(raw / 1000)
        # Reserved even with no spacing, so a pause on this chat (WhatsApp's pair rate) holds.
        await self._wait(f"{self.ns}:rl:{channel}:chat:{chat}", max(interval, 1e-6))

    async def wait_global(self, channel: str, per_second: float) -> None:
        await self._wait(f"{self.ns}:rl:{channel}:global", 1.0 / per_second, BURST)
        cap = max(1, math.floor(per_second))
        while True:
            self._sends += 1
            delay_us = int(
                await self._window(
                    keys=[f"{self.ns}:rl:{channel}:window"], args=[1_000_000, cap, f"{self._id}-{self._sends}"]
                )
            )
            if delay_us <= 0:
                return
            await asyncio.sleep(delay_us / 1_000_000)

    async def pause(self, channel: str, chat: str, seconds: float, *, whole_channel: bool = True) -> None:
        micros = int(seconds * 1_000_000)
        keys = [f"{self.ns}:rl:{channel}:chat:{chat}"]
        if whole_channel:
            keys.append(f"{self.ns}:rl:{channel}:global")
            await self.redis.set(f"{self.ns}:rl:{channel}:pause", "1", px=max(1, int(seconds * 1000)))
        await self._pause(keys=keys, args=[micros])

    async def close(self) -> None:
        await self.redis.aclose()
