"""Helpers for the chatbot's tests: a site file with the bot, and talking to it
through the API channel exactly as an integration would."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from helpers import api_message, signed

ROOT = Path(__file__).resolve().parent.parent
DEMO_KNOWLEDGE = ROOT / "sites" / "demo" / "chatbot.yml"
SECRET = "test-secret-123"

BOT_SITE = """
id = "uno"
name = "Sitio Uno"
[hours]
{hours}
[holidays]
categories = []
[contact]
phone = "0800 1234"
phone_hours = "lunes a viernes de 9 a 17"
email = "consultas@uno.gub.uy"
[plugins.api]
secret = {{ env = "TEST_API_SECRET" }}
[plugins.chatbot]
knowledge = "{knowledge}"
channels = ["api"]
allowed_hosts = ["servicios.ejemplo.gub.uy"]
{extra}
"""


def bot_site(site_file: Any, *, knowledge: Path = DEMO_KNOWLEDGE, hours: str = "always = true", extra: str = "") -> Path:
    return site_file(BOT_SITE.format(hours=hours, knowledge=knowledge, extra=extra))


_ids = itertools.count(1)


class Citizen:
    """One citizen on the API channel: ``await ana.says("hola")`` returns the
    messages that came back (the bot's replies)."""

    def __init__(self, app: Any, sender: str = "ana", site: str = "uno") -> None:
        self.app = app
        self.sender = sender
        self.site = site
        self.conversation_id: int | None = None
        self.last: list[dict[str, Any]] = []

    async def says(self, text: str = "", choice: str | None = None) -> list[dict[str, Any]]:
        extra = {"choice": choice} if choice is not None else {}
        body = api_message(f"{self.sender}-{next(_ids)}", text, sender=self.sender, **extra)
        response = await self.app.client.post(f"/s/{self.site}/api/messages", content=body, headers=signed(SECRET, body))
        assert response.status_code == 202, response.text
        data = response.json()
        self.conversation_id = data["conversation_id"]
        self.last = await self.messages(after=data["message"]["seq"])
        return self.last

    async def picks(self, title: str) -> list[dict[str, Any]]:
        """Pick the button titled ``title`` from the last replies."""
        for message in reversed(self.last):
            for button in message["buttons"]:
                if button["title"] == title:
                    return await self.says("", choice=button["payload"])
        raise AssertionError(f"no button {title!r} in {[b['title'] for m in self.last for b in m['buttons']]}")

    async def messages(self, after: int = 0) -> list[dict[str, Any]]:
        path = f"/s/{self.site}/api/conversations/{self.conversation_id}/messages?after={after}"
        response = await self.app.client.get(path, headers=signed(SECRET, path.encode()))
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    async def state(self) -> str:
        path = f"/s/{self.site}/api/conversations/{self.conversation_id}/messages?after=0&limit=1"
        response = await self.app.client.get(path, headers=signed(SECRET, path.encode()))
        return response.json()["conversation"]["state"]


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


def titles(messages: list[dict[str, Any]]) -> list[str]:
    return [b["title"] for m in messages for b in m["buttons"]]
