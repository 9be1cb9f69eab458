"""Cross-site request forgery protection for everything under ``/inbox/``.

Every state-changing request (any method but GET, HEAD, OPTIONS) made with the
browser's cookies must

* come from the inbox's own origin, when the browser says where it comes from
  (``Origin``, else ``Referer``), and
* carry the session's CSRF token, in the ``X-CSRF-Token`` header (JSON calls) or
  a ``csrf_token`` form field (HTML forms).

It is one wrapper around the whole inbox, plugin pages included, so no route can
forget it. Calls authenticated with an API token (``Authorization: Bearer``) carry
no ambient credentials and skip the token check; they are accepted only under
``/inbox/api/``, where nothing reads cookies once a token is given.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from markupsafe import escape

from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from canales.core.inbox.access import csrf_secrets
from canales.core.inbox.sessions import csrf_matches
from canales.core.inbox.texts import text

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
# Inbox forms are small (a reply is at most 4096 characters); a bigger body is refused.
BODY_LIMIT = 256 * 1024
MAX_FIELDS = 1000


def own_origin(conn: HTTPConnection) -> str:
    scheme = {"ws": "http", "wss": "https"}.get(conn.url.scheme, conn.url.scheme)
    return f"{scheme}://{conn.url.netloc}"


def same_origin(conn: HTTPConnection) -> bool:
    """False when ``Origin`` (or, without it, ``Referer``) names another origin.
    A request that names none passes this check and still needs the token."""
    origin = conn.headers.get("origin")
    if origin is None:
        referer = conn.headers.get("referer")
        if not referer:
            return True
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin == own_origin(conn)


def _refuse(conn: HTTPConnection, code: str, status: int = 403) -> Response:
    message = text(f"refused.{code}")
    if conn.url.path.startswith("/inbox/api/") or "application/json" in conn.headers.get("accept", ""):
        return JSONResponse({"error": code, "message": message}, status_code=status)
    title = escape(text("refused.title"))
    return HTMLResponse(
        f"<!doctype html><html lang=\"es\"><meta charset=\"utf-8\"><title>{title}</title>"
        f"<h1>{title}</h1><p>{escape(message)}</p><p><a href=\"/inbox/\">{escape(text('refused.back'))}</a></p>",
        status_code=status,
    )


class CsrfGuard:
    """ASGI wrapper that refuses forged state-changing requests (see module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if conn.headers.get("authorization"):
            if conn.url.path.startswith("/inbox/api/"):
                await self.app(scope, receive, send)
            else:
                await _refuse(conn, "token_not_allowed", 401)(scope, receive, send)
            return
        if not same_origin(conn):
            await _refuse(conn, "cross_origin")(scope, receive, send)
            return
        secrets = csrf_secrets(conn)
        header = conn.headers.get(HEADER)
        if header is not None:
            if not any(csrf_matches(secret, header) for secret in secrets):
                await _refuse(conn, "csrf")(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        body, too_large = await _read(receive)
        if too_large:
            await _refuse(conn, "too_large", 413)(scope, receive, send)
            return
        given = None
        if conn.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            try:
                values = parse_qs(body.decode("utf-8", "replace"), max_num_fields=MAX_FIELDS)
            except ValueError:
                await _refuse(conn, "too_many_fields", 413)(scope, receive, send)
                return
            given = (values.get(FORM_FIELD) or [None])[0]
        if not any(csrf_matches(secret, given) for secret in secrets):
            await _refuse(conn, "csrf")(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_LIMIT:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the app, then waits on
    the real one (for the disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
