"""What the messengers' own buttons mean (declared actions, bot.core.actions): a WhatsApp adapter
mints them for a template's quick reply and a long menu's "More…" row; handlers/channels.py answers."""

from __future__ import annotations

from bot.core.actions import Action


class ReleaseHeld(Action, name="channels.release_held", was=("held",)):
    """The quick reply of a "you have a message" template: everything held, oldest first."""


class NextPage(Action, name="channels.next_page", was=("page",)):
    """The "More…" row of a menu too long for one WhatsApp list."""

    held_id: int
