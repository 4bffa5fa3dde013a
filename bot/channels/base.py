"""Moved to `bot.core.messages` (the core owns its ports); kept while older branches merge."""

from bot.core.messages import *  # noqa: F403
