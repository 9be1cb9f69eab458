"""The bare baseline: a Starlette endpoint that does one raw INSERT per message and
returns 200 — what storing a message costs with nothing else around it.

    uvicorn --factory baseline_insert:app   (DATABASE_URL selects SQLite or PostgreSQL)
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def app() -> Starlette:
    url = os.environ["DATABASE_URL"]
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if url.startswith("sqlite"):
            import aiosqlite

            conn = await aiosqlite.connect(url.removeprefix("sqlite:///"))
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("CREATE TABLE IF NOT EXISTS bare (id INTEGER PRIMARY KEY, ext TEXT, body TEXT)")
            await conn.commit()

            async def insert(ext: str, body: str) -> None:
                await conn.execute("INSERT INTO bare (ext, body) VALUES (?, ?)", (ext, body))
                await conn.commit()

            state["insert"] = insert
            yield
            await conn.close()
        else:
            import asyncpg

            pool = await asyncpg.create_pool(url.replace("postgresql://", "postgres://", 1), min_size=4, max_size=20)
            await pool.execute("CREATE TABLE IF NOT EXISTS bare (id SERIAL PRIMARY KEY, ext TEXT, body TEXT)")

            async def insert(ext: str, body: str) -> None:
                await pool.execute("INSERT INTO bare (ext, body) VALUES ($1, $2)", ext, body)

            state["insert"] = insert
            yield
            await pool.close()

    async def post(request: Request) -> Response:
        data = json.loads(await request.body())
        await state["insert"](data["id"], data["text"])
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/s/bench/api/messages", post, methods=["POST"])], lifespan=lifespan)
