"""The plain HTTP/API channel: signed messages in, signed callbacks out, a stable
delivery id across retries, clear JSON errors that store nothing, and an OpenAPI
document that matches the code."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jsonschema
import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from canales.core.models import Contact, Delivery, Message
from canales.core.replies import send_reply
from canales.core.signing import sign, verify
from helpers import api_message, eventually, serve, signed

SECRET = "test-secret-123"


def site_with_callback(callback: str | None) -> str:
    return f"""
id = "uno"
name = "Uno"
[hours]
always = true
[holidays]
categories = []
[plugins.api]
secret = {{ env = "TEST_API_SECRET" }}
{f'callback_url = "{callback}"' if callback else ''}
callback_timeout = 2
"""


async def stored(app: Any) -> tuple[int, int]:
    async with app.site().db.read() as session:
        messages = (await session.exec(select(func.count()).select_from(Message))).one()
        contacts = (await session.exec(select(func.count()).select_from(Contact))).one()
    return messages, contacts


async def test_a_signed_message_is_stored_once(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(site_with_callback(None))) as app:
        body = api_message("m-1", "¿Cómo saco la cédula?", sender="598991")
        first = await app.client.post("/s/uno/api/messages", content=body, headers=signed(SECRET, body))
        again = await app.client.post("/s/uno/api/messages", content=body, headers=signed(SECRET, body))
        assert first.status_code == 202 and first.json()["duplicate"] is False
        assert again.status_code == 200 and again.json()["duplicate"] is True
        assert again.json()["message"]["id"] == first.json()["message"]["id"]
        assert first.json()["message"]["text"] == "¿Cómo saco la cédula?"
        assert await stored(app) == (1, 1)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing signature"),
        ({"x-canales-signature": "sha256=" + "0" * 64}, "missing timestamp"),
        ({"x-canales-timestamp": "{now}", "x-canales-signature": "sha256=" + "0" * 64}, "wrong signature"),
        ({"x-canales-timestamp": "{now}", "x-canales-signature": "sha1=abc"}, "must be sha256="),
        ({"x-canales-timestamp": "{now}", "x-canales-signature": "{truncated}"}, "must be sha256="),
        ({"x-canales-timestamp": "{old}", "x-canales-signature": "{good_old}"}, "too old"),
        ({"x-canales-timestamp": "ayer", "x-canales-signature": "{good}"}, "whole number"),
    ],
)
async def test_unsigned_or_badly_signed_requests_are_refused(
    run_app: Any, site_file: Any, headers: dict[str, str], reason: str
) -> None:
    body = api_message("m-1")
    now, old = int(time.time()), int(time.time()) - 3600
    good = sign(SECRET, now, body)
    values = {"now": str(now), "old": str(old), "good": good, "truncated": good[:-4], "good_old": sign(SECRET, old, body)}
    headers = {k: v.format(**values) for k, v in headers.items()}
    async with run_app(site_file(site_with_callback(None))) as app:
        response = await app.client.post("/s/uno/api/messages", content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "bad_signature" and reason in response.json()["message"]
        assert await stored(app) == (0, 0)


async def test_a_signature_over_other_bytes_is_refused(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(site_with_callback(None))) as app:
        body = api_message("m-1")
        reserialised = json.dumps(json.loads(body), indent=1).encode()
        response = await app.client.post("/s/uno/api/messages", content=reserialised, headers=signed(SECRET, body))
        assert response.status_code == 401
        assert await stored(app) == (0, 0)


@pytest.mark.parametrize(
    ("body", "status", "error", "field"),
    [
        (b"\xff\xfe{}", 400, "invalid_utf8", None),
        (b'{"id": "m-1", ', 400, "invalid_json", None),
        (b"[1, 2]", 422, "not_an_object", None),
        (b'{"id": "m-1", "sender": {"id": "u"}, "text": NaN}', 400, "invalid_json", None),
        (b"[" * 20000, 400, "too_deep", None),
        (b'{"sender": {"id": "u"}, "text": "hola"}', 422, "invalid", "id"),
        (b'{"id": "m-1", "text": "hola"}', 422, "invalid", "sender"),
        (b'{"id": "m-1", "sender": {}, "text": "hola"}', 422, "invalid", "sender.id"),
        (b'{"id": "m-1", "sender": {"id": "u"}, "text": {"$regex": ".*"}}', 422, "invalid", "text"),
        (b'{"id": 7, "sender": {"id": "u"}, "text": "hola"}', 422, "invalid", "id"),
        (b'{"id": "m-1", "sender": {"id": ["u"]}, "text": "hola"}', 422, "invalid", "sender.id"),
        (b'{"id": "m-1", "sender": {"id": "u"}, "text": "hola", "site_id": "dos"}', 422, "invalid", "site_id"),
        (b'{"id": "m-1", "sender": {"id": "u"}, "text": "   "}', 422, "invalid", "text"),
        (b'{"id": "m-1", "sender": {"id": "u"}, "text": "nul\\u0000"}', 422, "invalid", "text"),
        (b'{"id": "m-1", "sender": {"id": "u"}, "text": "\\ud800"}', 422, "invalid", "text"),
        (json.dumps({"id": "m-1", "sender": {"id": "u"}, "text": "x" * 4097}).encode(), 422, "invalid", "text"),
    ],
)
async def test_bad_bodies_get_a_json_error_and_store_nothing(
    run_app: Any, site_file: Any, body: bytes, status: int, error: str, field: str | None
) -> None:
    async with run_app(site_file(site_with_callback(None))) as app:
        response = await app.client.post("/s/uno/api/messages", content=body, headers=signed(SECRET, body))
        assert (response.status_code, response.json()["error"]) == (status, error)
        assert response.json().get("field") == field
        assert await stored(app) == (0, 0)


async def test_oversized_body_is_refused_without_reading_it(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(site_with_callback(None))) as app:
        body = api_message("m-1", "x" * 70000)
        response = await app.client.post("/s/uno/api/messages", content=body, headers=signed(SECRET, body))
        assert response.status_code == 413 and response.json()["error"] == "too_large"

        async def chunks() -> Any:  # no Content-Length: counted while streaming
            for _ in range(100):
                yield b"x" * 1024

        response = await app.client.post("/s/uno/api/messages", content=chunks(), headers=signed(SECRET, b""))
        assert response.status_code == 413
        assert await stored(app) == (0, 0)


class Receiver:
    """A callback endpoint: fails the first ``failures`` calls with 503, then
    accepts; verifies each signature."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        verify(SECRET, request.headers.get("x-canales-timestamp"), request.headers.get("x-canales-signature"), body)
        data = json.loads(body)
        self.calls.append({"delivery": request.headers["x-canales-delivery"], "body": data})
        if len(self.calls) <= self.failures:
            return JSONResponse({"busy": True}, status_code=503, headers={"retry-after": "0"})
        return JSONResponse({"ok": True})


