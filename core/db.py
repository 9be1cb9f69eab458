"""The database: SQLite (WAL, nothing to install) by default, PostgreSQL through
``DATABASE_URL``.

Two ways in: :meth:`Database.read` for queries and :meth:`Database.write` for
transactions that change something. On SQLite a write transaction starts with
``BEGIN IMMEDIATE``, so that a transaction that reads and then writes waits its turn
instead of failing when another writer got there first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

DEFAULT_URL = "sqlite:///canales.db"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no time zones and returns naive values; this type makes both backends
    behave alike and refuses naive datetimes on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def async_url(url: str) -> URL:
    """Accept the URLs people write (``sqlite:///x.db``, ``postgresql://…``) and pick
    the async driver for each."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(
        f"unsupported database {parsed.drivername!r}: use sqlite:///PATH or "
        f"postgresql://USER@HOST/DB"
    )


class Database:
    """The app's database connection pools (one for reads, one for writes on SQLite;
    one shared pool on PostgreSQL)."""

    def __init__(self, url: str = DEFAULT_URL, *, echo: bool = False) -> None:
        self.url = async_url(url)
        self.dialect = self.url.get_backend_name()
        # SQLite takes one writer at a time; a writer that finds the lock taken
        # sleeps in SQLite's busy handler (up to 100 ms a try). Queueing this
        # process's writers here instead makes them take turns without sleeping.
        self._write_turn = asyncio.Lock() if self.dialect == "sqlite" else None
        if self.dialect == "sqlite":
            self.writer = self._sqlite_engine(immediate=True, echo=echo)
            self.reader = self._sqlite_engine(immediate=False, echo=echo)
        else:
            self.writer = create_async_engine(
                self.url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True
            )
            self.reader = self.writer

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _sqlite_engine(self, *, immediate: bool, echo: bool) -> AsyncEngine:
        # Writers take turns anyway: one connection (one driver thread) serves them
        # all, which spares thread switches on every statement.
        in_memory = self.url.database in (None, "", ":memory:")
        pool = {"pool_size": 1, "max_overflow": 0} if immediate and not in_memory else {}
        engine = create_async_engine(
            self.url, echo=echo, connect_args={"timeout": 30}, **pool
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (below) instead of the driver's
            # implicit, deferred one.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries. Nothing it does is committed."""
        async with AsyncSession(self.reader, expire_on_commit=False) as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction: committed when the block ends, rolled back if it raises.
        Do not open another write transaction inside one."""
        if self._write_turn is None:
            async with AsyncSession(self.writer, expire_on_commit=False) as session:
                async with session.begin():
                    yield session
            return
        async with self._write_turn:
            async with AsyncSession(self.writer, expire_on_commit=False) as session:
                async with session.begin():
                    yield session

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        async with self.reader.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def close(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def upsert(database: Database, model: Any, values: dict[str, Any], keys: list[str], update: list[str]) -> Any:
    """An ``INSERT … ON CONFLICT (keys) DO UPDATE SET update…`` statement for
    either backend (both speak it; SQLAlchemy spells it per dialect)."""
    if database.is_sqlite:
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    statement = insert(model).values(**values)
    return statement.on_conflict_do_update(
        index_elements=keys, set_={name: statement.excluded[name] for name in update}
    )
