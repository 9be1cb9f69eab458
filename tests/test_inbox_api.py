"""The inbox's JSON API: tokens an admin issues and revokes, scoped to one site and
the agent's role; every endpoint; answers that match the OpenAPI document; the
document in step with the routes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema
import pytest
from starlette.routing import Mount, Route

from canales.core import conversations as ops
from canales.core.inbox.api import PREFIX
from canales.core.inbox.openapi import document
from inbox_support import citizen_says, client_for, login, make_agent, session_csrf


@pytest.fixture
def two_sites(site_file: Any) -> tuple[Any, Any]:
    return site_file(id="uno"), site_file(id="dos")


async def issue_token(app: Any, admin_email: str, agent_id: int, site_id: str = "uno") -> str:
    async with client_for(app) as admin:
        await login(admin, admin_email)
        token = await session_csrf(admin, site_id)
        page = await admin.post(f"/inbox/{site_id}/admin/tokens", data={"name": "Sistema de trámites", "agent": str(agent_id), "csrf_token": token})
        assert page.status_code == 200
        found = re.search(r'<code class="secret">(cnl_[^<]+)</code>', page.text)
        assert found, "the new token is shown once"
        listing = await admin.get(f"/inbox/{site_id}/admin/tokens")
        assert found.group(1) not in listing.text  # never again
        return found.group(1)


def api(app: Any, token: str) -> httpx.AsyncClient:
    client = client_for(app)
    client.headers["authorization"] = f"Bearer {token}"
    return client


def check(response: httpx.Response, operation_id: str, status: int = 200) -> Any:
    """Assert the status and validate the body against the OpenAPI document."""
    assert response.status_code == status, response.text
    doc = document()
    operation = next(op for item in doc["paths"].values() for op in item.values() if op["operationId"] == operation_id)
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    jsonschema.validate(response.json(), {**schema, "components": doc["components"]})
    return response.json()


async def test_a_token_acts_as_its_agent_on_its_site_only(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        await make_agent(app.canales, "admin@uno.uy", "uno", role="admin")
        bot = await make_agent(app.canales, "integracion@uno.uy", "uno", name="Integración")
        await make_agent(app.canales, "integracion@uno.uy", "dos")  # also works on dos…
        theirs = await citizen_says(app.site("dos"), "del otro sitio")
        waiting = await citizen_says(site, "consulta sobre multas", name="Marta")
        token = await issue_token(app, "admin@uno.uy", bot)
        async with api(app, token) as client:
            me = check(await client.get(f"{PREFIX}/me"), "getMe")
            assert me["agent"]["id"] == bot and [s["id"] for s in me["sites"]] == ["uno"]  # …but the token is for uno
            listing = check(await client.get(f"{PREFIX}/sites/uno/conversations?state=waiting"), "listConversations")
            assert [c["id"] for c in listing["conversations"]] == [waiting.conversation.id]
            assert listing["conversations"][0]["contact"]["name"] == "Marta" and listing["conversations"][0]["unread"] == 1
            assert (await client.get(f"{PREFIX}/sites/dos/conversations")).status_code == 404
            assert (await client.get(f"{PREFIX}/sites/uno/conversations/{theirs.conversation.id}")).status_code == 404
            # A token is for the API only: it opens no HTML page and posts no form.
            assert (await client.get("/inbox/uno/")).status_code in (303, 401)
            assert (await client.post(f"/inbox/uno/conversations/{waiting.conversation.id}/note", data={"text": "x"})).status_code == 401
        async with api(app, token + "x") as wrong, api(app, "cnl_nada") as unknown:
            assert (await wrong.get(f"{PREFIX}/me")).status_code == 401
            assert (await unknown.get(f"{PREFIX}/me")).status_code == 401
        async with client_for(app) as anonymous:
            response = await anonymous.get(f"{PREFIX}/me")
            assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")


async def test_every_operation_through_the_api(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        await make_agent(app.canales, "admin@uno.uy", "uno", role="admin")
        agent = await make_agent(app.canales, "ana@uno.uy", "uno", name="Ana")
        other = await make_agent(app.canales, "beto@uno.uy", "uno", name="Beto")
        from canales.core.teams import save_team

        await save_team(site, "transito", "Tránsito")
        received = await citizen_says(site, "Tengo una multa vencida", name="Marta", sender="marta-1")
        cid = received.conversation.id
        token = await issue_token(app, "admin@uno.uy", agent)
        base = f"{PREFIX}/sites/uno/conversations/{cid}"
        async with api(app, token) as client:
            detail = check(await client.get(base), "getConversation")
            assert detail["state"] == "queued" and detail["reply_options"] == []
            reply = check(await client.post(f"{base}/replies", json={"text": "Hola Marta"}), "postReply", 201)
            assert reply["author_kind"] == "agent" and reply["seq"] == 3  # 2 is the "took it" note
            note = check(await client.post(f"{base}/notes", json={"text": "pedir matrícula"}), "postNote", 201)
            assert note["visibility"] == "internal"
            messages = check(await client.get(f"{base}/messages?after=1"), "listMessages")
            assert [m["seq"] for m in messages["messages"]] == [2, 3, 4] and messages["last_seq"] == 4
            assert messages["messages"][1]["delivery"]["state"] in ("pending", "sending", "done")
            labels = check(await client.put(f"{base}/labels", json={"labels": ["Multas", "urgente"]}), "setLabels")
            assert labels == {"labels": ["multas", "urgente"]}
            moved = check(await client.post(f"{base}/transfer", json={"team": "transito", "reason": "es de tránsito"}), "transferConversation")
            assert moved["state"] == "queued" and moved["team"] == "transito"
            taken = check(await client.post(f"{base}/take", json={}), "takeConversation")
            assert taken["assignee_id"] == agent
            given = check(await client.post(f"{base}/transfer", json={"agent_id": other}), "transferConversation")
            assert given["assignee_id"] == other  # answered even though she no longer sees it
            assert (await client.get(base)).status_code == 404  # …from now on
            assert (await client.post(f"{base}/close", json={})).status_code == 404
        await ops.assign(site, cid, agent)
        async with api(app, token) as client:
            check(await client.post(f"{base}/release", json={"reason": "no me corresponde"}), "releaseConversation")
            await client.post(f"{base}/take", json={})
            closed = check(await client.post(f"{base}/close", json={}), "closeConversation")
            assert closed["state"] == "closed"
            refused = await client.post(f"{base}/replies", json={"text": "tarde"})
            assert refused.status_code == 422 and refused.json()["error"] == "refused"
            reopened = check(await client.post(f"{base}/reopen", json={}), "reopenConversation")
            assert reopened["state"] == "assigned"
            contacts = check(await client.get(f"{PREFIX}/sites/uno/contacts?q=marta"), "searchContacts")
            assert [c["external_id"] for c in contacts["contacts"]] == ["marta-1"]
            contact = check(await client.get(f"{PREFIX}/sites/uno/contacts/{contacts['contacts'][0]['id']}"), "getContact")
            assert [c["id"] for c in contact["conversations"]] == [cid]
            found = check(await client.get(f"{PREFIX}/sites/uno/search?q=multa"), "searchMessages")
            assert found["messages"][0]["conversation_id"] == cid
            # Bad input is a 422 that names the field; nothing is stored.
            for body, field in (({"text": ""}, "text"), ({"text": 5}, "text"), ({"text": "x", "texto": "y"}, "texto"), ({"text": "x", "options": {"a": 1}}, "options.a")):
                response = await client.post(f"{base}/replies", json=body)
                assert response.status_code == 422 and response.json()["field"] == field, body
            assert (await client.post(f"{base}/replies", content=b"{no json", headers={"content-type": "application/json"})).status_code == 400
            assert (await client.get(f"{PREFIX}/sites/uno/search?q=x")).status_code == 422
            assert (await client.get(f"{base}/messages?after=-1")).status_code == 422


async def test_a_revoked_token_stops_working(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "admin@uno.uy", "uno", role="admin")
        agent = await make_agent(app.canales, "ana@uno.uy", "uno")
        token = await issue_token(app, "admin@uno.uy", agent)
        async with api(app, token) as client:
            assert (await client.get(f"{PREFIX}/me")).status_code == 200
        async with client_for(app) as admin:
            await login(admin, "admin@uno.uy")
            page = await admin.get("/inbox/uno/admin/tokens")
            token_id = re.search(r"/admin/tokens/(\d+)/revoke", page.text).group(1)  # type: ignore[union-attr]
            csrf = await session_csrf(admin, "uno")
            assert (await admin.post(f"/inbox/uno/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf})).status_code == 303
            assert "Revocado el" in (await admin.get("/inbox/uno/admin/tokens")).text
        async with api(app, token) as client:
            assert (await client.get(f"{PREFIX}/me")).status_code == 401


async def test_the_browser_session_uses_the_api_with_the_csrf_header(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        received = await citizen_says(app.site("uno"), "hola")
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            assert (await client.get(f"{PREFIX}/me")).status_code == 200
            url = f"{PREFIX}/sites/uno/conversations/{received.conversation.id}/notes"
            assert (await client.post(url, json={"text": "sin cabecera"})).status_code == 403
            token = await session_csrf(client, "uno")
            assert (await client.post(url, json={"text": "con cabecera"}, headers={"x-csrf-token": token})).status_code == 201


def api_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the running app serves under the API prefix."""
    found: set[tuple[str, str]] = set()

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                inner = getattr(route.app, "routes", None) or getattr(getattr(route.app, "app", None), "routes", None)
                if inner is not None:
                    walk(inner, prefix + route.path)
            elif isinstance(route, Route) and (prefix + route.path).startswith(PREFIX):
                for method in route.methods or ():
                    if method != "HEAD":
                        found.add((method, prefix + route.path))

    walk(app.routes, "")
    return found


async def test_the_openapi_document_matches_the_routes(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        served = await app.client.get(f"{PREFIX}/openapi.json")
        assert served.status_code == 200
        doc = served.json()
        documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
        assert documented == api_routes(app.app)
        assert len(documented) >= 15
        for path, item in doc["paths"].items():
            for operation in item.values():
                declared = set(re.findall(r"{(\w+)}", path))
                params = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
                assert declared == params, path
        # Every schema reference resolves.
        text = served.text
        for name in set(re.findall(r'"#/components/schemas/(\w+)"', text)):
            assert name in doc["components"]["schemas"], name
