"""Import every module that defines tables, so the metadata is complete."""

from bot.storage import models, models_polls  # noqa: F401
