"""Working conversations in the inbox: core's operations (take, transfer, close,
reopen, labels), the list and its counts (in a fixed number of queries), unread
counts, the morning backlog, replies and notes, refusals shown to the agent,
retrying a failed delivery, canned answers, escaping — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from canales import DeliveryError
from canales.core import conversations as ops
from canales.core.models import Conversation, Delivery, Message
from canales.core.plugins import from_module
from canales.core.routing import NotFound
from fixture_plugins import recorder as rec_plugin
from helpers import eventually
from inbox_support import citizen_says, client_for, login, make_agent, session_csrf

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def two_sites(site_file: Any) -> tuple[Any, Any]:
    return site_file(id="uno"), site_file(id="dos")


async def notes_of(site: Any, conversation_id: int) -> list[str]:
    async with site.db.read() as session:
        return list(
            (
                await session.exec(
                    select(Message.text).where(Message.conversation_id == conversation_id, Message.visibility == "internal").order_by(Message.seq)
                )
            ).all()
        )


async def test_taking_a_conversation_is_first_come_first_served(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        ana = await make_agent(app.canales, "ana@uno.uy", "uno", name="Ana")
        beto = await make_agent(app.canales, "beto@uno.uy", "uno", name="Beto")
        received = await citizen_says(site, "hola")
        results = await asyncio.gather(
            ops.assign(site, received.conversation.id, ana, by=ana, only_if_unassigned=True),
            ops.assign(site, received.conversation.id, beto, by=beto, only_if_unassigned=True),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, Conversation)]
        losers = [r for r in results if isinstance(r, ops.ConversationConflict)]
        assert len(winners) == 1 and len(losers) == 1
        assert "ya tomó" in str(losers[0])
        assert winners[0].state == "assigned" and winners[0].assignee_id in (ana, beto)
        notes = await notes_of(site, received.conversation.id)
        assert len(notes) == 1 and notes[0].endswith("tomó la conversación.")


async def test_transfer_to_a_team_or_an_agent_records_who_and_why(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        ana = await make_agent(app.canales, "ana@uno.uy", "uno", name="Ana")
        beto = await make_agent(app.canales, "beto@uno.uy", "uno", name="Beto")
        outsider = await make_agent(app.canales, "otra@dos.uy", "dos")
        from canales.core.teams import save_team

        await save_team(site, "transito", "Tránsito")
        received = await citizen_says(site, "consulta por una multa")
        cid = received.conversation.id
        await ops.assign(site, cid, ana, by=ana)
        moved = await ops.transfer(site, cid, to_team="transito", reason="es de multas", by=ana)
        assert (moved.state, moved.team, moved.assignee_id) == ("queued", "transito", None)
        moved = await ops.transfer(site, cid, to_agent=beto, by=ana)
        assert (moved.state, moved.assignee_id) == ("assigned", beto)
        notes = await notes_of(site, cid)
        assert "Ana transfirió la conversación al equipo Tránsito. Motivo: es de multas" in notes
        assert "Ana transfirió la conversación a Beto." in notes
        with pytest.raises(NotFound):
            await ops.transfer(site, cid, to_agent=outsider, by=ana)  # an agent of another site
        with pytest.raises(NotFound):
            await ops.transfer(site, cid, to_team="inexistente", by=ana)
        with pytest.raises(NotFound):
            await ops.assign(app.site("dos"), cid, outsider)  # the conversation is not dos's
        with pytest.raises(ValueError):
            await ops.transfer(site, cid, reason="x" * 501, to_team="transito")


async def test_close_and_reopen(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        ana = await make_agent(app.canales, "ana@uno.uy", "uno", name="Ana")
        first = await citizen_says(site, "primera", sender="c1")
        closed = await ops.close(site, first.conversation.id, by=ana)
        assert closed.state == "closed" and closed.closed_at is not None
        with pytest.raises(ops.ConversationConflict):
            await ops.close(site, first.conversation.id)
        # The citizen writes again: a new conversation; the old one cannot reopen meanwhile.
        second = await citizen_says(site, "segunda", sender="c1")
        assert second.conversation.id != first.conversation.id
        with pytest.raises(ops.ConversationConflict) as refused:
            await ops.reopen(site, first.conversation.id, by=ana)
        assert f"n.º {second.conversation.id}" in str(refused.value)
        await ops.close(site, second.conversation.id)
        reopened = await ops.reopen(site, first.conversation.id, by=ana)
        assert (reopened.state, reopened.assignee_id, reopened.closed_at) == ("assigned", ana, None)


async def test_labels_are_normalised_and_filter_the_list(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        await make_agent(app.canales, "sara@uno.uy", "uno", role="supervisor")
        one = await citizen_says(site, "reclamo por ruido", sender="c1")
        await citizen_says(site, "otra consulta", sender="c2")
        assert await ops.set_labels(site, one.conversation.id, ["  Reclamo ", "urgente", "reclamo", ""]) == ["reclamo", "urgente"]
        for bad in (["<b>"], ["x" * 41], [f"e{i}" for i in range(21)]):
            with pytest.raises(ValueError):
                await ops.set_labels(site, one.conversation.id, bad)
        async with client_for(app) as client:
            await login(client, "sara@uno.uy")
            filtered = await client.get("/inbox/uno/?state=waiting&label=reclamo")
            assert "reclamo por ruido" in filtered.text and "otra consulta" not in filtered.text
            token = await session_csrf(client, "uno")
            response = await client.post(
                f"/inbox/uno/conversations/{one.conversation.id}/labels", data={"labels": "ruido, vecinos", "csrf_token": token}
            )
            assert response.status_code == 303
            assert (await ops.labels_of(site, [one.conversation.id]))[one.conversation.id] == ["ruido", "vecinos"]


def count_queries(canales: Any) -> Any:
    counter = {"n": 0}

    def count(*args: Any) -> None:
        counter["n"] += 1

    engines = {id(e): e for e in (canales.db.reader, canales.db.writer)}.values()
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", count)
    return counter


async def test_the_list_takes_the_same_number_of_queries_for_3_or_30_conversations(run_app: Any, two_sites: Any) -> None:
    # No background jobs: only the page's own queries are counted.
    async with run_app(*two_sites, background=False) as app:
        site = app.site("uno")
        await make_agent(app.canales, "sara@uno.uy", "uno", role="supervisor")
        for i in range(3):
            received = await citizen_says(site, f"consulta {i}", sender=f"c{i}")
            await ops.set_labels(site, received.conversation.id, ["a", "b"])
        async with client_for(app) as client:
            await login(client, "sara@uno.uy")
            await client.get("/inbox/uno/?state=waiting")  # warm up
            counter = count_queries(app.canales)
            small = await client.get("/inbox/uno/?state=waiting")
            few = counter["n"]
            for i in range(3, 30):
                received = await citizen_says(site, f"consulta {i}", sender=f"c{i}")
                await ops.set_labels(site, received.conversation.id, ["a", "b"])
            counter["n"] = 0
            large = await client.get("/inbox/uno/?state=waiting")
            assert small.text.count('class="conversation-row') == 3
            assert large.text.count('class="conversation-row') == 30
            assert few > 0 and counter["n"] == few, (few, counter["n"])


async def test_counts_per_state_and_unread(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        ana = await make_agent(app.canales, "ana@uno.uy", "uno")
        beto = await make_agent(app.canales, "beto@uno.uy", "uno")
        mine = await citizen_says(site, "para ana", sender="c1")
        await citizen_says(site, "segundo mensaje", sender="c1")
        theirs = await citizen_says(site, "para beto", sender="c2")
        await citizen_says(site, "esperando", sender="c3")
        await ops.assign(site, mine.conversation.id, ana)
        await ops.assign(site, theirs.conversation.id, beto)
        from canales.core.inbox import queries

        counts = await queries.counts(site, queries.Filters(), "supervisor", ana)
        assert counts == {"mine": 1, "waiting": 1, "bot": 0, "others": 1, "closed": 0}
        assert "others" not in await queries.counts(site, queries.Filters(), "agent", ana)
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            listing = await client.get("/inbox/uno/?state=mine")
            assert re.search(r'id="row-%d".*?class="badge">2 ' % mine.conversation.id, listing.text, re.S)
            assert listing.text.startswith("<!doctype html>") and "<title>(3) Conversaciones" in listing.text
            await client.get(f"/inbox/uno/conversations/{mine.conversation.id}")
            listing = await client.get("/inbox/uno/?state=mine")
            assert 'class="badge"' not in listing.text.split(f'id="row-{mine.conversation.id}"')[1].split("</li>")[0]


BACKLOG_SITE = """
id = "uno"
name = "Sitio uno"
timezone = "America/Montevideo"
[hours]
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]
[holidays]
categories = []
[plugins.api]
secret = { env = "TEST_API_SECRET" }
"""


async def test_backlog_shows_what_arrived_while_closed_oldest_first(run_app: Any, site_file: Any, clock: Any) -> None:
    uy = dt.timezone(dt.timedelta(hours=-3))
    clock.set(dt.datetime(2026, 3, 9, 16, 0, tzinfo=uy))  # a Monday, open
    async with run_app(site_file(BACKLOG_SITE)) as app:
        site = app.site("uno")
        ana = await make_agent(app.canales, "ana@uno.uy", "uno")
        during = await citizen_says(site, "en horario", sender="c0")
        clock.set(dt.datetime(2026, 3, 9, 22, 0, tzinfo=uy))
        night_1 = await citizen_says(site, "a la noche", sender="c1")
        clock.set(dt.datetime(2026, 3, 10, 6, 30, tzinfo=uy))
        night_2 = await citizen_says(site, "de madrugada", sender="c2")
        answered = await citizen_says(site, "también de madrugada", sender="c3")
        clock.set(dt.datetime(2026, 3, 10, 9, 5, tzinfo=uy))  # Tuesday morning, open again
        from canales.core.replies import send_reply

        await ops.assign(site, answered.conversation.id, ana)
        await send_reply(site, answered.conversation.id, "Buen día", author_kind="agent", agent_id=ana)
        assert during.conversation.after_hours is False and night_1.conversation.after_hours is True
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            page = await client.get("/inbox/uno/backlog")
        assert page.status_code == 200
        text = page.text
        assert text.index("a la noche") < text.index("de madrugada")
        assert "en horario" not in text and "también de madrugada" not in text
        assert re.search(r"<dt>Sin responder</dt><dd>2</dd>", text)
        assert re.search(r"<dt>Llegadas en el último cierre</dt><dd>2</dd>", text)
        assert re.search(r"<dt>Canal api</dt><dd>2</dd>", text)
        assert "09/03/2026 17:00" in text and "10/03/2026 09:00" in text  # the closure, in local time
        assert night_2.conversation.id


async def test_a_site_open_around_the_clock_has_an_empty_backlog(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        await make_agent(app.canales, "ana@uno.uy", "uno")
        await citizen_says(site, "hola")
        # Open 24 h, every day: there is no last opening or closing within a year.
        assert site.hours.last_opening(site.now()) is None and site.hours.previous_closing(site.now()) is None
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            page = await client.get("/inbox/uno/backlog")
            assert page.status_code == 200 and "No queda nada pendiente de la noche." in page.text


async def test_replying_takes_the_conversation_and_shows_the_delivery(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        ana = await make_agent(app.canales, "ana@uno.uy", "uno")
        received = await citizen_says(site, "hola")
        cid = received.conversation.id
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            token = await session_csrf(client, "uno")
            response = await client.post(
                f"/inbox/uno/conversations/{cid}/reply", data={"text": "Buenas tardes", "csrf_token": token}, headers={"accept": "application/json"}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["ok"] and body["created"]["text"] == "Buenas tardes" and body["created"]["author_kind"] == "agent"
            async with site.db.read() as session:
                conversation = await session.get(Conversation, cid)
            assert conversation is not None and conversation.assignee_id == ana and conversation.first_response_at is not None

            async def delivered() -> bool:
                async with site.db.read() as session:
                    return (await session.exec(select(Delivery.state))).first() == "done"

            await eventually(delivered)
            page = await client.get(f"/inbox/uno/conversations/{cid}")
            assert "Entregado" in page.text
            note = await client.post(f"/inbox/uno/conversations/{cid}/note", data={"text": "llamar el lunes", "csrf_token": token})
            assert note.status_code == 303 and note.headers["location"].endswith("?ok=note")
            page = await client.get(f"/inbox/uno/conversations/{cid}?ok=note")
            assert "Nota guardada." in page.text and "Nota interna" in page.text


async def test_refusals_are_shown_to_the_agent_with_the_draft_kept(run_app: Any, two_sites: Any, monkeypatch: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        ana = await make_agent(app.canales, "ana@uno.uy", "uno")
        received = await citizen_says(site, "hola")
        cid = received.conversation.id
        await ops.assign(site, cid, ana)
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            token = await session_csrf(client, "uno")
            empty = await client.post(f"/inbox/uno/conversations/{cid}/reply", data={"text": "   ", "csrf_token": token})
            assert empty.status_code == 422 and "Escribí un texto antes de enviar." in empty.text

            # A channel's hook inside send_reply may refuse a reply (the Facebook plugin
            # will, for personal data in a public reply): its message reaches the agent.
            class PersonalData(Exception):
                pass

            async def refusing(*args: Any, **kwargs: Any) -> Any:
                raise PersonalData("la respuesta pública contiene una cédula; respondé en privado")

            monkeypatch.setattr("canales.core.inbox.actions.send_reply", refusing)
            refused = await client.post(f"/inbox/uno/conversations/{cid}/reply", data={"text": "Su cédula 1.234.567-8", "csrf_token": token})
            assert refused.status_code == 422
            assert "No se envió la respuesta: la respuesta pública contiene una cédula" in refused.text
            assert ">Su cédula 1.234.567-8</textarea>" in refused.text  # the draft is kept
            as_json = await client.post(
                f"/inbox/uno/conversations/{cid}/reply", data={"text": "otra", "csrf_token": token}, headers={"accept": "application/json"}
            )
            assert as_json.status_code == 422 and "contiene una cédula" in as_json.json()["message"]
            monkeypatch.undo()
            await ops.close(site, cid)
            closed = await client.post(f"/inbox/uno/conversations/{cid}/reply", data={"text": "tarde", "csrf_token": token})
            assert closed.status_code == 422 and "reabrila" in closed.text


REC_SITE = """
id = "uno"
name = "Sitio uno"
[hours]
always = true
[holidays]
categories = []
[plugins.rec]
"""


async def test_a_failed_delivery_is_shown_and_can_be_retried(run_app: Any, site_file: Any) -> None:
    from canales import Inbound
    from canales.core.intake import receive

    async with run_app(site_file(REC_SITE), plugins={"rec": from_module("rec", rec_plugin)}) as app:
        site = app.site("uno")
        await make_agent(app.canales, "ana@uno.uy", "uno")
        rec = rec_plugin.recorder(site)
        rec.fail_next = [DeliveryError("(#10) fuera de la ventana de 24 horas", retry=False)]
        received = await receive(site, Inbound(channel="rec", external_id="r1", sender_id="ana", text="hola"))
        cid = received.conversation.id
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            token = await session_csrf(client, "uno")
            await client.post(f"/inbox/uno/conversations/{cid}/reply", data={"text": "respuesta", "csrf_token": token})

            async def failed() -> Any:
                async with site.db.read() as session:
                    return (await session.exec(select(Delivery).where(Delivery.state == "failed"))).first()

            delivery = await eventually(failed)
            page = await client.get(f"/inbox/uno/conversations/{cid}")
            assert "No se pudo entregar" in page.text and "fuera de la ventana de 24 horas" in page.text
            assert f"/inbox/uno/deliveries/{delivery.id}/retry" in page.text
            retried = await client.post(f"/inbox/uno/deliveries/{delivery.id}/retry", data={"csrf_token": token})
            assert retried.status_code == 303
            await eventually(lambda: rec.delivered)
            assert [d["text"] for d in rec.delivered] == ["respuesta"]
            again = await client.post(f"/inbox/uno/deliveries/{delivery.id}/retry", data={"csrf_token": token})
            assert again.status_code == 422 and "no hay nada que reintentar" in again.text


async def test_canned_answers_fill_in_placeholders(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        await make_agent(app.canales, "ana@uno.uy", "uno", role="admin", name="Ana")
        received = await citizen_says(site, "hola", name="Marta")
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            token = await session_csrf(client, "uno")
            bad = await client.post(
                "/inbox/uno/admin/canned", data={"shortcut": "saludo", "title": "Saludo", "text": "Hola {cliente}", "csrf_token": token}
            )
            assert bad.status_code == 422 and "{cliente}" in bad.text and "{nombre}" in bad.text
            good = await client.post(
                "/inbox/uno/admin/canned",
                data={"shortcut": "saludo", "title": "Saludo", "text": "Hola {nombre}, soy {agente} de {organismo}.", "csrf_token": token},
            )
            assert good.status_code == 303
            taken = await client.post(
                "/inbox/uno/admin/canned", data={"shortcut": "saludo", "title": "Otro", "text": "x", "csrf_token": token}
            )
            assert taken.status_code == 422 and "Ya hay una respuesta con el atajo" in taken.text
            page = await client.get(f"/inbox/uno/conversations/{received.conversation.id}")
            assert 'data-text="Hola Marta, soy Ana de Sitio uno."' in page.text


async def test_citizen_text_is_always_escaped(run_app: Any, two_sites: Any) -> None:
    async with run_app(*two_sites) as app:
        site = app.site("uno")
        await make_agent(app.canales, "ana@uno.uy", "uno", role="admin")
        received = await citizen_says(site, f"hola {XSS} </textarea><script>alert(2)</script>", name=XSS)
        await ops.set_labels(site, received.conversation.id, ["normal"])
        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            for path in (
                "/inbox/uno/?state=waiting",
                "/inbox/uno/?state=waiting&fragment=list",
                f"/inbox/uno/conversations/{received.conversation.id}",
                f"/inbox/uno/conversations/{received.conversation.id}/messages",
                "/inbox/search?q=hola",
            ):
                page = await client.get(path)
                assert page.status_code == 200, path
                assert "<img src=x" not in page.text and "<script>alert" not in page.text, path
                assert "&lt;img src=x onerror=alert(1)&gt;" in page.text, path
            csp = page.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp


async def test_the_demo_site_gets_sample_content_once(run_app: Any, monkeypatch: Any, clock: Any) -> None:
    import datetime as dt
    from pathlib import Path

    # A Tuesday at 10:00 in Montevideo: the site is open and last closed on Monday night.
    clock.set(dt.datetime(2026, 11, 24, 13, 0, tzinfo=dt.timezone.utc))

    from canales.core.cli import DEMO_SECRETS
    from canales.core.inbox import demo, queries

    for name in DEMO_SECRETS:
        monkeypatch.setenv(name, "secreto-de-prueba")
    demo_file = Path(__file__).resolve().parent.parent / "sites" / "demo.toml"
    async with run_app(demo_file, background=False) as app:
        site = app.site("demo")
        admin = await make_agent(app.canales, "demo@ejemplo.gub.uy", "demo", role="admin")
        assert await demo.seed(site) is True
        assert await demo.seed(site) is False  # never twice
        listing = await queries.listing(site, queries.Filters(state="waiting"), "admin", admin)
        assert len(listing.rows) == len(demo.CONVERSATIONS)
        backlog = await queries.backlog(site, "admin", admin)
        assert [r.contact.name for r in backlog.rows] == ["María Rodríguez"]
        from canales.core.inbox.canned import answers_of

        assert [a.shortcut for a in await answers_of(site)] == sorted(s for s, _, _ in demo.CANNED)
