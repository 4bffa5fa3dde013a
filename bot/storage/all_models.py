"""Import every module that defines tables, so the metadata is complete."""

from bot.storage import (
    models,  # noqa: F401
    models_keshet,  # noqa: F401
)
