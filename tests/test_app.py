"""The ASGI app: health, per-site routing, 404 for disabled plugins and unknown
sites, security headers."""

from __future__ import annotations

from typing import Any

import pytest

from canales.core.app import DEFAULT_CSP

ONE = 'id = "uno"\nname = "Uno"\n[plugins.api]\nsecret = { env = "TEST_API_SECRET" }\n'
TWO = 'id = "dos"\nname = "Dos"\n[plugins.chatbot]\n'


async def test_healthz_reports_database_and_bus(run_app: Any, site_file: Any, database_url: str) -> None:
    async with run_app(site_file(ONE, id="uno")) as app:
        response = await app.client.get("/healthz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok" and body["sites"] == ["uno"]
        assert body["database"] == {"kind": "postgresql" if "postgres" in database_url else "sqlite", "ok": True}
        assert body["bus"] == {"kind": "memory", "ok": True}


async def test_healthz_with_the_redis_bus(run_sqlite_app: Any, site_file: Any, redis_url: str) -> None:
    async with run_sqlite_app(site_file(ONE, id="uno"), redis_url=redis_url) as app:
        body = (await app.client.get("/healthz")).json()
        assert body["bus"]["kind"] == "redis" and body["bus"]["ok"] is True


async def test_healthz_says_when_the_database_is_gone(run_sqlite_app: Any, site_file: Any) -> None:
    from canales.core.db import Database

    async with run_sqlite_app(site_file(ONE, id="uno")) as app:
        working = app.canales.db
        app.canales.db = Database("postgresql://nobody@127.0.0.1:1/none")  # nothing listens there
        try:
            response = await app.client.get("/healthz")
        finally:
            await app.canales.db.close()
            app.canales.db = working
        assert response.status_code == 503
        assert response.json()["status"] == "degraded" and response.json()["database"]["ok"] is False


async def test_a_plugin_serves_only_the_sites_that_enable_it(run_sqlite_app: Any, site_file: Any) -> None:
    async with run_sqlite_app(site_file(ONE, id="uno"), site_file(TWO, id="dos")) as app:
        assert (await app.client.get("/s/uno/api/openapi.json")).status_code == 200
        missing = await app.client.get("/s/dos/api/openapi.json")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        assert (await app.client.get("/s/tres/api/openapi.json")).status_code == 404
        assert (await app.client.get("/s/")).status_code == 404


@pytest.mark.parametrize("path", ["/healthz", "/s/uno/api/openapi.json", "/s/nadie/x", "/no/such/page"])
async def test_security_headers_on_every_response(run_sqlite_app: Any, site_file: Any, path: str) -> None:
    async with run_sqlite_app(site_file(ONE, id="uno")) as app:
        response = await app.client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert response.headers["content-security-policy"] == DEFAULT_CSP
        assert "frame-ancestors 'none'" in DEFAULT_CSP and "object-src 'none'" in DEFAULT_CSP
