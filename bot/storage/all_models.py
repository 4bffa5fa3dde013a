"""Import every module that defines tables, so the metadata is complete."""

import bot.storage.models_whatsapp  # noqa: F401
from bot.storage import models  # noqa: F401
