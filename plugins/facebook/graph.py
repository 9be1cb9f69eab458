"""The Graph API client: httpx, the page token with its ``appsecret_proof``, Meta's
error taxonomy (:mod:`.errors`), usage headers, a circuit breaker for policy blocks
and a token bucket that keeps sends under Meta's per-page rate.

Reads and idempotent writes (hiding a comment) are retried here with backoff and
jitter. Sends and posts are not idempotent: they are tried once per call, a timeout
raises :class:`~canales.DeliveryOutcomeUnknown`, and the outbox decides when to try
again (after reconciling).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from typing import Any

import httpx

from canales.core.site import Site
from canales.core.types import DeliveryOutcomeUnknown
from canales.plugins.facebook.errors import GraphError
from canales.plugins.facebook.page import PageHealth, usage_pause
from canales.plugins.facebook.settings import FacebookSettings

log = logging.getLogger("canales.facebook.graph")

# While the token is rejected, try again this often (an admin renews it and restarts).
RECONNECT_RETRY = 300.0
READ_ATTEMPTS = 3


class TokenBucket:
    """At most ``rate`` acquisitions a second on average, bursts up to ``rate``."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity or rate
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


def appsecret_proof(app_secret: str, token: str) -> str:
    """HMAC-SHA256 of the access token keyed with the app secret (Meta's
    "Require App Secret" setting demands it on every call)."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


class Graph:
    """One site's Graph API client (kept in ``site.state``). Without ``health``
    (``canales facebook check``) it only reports errors, changing no shared state."""

    def __init__(self, site: Site | None, settings: FacebookSettings, health: PageHealth | None) -> None:
        self.site = site
        self.settings = settings
        self.health = health
        self.client = httpx.AsyncClient(
            base_url=settings.graph_base(), timeout=settings.graph_timeout, follow_redirects=False
        )
        self.sends = TokenBucket(settings.send_rate)
        self.calls = 0

    async def close(self) -> None:
        await self.client.aclose()

    def _auth(self) -> dict[str, str]:
        token = self.settings.page_token.reveal()
        return {"access_token": token, "appsecret_proof": appsecret_proof(self.settings.app_secret.reveal(), token)}

    async def _gate(self) -> None:
        """Refuse to call while the breaker is open or a quota is spent."""
        if self.health is None or self.site is None:
            return
        row = await self.health.current()
        now = self.site.now()
        if row.blocked_until is not None and row.blocked_until > now:
            raise GraphError("sends are paused: the page was blocked for policy reasons (368)", kind="blocked",
                             retry_after=(row.blocked_until - now).total_seconds())
        if row.throttled_until is not None and row.throttled_until > now:
            raise GraphError("calls are paused: Meta's rate limit was reached", kind="rate_limit",
                             retry_after=(row.throttled_until - now).total_seconds())

    async def _once(self, method: str, path: str, params: dict[str, Any] | None, json: Any, auth: dict[str, str] | None) -> Any:
        self.calls += 1
        response = await self.client.request(method, path, params={**(params or {}), **(auth if auth is not None else self._auth())}, json=json)
        usage, pause = usage_pause(response.headers)
        if pause and self.health is not None:
            await self.health.pause_for(pause, usage)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
            error = GraphError.from_response(response.status_code, body, retry_after=pause)
            await self._react(error)
            raise error
        if auth is None and self.health is not None:
            await self.health.token_works()
        return body

    async def _react(self, error: GraphError) -> None:
        if self.health is None or self.site is None:
            return
        if error.kind == "auth":
            error.retry_after = RECONNECT_RETRY
            await self.health.token_rejected(error.graph_message)
        elif error.kind == "blocked":
            until = await self.health.block(self.settings.policy_block_minutes, error.graph_message)
            error.retry_after = (until - self.site.now()).total_seconds()

    async def read(self, path: str, params: dict[str, Any] | None = None, *, auth: dict[str, str] | None = None,
                   method: str = "GET", attempts: int = READ_ATTEMPTS) -> Any:
        """A call that is safe to repeat (a read, hiding a comment): retried here on
        transient errors and timeouts, with backoff and jitter."""
        for attempt in range(1, attempts + 1):
            await self._gate()
            try:
                return await self._once(method, path, params, None, auth)
            except httpx.TimeoutException as exc:
                error = GraphError(f"timed out ({type(exc).__name__})", kind="transient")
            except httpx.HTTPError as exc:
                error = GraphError(f"{type(exc).__name__}: {exc}", kind="transient")
            except GraphError as exc:
                error = exc
            if not error.retry or error.kind != "transient" or attempt == attempts:
                raise error
            await asyncio.sleep(random.uniform(0, min(4.0, 0.25 * 2**attempt)))
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(self, path: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None) -> Any:
        """A call that must not be repeated blindly (a message, a comment, a post):
        one try; a timeout means the outcome is unknown."""
        await self._gate()
        await self.sends.acquire()
        try:
            return await self._once("POST", path, params, body, None)
        except httpx.TimeoutException as exc:
            raise DeliveryOutcomeUnknown(f"Graph API call {path} timed out ({type(exc).__name__}); it may have gone through") from exc
        except httpx.TransportError as exc:
            # Connecting failed (nothing was sent) or the connection broke (maybe sent).
            if isinstance(exc, httpx.ConnectError):
                raise GraphError(f"cannot reach the Graph API: {exc}", kind="transient") from exc
            raise DeliveryOutcomeUnknown(f"Graph API call {path} broke off ({type(exc).__name__})") from exc
