"""The composition root: settings, database, clock, conversations and delivery, built once."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.clock import Clock, SimulatedClock, SystemClock, refresh
from bot.config import Settings
from bot.conversation import Conversations
from bot.core.host import Links
from bot.core.messages import Sender
from bot.delivery import LIMITS, ChannelLimits, Delivery
from bot.ratelimit import Limiter, LocalLimiter, RedisLimiter
from bot.storage.db import Database


@dataclass
class App:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    links: Links = field(default_factory=Links)
    senders: dict[str, Sender] = field(default_factory=dict)
    web: Any = None  # the FastAPI app, where channels mount their webhooks
    conversations: Conversations = field(init=False)
    delivery: Delivery = field(init=False)

    def __post_init__(self) -> None:
        from handlers import build_routers

        self.conversations = Conversations(self, build_routers())
        self.delivery = Delivery(
            self.db,
            self.clock,
            self.senders,
            limiter=build_limiter(self.settings),
            limits=channel_limits(self.settings),
            stale_after=timedelta(seconds=self.settings.sending_stale_seconds),
        )

    def add_sender(self, sender: Sender) -> None:
        self.senders[sender.channel] = sender

    async def refresh_clock(self) -> None:
        """Read the simulated clock again (a no-op on the real clock)."""
        await refresh(self.clock)

    def notify_outbox(self) -> None:
        self.delivery.notify()

    async def close(self) -> None:
        close = getattr(self.delivery.limiter, "close", None)
        if close is not None:
            await close()
        await self.conversations.flood.close()
        await self.db.dispose()


def build_limiter(settings: Settings) -> Limiter:
    """Shared through Redis when several processes send with one token; in memory otherwise."""
    if settings.redis_url:
        return RedisLimiter(settings.redis_url, settings.redis_namespace)
    return LocalLimiter()


def channel_limits(settings: Settings) -> dict[str, ChannelLimits]:
    base = LIMITS["telegram"]
    return {
        "telegram": ChannelLimits(
            per_second=settings.telegram_rate_per_second,
            chat_interval=base.chat_interval,
            group_interval=base.group_interval,
            # Telegram's 30 a second, or the pace if a test or a raised limit asks for more.
            ceiling=max(base.ceiling or 30, math.floor(settings.telegram_rate_per_second)),
        )
    }


def build_app(settings: Settings, *, clock: Clock | None = None) -> App:
    """The app; on FORUMBOT_SIMULATED_CLOCK its clock is the database's (call `refresh_clock`)."""
    db = Database(settings.effective_database_url)
    if clock is None:
        clock = SimulatedClock(db) if settings.simulated_clock else SystemClock()
    return App(settings=settings, db=db, clock=clock)
