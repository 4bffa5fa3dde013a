"""What a conversation needs from the running deployment, as a protocol.

`bot.app.App` is the one implementation; the conversation layer and the handlers see only this, so
the composition root can import them without either importing it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.config import Settings
    from bot.storage.db import Database


@dataclass
class Links:
    """Public addresses the bot can hand out (filled in by the channels at start-up)."""

    telegram_username: str | None = None
    whatsapp_number: str | None = None


class Host(Protocol):
    settings: Settings
    db: Database
    clock: Clock
    links: Links

    def notify_outbox(self) -> None:
        """Wake the delivery workers: something was written to the outbox."""