async def test_replies_reach_the_callback_signed_with_a_stable_delivery_id(
    run_app: Any, site_file: Any, clock: Any
) -> None:
    receiver = Receiver(failures=1)
    async with serve(receiver.app) as base:
        async with run_app(site_file(site_with_callback(f"{base}/hook"))) as app:
            body = api_message("m-1", "hola", sender="598991", thread="t-9")
            posted = (await app.client.post("/s/uno/api/messages", content=body, headers=signed(SECRET, body))).json()
            await send_reply(app.site(), posted["conversation_id"], "¡Hola! ¿En qué te ayudamos?", author_kind="system")
            await eventually(lambda: len(receiver.calls) == 2, timeout=10)
            first, second = receiver.calls
            assert first["delivery"] == second["delivery"] == first["body"]["delivery_id"]
            assert second["body"]["recipient"] == {"id": "598991"}
            assert second["body"]["conversation"] == {"id": posted["conversation_id"], "thread": "t-9"}
            assert second["body"]["message"]["text"] == "¡Hola! ¿En qué te ayudamos?"
            assert second["body"]["message"]["seq"] == 2
            jsonschema.validate(second["body"], openapi_schema("ReplyCallback"))

            async def done() -> bool:
                async with app.site().db.read() as session:
                    return (await session.exec(select(Delivery.state))).one() == "done"

            await eventually(done)
            await asyncio.sleep(0.3)
            assert len(receiver.calls) == 2  # delivered once, never again


