"""The site admin's pages: agents (create, role, reset password), teams, and the
read-only settings view with secrets redacted."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import select

from canales.core import conversations as ops
from canales.core.models import Conversation, TeamMember
from inbox_support import citizen_says, client_for, login, make_agent, session_csrf


@pytest.fixture
def two_sites(site_file: Any) -> tuple[Any, Any]:
    return site_file(id="uno"), site_file(id="dos")


async def test_the_settings_page_never_shows_a_secret(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "admin@uno.uy", "uno", role="admin")
        async with client_for(app) as client:
            await login(client, "admin@uno.uy")
            page = await client.get("/inbox/uno/admin/settings")
            assert page.status_code == 200
            assert "&lt;redacted: env:TEST_API_SECRET&gt;" in page.text
            assert "test-secret-123" not in page.text


async def test_an_admin_creates_agents_and_changes_roles(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        admin = await make_agent(app.canales, "admin@uno.uy", "uno", role="admin")
        await make_agent(app.canales, "dora@dos.uy", "dos")
        async with client_for(app) as client:
            await login(client, "admin@uno.uy")
            token = await session_csrf(client, "uno")
            created = await client.post("/inbox/uno/admin/agents", data={"name": "Nuevo Agente", "email": "Nuevo@Uno.uy", "role": "agent", "csrf_token": token})
            assert created.status_code == 200
            password = re.search(r'<code class="secret">([^<]+)</code>', created.text).group(1)  # type: ignore[union-attr]
            assert "no se vuelve a mostrar" in created.text
            assert password not in (await client.get("/inbox/uno/admin/agents")).text
            # Someone who already works for another site keeps their password.
            existing = await client.post("/inbox/uno/admin/agents", data={"name": "Dora", "email": "dora@dos.uy", "role": "supervisor", "csrf_token": token})
            assert "ya tenía cuenta en otro sitio" in existing.text and 'class="secret"' not in existing.text
            for bad in ({"name": "", "email": "x@uno.uy"}, {"name": "X", "email": "no-es-correo"}, {"name": "X", "email": "y@uno.uy", "role": "jefe"}):
                refused = await client.post("/inbox/uno/admin/agents", data={"role": "agent", **bad, "csrf_token": token})
                assert refused.status_code == 422, bad
            # The last admin cannot stop being one.
            demote = await client.post(f"/inbox/uno/admin/agents/{admin}", data={"action": "role", "role": "agent", "csrf_token": token})
            assert demote.status_code == 422 and "último" in demote.text
            itself = await client.post(f"/inbox/uno/admin/agents/{admin}", data={"action": "deactivate", "csrf_token": token})
            assert itself.status_code == 422
        async with client_for(app) as newcomer:
            assert (await login(newcomer, "nuevo@uno.uy", password)).status_code == 303
            assert (await newcomer.get("/inbox/uno/")).status_code == 200
            assert (await newcomer.get("/inbox/uno/reports")).status_code == 403
        async with client_for(app) as dora:
            await login(dora, "dora@dos.uy")
            assert (await dora.get("/inbox/uno/reports")).status_code == 200  # supervisor on uno now
            home = await dora.get("/inbox/")
            assert home.status_code == 200 and "Sitio uno" in home.text and "Sitio dos" in home.text


async def test_a_password_reset_is_shown_once_and_ends_sessions(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        await make_agent(app.canales, "admin@uno.uy", "uno", role="admin")
        beto = await make_agent(app.canales, "beto@uno.uy", "uno")
        async with client_for(app) as admin, client_for(app) as agent:
            await login(admin, "admin@uno.uy")
            await login(agent, "beto@uno.uy")
            token = await session_csrf(admin, "uno")
            reset = await admin.post(f"/inbox/uno/admin/agents/{beto}", data={"action": "reset", "csrf_token": token})
            password = re.search(r'<code class="secret">([^<]+)</code>', reset.text).group(1)  # type: ignore[union-attr]
            assert (await agent.get("/inbox/uno/")).status_code == 303
            assert (await login(agent, "beto@uno.uy", password)).status_code == 303


async def test_teams_are_created_staffed_and_removed(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        await make_agent(app.canales, "admin@uno.uy", "uno", role="admin")
        ana = await make_agent(app.canales, "ana@uno.uy", "uno")
        outsider = await make_agent(app.canales, "dora@dos.uy", "dos")
        received = await citizen_says(site, "hola")
        async with client_for(app) as client:
            await login(client, "admin@uno.uy")
            token = await session_csrf(client, "uno")
            assert (await client.post("/inbox/uno/admin/teams", data={"key": "Mal Clave", "name": "X", "csrf_token": token})).status_code == 422
            assert (await client.post("/inbox/uno/admin/teams", data={"key": "transito", "name": "Tránsito", "csrf_token": token})).status_code == 303
            staffed = await client.post(
                "/inbox/uno/admin/teams/transito", data={"action": "members", "member": [str(ana), str(outsider)], "csrf_token": token}
            )
            assert staffed.status_code == 303
            async with site.db.read() as session:
                members = (await session.exec(select(TeamMember.agent_id).where(TeamMember.team == "transito"))).all()
            assert members == [ana]  # an agent of another site cannot be added
            await ops.transfer(site, received.conversation.id, to_team="transito")
            page = await client.get(f"/inbox/uno/conversations/{received.conversation.id}")
            assert '<option value="team:transito">Tránsito</option>' in page.text
            assert (await client.post("/inbox/uno/admin/teams/transito", data={"action": "delete", "csrf_token": token})).status_code == 303
            async with site.db.read() as session:
                conversation = await session.get(Conversation, received.conversation.id)
            assert conversation is not None and conversation.team is None and conversation.state == "queued"
            assert (await client.post("/inbox/uno/admin/teams/transito", data={"action": "delete", "csrf_token": token})).status_code == 404


async def test_open_alerts_show_on_every_page_until_resolved(run_app: Any, two_sites: Any) -> None:
    from canales.core.alerts import raise_alert

    async with run_app(*two_sites) as app:
        site = app.site("uno")
        await make_agent(app.canales, "ana@uno.uy", "uno")
        await make_agent(app.canales, "sara@uno.uy", "uno", role="supervisor")
        alert = await raise_alert(site, "facebook", "token_expired", "El token de la página venció: <renovalo>.")
        await raise_alert(app.site("dos"), "facebook", "other", "Alerta de otro sitio")
        async with client_for(app) as agent, client_for(app) as supervisor:
            await login(agent, "ana@uno.uy")
            await login(supervisor, "sara@uno.uy")
            page = (await agent.get("/inbox/uno/backlog")).text
            assert "El token de la página venció: &lt;renovalo&gt;." in page and "Alerta de otro sitio" not in page
            assert "Marcar resuelta" not in page  # agents see it; supervisors and admins resolve it
            token = await session_csrf(agent, "uno")
            assert (await agent.post(f"/inbox/uno/alerts/{alert.id}/resolve", data={"csrf_token": token})).status_code == 403
            token = await session_csrf(supervisor, "uno")
            assert "Marcar resuelta" in (await supervisor.get("/inbox/uno/")).text
            resolved = await supervisor.post(f"/inbox/uno/alerts/{alert.id}/resolve", data={"csrf_token": token})
            assert resolved.status_code == 303
            assert "venció" not in (await agent.get("/inbox/uno/")).text
            assert (await supervisor.post(f"/inbox/uno/alerts/{alert.id}/resolve", data={"csrf_token": token})).status_code == 404
