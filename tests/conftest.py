"""Test fixtures: a fresh app per test, built from a site file, on SQLite and on a
real PostgreSQL; the real Redis; a controllable clock.

With ``CANALES_REQUIRE_SERVICES=1`` (CI sets it) a test that would be skipped for
lack of PostgreSQL, Redis or Chromium fails instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import os
import secrets
import shutil
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from canales.core import migrate
from canales.core.app import create_app
from canales.core.runtime import Canales

REQUIRE = os.environ.get("CANALES_REQUIRE_SERVICES") == "1"
POSTGRES_BASE = os.environ.get("CANALES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CANALES_TEST_REDIS", "redis://127.0.0.1:6379/15")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if REQUIRE and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped while CANALES_REQUIRE_SERVICES=1: {reason}"


def run_sync(coro: Any) -> Any:
    """Run a coroutine to completion from sync code, even inside a running loop
    (session fixtures may be first requested by an async test)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def unavailable(what: str) -> None:
    """Skip (or, in CI, fail) a test whose service is not reachable."""
    pytest.skip(f"{what} is not available")


# --- clock ------------------------------------------------------------------------


class Clock:
    """A settable clock for sites: ``clock.set(...)``, ``clock.advance(minutes=5)``."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.value = start

    def __call__(self) -> dt.datetime:
        return self.value or dt.datetime.now(dt.timezone.utc)

    def set(self, value: dt.datetime) -> None:
        assert value.tzinfo is not None
        self.value = value

    def advance(self, **delta: float) -> None:
        self.value = self() + dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --- databases ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    run_sync(migrate.upgrade(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Any:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover
        yield None
        return
    base = POSTGRES_BASE.replace("postgresql://", "postgres://", 1)
    name = f"canales_test_{os.getpid()}_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(base, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        run_sync(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
        yield None
        return
    url = POSTGRES_BASE.rsplit("/", 1)[0] + f"/{name}"
    run_sync(migrate.upgrade(url))
    yield url
    run_sync(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1))
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{t["tablename"]}"' for t in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str:
    """A migrated, empty database: SQLite, then PostgreSQL (the same test runs on
    both)."""
    if request.param == "sqlite":
        path = tmp_path / "canales.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    if url is None:
        unavailable("PostgreSQL")
    await _truncate(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty SQLite database, for tests whose subject is not storage."""
    path = tmp_path / "canales.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def redis_available() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return None
    return REDIS_URL


@pytest.fixture
def redis_url(redis_available: str | None) -> str:
    if redis_available is None:
        unavailable("Redis")
    return redis_available  # type: ignore[return-value]


# --- sites and apps -----------------------------------------------------------------

DEFAULT_SITE = """
id = "{id}"
name = "Sitio {id}"

[hours]
always = true

[holidays]
categories = []

[plugins.api]
secret = {{ env = "TEST_API_SECRET" }}
"""


@pytest.fixture
def site_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write a site file: ``site_file(toml_text)`` or ``site_file(id="x")`` for the
    default (24 h, API channel enabled with secret ``$TEST_API_SECRET``)."""
    monkeypatch.setenv("TEST_API_SECRET", "test-secret-123")

    def write(text: str | None = None, *, id: str = "uno", name: str | None = None) -> Path:
        body = textwrap.dedent(text) if text is not None else DEFAULT_SITE.format(id=id)
        path = tmp_path / f"{name or id}.toml"
        path.write_text(body, "utf-8")
        return path

    return write


class Running:
    """A started app and a client to it."""

    def __init__(self, canales: Canales, client: httpx.AsyncClient) -> None:
        self.canales = canales
        self.client = client
        self.app = client._transport.app  # type: ignore[attr-defined]

    def site(self, site_id: str | None = None) -> Any:
        if site_id is None:
            return next(iter(self.canales.sites.values()))
        return self.canales.sites[site_id]


@pytest.fixture
async def run_app(database_url: str, clock: Clock) -> AsyncIterator[Callable[..., Any]]:
    """``async with run_app(site_paths...) as running:`` starts an app on the test's
    database (SQLite, then PostgreSQL: the test runs on both)."""
    async for factory in _runner_factory(database_url, clock):
        yield factory


@pytest.fixture
async def run_sqlite_app(sqlite_url: str, clock: Clock) -> AsyncIterator[Callable[..., Any]]:
    """Like ``run_app``, on SQLite only: for tests whose subject is not storage."""
    async for factory in _runner_factory(sqlite_url, clock):
        yield factory


async def _runner_factory(database_url: str, clock: Clock) -> AsyncIterator[Callable[..., Any]]:
    started: list[Canales] = []

    def factory(*sites: Path, **kwargs: Any) -> Any:
        kwargs.setdefault("database_url", database_url)
        kwargs.setdefault("clock", clock)
        # Test runs may share a Redis; a prefix of their own keeps their events apart.
        kwargs.setdefault("bus_prefix", f"canales-test-{secrets.token_hex(4)}:")
        return _Runner(list(sites), kwargs, started)

    yield factory
    for canales in started:
        if canales.started:
            await canales.stop()


class _Runner:
    def __init__(self, sites: list[Path], kwargs: dict[str, Any], started: list[Canales]) -> None:
        self.sites = sites
        self.kwargs = kwargs
        self.started = started

    async def __aenter__(self) -> Running:
        canales = self.canales = Canales(self.sites, **self.kwargs)
        self.started.append(canales)
        app = create_app(canales)
        await canales.start()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        return Running(canales, self.client)

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.aclose()
        if self.canales.started:
            await self.canales.stop()
