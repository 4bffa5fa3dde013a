"""What the messengers' own buttons mean (declared actions, bot.core.actions): a WhatsApp adapter
mints them for a template's quick reply and a long menu's "More…" row; handlers/channels.py answers."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.actions import Action, action


@action("channels.release_held", was=("held",))
@dataclass(frozen=True)
class ReleaseHeld(Action):
    """The quick reply of a "you have a message" template: everything held, oldest first."""


@action("channels.next_page", was=("page",))
@dataclass(frozen=True)
class NextPage(Action):
    """The "More…" row of a menu too long for one WhatsApp list."""

    held_id: int
