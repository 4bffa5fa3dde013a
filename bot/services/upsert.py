"""INSERT … ON CONFLICT DO UPDATE on SQLite and PostgreSQL: a later answer replaces the earlier one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.sql import dialect_of


async def upsert(
    session: AsyncSession, table: Table, values: dict[str, Any], *, conflict: Sequence[str], update: Sequence[str]
) -> None:
    """Insert ``values``; when a row with the same ``conflict`` columns exists, overwrite ``update``."""
    module: Any = postgresql if dialect_of(session) == "postgresql" else sqlite
    stmt = module.insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_={c: stmt.excluded[c] for c in update})
    await session.execute(stmt)
