"""The deployment's simulated clock (FORUMBOT_SIMULATED_CLOCK): one row, or none for real time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base


class SimulatedClockRow(Base):
    """Simulated time is `at` + (real now − `set_at`): it runs on from where it was set."""

    __tablename__ = "simulated_clock"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    at: Mapped[datetime]
    set_at: Mapped[datetime]
