"""The conversations, written once for every channel. Each module builds its own router."""

from __future__ import annotations

from bot.conversation import Router


def build_routers() -> list[Router]:
    from handlers import (
        agenda,
        channels,
        core,
        escalation,
        groups,
        issues,
        keshet,
        meeting,
        members,
        polls,
        registration,
        surveys,
        web,
    )

    return [
        registration.build(),
        core.build(),
        groups.build(),
        channels.build(),
        polls.build(),
        agenda.build(),
        issues.build(),
        meeting.build(),
        keshet.build(),
        surveys.build(),
        members.build(),
        escalation.build(),
        web.build(),
    ]