async def test_a_refused_callback_is_not_retried(run_app: Any, site_file: Any) -> None:
    refused: list[int] = []

    async def hook(request: Request) -> Response:
        refused.append(1)
        return JSONResponse({"error": "unknown user"}, status_code=404)

    async with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
        async with run_app(site_file(site_with_callback(f"{base}/hook"))) as app:
            body = api_message("m-1")
            posted = (await app.client.post("/s/uno/api/messages", content=body, headers=signed(SECRET, body))).json()
            await send_reply(app.site(), posted["conversation_id"], "respuesta", author_kind="system")

            async def failed() -> Any:
                async with app.site().db.read() as session:
                    return (await session.exec(select(Delivery).where(Delivery.state == "failed"))).first()

            delivery = await eventually(failed)
            assert "404" in (delivery.last_error or "") and delivery.attempts == 1
            assert refused == [1]


async def test_polling_for_replies(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(site_with_callback(None))) as app:
        body = api_message("m-1")
        posted = (await app.client.post("/s/uno/api/messages", content=body, headers=signed(SECRET, body))).json()
        cid = posted["conversation_id"]
        await send_reply(app.site(), cid, "primera", author_kind="system")
        from canales.core.replies import add_note

        await add_note(app.site(), cid, "nota interna", agent_id=None)
        await send_reply(app.site(), cid, "segunda", author_kind="system")
        path = f"/s/uno/api/conversations/{cid}/messages?after=1"
        response = await app.client.get(path, headers=signed(SECRET, path.encode()))
        assert response.status_code == 200
        assert [m["text"] for m in response.json()["messages"]] == ["primera", "segunda"]
        jsonschema.validate(response.json(), openapi_schema("MessageList"))
        unsigned = await app.client.get(path)
        assert unsigned.status_code == 401
        other = f"/s/uno/api/conversations/{cid + 100}/messages"
        assert (await app.client.get(other, headers=signed(SECRET, other.encode()))).status_code == 404
        bad = f"/s/uno/api/conversations/{cid}/messages?after=x"
        assert (await app.client.get(bad, headers=signed(SECRET, bad.encode()))).status_code == 422


# --- the OpenAPI document ------------------------------------------------------------------

_DOC: dict[str, Any] = {}


def openapi_schema(name: str) -> dict[str, Any]:
    """A component schema, resolvable on its own (with the document's $defs)."""
    from canales.plugins.api.openapi import components

    schemas = components()
    return {**schemas[name], "components": {"schemas": schemas}}


async def test_openapi_document_matches_the_routes_and_responses(run_app: Any, site_file: Any) -> None:
    from canales.plugins.api.routes import routes

    async with run_app(site_file(site_with_callback(None))) as app:
        doc = (await app.client.get("/s/uno/api/openapi.json")).json()
        from openapi_spec_validator import validate

        validate(doc)
        documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
        served = {(f"/s/uno{route.path}", method) for route in routes() for method in route.methods - {"HEAD"}}
        assert documented == served
        # A real response validates against the documented schema.
        body = api_message("m-1", sender="u")
        response = await app.client.post("/s/uno/api/messages", content=body, headers=signed(SECRET, body))
        schema = doc["paths"]["/s/uno/api/messages"]["post"]["responses"]["202"]["content"]["application/json"]["schema"]
        jsonschema.validate(response.json(), {**schema, "components": doc["components"]})
        error = await app.client.post("/s/uno/api/messages", content=b"{}", headers=signed(SECRET, b"{}"))
        jsonschema.validate(error.json(), {"$ref": "#/components/schemas/Problem", "components": doc["components"]})
        # The documented request schema accepts and refuses what the endpoint does.
        request_schema = {"$ref": "#/components/schemas/InboundMessage", "components": doc["components"]}
        jsonschema.validate({"id": "x", "sender": {"id": "u"}, "text": "hola"}, request_schema)
        for bad in ({"id": 7, "sender": {"id": "u"}, "text": "hola"}, {"id": "x", "sender": {"id": "u"}, "text": "hola", "extra": 1}):
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(bad, request_schema)
