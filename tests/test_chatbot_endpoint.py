"""The bot's own minimal channel, as the chatbot-only site (sites/minimal.toml) uses
it: a JSON endpoint with a server-issued token per conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot_helpers import DEMO_KNOWLEDGE

ROOT = Path(__file__).resolve().parent.parent

ONLY_BOT = f"""
id = "solo"
name = "Solo bot"
[hours]
always = true
[holidays]
categories = []
[contact]
phone = "0800 0000"
[plugins.chatbot]
knowledge = "{DEMO_KNOWLEDGE}"
channels = ["bot"]
endpoint = true
handoff = false
allowed_hosts = ["servicios.ejemplo.gub.uy"]
"""


async def test_the_minimal_site_file_serves_the_bot(run_app: Any) -> None:
    async with run_app(ROOT / "sites" / "minimal.toml") as app:
        response = await app.client.post("/s/minimal/bot/messages", json={"text": "hola"})
        assert response.status_code == 201
        assert "asistente virtual" in response.json()["messages"][0]["text"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_endpoint_conversation_with_token(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(ONLY_BOT, id="solo")) as app:
        client = app.client
        first = await client.post("/s/solo/bot/messages", json={"text": "hola", "id": "c1"})
        assert first.status_code == 201
        body = first.json()
        token = body["token"]
        assert len(token) >= 32 and body["conversation"]["state"] == "bot"
        assert body["messages"][0]["author"] == "bot" and body["messages"][0]["buttons"]
        auth = {"authorization": f"Bearer {token}"}
        picked = await client.post("/s/solo/bot/messages", json={"choice": "/pasaporte_tramite"}, headers=auth)
        assert picked.status_code == 201 and "token" not in picked.json()
        assert "pasaporte" in picked.json()["messages"][0]["text"].lower()
        # A repeated id is recognised: nothing new is stored or answered.
        again = await client.post("/s/solo/bot/messages", json={"text": "hola", "id": "c1"}, headers=auth)
        assert again.status_code == 200 and again.json()["duplicate"]
        listed = await client.get("/s/solo/bot/messages?after=0", headers=auth)
        assert [m["author"] for m in listed.json()["messages"]] == ["bot", "bot"]
        # Out of scope without hand-off: the other channels.
        oos = await client.post("/s/solo/bot/messages", json={"text": "cuál es la capital de Francia"}, headers=auth)
        assert "0800 0000" in " ".join(m["text"] for m in oos.json()["messages"])
        assert oos.json()["conversation"]["state"] == "bot"
        # Another token is another conversation; a token must be sent to read.
        other = await client.get("/s/solo/bot/messages", headers={"authorization": "Bearer " + "x" * 32})
        assert other.status_code == 404
        assert (await client.get("/s/solo/bot/messages")).status_code == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_endpoint_refuses_bad_requests(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(ONLY_BOT, id="solo")) as app:
        client = app.client
        assert (await client.post("/s/solo/bot/messages", content=b"{not json")).status_code == 400
        assert (await client.post("/s/solo/bot/messages", json={"text": "  "})).status_code == 422
        assert (await client.post("/s/solo/bot/messages", json={"text": 3})).status_code == 422
        assert (await client.post("/s/solo/bot/messages", json={"text": "a" * 5000})).status_code == 422
        assert (await client.post("/s/solo/bot/messages", json={"text": "hola", "extra": 1})).status_code == 422
        assert (await client.post("/s/solo/bot/messages", content=b"x" * 20000)).status_code == 413
        bad = await client.post("/s/solo/bot/messages", json={"text": "hola"}, headers={"authorization": "Bearer short"})
        assert bad.status_code == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_endpoint_is_off_unless_enabled(run_app: Any, site_file: Any) -> None:
    path = site_file(ONLY_BOT.replace("endpoint = true\n", ""), id="solo")
    async with run_app(path) as app:
        assert (await app.client.post("/s/solo/bot/messages", json={"text": "hola"})).status_code == 404
