"""The inbox's live socket over a real server: handshake checks (origin, session,
site), events filtered per site and per role, sockets closed when access ends,
presence, typing, reconnecting without missing a message, and two workers sharing
a Redis bus."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from canales.core import conversations as ops
from canales.core import events, presence
from helpers import eventually, serve
from inbox_support import PASSWORD, citizen_says, csrf_of, make_agent


@pytest.fixture
def two_sites(site_file: Any) -> tuple[Any, Any]:
    return site_file(id="uno"), site_file(id="dos")


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    async with serve(app.app) as base:
        yield base


async def browser_login(base: str, email: str, password: str = PASSWORD) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, trust_env=False)
    page = await client.get("/inbox/login")
    response = await client.post("/inbox/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)})
    assert response.status_code == 303, response.text
    return client


def socket_to(base: str, client: httpx.AsyncClient | None, site: str | None = "uno", origin: str | None = None) -> Any:
    url = base.replace("http://", "ws://") + "/inbox/ws" + (f"?site={site}" if site else "")
    headers = {}
    if client is not None:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return connect(url, origin=origin or base, additional_headers=headers, proxy=None, open_timeout=5)  # type: ignore[arg-type]


async def next_event(ws: ClientConnection, kind: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            if kind is None or event["kind"] == kind:
                return event


async def close_code(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    """Read (and ignore) events until the server closes the socket; its code."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def nothing_of(ws: ClientConnection, kinds: tuple[str, ...], wait: float = 0.6) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(wait):
            while True:
                event = json.loads(await ws.recv())
                assert event["kind"] not in kinds, event


