"""Alembic environment for canales: core's tables and every plugin's, one branch
each. Run through ``canales db upgrade`` (see :mod:`canales.core.migrate`)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from canales.core.migrate import import_models

import_models()
target_metadata = SQLModel.metadata


def _configure_and_run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `canales db upgrade`, which passes a connection")
_configure_and_run(connection)
