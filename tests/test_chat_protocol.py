"""The live chat's protocol over a real WebSocket (the ``websockets`` package)
against a real uvicorn server, on SQLite and PostgreSQL: starting and resuming by
token, messages stored once, resuming by sequence number with nothing lost or
duplicated, live replies across workers, typing, read receipts, agent names,
transcripts, heartbeats and business hours."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
from typing import Any

import pytest
import websockets
from sqlalchemy import func
from sqlmodel import select

from canales.core.bus import RESYNC
from canales.core.events import conversation_channel, inbox_channel
from canales.core.models import Contact, Conversation, Delivery, Message
from canales.core.replies import add_note, send_reply
from canales.plugins.chat_human.models import ChatSession
from canales.plugins.chat_human.sessions import token_hash
from chat_support import MONDAY_MORNING, Citizen, chat_site, make_agent, served, ws_url
from helpers import eventually

HEARTBEAT_FAST = "heartbeat_interval = 0.5\nheartbeat_timeout = 0.5"


async def count(site: Any, model: Any, *where: Any) -> int:
    async with site.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


async def test_a_citizen_chats_with_an_agent(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        site = app.site()
        agent = await make_agent(app.canales)
        async with Citizen(ws_url(base)) as citizen:
            assert citizen.welcome["protocol"] == 1 and citizen.welcome["status"]["open"] is True
            await citizen.start()
            ack = await citizen.say("Hola, ¿cómo renuevo mi permiso?")
            assert ack == {"type": "ack", "id": ack["id"], "seq": 1, "duplicate": False}
            await send_reply(site, citizen.conversation_id, "Hola, te ayudo.", author_kind="agent", agent_id=agent)
            await citizen.wait_for_seq(2)
            mine, reply = citizen.messages
            assert (mine["seq"], mine["author"], mine["text"]) == (1, "citizen", "Hola, ¿cómo renuevo mi permiso?")
            assert (reply["seq"], reply["author"], reply["agent"], reply["text"]) == (2, "agent", "Ana", "Hola, te ayudo.")
        conversation = (await _one(site, Conversation))
        assert conversation.channel == "chat" and conversation.state == "queued"
        # The delivery of a chat reply is done once the relay announced it.
        await eventually(lambda: _delivery_states(site, {"done"}))


async def _one(site: Any, model: Any) -> Any:
    async with site.db.read() as session:
        return (await session.exec(select(model))).one()


async def _delivery_states(site: Any, states: set[str]) -> bool:
    async with site.db.read() as session:
        found = set((await session.exec(select(Delivery.state))).all())
    return bool(found) and found <= states


async def test_a_resent_message_is_stored_once_and_ids_of_two_citizens_do_not_collide(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        async with Citizen(ws_url(base)) as ana, Citizen(ws_url(base)) as beto:
            await ana.start()
            await beto.start()
            first = await ana.say("Hola", id="m-1")
            again = await ana.say("Hola", id="m-1")
            assert first["duplicate"] is False and again["duplicate"] is True
            assert again["seq"] == first["seq"]
            other = await beto.say("Hola también", id="m-1")
            assert other["duplicate"] is False
        assert await count(app.site(), Message) == 2
        assert await count(app.site(), Conversation) == 2
        assert await count(app.site(), Contact) == 2


async def test_resume_after_a_dropped_socket_loses_and_duplicates_nothing(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        site = app.site()
        agent = await make_agent(app.canales)
        citizen = await Citizen(ws_url(base)).connect()
        token = await citizen.start()
        await citizen.say("Primera")
        conversation_id = citizen.conversation_id
        await send_reply(site, conversation_id, "respuesta 1", author_kind="agent", agent_id=agent)
        await citizen.wait_for_seq(2)
        last = max(citizen.seqs)
        # The socket drops (without a goodbye); five replies are stored meanwhile, one
        # internal note among them that the citizen must never see.
        assert citizen.ws is not None
        citizen.ws.transport.abort()
        for n in range(2, 7):
            await send_reply(site, conversation_id, f"respuesta {n}", author_kind="agent", agent_id=agent)
            if n == 4:
                await add_note(site, conversation_id, "nota interna: no mostrar", agent_id=agent)
        again = await Citizen(ws_url(base)).connect()
        resumed = await again.resume(token, last_seq=last, conversation_id=conversation_id)
        assert resumed["type"] == "resumed" and resumed["conversation"]["id"] == conversation_id
        await again.wait_for_seq(8)
        assert [m["text"] for m in again.messages] == [f"respuesta {n}" for n in range(2, 7)]
        assert again.seqs == sorted(set(again.seqs))
        # Live again after the catch-up: the next reply arrives once.
        await send_reply(site, conversation_id, "respuesta 7", author_kind="agent", agent_id=agent)
        await again.wait_for_seq(9)
        await asyncio.sleep(0.2)
        assert [m["text"] for m in again.messages][-1] == "respuesta 7"
        assert len(again.seqs) == len(set(again.seqs)) == 6
        assert all("nota interna" not in raw for raw in again.raw)
        await again.close()


async def test_resuming_from_zero_replays_the_whole_conversation_after_a_reload(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        agent = await make_agent(app.canales)
        async with Citizen(ws_url(base)) as citizen:
            token = await citizen.start()
            await citizen.say("uno")
            await send_reply(app.site(), citizen.conversation_id, "dos", author_kind="agent", agent_id=agent)
            await citizen.say("tres")
        async with Citizen(ws_url(base)) as reloaded:
            await reloaded.resume(token)
            await reloaded.wait_for_seq(3)
            assert [m["text"] for m in reloaded.messages] == ["uno", "dos", "tres"]


async def test_another_tab_of_the_same_chat_follows_the_conversation_it_did_not_start(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        async with Citizen(ws_url(base)) as first, Citizen(ws_url(base)) as second:
            token = await first.start()
            assert (await second.resume(token))["conversation"] is None
            await first.say("escrito en la primera pestaña")
            await second.wait_for_seq(1)
            assert second.messages[0]["text"] == "escrito en la primera pestaña"


@pytest.mark.redis
async def test_a_citizen_on_one_worker_receives_live_a_reply_stored_by_another(
    run_app: Any, site_file: Any, redis_url: str
) -> None:
    """Two apps (two workers) share the database and Redis: the citizen's socket is
    on worker A, the agent answers on worker B."""
    prefix = f"canales-test-{secrets.token_hex(4)}:"
    site = site_file(chat_site())
    async with run_app(site, redis_url=redis_url, bus_prefix=prefix) as worker_a, run_app(
        site, redis_url=redis_url, bus_prefix=prefix
    ) as worker_b, served(worker_a) as base:
        assert worker_a.canales.bus.kind == worker_b.canales.bus.kind == "redis"
        agent = await make_agent(worker_b.canales)
        async with Citizen(ws_url(base)) as citizen:
            await citizen.start()
            await citizen.say("¿Hay alguien?")
            typing_seen = worker_b.canales.bus.subscribe(inbox_channel("uno"))
            await citizen.send({"type": "typing"})
            event = await typing_seen.get(timeout=5)
            assert event == {"kind": "typing", "conversation_id": citizen.conversation_id, "who": "citizen", "agent_id": None, "active": True}
            await send_reply(worker_b.site(), citizen.conversation_id, "Sí, te leo.", author_kind="agent", agent_id=agent)
            await citizen.wait_for_seq(2)
            assert citizen.messages[-1]["text"] == "Sí, te leo." and citizen.messages[-1]["agent"] == "Ana"


async def test_a_reply_whose_live_event_was_lost_arrives_through_the_relay(run_app: Any, site_file: Any) -> None:
    """Two workers sharing a database but, misconfigured, no bus: the reply's live
    event never reaches the citizen's worker; the relay there announces it and the
    socket fetches it from the database."""
    site = site_file(chat_site())
    async with run_app(site) as worker_a, run_app(site, background=False) as worker_b, served(worker_a) as base:
        agent = await make_agent(worker_b.canales)
        async with Citizen(ws_url(base)) as citizen:
            await citizen.start()
            await citizen.say("Hola")
            await send_reply(worker_b.site(), citizen.conversation_id, "llegó por el relevo", author_kind="agent", agent_id=agent)
            worker_a.canales.outbox.wake()
            await citizen.wait_for_seq(2, timeout=10)
            assert citizen.messages[-1]["text"] == "llegó por el relevo"


async def test_a_resync_from_the_bus_catches_up_without_duplicates(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        agent = await make_agent(app.canales)
        async with Citizen(ws_url(base)) as citizen:
            await citizen.start()
            await citizen.say("Hola")
            await send_reply(app.site(), citizen.conversation_id, "uno", author_kind="agent", agent_id=agent)
            await citizen.wait_for_seq(2)
            await app.canales.bus.publish(conversation_channel(citizen.conversation_id), RESYNC)
            await send_reply(app.site(), citizen.conversation_id, "dos", author_kind="agent", agent_id=agent)
            await citizen.wait_for_seq(3)
            await asyncio.sleep(0.2)
            assert citizen.seqs == [1, 2, 3]


async def test_typing_read_receipts_and_the_agents_name(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site(extra='agent_name = "full"'))) as app, served(app) as base:
        site = app.site()
        agent = await make_agent(app.canales, name="Ana Pereira")
        inbox = app.canales.bus.subscribe(inbox_channel("uno"))
        async with Citizen(ws_url(base)) as citizen:
            await citizen.start()
            await citizen.say("Hola")
            cid = citizen.conversation_id
            # Citizen typing reaches the agents (throttled: one event for a burst).
            for _ in range(3):
                await citizen.send({"type": "typing"})
            # Agent typing (published by the inbox) reaches the citizen with a name.
            await site.bus.publish(conversation_channel(cid), {"kind": "typing", "who": "agent", "agent_id": agent})
            assert await citizen.expect("typing") == {"type": "typing", "who": "agent", "agent": "Ana Pereira", "active": True}
            await send_reply(site, cid, "Hola, soy Ana", author_kind="agent", agent_id=agent)
            await citizen.wait_for_seq(2)
            # Read receipts both ways: the citizen's is stored and told to agents; one
            # cannot mark as read what was never sent.
            await citizen.send({"type": "read", "seq": 99})
            await site.bus.publish(conversation_channel(cid), {"kind": "read", "who": "agent", "seq": 1})
            assert await citizen.expect("read") == {"type": "read", "who": "agent", "seq": 1}
        events = []
        while (event := await inbox.get(timeout=0.5)) is not None:
            events.append(event)
        typing = [e for e in events if e["kind"] == "typing"]
        assert len(typing) == 1 and typing[0]["who"] == "citizen"
        assert [e for e in events if e["kind"] == "read"] == [{"kind": "read", "conversation_id": cid, "who": "citizen", "seq": 2}]
        assert (await _one(site, ChatSession)).citizen_read_seq == 2


async def test_the_conversation_state_and_agent_reach_the_citizen(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        site = app.site()
        agent = await make_agent(app.canales, name="Luis Gómez")
        async with Citizen(ws_url(base)) as citizen:
            await citizen.start()
            await citizen.say("Hola")
            async with site.db.write() as session:
                conversation = await session.get(Conversation, citizen.conversation_id)
                conversation.state, conversation.assignee_id = "assigned", agent
                session.add(conversation)
            await site.bus.publish(conversation_channel(citizen.conversation_id), {"kind": "conversation", "conversation": {"id": citizen.conversation_id, "state": "assigned"}})
            frame = await citizen.expect("conversation")
            assert frame["conversation"]["state"] == "assigned" and frame["conversation"]["agent"] == "Luis"


async def test_a_closed_conversation_takes_no_more_messages_and_a_new_chat_starts_clean(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        site = app.site()
        async with Citizen(ws_url(base)) as citizen:
            await citizen.start()
            await citizen.say("Hola")
            async with site.db.write() as session:
                conversation = await session.get(Conversation, citizen.conversation_id)
                conversation.state = "closed"
                session.add(conversation)
            await site.bus.publish(conversation_channel(citizen.conversation_id), {"kind": "conversation", "conversation": {"id": citizen.conversation_id, "state": "closed"}})
            assert (await citizen.expect("conversation"))["conversation"]["state"] == "closed"
            refused = await citizen.say("¿Sigue ahí?")
            assert refused["type"] == "error" and refused["code"] == "closed"
        async with Citizen(ws_url(base)) as fresh:
            await fresh.start()
            assert (await fresh.say("Otra consulta"))["seq"] == 1
        assert await count(site, Message, Message.direction == "in") == 2


async def test_the_citizen_downloads_the_transcript_through_the_socket(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        agent = await make_agent(app.canales)
        async with Citizen(ws_url(base)) as citizen:
            await citizen.send({"type": "transcript"})
            assert (await citizen.expect("error"))["code"] == "not_started"
            await citizen.start()
            await citizen.say("¿Qué necesito para el permiso?")
            await add_note(app.site(), citizen.conversation_id, "dato interno", agent_id=agent)
            await send_reply(app.site(), citizen.conversation_id, "La cédula.", author_kind="agent", agent_id=agent)
            await citizen.wait_for_seq(3)
            await citizen.send({"type": "transcript"})
            transcript = await citizen.expect("transcript")
            await citizen.send({"type": "transcript"})
            assert (await citizen.expect("error"))["code"] == "rate_limited"
        assert transcript["filename"].startswith("conversacion-uno-") and transcript["filename"].endswith(".txt")
        lines = transcript["text"].splitlines()
        assert lines[0] == "Conversación con Organismo Uno"
        assert lines[-2].endswith("Vos: ¿Qué necesito para el permiso?") and lines[-1].endswith("Ana: La cédula.")
        assert "dato interno" not in transcript["text"]


async def test_a_client_that_stops_answering_pings_is_disconnected(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site(extra=HEARTBEAT_FAST))) as app, served(app) as base:
        async with Citizen(ws_url(base)) as alive, Citizen(ws_url(base), answer_pings=False) as silent:
            assert silent.welcome["heartbeat"] == 0.5
            answering = asyncio.create_task(_keep_reading(alive))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                for _ in range(20):
                    await silent.recv(timeout=3)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000
            # The one that answers stays.
            answering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answering
            await alive.send({"type": "ping"})
            assert (await alive.expect("pong"))["type"] == "pong"


async def _keep_reading(citizen: Citizen) -> None:
    while True:
        await citizen.recv(timeout=30)


async def test_out_of_hours_the_chat_says_so_takes_the_message_and_opens_later(
    run_app: Any, site_file: Any, clock: Any
) -> None:
    # Sunday 30 November 2025, 15:00 in Montevideo; the site opens Mondays 8 to 12.
    clock.set(dt.datetime(2025, 11, 30, 18, 0, tzinfo=dt.timezone.utc))
    site_text = chat_site(hours=MONDAY_MORNING, extra=HEARTBEAT_FAST, plugins="[plugins.chatbot]")
    async with run_app(site_file(site_text)) as app, served(app) as base:
        async with Citizen(ws_url(base)) as citizen:
            status = citizen.welcome["status"]
            assert status["open"] is False and status["reason"] == "hours"
            assert status["when"] == "mañana lunes 1 de diciembre a las 8:00"
            assert status["next_opening"] == "2025-12-01T08:00:00-03:00"
            assert "Volvemos mañana lunes 1 de diciembre a las 8:00" in status["message"]
            kinds = {alt["kind"]: alt for alt in status["alternatives"]}
            assert kinds["phone"]["href"] == "tel:08001234" and kinds["phone"]["detail"] == "lunes a viernes de 9 a 17 h"
            assert kinds["email"]["href"] == "mailto:consultas@uno.gub.uy"
            assert kinds["web"]["href"] == "https://www.uno.gub.uy/"
            assert "chatbot" in kinds
            await citizen.start()
            assert (await citizen.say("Escribo un domingo"))["type"] == "ack"
            conversation = await _one(app.site(), Conversation)
            assert conversation.after_hours is True
            # Monday 8:00: the next heartbeat says the chat is attended now.
            clock.set(dt.datetime(2025, 12, 1, 11, 0, tzinfo=dt.timezone.utc))
            opened = await citizen.expect("status", timeout=5)
            assert opened["status"]["open"] is True


async def test_without_the_chatbot_no_bot_is_offered(run_app: Any, site_file: Any, clock: Any) -> None:
    clock.set(dt.datetime(2025, 11, 30, 18, 0, tzinfo=dt.timezone.utc))
    async with run_app(site_file(chat_site(hours=MONDAY_MORNING))) as app, served(app) as base:
        async with Citizen(ws_url(base)) as citizen:
            kinds = [alt["kind"] for alt in citizen.welcome["status"]["alternatives"]]
            assert kinds == ["phone", "email", "web"]


async def test_only_the_tokens_hash_is_stored(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        async with Citizen(ws_url(base)) as citizen:
            token = await citizen.start()
        stored = await _one(app.site(), ChatSession)
        assert len(token) >= 43  # 256 bits, URL-safe base64
        assert stored.token_hash == token_hash(token) and token not in stored.model_dump_json()
