"""The OpenAPI 3.1 document of the inbox's JSON API, generated from the endpoint
table (:data:`canales.core.inbox.api.ENDPOINTS`) and the pydantic models, so that
the document and the routes cannot drift apart. Served at
``/inbox/api/v1/openapi.json``."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from canales import __version__
from canales.core.inbox import api_schemas as s
from canales.core.inbox.api import ENDPOINTS, PREFIX, Endpoint

ERRORS = {
    "401": "No valid token or session.",
    "404": "No such object on a site of the caller (another site's objects are not found either).",
    "422": "A field is missing, unknown or invalid, or the action was refused (the message says why).",
}


def _models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = [s.Problem]
    for endpoint in ENDPOINTS:
        for model in (endpoint.body, endpoint.response):
            if model is not None and model not in found:
                found.append(model)
    return found


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string" if name == "site_id" else "integer"}}
        for name in re.findall(r"{(\w+)}", endpoint.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": description}
        for name, kind, description in endpoint.query
    ]
    responses: dict[str, Any] = {
        str(endpoint.status): {
            "description": "OK",
            **({"content": {"application/json": {"schema": _ref(endpoint.response)}}} if endpoint.response else {}),
        }
    }
    if endpoint.operation_id != "openapi":
        for status, description in ERRORS.items():
            responses[status] = {"description": description, "content": {"application/json": {"schema": _ref(s.Problem)}}}
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "parameters": parameters,
        "responses": responses,
    }
    if endpoint.operation_id == "openapi":
        operation["security"] = []
    if endpoint.body is not None:
        operation["requestBody"] = {"required": endpoint.body is not s.Empty, "content": {"application/json": {"schema": _ref(endpoint.body)}}}
    return operation


def document() -> dict[str, Any]:
    """The OpenAPI document."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(PREFIX + endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    _, defs = models_json_schema([(m, "validation") for m in _models()], ref_template="#/components/schemas/{model}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "canales — API de la bandeja de agentes",
            "version": __version__,
            "description": (
                "What the agents' inbox shows and does, for programs. Authenticate with "
                "'Authorization: Bearer <token>' (a token a site's admin issues in the inbox, "
                "acting as one agent on one site with that agent's role). A browser session "
                "works too, with the header X-CSRF-Token on every call that changes something. "
                "Objects of sites the caller does not work on answer 404."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer", "description": "An API token (cnl_…)."}},
        },
    }
