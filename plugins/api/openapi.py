"""The API channel's OpenAPI 3.1 document, built from the models in
:mod:`canales.plugins.api.schemas` so that it cannot drift from what the code
validates. Served at ``/s/{site}/api/openapi.json``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from canales import __version__
from canales.plugins.api import schemas

if TYPE_CHECKING:  # pragma: no cover
    from canales.core.site import Site

MODELS: list[type[BaseModel]] = [
    schemas.InboundMessage,
    schemas.PostResult,
    schemas.MessageList,
    schemas.ReplyCallback,
    schemas.Problem,
]

SIGNED = [{"signature": []}]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _problem(description: str) -> dict[str, Any]:
    return _json(schemas.Problem, description)


def components() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation") for m in MODELS], ref_template="#/components/schemas/{model}"
    )
    return defs["$defs"]


def document(site: "Site") -> dict[str, Any]:
    base = f"/s/{site.id}/api"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"canales API channel — {site.name}",
            "version": __version__,
            "description": (
                "Post citizens' messages to the site and receive replies on a signed "
                "callback. Sign each request with headers X-Canales-Timestamp (Unix "
                "seconds) and X-Canales-Signature: sha256=HMAC-SHA256(secret, "
                "'{timestamp}.{body}'); for GET requests the body is the path with its "
                "query string. Callbacks are signed the same way and carry "
                "X-Canales-Delivery, stable across retries."
            ),
        },
        "paths": {
            f"{base}/messages": {
                "post": {
                    "operationId": "postMessage",
                    "summary": "Post a citizen's message",
                    "security": SIGNED,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref(schemas.InboundMessage)}},
                    },
                    "responses": {
                        "202": _json(schemas.PostResult, "Stored; it will be routed and answered."),
                        "200": _json(schemas.PostResult, "A message with this id was stored before; nothing new stored."),
                        "400": _problem("Not UTF-8 or not JSON."),
                        "401": _problem("Missing, wrong or stale signature."),
                        "413": _problem("Body larger than the site's limit."),
                        "422": _problem("A field is missing, unknown or of the wrong type."),
                    },
                    "callbacks": {
                        "reply": {
                            "{$site.callback_url}": {
                                "post": {
                                    "requestBody": {
                                        "content": {"application/json": {"schema": _ref(schemas.ReplyCallback)}}
                                    },
                                    "responses": {"200": {"description": "Accepted; any 2xx will do."}},
                                }
                            }
                        }
                    },
                }
            },
            f"{base}/conversations/{{conversation_id}}/messages": {
                "get": {
                    "operationId": "listMessages",
                    "summary": "Messages of a conversation after a sequence number",
                    "security": SIGNED,
                    "parameters": [
                        {"name": "conversation_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                        {"name": "after", "in": "query", "schema": {"type": "integer", "default": 0}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 100, "maximum": 500}},
                    ],
                    "responses": {
                        "200": _json(schemas.MessageList, "The messages, oldest first (internal notes excluded)."),
                        "401": _problem("Missing, wrong or stale signature."),
                        "404": _problem("No such conversation on this site's API channel."),
                        "422": _problem("A parameter is not an integer."),
                    },
                }
            },
            f"{base}/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": {"description": "The OpenAPI document."}},
                }
            },
        },
        "components": {
            "schemas": components(),
            "securitySchemes": {
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Canales-Signature",
                    "description": "sha256=HMAC-SHA256(secret, '{X-Canales-Timestamp}.{body}')",
                }
            },
        },
    }