async def test_the_handshake_checks_origin_session_and_site(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app, served(app) as base:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        client = await browser_login(base, "ana@uno.uy")
        async with aclosing(client):
            for attempt in (
                socket_to(base, client, origin="https://malo.example"),  # another web site
                socket_to(base, None),  # no session
                socket_to(base, client, site="dos"),  # a site she does not work on
                socket_to(base, client, site="nada"),
            ):
                with pytest.raises(InvalidStatus) as refused:
                    async with attempt:
                        pass
                assert refused.value.response.status_code == 403
            async with socket_to(base, client) as ws:
                ready = await next_event(ws, "ready")
                assert ready["sites"] == ["uno"]


async def test_events_reach_the_sites_agents_only(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app, served(app) as base:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        await make_agent(app.canales, "dora@dos.uy", "dos")
        ana = await browser_login(base, "ana@uno.uy")
        dora = await browser_login(base, "dora@dos.uy")
        async with aclosing(ana), aclosing(dora), socket_to(base, ana) as ws_ana, socket_to(base, dora, site="dos") as ws_dora:
            await next_event(ws_ana, "ready")
            await next_event(ws_dora, "ready")
            received = await citizen_says(app.site("uno"), "mensaje para uno")
            event = await next_event(ws_ana, "message")
            assert event == {
                "kind": "message",
                "site": "uno",
                "conversation_id": received.conversation.id,
                "message_id": received.message.id,
                "seq": 1,
                "direction": "in",
                "author_kind": "citizen",
                "visibility": "private",
                "text": "mensaje para uno",
            }
            await nothing_of(ws_dora, ("message", "conversation", "changed"))
            # A socket without ?site= follows every site of the agent, and only those.
            async with socket_to(base, dora, site=None) as ws_all:
                assert (await next_event(ws_all, "ready"))["sites"] == ["dos"]
                await citizen_says(app.site("uno"), "otro para uno", sender="c2")
                await nothing_of(ws_all, ("message", "conversation", "changed"))


async def test_an_agent_hears_only_conversations_they_may_see(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app, served(app) as base:
        site = app.site("uno")
        await make_agent(app.canales, "ana@uno.uy", "uno")
        beto = await make_agent(app.canales, "beto@uno.uy", "uno")
        ana = await browser_login(base, "ana@uno.uy")
        received = await citizen_says(site, "primero", sender="c1")
        async with aclosing(ana), socket_to(base, ana) as ws:
            await next_event(ws, "ready")
            await ops.assign(site, received.conversation.id, beto)
            changed = await next_event(ws, "changed")
            assert changed == {"kind": "changed", "site": "uno", "conversation_id": received.conversation.id}
            await citizen_says(site, "secreto de beto", sender="c1")
            await nothing_of(ws, ("message",))


async def test_logout_or_a_password_change_closes_the_socket(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app, served(app) as base:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        laptop = await browser_login(base, "ana@uno.uy")
        phone = await browser_login(base, "ana@uno.uy")
        async with aclosing(laptop), aclosing(phone), socket_to(base, laptop) as ws_laptop, socket_to(base, phone) as ws_phone:
            await next_event(ws_laptop, "ready")
            await next_event(ws_phone, "ready")
            page = await phone.get("/inbox/uno/")
            await phone.post(
                "/inbox/password",
                data={"current": PASSWORD, "new": "clave-nueva-segura-1", "again": "clave-nueva-segura-1", "csrf_token": csrf_of(page.text)},
            )
            assert await close_code(ws_laptop) == 4401
            # The phone's own socket belonged to the session that changed the password:
            # that session ended too (the phone got a new one), so it closes as well.
            assert await close_code(ws_phone) == 4401
            page = await phone.get("/inbox/uno/")
            assert page.status_code == 200
            async with socket_to(base, phone) as ws_again:
                await next_event(ws_again, "ready")
                await phone.post("/inbox/logout", data={"csrf_token": csrf_of(page.text)})
                assert await close_code(ws_again) == 4401


async def test_presence_follows_the_socket_and_the_availability_switch(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app, served(app) as base:
        site = app.site("uno")
        ana_id = await make_agent(app.canales, "ana@uno.uy", "uno", name="Ana")
        beto_id = await make_agent(app.canales, "beto@uno.uy", "uno", name="Beto")
        assert await presence.available_agents(site) == []
        ana = await browser_login(base, "ana@uno.uy")
        beto = await browser_login(base, "beto@uno.uy")
        async with aclosing(ana), aclosing(beto), socket_to(base, ana) as ws_ana:
            await next_event(ws_ana, "ready")
            assert await presence.online_agent_ids(site) == {ana_id}
            async with socket_to(base, beto) as ws_beto:
                await next_event(ws_beto, "ready")
                busy = await citizen_says(site, "hola", sender="c1")
                await ops.assign(site, busy.conversation.id, ana_id)
                available = await presence.available_agents(site)
                assert [(a.agent_id, a.open_conversations) for a in available] == [(beto_id, 0), (ana_id, 1)]
                page = await beto.get("/inbox/uno/")
                response = await beto.post("/inbox/uno/availability", data={"available": "0", "csrf_token": csrf_of(page.text)})
                assert response.status_code == 303
                assert "Ausente" in (await beto.get("/inbox/uno/")).text
                assert [a.agent_id for a in await presence.available_agents(site)] == [ana_id]
                assert not await presence.is_available(site, beto_id)
                assert (await next_event(ws_ana, "presence"))["site"] == "uno"
            assert await eventually(_offline(site, beto_id))


def _offline(site: Any, agent_id: int) -> Any:
    async def check() -> bool:
        return agent_id not in await presence.online_agent_ids(site)

    return check


async def test_typing_reaches_the_other_agents_and_the_citizens_channel(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app, served(app) as base:
        site = app.site("uno")
        await make_agent(app.canales, "ana@uno.uy", "uno")
        await make_agent(app.canales, "sara@uno.uy", "uno", role="supervisor")
        received = await citizen_says(site, "hola")
        cid = received.conversation.id
        citizen_side = site.bus.subscribe(events.conversation_channel(cid))
        ana = await browser_login(base, "ana@uno.uy")
        sara = await browser_login(base, "sara@uno.uy")
        async with aclosing(ana), aclosing(sara), socket_to(base, ana) as ws_ana, socket_to(base, sara) as ws_sara:
            await next_event(ws_ana, "ready")
            await next_event(ws_sara, "ready")
            await ws_ana.send(json.dumps({"type": "typing", "site": "uno", "conversation_id": cid}))
            assert await next_event(ws_sara, "typing") == {"kind": "typing", "site": "uno", "conversation_id": cid, "who": "agent"}
            assert await citizen_side.get(timeout=2) == {"kind": "typing", "who": "agent"}
            await nothing_of(ws_ana, ("typing",))  # not echoed to the one typing
            # A citizen typing (the live chat will publish it) reaches the agents.
            await events.typing(site, cid, "citizen")
            assert (await next_event(ws_ana, "typing"))["who"] == "citizen"
            assert (await next_event(ws_sara, "typing"))["who"] == "citizen"
            # Frames for conversations she may not see, or other sites, are ignored.
            await ws_ana.send(json.dumps({"type": "typing", "site": "dos", "conversation_id": cid}))
            await ws_ana.send("not json")
            await nothing_of(ws_sara, ("typing",))
            await ws_ana.send("x" * 5000)
            assert await close_code(ws_ana) == 1009
        citizen_side.close()


async def test_a_reconnecting_page_catches_up_exactly(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app, served(app) as base:
        site = app.site("uno")
        await make_agent(app.canales, "ana@uno.uy", "uno")
        received = await citizen_says(site, "mensaje 1", sender="c1")
        cid = received.conversation.id
        ana = await browser_login(base, "ana@uno.uy")
        async with aclosing(ana):
            async with socket_to(base, ana) as ws:
                await next_event(ws, "ready")
                await citizen_says(site, "mensaje 2", sender="c1")
                assert (await next_event(ws, "message"))["seq"] == 2
            # The page is offline while five more messages arrive.
            for i in range(3, 8):
                await citizen_says(site, f"mensaje {i}", sender="c1")
            async with socket_to(base, ana) as ws:
                await next_event(ws, "ready")  # subscribed: now read from the database
                fragment = await ana.get(f"/inbox/uno/conversations/{cid}/messages?after=2")
                seqs = [int(s) for s in re.findall(r'data-seq="(\d+)"', fragment.text)]
                assert seqs == [3, 4, 5, 6, 7]
                # The bus may ask everyone to resync (a Redis reconnection): passed on.
                await site.bus.publish(events.inbox_channel("uno"), {"kind": "resync"})
                assert await next_event(ws, "resync") == {"kind": "resync"}


async def test_two_workers_share_live_events_and_revocations_through_redis(
    run_app: Any, two_sites: Any, redis_url: str
) -> None:
    prefix = f"canales-test-{id(two_sites)}:"
    async with run_app(*two_sites, redis_url=redis_url, bus_prefix=prefix) as one, run_app(
        *two_sites, redis_url=redis_url, bus_prefix=prefix
    ) as two, served(one) as base_one, served(two) as base_two:
        await make_agent(one.canales, "ana@uno.uy", "uno")
        ana = await browser_login(base_one, "ana@uno.uy")
        async with aclosing(ana), socket_to(base_one, ana) as ws:
            await next_event(ws, "ready")
            # The citizen's message is stored by the other worker.
            received = await citizen_says(two.site("uno"), "desde el otro proceso")
            event = await next_event(ws, "message")
            assert event["conversation_id"] == received.conversation.id
            # She logs out in a tab served by the other worker: this socket closes.
            async with httpx.AsyncClient(base_url=base_two, trust_env=False, cookies=ana.cookies) as other_tab:
                page = await other_tab.get("/inbox/uno/")
                assert page.status_code == 200
                await other_tab.post("/inbox/logout", data={"csrf_token": csrf_of(page.text)})
            assert await close_code(ws) == 4401


async def test_deactivation_or_a_role_change_closes_the_socket(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app, served(app) as base:
        await make_agent(app.canales, "admin@uno.uy", "uno", role="admin")
        beto = await make_agent(app.canales, "beto@uno.uy", "uno")
        admin = await browser_login(base, "admin@uno.uy")
        agent = await browser_login(base, "beto@uno.uy")
        async with aclosing(admin), aclosing(agent):
            token = csrf_of((await admin.get("/inbox/uno/")).text)
            async with socket_to(base, agent) as ws:
                await next_event(ws, "ready")
                await admin.post(f"/inbox/uno/admin/agents/{beto}", data={"action": "role", "role": "supervisor", "csrf_token": token})
                # The socket was opened with the agent's view; a new role needs a new one.
                assert await close_code(ws) == 4401
            async with socket_to(base, agent) as ws:
                await next_event(ws, "ready")
                await admin.post(f"/inbox/uno/admin/agents/{beto}", data={"action": "deactivate", "csrf_token": token})
                assert await close_code(ws) == 4401
