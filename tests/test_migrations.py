"""Migrations create exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from canales.core import migrate
from canales.core.db import async_url


async def test_models_and_migrations_agree(database_url: str) -> None:
    migrate.import_models()
    engine = create_async_engine(async_url(database_url))

    # Compare canales' own tables (core and built-in plugins); a test may have put a
    # third-party plugin's models in the shared metadata.
    ours = {
        mapper.local_table.name
        for mapper in SQLModel._sa_registry.mappers
        if mapper.class_.__module__.startswith("canales.")
    }

    # PostgreSQL's full-text index for inbox search is an expression index written
    # in the migration for that database only; the models cannot describe it.
    postgres_only = {"ix_message_text_fts"}

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "index" and name in postgres_only:
            return False
        return type_ != "table" or name in ours or reflected

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include})
        return compare_metadata(context, SQLModel.metadata)

    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == [], "models differ from migrations; run `canales db revision`"


async def test_the_database_is_at_every_branch_head(database_url: str) -> None:
    assert await migrate.current(database_url) == migrate.heads()
    assert any(h.startswith("core_") for h in migrate.heads())
