"""The bot's public addresses, for invite links (`forumbot invite`, /invite)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


async def resolve(app: Any) -> None:
    """Fill ``app.links``: the wa.me number from the settings, the t.me username from getMe."""
    settings = app.settings
    if settings.whatsapp_display_number:
        app.links.whatsapp_number = settings.whatsapp_display_number
    if settings.telegram_enabled and not app.links.telegram_username:
        from bot.channels.telegram import make_bot

        bot = make_bot(settings)
        try:
            app.links.telegram_username = (await bot.get_me()).username
        except Exception as exc:  # the code is still printed; only the link needs the username
            log.warning("could not ask Telegram for the bot's username: %s", type(exc).__name__)
        finally:
            await bot.session.close()
