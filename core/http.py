"""Small HTTP helpers shared by core and plugins: JSON errors that name the problem,
bounded body reading, and finding the site a request is for."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse

if TYPE_CHECKING:  # pragma: no cover
    from canales.core.site import Site

SITE_SCOPE_KEY = "canales.site"
DEFAULT_BODY_LIMIT = 64 * 1024
# The largest WebSocket message the server accepts (``canales serve`` passes it to
# uvicorn): a bigger one is refused with close code 1009 from its length header,
# before it is read into memory. Sockets may refuse smaller ones themselves.
WS_MAX_SIZE = 64 * 1024


class HTTPProblem(Exception):
    """An error answered as ``{"error": code, "message": …, "field": …}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def json_error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return HTTPProblem(status, code, message, field=field).response()


def site_of(conn: HTTPConnection) -> "Site":
    """The site a request under ``/s/{site}/`` is for."""
    return conn.scope[SITE_SCOPE_KEY]


async def read_body(request: Request, limit: int = DEFAULT_BODY_LIMIT) -> bytes:
    """The raw body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise HTTPProblem(413, "too_large", f"the body is larger than {limit} bytes")
        except ValueError:
            raise HTTPProblem(400, "bad_length", "Content-Length is not a number") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPProblem(413, "too_large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _no_constants(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode a UTF-8 JSON object, with errors that say what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPProblem(400, "invalid_utf8", f"the body is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except ValueError as exc:
        raise HTTPProblem(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HTTPProblem(400, "too_deep", "the JSON is nested too deeply") from None
    if not isinstance(value, dict):
        raise HTTPProblem(422, "not_an_object", "the body must be a JSON object")
    return value
