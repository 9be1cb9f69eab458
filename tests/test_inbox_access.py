"""Who gets into the inbox and what they reach: login, sessions (rotation,
revocation), cookies, CSRF and Origin checks, login rate limiting, site isolation
and roles — over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from canales.core.inbox import throttle
from canales.core.inbox.models import AgentSession
from canales.core.inbox.sessions import token_hash
from inbox_support import CLIENT_IP, PASSWORD, citizen_says, client_for, login, make_agent, session_csrf


@pytest.fixture
def two_sites(site_file: Any) -> tuple[Any, Any]:
    return site_file(id="uno"), site_file(id="dos")


async def test_login_sets_a_hardened_session_cookie_and_rotates_it(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        async with client_for(app) as client:
            # A session cookie planted before login (session fixation) is never adopted.
            client.cookies.set("canales_session", "planted-by-an-attacker", domain="testserver.local")
            response = await login(client, "ana@uno.uy")
            assert response.status_code == 303 and response.headers["location"] == "/inbox/"
            header = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("canales_session="))
            assert "httponly" in header.lower() and "samesite=lax" in header.lower() and "secure" not in header.lower()
            first = client.cookies.get("canales_session")
            assert first and first != "planted-by-an-attacker"
            assert (await client.get("/inbox/uno/")).status_code == 200
            # Logging in again (same browser) ends the old session and starts a new one.
            await login(client, "ana@uno.uy")
            second = client.cookies.get("canales_session")
            assert second != first
        async with client_for(app) as stale:
            stale.cookies.set("canales_session", first)
            assert (await stale.get("/inbox/uno/")).status_code == 303
        async with app.canales.db.read() as session:
            stored = (await session.exec(select(AgentSession.token_hash))).all()
        assert token_hash(second) in stored and second not in stored  # only hashes are stored


async def test_over_https_the_cookie_is_secure_and_host_prefixed(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        async with client_for(app, "https://testserver") as client:
            response = await login(client, "ana@uno.uy")
            header = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("__Host-canales_session="))
            assert "secure" in header.lower() and "path=/" in header.lower() and "domain" not in header.lower()
            assert (await client.get("/inbox/uno/")).status_code == 200


async def test_wrong_password_and_unknown_account_look_the_same(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        async with client_for(app) as client:
            wrong = await login(client, "ana@uno.uy", "no-es-la-clave-123")
            unknown = await login(client, "nadie@uno.uy", "no-es-la-clave-123")
            assert wrong.status_code == unknown.status_code == 401
            assert "Correo o contraseña incorrectos." in wrong.text and "Correo o contraseña incorrectos." in unknown.text
            assert "canales_session" not in client.cookies


async def test_login_is_rate_limited_per_account_and_per_address(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        await make_agent(app.canales, "beto@uno.uy", "uno")
        async with client_for(app) as client:
            for _ in range(throttle.MAX_PER_ACCOUNT):
                assert (await login(client, "ana@uno.uy", "mala-clave-12345")).status_code == 401
            # Over the limit even the right password is refused, without being checked.
            blocked = await login(client, "ana@uno.uy")
            assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
            assert "Demasiados intentos" in blocked.text
            # Another account from the same address still works (its own count is low).
            assert (await login(client, "beto@uno.uy")).status_code == 303
            # Failures against other accounts from the same address (as a password
            # sprayer would make) count against the address.
            now = app.site("uno").now()
            for i in range(throttle.MAX_PER_IP - throttle.MAX_PER_ACCOUNT):
                await throttle.failed(app.canales.db, f"otro{i}@uno.uy", CLIENT_IP, now)
            # The address has now failed MAX_PER_IP times: everyone from it waits.
            assert (await login(client, "beto@uno.uy")).status_code == 429


async def test_state_changes_need_the_csrf_token_and_the_same_origin(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        received = await citizen_says(app.site("uno"), "hola")
        target = f"/inbox/uno/conversations/{received.conversation.id}/note"
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            token = await session_csrf(client, "uno")
            assert (await client.post(target, data={"text": "sin token"})).status_code == 403
            assert (await client.post(target, data={"text": "token falso", "csrf_token": "0" * 64})).status_code == 403
            cross = await client.post(target, data={"text": "otro sitio", "csrf_token": token}, headers={"origin": "https://malo.example"})
            assert cross.status_code == 403
            json_call = await client.post(target, data={"text": "con cabecera"}, headers={"x-csrf-token": "mal", "accept": "application/json"})
            assert json_call.status_code == 403 and json_call.json()["error"] == "csrf"
            ok = await client.post(target, data={"text": "nota válida", "csrf_token": token}, headers={"origin": "http://testserver"})
            assert ok.status_code == 303
            page = await client.get(f"/inbox/uno/conversations/{received.conversation.id}")
            assert "nota válida" in page.text
            for refused in ("sin token", "token falso", "otro sitio", "con cabecera"):
                assert refused not in page.text
        async with client_for(app) as anonymous:
            # The login form is protected too (no forged logins).
            assert (await anonymous.post("/inbox/login", data={"email": "ana@uno.uy", "password": PASSWORD})).status_code == 403


async def test_after_login_only_inbox_paths_are_followed(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        for evil in ("//malo.example/x", "https://malo.example", "/\\malo.example", "/inbox/\tx", "/otra"):
            async with client_for(app) as client:
                response = await login(client, "ana@uno.uy", next=evil)
                assert response.headers["location"] == "/inbox/", evil
        async with client_for(app) as client:
            response = await login(client, "ana@uno.uy", next="/inbox/uno/backlog")
            assert response.headers["location"] == "/inbox/uno/backlog"


async def test_another_sites_objects_are_not_found(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno", role="admin")
        theirs = await citizen_says(app.site("dos"), "consulta del otro sitio")
        cid = theirs.conversation.id
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            token = await session_csrf(client, "uno")
            for path in ("/inbox/dos/", "/inbox/dos/backlog", f"/inbox/dos/conversations/{cid}", "/inbox/dos/reports", "/inbox/dos/admin/agents"):
                assert (await client.get(path)).status_code == 404, path
            # Its id under our own site's URL is not found either.
            assert (await client.get(f"/inbox/uno/conversations/{cid}")).status_code == 404
            assert (await client.get(f"/inbox/uno/conversations/{cid}/messages")).status_code == 404
            for action in ("reply", "note", "take", "close"):
                response = await client.post(f"/inbox/uno/conversations/{cid}/{action}", data={"text": "x", "csrf_token": token})
                assert response.status_code == 404, action
            assert (await client.get("/inbox/search?q=consulta")).text.count("consulta del otro sitio") == 0
            assert (await client.get("/inbox/search?q=consulta&site=dos")).status_code == 404
            not_found = await client.get("/inbox/nada/")
            assert not_found.status_code == 404
            # Ids that are not ids are not found either (never a server error).
            for path in ("/inbox/uno/conversations/99999999999999999999", "/inbox/uno/conversations/abc", "/inbox/uno/conversations/-1"):
                assert (await client.get(path)).status_code == 404, path
            api = "/inbox/api/v1/sites/uno/conversations"
            assert (await client.get(f"{api}/99999999999999999999")).status_code == 404
            assert (await client.get(f"{api}/١٢")).status_code == 404  # non-ASCII digits
            # "Not yours" and "does not exist" are the same answer.
            assert (await client.get(f"/inbox/dos/conversations/{cid}")).text == (await client.get("/inbox/nada/conversations/1")).text


async def test_roles_limit_what_each_agent_sees_and_does(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        ana = await make_agent(app.canales, "ana@uno.uy", "uno")
        beto = await make_agent(app.canales, "beto@uno.uy", "uno")
        await make_agent(app.canales, "sara@uno.uy", "uno", role="supervisor")
        waiting = await citizen_says(site, "en espera", sender="c1")
        theirs = await citizen_says(site, "de beto", sender="c2")
        from canales.core.conversations import assign

        await assign(site, theirs.conversation.id, beto)
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            assert (await client.get(f"/inbox/uno/conversations/{waiting.conversation.id}")).status_code == 200
            assert (await client.get(f"/inbox/uno/conversations/{theirs.conversation.id}")).status_code == 404
            assert "de beto" not in (await client.get("/inbox/uno/?state=others")).text
            assert (await client.get("/inbox/uno/reports")).status_code == 403
            assert (await client.get("/inbox/uno/admin/agents")).status_code == 403
            token = await session_csrf(client, "uno")
            taken = await client.post(f"/inbox/uno/conversations/{waiting.conversation.id}/take", data={"csrf_token": token})
            assert taken.status_code == 303
        async with client_for(app) as supervisor:
            await login(supervisor, "sara@uno.uy")
            assert (await supervisor.get(f"/inbox/uno/conversations/{theirs.conversation.id}")).status_code == 200
            others = await supervisor.get("/inbox/uno/?state=others")
            assert "de beto" in others.text and "en espera" in others.text
            assert (await supervisor.get("/inbox/uno/reports")).status_code == 200
            assert (await supervisor.get("/inbox/uno/admin/agents")).status_code == 403
        assert ana != beto


async def test_a_password_change_ends_the_other_sessions(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "ana@uno.uy", "uno")
        async with client_for(app) as laptop, client_for(app) as phone:
            await login(laptop, "ana@uno.uy")
            await login(phone, "ana@uno.uy")
            token = await session_csrf(laptop, "uno")
            changed = await laptop.post(
                "/inbox/password",
                data={"current": PASSWORD, "new": "otra-clave-segura-456", "again": "otra-clave-segura-456", "csrf_token": token},
            )
            assert changed.status_code == 303
            assert (await laptop.get("/inbox/uno/")).status_code == 200  # this browser got a new session
            assert (await phone.get("/inbox/uno/")).status_code == 303  # the other one is out
            assert (await login(phone, "ana@uno.uy", "otra-clave-segura-456")).status_code == 303


async def test_logout_and_deactivation_end_sessions(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "admin@uno.uy", "uno", role="admin")
        beto = await make_agent(app.canales, "beto@uno.uy", "uno")
        async with client_for(app) as admin, client_for(app) as agent:
            await login(admin, "admin@uno.uy")
            await login(agent, "beto@uno.uy")
            token = await session_csrf(admin, "uno")
            response = await admin.post(f"/inbox/uno/admin/agents/{beto}", data={"action": "deactivate", "csrf_token": token})
            assert response.status_code == 303
            assert (await agent.get("/inbox/uno/")).status_code == 303
            assert (await login(agent, "beto@uno.uy")).status_code == 401
            response = await admin.post("/inbox/logout", data={"csrf_token": token})
            assert response.status_code == 303
            assert (await admin.get("/inbox/uno/")).status_code == 303


async def test_an_agent_of_two_sites_is_deactivated_on_one_only(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "admin@uno.uy", "uno", role="admin")
        both = await make_agent(app.canales, "ambos@uno.uy", "uno")
        await make_agent(app.canales, "ambos@uno.uy", "dos")
        async with client_for(app) as admin, client_for(app) as agent:
            await login(admin, "admin@uno.uy")
            await login(agent, "ambos@uno.uy")
            token = await session_csrf(admin, "uno")
            # Uno's admin cannot reset the password of someone who also works for dos.
            refused = await admin.post(f"/inbox/uno/admin/agents/{both}", data={"action": "reset", "csrf_token": token})
            assert refused.status_code == 422 and "otros sitios" in refused.text
            await admin.post(f"/inbox/uno/admin/agents/{both}", data={"action": "deactivate", "csrf_token": token})
            assert (await agent.get("/inbox/uno/")).status_code == 404
            assert (await agent.get("/inbox/dos/")).status_code == 200
