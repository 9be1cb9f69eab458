"""Actions: the bot calls an application service over HTTP (httpx).

The request is built from the action's templates (URL path, query, JSON body and
headers; secrets only in headers), sent only to an allowed, non-internal host (see
:mod:`canales.plugins.chatbot.egress`), with a timeout, retried only when the method
is idempotent, and never redirected to another host. The answer must be JSON of
bounded size. Any failure becomes an :class:`ActionOutcome` with ``ok=False``: the
flow says the action's friendly error answer; nothing raises into the dialogue.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from canales.core.siteconfig import Secret
from canales.plugins.chatbot.egress import EgressPolicy, EgressRefused, Resolver, system_resolver
from canales.plugins.chatbot.knowledge.schema import IDEMPOTENT, ActionSpec
from canales.plugins.chatbot.templates import RenderError, Templates

log = logging.getLogger("canales.chatbot.actions")

MAX_RESPONSE_BYTES = 256 * 1024
MAX_REDIRECTS = 3
BACKOFF = 0.2


@dataclass(frozen=True)
class ActionOutcome:
    """What came of an action: ``data`` is the service's JSON when ``ok``;
    ``error`` says what went wrong otherwise (for logs, never for citizens)."""

    ok: bool
    data: Any = None
    error: str | None = None
    status: int | None = None
    attempts: int = 0


class _Failed(Exception):
    def __init__(self, message: str, *, retry: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.status = status


def _render_leaves(value: Any, templates: Templates, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return templates.render(value, context, "value")
    if isinstance(value, dict):
        return {k: _render_leaves(v, templates, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_leaves(v, templates, context) for v in value]
    return value


class ActionRunner:
    """Runs a site's actions with one shared HTTP client."""

    def __init__(
        self,
        policy: EgressPolicy,
        secrets: dict[str, Secret],
        templates: Templates,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.policy = policy
        self.secrets = secrets
        self.templates = templates
        self.resolver = resolver
        self.client = httpx.AsyncClient(follow_redirects=False, transport=transport, trust_env=False)

    async def close(self) -> None:
        await self.client.aclose()

    def build(self, spec: ActionSpec, slots: dict[str, Any], results: dict[str, Any]) -> httpx.Request:
        """The request an action makes for these slots (raises RenderError)."""
        context = {"slots": slots, "results": results}
        url = httpx.URL(self.templates.render(spec.url, context, "url"))
        params = {k: self.templates.render(v, context, "value") for k, v in spec.query.items()}
        header_context = {**context, "secrets": {name: s.reveal() for name, s in self.secrets.items()}}
        headers = {k: self.templates.render(v, header_context, "header") for k, v in spec.headers.items()}
        headers.setdefault("accept", "application/json")
        body = None
        if spec.json_body is not None:
            body = json.dumps(_render_leaves(spec.json_body, self.templates, context), ensure_ascii=False).encode()
            headers.setdefault("content-type", "application/json")
        return httpx.Request(spec.method, url.copy_merge_params(params) if params else url, headers=headers, content=body)

    async def run(self, name: str, spec: ActionSpec, slots: dict[str, Any], results: dict[str, Any]) -> ActionOutcome:
        """Call the service; never raises."""
        try:
            request = self.build(spec, slots, results)
        except (RenderError, httpx.InvalidURL, ValueError) as exc:
            log.warning("action %s: cannot build the request: %s", name, exc)
            return ActionOutcome(False, error=f"request not built: {exc}")
        attempts = 0
        tries = 1 + (spec.retries if spec.method in IDEMPOTENT else 0)
        last: _Failed | None = None
        for attempt in range(tries):
            attempts += 1
            try:
                status, data = await self._send(request, spec)
                return ActionOutcome(True, data=data, status=status, attempts=attempts)
            except EgressRefused as exc:
                log.warning("action %s refused: %s", name, exc)
                return ActionOutcome(False, error=f"refused: {exc}", attempts=attempts)
            except _Failed as exc:
                last = exc
                log.warning("action %s attempt %d failed: %s", name, attempts, exc)
                if not exc.retry:
                    break
            if attempt + 1 < tries:
                await asyncio.sleep(BACKOFF * 2**attempt)
        assert last is not None
        return ActionOutcome(False, error=str(last), status=last.status, attempts=attempts)

    async def _send(self, request: httpx.Request, spec: ActionSpec) -> tuple[int, Any]:
        url = request.url
        for _ in range(MAX_REDIRECTS + 1):
            host = url.host
            port = url.port or (443 if url.scheme == "https" else 80)
            address = await self.policy.resolve(host, port, self.resolver)
            headers = httpx.Headers(request.headers)
            headers["host"] = host if url.port is None else f"{host}:{url.port}"
            pinned = httpx.Request(
                request.method,
                url.copy_with(host=address),
                headers=headers,
                content=request.content,
                extensions={"timeout": httpx.Timeout(spec.timeout).as_dict(), **({"sni_hostname": host} if url.scheme == "https" else {})},
            )
            try:
                response = await self.client.send(pinned, stream=True)
            except httpx.TimeoutException as exc:
                raise _Failed(f"timed out ({type(exc).__name__})", retry=True) from None
            except httpx.TransportError as exc:
                raise _Failed(f"connection failed ({type(exc).__name__}: {exc})", retry=True) from None
            try:
                if response.is_redirect:
                    target = url.join(response.headers.get("location", ""))
                    if (target.scheme, target.host, target.port) != (url.scheme, url.host, url.port):
                        raise _Failed(f"redirect to another host refused ({target.host})", retry=False, status=response.status_code)
                    if request.method not in ("GET", "HEAD"):
                        raise _Failed("redirect of a non-GET request refused", retry=False, status=response.status_code)
                    url = target
                    continue
                if response.status_code >= 500 or response.status_code in (408, 429):
                    raise _Failed(f"service answered {response.status_code}", retry=True, status=response.status_code)
                if response.status_code >= 300:
                    raise _Failed(f"service answered {response.status_code}", retry=False, status=response.status_code)
                body = await self._read(response)
            finally:
                await response.aclose()
            if request.method == "HEAD" or (not body and response.status_code == 204):
                return response.status_code, None
            try:
                return response.status_code, json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise _Failed("the service's answer is not JSON", retry=False, status=response.status_code) from None
        raise _Failed("too many redirects", retry=False)

    async def _read(self, response: httpx.Response) -> bytes:
        chunks, size = [], 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise _Failed(f"the answer is larger than {MAX_RESPONSE_BYTES} bytes", retry=False, status=response.status_code)
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise _Failed("timed out while reading the answer", retry=True) from None
        except httpx.TransportError as exc:
            raise _Failed(f"connection failed while reading ({type(exc).__name__})", retry=True) from None
        return b"".join(chunks)
