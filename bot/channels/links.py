"""The bot's public addresses, for invite links (`forumbot invite`, /invite).

Kept tiny on purpose: each channel fills in its own line.
"""

from __future__ import annotations

from typing import Any


async def resolve(app: Any) -> None:
    """Fill ``app.links`` from the settings (and, for Telegram, from the Bot API)."""
    settings = app.settings
    if settings.whatsapp_display_number:
        app.links.whatsapp_number = settings.whatsapp_display_number
    # --- Telegram: the Telegram channel's engineer fills this in ------------------------------
    # e.g. app.links.telegram_username = (await bot.get_me()).username   (see bot.channels.telegram)
    # -------------------------------------------------------------------------------------------
