"""The API's rate limits as a physical ceiling: a smooth global bucket and per-chat spacing.

In one process the schedule lives in memory. With ``REDIS_URL``
every process reserves its slots in Redis, so a deployment of several processes stays under the
one limit that belongs to the bot token.

Two rules, in this order:

* **The pace** (``per_second``, 29/s for Telegram): slots on a schedule (GCRA). A sender woken a
  few milliseconds late, or held up by a commit, sends late, but the slots after it keep their
  times, so its lateness is not lost from the rate (a bucket of one loses it on every send).
* **The ceiling** (``ceiling`` sends in any one second, Telegram's 30): a window that counts each
  send from the moment it is let through until one second after *its request has completed*.
  The API sees a request somewhere between those two moments, so however late a request leaves
  (a paused process, a busy loop, a slow network), no second at the API can hold more than the
  ceiling. Counting from the pass alone, a stall between the pass and the write bunches requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

IN_FLIGHT_US = 30_000_000  # a send whose process died mid-request stops counting after this
BURST = 1  # sends of credit the pace may hold after a stall


class Limiter(Protocol):
    async def wait_for_chat(self, channel: str, chat: str, interval: float) -> None: ...

    async def wait_global(self, channel: str, per_second: float, ceiling: int | None = None) -> str:
        """Wait for a slot; returns a ticket to hand to :meth:`done` once the request completed."""
        ...

    async def done(self, channel: str, ticket: str) -> None: ...

    async def pause(self, channel: str, chat: str, seconds: float, *, whole_channel: bool = True) -> None: ...


@dataclass
class _Window:
    in_flight: set[str] = field(default_factory=set)
    completed: list[float] = field(default_factory=list)  # completion times within the last second
    freed: asyncio.Event = field(default_factory=asyncio.Event)


class LocalLimiter:
    """In-process buckets (the embedded default)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._tat: dict[str, float] = {}
        self._next: OrderedDict[str, float] = OrderedDict()
        self._paused: dict[str, float] = {}
        self._windows: dict[str, _Window] = {}
        self._capacity = capacity
        self._seq = 0

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

    async def wait_global(self, channel: str, per_second: float, ceiling: int | None = None) -> str:
        # The pace: reserve the next slot on the schedule.
        interval = 1.0 / per_second
        now = time.monotonic()
        tat = max(now, self._tat.get(channel, 0.0), self._paused.get(channel, 0.0))
        self._tat[channel] = tat + interval
        start = max(now, tat - (BURST - 1) * interval)
        if start > now:
            await asyncio.sleep(start - now)
        # The ceiling: sends in flight, and sends completed within the last second.
        cap = max(1, ceiling or math.floor(per_second))
        window = self._windows.setdefault(channel, _Window())
        while True:
            now = time.monotonic()
            window.completed = [t for t in window.completed if t > now - 1.0]
            if len(window.in_flight) + len(window.completed) < cap:
                self._seq += 1
                ticket = str(self._seq)
                window.in_flight.add(ticket)
                return ticket
            window.freed.clear()
            wait = min(window.completed) + 1.0 - now if window.completed else 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(window.freed.wait(), timeout=max(wait, 0.001))

    async def done(self, channel: str, ticket: str) -> None:
        window = self._windows.get(channel)
        if window is not None and ticket in window.in_flight:
            window.in_flight.discard(ticket)
            window.completed.append(time.monotonic())
            window.freed.set()

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

# The ceiling's window. KEYS[1] = a sorted set of sends: score = completion time, or, while in
# flight, the time after which a send whose process died stops counting. ARGV[1] = span (µs),
# ARGV[2] = ceiling, ARGV[3] = the ticket, ARGV[4] = how long an unfinished send counts (µs).
# Returns 0 (the ticket is in flight) or how many µs to wait before asking again.
_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local span = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.floor((span + tonumber(ARGV[4])) / 1000) + 1000)
  return 0
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
if oldest > now then
  return 2000
end
return oldest + span - now + 1
"""

# A send has completed: from now on it counts for one more span. KEYS[1] = the window, ARGV[1] = ticket.
_DONE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
return redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
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
        self._done = self.redis.register_script(_DONE)
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

    async def wait_global(self, channel: str, per_second: float, ceiling: int | None = None) -> str:
        await self._wait(f"{self.ns}:rl:{channel}:global", 1.0 / per_second, BURST)
        cap = max(1, ceiling or math.floor(per_second))
        self._sends += 1
        ticket = f"{self._id}-{self._sends}"
        while True:
            delay_us = int(
                await self._window(keys=[f"{self.ns}:rl:{channel}:window"], args=[1_000_000, cap, ticket, IN_FLIGHT_US])
            )
            if delay_us <= 0:
                return ticket
            await asyncio.sleep(delay_us / 1_000_000)

    async def done(self, channel: str, ticket: str) -> None:
        await self._done(keys=[f"{self.ns}:rl:{channel}:window"], args=[ticket])

    async def pause(self, channel: str, chat: str, seconds: float, *, whole_channel: bool = True) -> None:
        micros = int(seconds * 1_000_000)
        keys = [f"{self.ns}:rl:{channel}:chat:{chat}"]
        if whole_channel:
            keys.append(f"{self.ns}:rl:{channel}:global")
            await self.redis.set(f"{self.ns}:rl:{channel}:pause", "1", px=max(1, int(seconds * 1000)))
        await self._pause(keys=keys, args=[micros])

    async def close(self) -> None:
        await self.redis.aclose()
