"""Helpers for the inbox's tests: agents, logging in through the real login form,
reading CSRF tokens, citizen messages through the pipeline."""

from __future__ import annotations

import re
from typing import Any

import httpx

from canales import Inbound
from canales.core.agents import add_agent
from canales.core.intake import Received, receive

PASSWORD = "clave-de-prueba-123"
CLIENT_IP = "192.0.2.10"  # the address the test clients come from (TEST-NET-1)


async def make_agent(canales: Any, email: str, site_id: str, role: str = "agent", name: str | None = None) -> int:
    agent = await add_agent(canales.db, email=email, name=name or email.split("@")[0].title(), password=PASSWORD, site_id=site_id, role=role)
    return agent.id or 0


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]*)"', html) or re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def client_for(running: Any, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=running.app, client=(CLIENT_IP, 50000)), base_url=base_url)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD, next: str = "/inbox/") -> httpx.Response:
    """Log in through the form (as a browser would); return the POST's response."""
    page = await client.get("/inbox/login", follow_redirects=True)
    return await client.post(
        "/inbox/login", data={"email": email, "password": password, "next": next, "csrf_token": csrf_of(page.text)}
    )


async def session_csrf(client: httpx.AsyncClient, site_id: str) -> str:
    """The CSRF token of the client's session (from a page's meta tag)."""
    page = await client.get(f"/inbox/{site_id}/")
    assert page.status_code == 200, page.status_code
    return csrf_of(page.text)


async def citizen_says(site: Any, text: str, *, sender: str = "vecina", external_id: str | None = None, name: str | None = "Vecina") -> Received:
    """A citizen's message on the API channel, through the whole pipeline."""
    citizen_says.counter = getattr(citizen_says, "counter", 0) + 1  # type: ignore[attr-defined]
    return await receive(
        site,
        Inbound(
            channel="api",
            external_id=external_id or f"m-{citizen_says.counter}",  # type: ignore[attr-defined]
            sender_id=sender,
            sender_name=name,
            text=text,
        ),
    )
