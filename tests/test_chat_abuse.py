"""Bad input and abuse on the citizen socket: foreign origins, forged and foreign
tokens, malformed frames, oversized frames, floods and too many sockets — each gets
a clear answer, stores nothing, and leaves other citizens unaffected."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import websockets
from sqlalchemy import func
from sqlmodel import select

from canales import Rejected, hookimpl
from canales.core.models import Contact, Conversation, Message
from canales.core.plugins import from_module
from canales.plugins.chat_human.models import ChatSession
from chat_support import ORIGIN, Citizen, chat_site, served, ws_url

OTHER_NETWORK = "127.0.0.2"


async def count(site: Any, model: Any, *where: Any) -> int:
    async with site.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


async def nothing_stored(site: Any) -> bool:
    return all([await count(site, m) == 0 for m in (ChatSession, Message, Conversation, Contact)])


async def closed_with(citizen: Citizen) -> int:
    """Read until the server closes; the close code it sent."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        for _ in range(50):
            await citizen.recv(timeout=5)
    assert closed.value.rcvd is not None, "the server did not send a close frame"
    return closed.value.rcvd.code


# --- the handshake ---------------------------------------------------------------------


async def test_a_foreign_origin_is_refused_at_the_handshake(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await Citizen(ws_url(base), origin="https://phishing.example").connect()
        assert refused.value.response.status_code == 403
        async with Citizen(ws_url(base), origin=ORIGIN.upper()) as allowed:
            assert allowed.welcome["type"] == "welcome"
        assert await nothing_stored(app.site())


async def test_a_socket_without_origin_is_for_native_apps_unless_the_site_refuses_them(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        async with Citizen(ws_url(base), origin=None) as app_client:
            await app_client.start()
    async with run_app(site_file(chat_site(id="dos", extra="allow_missing_origin = false"))) as app, served(app) as base:
        with pytest.raises(websockets.InvalidStatus):
            await Citizen(ws_url(base, "dos"), origin=None).connect()


async def test_a_site_without_the_chat_has_no_socket(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file()) as app, served(app) as base:
        with pytest.raises(websockets.InvalidStatus):
            await Citizen(ws_url(base)).connect()


# --- tokens ---------------------------------------------------------------------------------


async def test_forged_foreign_and_other_sites_tokens_get_the_same_answer(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site("uno")), site_file(chat_site("dos"), id="dos")) as app, served(app) as base:
        async with Citizen(ws_url(base, "dos")) as other_site:
            other_token = await other_site.start()
            await other_site.say("mensaje del sitio dos")
        async with Citizen(ws_url(base, "uno")) as owner:
            own_token = await owner.start()
            await owner.say("mensaje de otra persona")
        answers = []
        for token in (other_token, "x" * 43, own_token[:-1] + ("A" if own_token[-1] != "A" else "B"), ""):
            async with Citizen(ws_url(base, "uno")) as attacker:
                answers.append(await attacker.resume(token))
                # Refused, the socket stays usable and bound to nothing.
                assert (await attacker.say("hola"))["code"] == "not_started"
        assert answers[0]["type"] == "error" and answers[0]["code"] == "not_found"
        assert all(answer == answers[0] for answer in answers)


async def test_a_token_never_reaches_another_conversation(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        async with Citizen(ws_url(base)) as victim:
            await victim.start()
            await victim.say("mis datos privados")
            victims_conversation = victim.conversation_id
        async with Citizen(ws_url(base)) as attacker:
            token = await attacker.start()
            await attacker.say("hola")
        async with Citizen(ws_url(base)) as again:
            resumed = await again.resume(token, last_seq=0, conversation_id=victims_conversation)
            await again.wait_for_seq(1)
            assert resumed["conversation"]["id"] != victims_conversation
            assert all("mis datos privados" not in raw for raw in again.raw)


async def test_the_token_is_issued_by_the_server_and_never_echoed(
    run_app: Any, site_file: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        async with Citizen(ws_url(base)) as chooser:
            await chooser.send({"type": "start", "privacy": True, "token": "elegido-por-mi-" + "a" * 40})
            refused = await chooser.expect("error")
            assert refused["code"] == "invalid" and refused["field"] == "token"
        async with Citizen(ws_url(base)) as citizen:
            token = await citizen.start()
            await citizen.say("hola")
            await citizen.send({"type": "transcript"})
            await citizen.expect("transcript")
            await citizen.send("{no es json")
            await citizen.expect("error")
        async with Citizen(ws_url(base)) as again:
            await again.resume(token)
            await again.wait_for_seq(1)
            await again.send({"type": "start", "privacy": True})
            await again.expect("error")
    frames = chooser.raw + citizen.raw + again.raw
    carrying = [raw for raw in frames if token in raw]
    assert len(carrying) == 1 and json.loads(carrying[0])["type"] == "started"
    assert not any(token in record.getMessage() for record in caplog.records)


# --- malformed frames -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ("{no es json", "invalid_json", None),
        ("[1, 2]", "invalid_frame", None),
        ("NaN", "invalid_json", None),
        ("[" * 15000 + "]" * 15000, "invalid_json", None),
        ('{"type": "bailar"}', "unknown_type", "type"),
        ('{"type": 5}', "invalid", "type"),
        ('{"type": "message", "id": "a1", "text": 5}', "invalid", "text"),
        ('{"type": "message", "id": "a1", "text": "hola", "admin": true}', "invalid", "admin"),
        ('{"type": "message", "id": "a b", "text": "hola"}', "invalid", "id"),
        ('{"type": "message", "id": "a1", "text": "' + "x" * 5000 + '"}', "invalid", "text"),
        ('{"type": "message", "id": "a1", "text": "\\u0000"}', "invalid", "text"),
        ('{"type": "message", "id": "a1", "text": "\\ud800"}', "invalid", "text"),
        ('{"type": "message", "id": "a1", "text": "   "}', "empty", "text"),
        ('{"type": "read", "seq": "3"}', "invalid", "seq"),
        ('{"type": "resume", "token": {"$regex": ".*"}}', "invalid", "token"),
    ],
)
async def test_malformed_frames_get_an_error_naming_the_problem_and_store_nothing(
    run_app: Any, site_file: Any, frame: str, code: str, field: str | None
) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        async with Citizen(ws_url(base)) as citizen:
            await citizen.start()
            await citizen.send(frame)
            error = await citizen.expect("error")
            assert error["code"] == code and error.get("field") == field, error
            assert error["message"]  # Spanish, for people
            # The socket is still good.
            assert (await citizen.say("ahora bien"))["type"] == "ack"
        assert await count(app.site(), Message) == 1


async def test_binary_frames_close_with_1003(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        async with Citizen(ws_url(base)) as citizen:
            await citizen.send({"type": "start", "privacy": True})
            assert citizen.ws is not None
            await citizen.ws.send(b'{"type": "message", "id": "b1", "text": "hola"}')
            assert await closed_with(citizen) == 1003
        assert await count(app.site(), Message) == 0


async def test_invalid_utf8_closes_with_1007(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        async with Citizen(ws_url(base)) as citizen:
            await citizen.start()
            assert citizen.ws is not None
            await citizen.ws.send(b'{"type": "message", "id": "u1", "text": "\xff\xfe"}', text=True)
            assert await closed_with(citizen) == 1007
        assert await count(app.site(), Message) == 0


@pytest.mark.parametrize("size", [40_000, 200_000])
async def test_oversized_frames_close_with_1009(run_app: Any, site_file: Any, size: int) -> None:
    """40 kB passes the server's limit (64 KiB) but not the socket's own; 200 kB is
    refused by the server from the frame header, before it is read."""
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        async with Citizen(ws_url(base)) as citizen, Citizen(ws_url(base), address=OTHER_NETWORK) as neighbour:
            await citizen.start()
            await citizen.send(json.dumps({"type": "message", "id": "big", "text": "x" * size}))
            assert await closed_with(citizen) == 1009
            await neighbour.start()
            assert (await neighbour.say("sigo acá"))["type"] == "ack"
        assert await count(app.site(), Message) == 1


# --- floods -----------------------------------------------------------------------------------


async def test_a_message_flood_is_limited_per_chat_and_others_are_unaffected(run_app: Any, site_file: Any) -> None:
    limits = "[plugins.chat_human.limits]\nmessages_per_minute = 6\nmessage_burst = 3"
    async with run_app(site_file(chat_site(plugins=limits))) as app, served(app) as base:
        async with Citizen(ws_url(base)) as flooder, Citizen(ws_url(base)) as neighbour:
            await flooder.start()
            answers = [await flooder.say(f"spam {n}") for n in range(5)]
            assert [a["type"] for a in answers] == ["ack", "ack", "ack", "error", "error"]
            assert answers[3]["code"] == "rate_limited" and 1 <= answers[3]["retry_after"] <= 10
            assert "segundos" in answers[3]["message"]
            await neighbour.start()
            assert (await neighbour.say("consulta normal"))["type"] == "ack"
        assert await count(app.site(), Message) == 4


async def test_a_flood_from_one_address_does_not_reach_citizens_elsewhere(run_app: Any, site_file: Any) -> None:
    limits = "[plugins.chat_human.limits]\nip_messages_per_minute = 6\nip_message_burst = 4"
    async with run_app(site_file(chat_site(plugins=limits))) as app, served(app) as base:
        async with Citizen(ws_url(base)) as one, Citizen(ws_url(base)) as two, Citizen(ws_url(base), address=OTHER_NETWORK) as elsewhere:
            for citizen in (one, two, elsewhere):
                await citizen.start()
            answers = [await one.say("a"), await two.say("b"), await one.say("c"), await two.say("d"), await one.say("e")]
            assert [a["type"] for a in answers] == ["ack"] * 4 + ["error"]
            assert (await two.say("f"))["code"] == "rate_limited"
            assert (await elsewhere.say("desde otra red"))["type"] == "ack"


async def test_a_frame_flood_closes_the_socket_with_1008(run_app: Any, site_file: Any) -> None:
    limits = "[plugins.chat_human.limits]\nframes_per_second = 1\nframe_burst = 5"
    async with run_app(site_file(chat_site(plugins=limits))) as app, served(app) as base:
        async with Citizen(ws_url(base)) as flooder, Citizen(ws_url(base)) as neighbour:
            for _ in range(10):
                await flooder.send({"type": "typing"})
            assert (await flooder.expect("error"))["code"] == "flood"
            assert await closed_with(flooder) == 1008
            await neighbour.start()
            assert (await neighbour.say("hola"))["type"] == "ack"


async def test_too_many_sockets_from_one_address_are_refused_clearly(run_app: Any, site_file: Any) -> None:
    limits = "[plugins.chat_human.limits]\nmax_sockets_per_ip = 2"
    async with run_app(site_file(chat_site(plugins=limits))) as app, served(app) as base:
        first, second = await Citizen(ws_url(base)).connect(), await Citizen(ws_url(base)).connect()
        async with websockets.connect(ws_url(base), additional_headers={"Origin": ORIGIN}, proxy=None) as third:
            refused = json.loads(await third.recv())
            assert refused["type"] == "error" and refused["code"] == "too_many_connections"
            assert refused["retry_after"] == 60 and "conexiones" in refused["message"]
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await third.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        async with Citizen(ws_url(base), address=OTHER_NETWORK) as elsewhere:
            await elsewhere.start()
        await first.close()
        async with Citizen(ws_url(base)) as after_one_left:
            assert after_one_left.welcome["type"] == "welcome"
        await second.close()
        assert await count(app.site(), ChatSession) == 1


async def test_new_chats_and_failed_resumes_are_limited_per_address(run_app: Any, site_file: Any) -> None:
    limits = "[plugins.chat_human.limits]\nstarts_per_hour_per_ip = 2\nstart_burst = 2"
    async with run_app(site_file(chat_site(plugins=limits))) as app, served(app) as base:
        for _ in range(2):
            async with Citizen(ws_url(base)) as citizen:
                await citizen.start()
        async with Citizen(ws_url(base)) as citizen:
            await citizen.send({"type": "start", "privacy": True})
            refused = await citizen.expect("error")
            assert refused["code"] == "rate_limited" and refused["retry_after"] > 0
            for _ in range(2):
                assert (await citizen.resume("adivinanza-" + "x" * 40))["code"] == "not_found"
            assert (await citizen.resume("adivinanza-" + "y" * 40))["code"] == "rate_limited"
        assert await count(app.site(), ChatSession) == 2


# --- the pre-chat form ----------------------------------------------------------------------


PRECHAT = """
[plugins.chat_human.prechat]
enabled = true
name = "required"
email = "optional"
topic = "required"
topics = ["Permisos", "Reclamos"]
"""


@pytest.mark.parametrize(
    ("form", "code", "field"),
    [
        ({"privacy": False, "name": "Marta", "topic": "Permisos"}, "privacy", "privacy"),
        ({"privacy": True, "topic": "Permisos"}, "required", "name"),
        ({"privacy": True, "name": "   ", "topic": "Permisos"}, "required", "name"),
        ({"privacy": True, "name": "M" * 201, "topic": "Permisos"}, "too_long", "name"),
        ({"privacy": True, "name": "Marta", "email": "no-es-correo", "topic": "Permisos"}, "email", "email"),
        ({"privacy": True, "name": "Marta", "topic": "Otra cosa"}, "topic", "topic"),
        ({"privacy": True, "name": "Marta"}, "required", "topic"),
        ({"privacy": "sí", "name": "Marta", "topic": "Permisos"}, "invalid", "privacy"),
    ],
)
async def test_the_prechat_form_is_validated_on_the_server(
    run_app: Any, site_file: Any, form: dict[str, Any], code: str, field: str
) -> None:
    async with run_app(site_file(chat_site(plugins=PRECHAT))) as app, served(app) as base:
        async with Citizen(ws_url(base)) as citizen:
            await citizen.send({"type": "start", **form})
            error = await citizen.expect("error")
            assert (error["code"], error["field"]) == (code, field)
        assert await nothing_stored(app.site())


async def test_the_prechat_answers_reach_the_agents_and_not_the_citizen(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site(plugins=PRECHAT))) as app, served(app) as base:
        async with Citizen(ws_url(base)) as citizen:
            await citizen.start(name=" Marta Suárez ", email="Marta@Example.com.uy", topic="Permisos")
            await citizen.say("Hola")
        site = app.site()
        async with site.db.read() as session:
            contact = (await session.exec(select(Contact))).one()
            messages = (await session.exec(select(Message).order_by(Message.seq))).all()
        assert contact.name == "Marta Suárez"
        conversation = (await _conversation(site))
        assert conversation.data["topic"] == "Permisos"
        first, note = messages
        assert first.payload["meta"]["chat"]["email"] == "marta@example.com.uy"
        assert note.visibility == "internal" and "Tema: Permisos" in note.text
        assert all("Tema: Permisos" not in raw for raw in citizen.raw)


async def _conversation(site: Any) -> Conversation:
    async with site.db.read() as session:
        return (await session.exec(select(Conversation))).one()


async def test_a_message_refused_by_a_plugin_is_not_stored(run_app: Any, site_file: Any) -> None:
    class Guard:
        @hookimpl
        def prepare_inbound(self, site: Any, inbound: Any) -> None:
            if "prohibido" in inbound.text:
                raise Rejected("no se aceptan esas palabras", code="forbidden_words")

    async with run_app(site_file(chat_site(plugins="[plugins.guard]")), plugins={"guard": from_module("guard", Guard())}) as app, served(app) as base:
        async with Citizen(ws_url(base)) as citizen:
            await citizen.start()
            refused = await citizen.say("algo prohibido")
            assert refused["code"] == "rejected" and refused["detail"] == "forbidden_words"
            assert (await citizen.say("algo permitido"))["type"] == "ack"
        assert await count(app.site(), Message) == 1


async def test_frames_out_of_order_are_answered_plainly(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(chat_site())) as app, served(app) as base:
        async with Citizen(ws_url(base)) as citizen:
            assert (await citizen.say("antes de empezar"))["code"] == "not_started"
            await citizen.start()
            await citizen.send({"type": "start", "privacy": True})
            assert (await citizen.expect("error"))["code"] == "already_started"
        assert await count(app.site(), ChatSession) == 1


async def test_canales_serve_refuses_huge_frames_before_reading_them(site_file: Any, tmp_path: Any) -> None:
    """``canales serve`` starts uvicorn with the WebSocket size limit (and without
    compression): a 1 MB frame is refused from its header by the server itself."""
    import asyncio
    import os
    import subprocess
    import sys

    import httpx

    from helpers import free_port

    port = free_port()
    site = site_file(chat_site())
    proc = subprocess.Popen(
        [sys.executable, "-m", "canales.core.cli", "serve", "--site", str(site), "--port", str(port),
         "--database-url", f"sqlite:///{tmp_path}/serve.db", "--log-level", "warning"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        async with Citizen(ws_url(base)) as citizen:
            assert citizen.ws is not None and citizen.ws.response is not None
            assert "permessage-deflate" not in citizen.ws.response.headers.get("sec-websocket-extensions", "")
            await citizen.send(json.dumps({"type": "message", "id": "big", "text": "x" * 1_000_000}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                for _ in range(10):
                    await citizen.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            # The server's own refusal, not the chat's ("mensaje demasiado grande").
            assert "demasiado" not in closed.value.rcvd.reason
    finally:
        proc.terminate()
        proc.wait(timeout=30)
