"""The conversations, written once for every channel. Each module builds its own router."""

from __future__ import annotations

from bot.conversation import Router


def build_routers() -> list[Router]:
    from handlers import core, groups, keshet, registration, surveys

    return [registration.build(), core.build(), groups.build(), keshet.build(), surveys.build()]
