"""The Facebook channel end to end against the Graph stand-in: a signed webhook in,
a stored conversation, the acknowledgement, an agent's reply out — counted, never
twice — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import col

from canales import ReplyRefused
from canales.core.agents import add_agent
from canales.core.models import Conversation, Delivery, Message
from canales.core.replies import send_reply
from canales.plugins.facebook.models import FacebookObject
from facebook_support import PAGE, facebook_app


@pytest.fixture
async def fb(run_app: Any, site_file: Any, monkeypatch: Any, clock: Any) -> Any:
    async with facebook_app(run_app, site_file, monkeypatch, clock) as running:
        yield running


async def agent_id(fb: Any) -> int:
    agent = await add_agent(fb.site.db, email="ana@ejemplo.gub.uy", name="Ana", password="una-clave-larga-y-segura-123", site_id="uno", role="agent")
    return agent.id


async def test_messenger_message_to_agent_reply(fb: Any) -> None:
    response = await fb.hooks.send(fb.hooks.message("psid-1", "Hola, ¿cómo saco la libreta?", fb.now(), mid="m_1"))
    assert response.status_code == 200 and response.text == "EVENT_RECEIVED"
    (conversation,) = await fb.rows(Conversation)
    assert conversation.channel == "facebook" and conversation.data["kind"] == "messenger"
    assert conversation.thread_key == "messenger:psid-1" and conversation.state == "queued"
    assert conversation.last_citizen_at == fb.now()
    (citizen,) = await fb.rows(Message, Message.direction == "in")
    assert citizen.text == "Hola, ¿cómo saco la libreta?" and citizen.external_id == "m_1"

    # The acknowledgement goes out at once, as a standard response.
    await fb.drain()
    (ack,) = fb.graph.sent
    assert ack["messaging_type"] == "RESPONSE" and ack["tag"] is None
    assert ack["text"].startswith("¡Hola! Recibimos tu consulta") and ack["psid"] == "psid-1"

    # An agent answers two hours later; one Graph call, one message, echoed back.
    fb.clock.advance(hours=2)
    reply = await send_reply(fb.site, conversation.id, "Se tramita en el Centro de Atención.", author_kind="agent", agent_id=await agent_id(fb))
    await fb.drain()
    assert fb.graph.count("messages") == 2 and len(fb.graph.sent) == 2
    sent = fb.graph.sent[1]
    assert sent["text"] == "Se tramita en el Centro de Atención." and sent["messaging_type"] == "RESPONSE"
    (delivery,) = await fb.rows(Delivery, Delivery.message_id == reply.id)
    assert delivery.state == "done" and delivery.external_id == sent["mid"]
    assert sent["metadata"] == f"canales:{delivery.key}"
    # The echo was recognised as ours: no citizen message, recorded for reconciling.
    assert await fb.count(Message, Message.direction == "in") == 1
    assert await fb.count(FacebookObject, FacebookObject.delivery_key == delivery.key) >= 1
    # Nothing more goes out, however often the relay runs.
    await fb.drain()
    assert len(fb.graph.sent) == 2


async def test_human_agent_tag_only_for_people_between_24h_and_7_days(fb: Any) -> None:
    await fb.hooks.send(fb.hooks.message("psid-1", "Consulta", fb.now()))
    await fb.drain()
    (conversation,) = await fb.rows(Conversation)
    fb.clock.advance(hours=30)
    with pytest.raises(ReplyRefused) as refused:
        await send_reply(fb.site, conversation.id, "Respuesta automática", author_kind="bot")
    assert refused.value.problems[0].code == "window_human_only"
    assert "0800 1234" in (refused.value.suggestion or "")
    await send_reply(fb.site, conversation.id, "Te respondo yo", author_kind="agent", agent_id=await agent_id(fb))
    await fb.drain()
    tagged = fb.graph.sent[-1]
    assert tagged["messaging_type"] == "MESSAGE_TAG" and tagged["tag"] == "HUMAN_AGENT"
    # After 7 days nothing can be sent, not even by a person; nothing is stored.
    fb.clock.advance(days=7)
    before = await fb.count(Message)
    with pytest.raises(ReplyRefused) as refused:
        await send_reply(fb.site, conversation.id, "¿Sigue ahí?", author_kind="agent", agent_id=1)
    assert refused.value.problems[0].code == "window_closed"
    assert await fb.count(Message) == before
    # The citizen writes again: the window opens.
    await fb.hooks.send(fb.hooks.message("psid-1", "Hola de nuevo", fb.now()))
    await send_reply(fb.site, conversation.id, "¡Hola!", author_kind="bot")
    await fb.drain()
    assert fb.graph.sent[-1]["text"] == "¡Hola!" and fb.graph.sent[-1]["messaging_type"] == "RESPONSE"


async def test_comment_public_reply(fb: Any) -> None:
    post = f"{PAGE}_555"
    await fb.hooks.send(fb.hooks.comment(f"555_1", "¿Hasta cuándo es la inscripción?", fb.now(), post_id=post))
    (conversation,) = await fb.rows(Conversation)
    assert conversation.data["kind"] == "comment" and conversation.thread_key == "comment:555_1"
    assert conversation.data["facebook"]["post_link"] == f"https://www.facebook.com/{PAGE}/posts/555"
    (comment,) = await fb.rows(Message, Message.direction == "in")
    assert comment.visibility == "public"
    await fb.drain()
    # The acknowledgement is a reply to the comment, in public.
    assert fb.graph.count("comment_reply") == 1 and fb.graph.sent == []
    await send_reply(fb.site, conversation.id, "Hasta el 30 de abril.", author_kind="agent", agent_id=await agent_id(fb), visibility="public")
    await fb.drain()
    assert fb.graph.count("comment_reply") == 2
    replies = [c for c in fb.graph.comments.values() if c.parent_id == "555_1"]
    assert [c.message for c in replies][-1] == "Hasta el 30 de abril."
    # Meta sends the page's own comments back: recognised, never a citizen message.
    own = replies[-1]
    await fb.hooks.send(fb.hooks.comment(own.id, own.message, fb.now(), post_id=post, parent_id="555_1", from_page=True))
    assert await fb.count(Message, Message.direction == "in") == 1


async def test_comment_with_personal_data_goes_private_then_public_notice(fb: Any) -> None:
    post = f"{PAGE}_555"
    await fb.hooks.send(fb.hooks.comment("555_2", "Mi cédula es 1.234.567-2 y no me llegó la devolución", fb.now(), post_id=post, user_id="u-9"))
    (conversation,) = await fb.rows(Conversation)
    assert conversation.data["facebook"]["personal_data"] == ["cédula de identidad"]
    agent = await agent_id(fb)
    # A public answer is refused: the comment shows personal data.
    with pytest.raises(ReplyRefused) as refused:
        await send_reply(fb.site, conversation.id, "Ya lo revisamos", author_kind="agent", agent_id=agent, options={"reply": "public"})
    assert refused.value.problems[0].code == "personal_data" and "privado" in (refused.value.suggestion or "")
    # The default for such a comment is private.
    await send_reply(fb.site, conversation.id, "Hola, revisamos tu caso: la devolución sale el lunes.", author_kind="agent", agent_id=agent)
    await fb.drain()
    (private,) = [s for s in fb.graph.sent if s["kind"] == "private_reply"]
    assert private["recipient"] == {"comment_id": "555_2"}
    notices = [c for c in fb.graph.comments.values() if c.parent_id == "555_2" and "mensaje privado" in c.message]
    assert len(notices) == 1
    # Only once per comment: a second private reply is refused before any call.
    calls = fb.graph.count("messages")
    with pytest.raises(ReplyRefused) as refused:
        await send_reply(fb.site, conversation.id, "Otra cosa", author_kind="agent", agent_id=agent, options={"reply": "private"})
    assert refused.value.problems[0].code == "private_used"
    assert fb.graph.count("messages") == calls
    fresh = (await fb.rows(Conversation))[0]
    assert fresh.data["facebook"]["private_reply"]["state"] == "sent"


async def test_private_reply_window_is_seven_days(fb: Any) -> None:
    await fb.hooks.send(fb.hooks.comment("555_3", "Tengo diabetes, ¿me corresponde la pensión?", fb.now(), post_id=f"{PAGE}_555"))
    (conversation,) = await fb.rows(Conversation)
    fb.clock.advance(days=8)
    with pytest.raises(ReplyRefused) as refused:
        await send_reply(fb.site, conversation.id, "Escribinos", author_kind="agent", agent_id=await agent_id(fb), options={"reply": "private"})
    problem = refused.value.problems[0]
    assert problem.code == "private_expired" and "consultas@ejemplo.gub.uy" in (problem.suggestion or "")
    options = {o.value: o for o in fb.site.hook.reply_options(site=fb.site, conversation=conversation, agent=None)[0]}
    assert not options["private"].available and not options["public"].available
