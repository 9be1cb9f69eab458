"""The webhook Meta calls, at ``/s/{site}/facebook/webhook``.

``GET`` is the verification handshake: ``hub.mode=subscribe`` and the site's verify
token give back ``hub.challenge``; anything else is 403 and echoes nothing.

``POST`` is authenticated by ``X-Hub-Signature-256``: the HMAC-SHA256 of the *raw*
body with the app secret, compared in constant time (a missing header is 401; a
wrong, ``sha1=`` or truncated one is 403; nothing is stored). The body is then
stored as it came (once: a redelivered body is recognised by its digest), the 200
goes out, and the events are handled after the response. A crash in between leaves
the body ``received``; the recovery job handles it again (every step is idempotent).
Storing and processing go through :class:`~.inbox.WebhookInbox` (group commit, one
processor per worker).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from canales.core.http import HTTPProblem, read_body, site_of
from canales.core.site import Site
from canales.plugins.facebook.models import FacebookWebhook
from canales.plugins.facebook.payload import Dead, parse
from canales.plugins.facebook.settings import FacebookSettings

log = logging.getLogger("canales.facebook.webhook")

PLUGIN = "facebook"
_SIGNATURE = re.compile(r"^sha256=[0-9a-f]{64}$")
# A body left "received" this long (seconds) was orphaned by a crash.
ORPHANED_AFTER = 30.0


def expected_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(settings: FacebookSettings, header: str | None, body: bytes) -> None:
    """Raise :class:`HTTPProblem` unless ``header`` signs ``body``."""
    if not header:
        raise HTTPProblem(401, "missing_signature", "X-Hub-Signature-256 is required")
    header = header.strip().lower()
    if not _SIGNATURE.match(header):
        # Never say what would have been right (Botpress returned the expected value).
        raise HTTPProblem(403, "bad_signature", "X-Hub-Signature-256 must be sha256= followed by 64 hex digits")
    if not hmac.compare_digest(header, expected_signature(settings.app_secret.reveal(), body)):
        raise HTTPProblem(403, "bad_signature", "X-Hub-Signature-256 does not match the body")


async def verify(request: Request) -> Response:
    settings: FacebookSettings = site_of(request).settings(PLUGIN)
    params = request.query_params
    token = params.get("hub.verify_token", "")
    challenge = params.get("hub.challenge", "")
    if (
        params.get("hub.mode") == "subscribe"
        and hmac.compare_digest(token.encode(), settings.verify_token.reveal().encode())
        and challenge
        and len(challenge) <= 256
    ):
        return PlainTextResponse(challenge)
    raise HTTPProblem(403, "verification_failed", "hub.mode or hub.verify_token is wrong")


async def receive(request: Request) -> Response:
    site = site_of(request)
    settings: FacebookSettings = site.settings(PLUGIN)
    body = await read_body(request, settings.max_body_bytes)
    check_signature(settings, request.headers.get("x-hub-signature-256"), body)
    try:
        json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # Signed by Meta yet unreadable: refuse it, so that Meta keeps it (and says so).
        raise HTTPProblem(400, "invalid_json", "the body is not valid JSON") from None
    inbox = site.state[PLUGIN].inbox
    webhook_id = await inbox.persist(body)
    if webhook_id is None:  # a redelivery of a body already stored
        return PlainTextResponse("EVENT_RECEIVED")
    return PlainTextResponse("EVENT_RECEIVED", background=BackgroundTask(inbox.process, webhook_id))


async def persist(site: Site, body: bytes) -> int | None:
    """Store a body once, on its own (the webhook uses :class:`.inbox.WebhookInbox`,
    which groups concurrent bodies); return its id, or ``None`` if it was stored
    before."""
    digest = hashlib.sha256(body).hexdigest()
    try:
        async with site.db.write() as session:
            row = FacebookWebhook(site_id=site.id, digest=digest, body=body.decode("utf-8"), received_at=site.now(), claimed_at=site.now())
            session.add(row)
            await session.flush()
            return row.id
    except IntegrityError:
        return None


async def claim(site: Site, webhook_id: int, lease_seconds: float = ORPHANED_AFTER) -> FacebookWebhook | None:
    """Take a stored body for processing unless another worker holds it."""
    now = site.now()
    async with site.db.write() as session:
        result = await session.exec(
            update(FacebookWebhook)
            .where(
                col(FacebookWebhook.id) == webhook_id,
                FacebookWebhook.state == "received",
                (col(FacebookWebhook.claimed_at) < now - dt.timedelta(seconds=lease_seconds)) | (FacebookWebhook.attempts == 0),
            )
            .values(claimed_at=now, attempts=FacebookWebhook.attempts + 1)
        )
        if not result.rowcount:
            return None
        return (await session.exec(select(FacebookWebhook).where(col(FacebookWebhook.id) == webhook_id))).one()


async def process_webhook(site: Site, webhook_id: int) -> None:
    """Handle every event of a stored body, then mark it done."""
    row = await claim(site, webhook_id)
    if row is None:
        return
    runtime = site.state[PLUGIN]
    try:
        events = parse(json.loads(row.body))
    except Exception as exc:  # noqa: BLE001 - a body we cannot even parse is dead-lettered whole
        events = [Dead("body", f"{type(exc).__name__}: {exc}", row.body[:10000])]
    try:
        await runtime.intake.handle(events, webhook_id)
    except Exception:  # noqa: BLE001 - left "received": the recovery job tries again
        log.exception("site %s: handling webhook %s failed; it will be retried", site.id, webhook_id)
        return
    async with site.db.write() as session:
        await session.exec(
            update(FacebookWebhook).where(col(FacebookWebhook.id) == webhook_id).values(state="done", processed_at=site.now())
        )


def routes() -> list[BaseRoute]:
    return [
        Route("/facebook/webhook", verify, methods=["GET"], name="facebook-verify"),
        Route("/facebook/webhook", receive, methods=["POST"], name="facebook-webhook"),
    ]
