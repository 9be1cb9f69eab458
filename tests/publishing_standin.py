"""A local stand-in for a publishing channel, served for real (``helpers.serve``).

``POST /posts`` ``{"key", "message", "link"}`` publishes and answers ``{"id"}``;
``GET /posts?key=K`` lists the posts made with that key (to reconcile). Every call
is counted, whichever process made it. ``failures`` programs what the next
publish calls do: ``"5xx"`` (503, retryable), ``"duplicate"`` (400 with Graph's
error 506, not retryable) or ``"timeout"`` (the post IS made, but the answer comes
only after ``slow_seconds``, past the client's timeout — outcome unknown).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class StandIn:
    failures: list[str] = field(default_factory=list)
    delay: float = 0.0
    slow_seconds: float = 5.0
    posts: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    lookups: int = 0

    def published(self) -> Counter[str]:
        """How many posts were made per key (must never exceed 1)."""
        return Counter(p["key"] for p in self.posts)

    def app(self) -> Starlette:
        async def publish(request: Request) -> JSONResponse:
            body = await request.json()
            self.calls.append(body)
            if self.delay:
                await asyncio.sleep(self.delay)
            mode = self.failures.pop(0) if self.failures else None
            if mode == "5xx":
                return JSONResponse({"error": {"code": 2, "message": "Service temporarily unavailable"}}, 503)
            if mode == "duplicate":
                return JSONResponse({"error": {"code": 506, "message": "Duplicate status message"}}, 400)
            post = {"id": f"1000_{len(self.posts) + 1}", **body}
            self.posts.append(post)
            if mode == "timeout":
                await asyncio.sleep(self.slow_seconds)
            return JSONResponse({"id": post["id"]})

        async def find(request: Request) -> JSONResponse:
            self.lookups += 1
            key = request.query_params.get("key")
            return JSONResponse({"data": [{"id": p["id"]} for p in self.posts if p["key"] == key]})

        return Starlette(routes=[Route("/posts", publish, methods=["POST"]), Route("/posts", find, methods=["GET"])])
