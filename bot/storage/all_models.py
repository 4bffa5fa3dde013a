"""Import every module that defines tables, so the metadata is complete."""

from bot.storage import (  # noqa: F401
    models,
    models_agenda,
    models_clock,
    models_escalation,
    models_keshet,
    models_polls,
    models_web,
    models_whatsapp,
)
