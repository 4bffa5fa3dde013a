from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import bot.storage.all_models  # noqa: F401
from bot.app import App
from bot.storage.models import Base


async def test_migrations_create_every_table_and_match_the_models(app: App) -> None:
    def check(sync_conn: Any) -> tuple[set[str], list[Any]]:
        tables = set(inspect(sync_conn).get_table_names())
        context = MigrationContext.configure(sync_conn, opts={"compare_type": False})
        return tables, compare_metadata(context, Base.metadata)

    async with app.db.engine.connect() as conn:
        tables, diff = await conn.run_sync(check)
    assert set(Base.metadata.tables) <= tables
    assert diff == [], f"models and migrations differ: {diff}"
