"""Acknowledgements (inside and outside hours, once per period, after a bot
hand-off), the inbox hooks (reply options, panels), the backlog's after-hours flag,
and ``canales facebook check`` against the stand-in."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from canales import Handoff, Routing, hookimpl
from canales.core.cli import main
from canales.core.models import Conversation
from canales.core.plugins import from_module
from canales.core.routing import hand_off
from facebook_support import PAGE, facebook_app

WEEKDAYS = 'mon = ["08:00-18:00"]\ntue = ["08:00-18:00"]\nwed = ["08:00-18:00"]\nthu = ["08:00-18:00"]\nfri = ["08:00-18:00"]'
# Tuesday 22:00 in Montevideo.
TUESDAY_NIGHT = dt.datetime(2026, 3, 11, 1, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
async def fb(run_app: Any, site_file: Any, monkeypatch: Any, clock: Any) -> Any:
    async with facebook_app(run_app, site_file, monkeypatch, clock, hours=WEEKDAYS, start=TUESDAY_NIGHT,
                            extra='ack_period_hours = 6\n[plugins.facebook.texts]\n"ack.open" = "Recibido, ya te atendemos."') as running:
        yield running


async def test_after_hours_acknowledgement_says_when(fb: Any) -> None:
    await fb.hooks.send(fb.hooks.message("psid-1", "Hola", fb.now()))
    await fb.hooks.send(fb.hooks.comment("555_1", "¿Abren mañana?", fb.now(), post_id=f"{PAGE}_555"))
    await fb.drain()
    (ack,) = fb.graph.sent
    assert "fuera del horario" in ack["text"] and "mañana a las 08:00" in ack["text"]
    (comment_ack,) = [c for c in fb.graph.comments.values() if c.parent_id == "555_1"]
    assert "mañana a las 08:00" in comment_ack.message
    # Both wait in the backlog: they arrived while closed, oldest first.
    conversations = await fb.rows(Conversation, order=Conversation.created_at)
    assert [c.after_hours for c in conversations] == [True, True]
    assert [c.data["kind"] for c in conversations] == ["messenger", "comment"]


async def test_acknowledged_once_per_period_never_twice(fb: Any) -> None:
    for i in range(3):
        await fb.hooks.send(fb.hooks.message("psid-1", f"mensaje {i}", fb.now()))
        fb.clock.advance(minutes=20)
    await fb.drain()
    assert len(fb.graph.sent) == 1
    fb.clock.set(dt.datetime(2026, 3, 11, 14, 0, tzinfo=dt.timezone.utc))  # Wednesday 11:00, open
    await fb.hooks.send(fb.hooks.message("psid-1", "¿siguen ahí?", fb.now()))
    await fb.drain()
    assert [s["text"] for s in fb.graph.sent][-1] == "Recibido, ya te atendemos."  # the site's own text
    assert len(fb.graph.sent) == 2


class Bot:
    """Takes every Facebook conversation, as the chatbot does when enabled for it."""

    @hookimpl
    def route_conversation(self, site: Any, conversation: Any, message: Any, handoff: Any) -> Any:
        return Routing(to="bot", rule="bot") if handoff is None else None


async def test_the_bot_answers_and_the_acknowledgement_covers_the_hand_off(run_app: Any, site_file: Any, monkeypatch: Any, clock: Any) -> None:
    path_extra = "\n[plugins.bot]\n"
    async with facebook_app(run_app, site_file, monkeypatch, clock, extra=path_extra, plugins={"bot": from_module("bot", Bot())}) as fb:
        await fb.hooks.send(fb.hooks.message("psid-1", "Hola", fb.now()))
        await fb.drain()
        (conversation,) = await fb.rows(Conversation)
        assert conversation.state == "bot" and fb.graph.sent == []  # the bot's turn: no acknowledgement
        await hand_off(fb.site, conversation.id, Handoff("bot", "asked"))
        await fb.drain()
        (ack,) = fb.graph.sent
        assert ack["text"].startswith("¡Hola! Recibimos tu consulta")


async def test_reply_options_and_panels(fb: Any) -> None:
    await fb.hooks.send(fb.hooks.message("psid-1", "Hola", fb.now()))
    await fb.hooks.send(fb.hooks.comment("555_1", "Mi correo es ana@correo.com", fb.now(), post_id=f"{PAGE}_555"))
    messenger, comment = await fb.rows(Conversation, order=Conversation.id)

    def options(conversation: Any) -> dict[str, Any]:
        (found,) = [r for r in fb.site.hook.reply_options(site=fb.site, conversation=conversation, agent=None) if r]
        return {o.value: o for o in found}

    def panel_text(conversation: Any) -> str:
        return " ".join(str(p.html) for r in fb.site.hook.inbox_panels(site=fb.site, conversation=conversation, agent=None) for p in r or [])

    assert options(messenger)["private"].available
    assert "Ventana abierta" in panel_text(messenger)
    by_value = options(comment)
    assert by_value["private"].default and by_value["private"].available
    assert not by_value["public"].available and "correo electrónico" in (by_value["public"].reason or "")
    text = panel_text(comment)
    assert f"https://www.facebook.com/{PAGE}/posts/555" in text and "Respuesta privada disponible" in text
    assert "ana@correo.com" not in text  # panels name the kind of data, never the data
    fb.clock.advance(hours=30)
    fresh = (await fb.rows(Conversation, Conversation.id == messenger.id))[0]
    assert "HUMAN_AGENT" in panel_text(fresh)
    fb.clock.advance(days=7)
    fresh = (await fb.rows(Conversation, Conversation.id == messenger.id))[0]
    assert not options(fresh)["private"].available and "Ventana cerrada" in panel_text(fresh)


async def test_comment_with_personal_data_can_be_hidden(run_app: Any, site_file: Any, monkeypatch: Any, clock: Any) -> None:
    async with facebook_app(run_app, site_file, monkeypatch, clock, extra="hide_comments_with_personal_data = true") as fb:
        await fb.hooks.send(fb.hooks.comment("555_1", "Mi RUT es 21-100342-001-7", fb.now(), post_id=f"{PAGE}_555"))
        await fb.hooks.send(fb.hooks.comment("555_2", "¿Qué horario tienen?", fb.now(), post_id=f"{PAGE}_555"))
        assert fb.graph.comments["555_1"].hidden and not fb.graph.comments["555_2"].hidden
        conversations = await fb.rows(Conversation, order=Conversation.id)
        assert conversations[0].data["facebook"]["hidden"] is True


async def test_check_command(run_app: Any, site_file: Any, monkeypatch: Any, clock: Any, capsys: Any) -> None:
    async with facebook_app(run_app, site_file, monkeypatch, clock) as fb:
        path = str(next(iter(fb.app.canales.sites.values())).config.path)
        assert await asyncio.to_thread(main, ["facebook", "check", "--site", path]) == 0
        out = capsys.readouterr().out
        assert out.count("OK    ") == 3
        fb.graph.scopes.remove("pages_messaging")
        fb.graph.subscribed_fields = ["feed"]
        assert await asyncio.to_thread(main, ["facebook", "check", "--site", path]) == 1
        out = capsys.readouterr().out
        assert "FAIL  permissions: missing pages_messaging" in out
        assert "FAIL  webhook subscription: fields messages, messaging_postbacks, message_echoes" in out
        fb.graph.token_valid = False
        assert await asyncio.to_thread(main, ["facebook", "check", "--site", path]) == 1
        assert "FAIL  page token: refused by Meta" in capsys.readouterr().out
