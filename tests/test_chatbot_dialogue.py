"""The bot in a running app, talked to through the API channel: answers with
buttons, numbered replies, clarification, out of scope, hand-off in and out of
business hours, feedback, flows with validated slots, bad input, and turns of one
conversation arriving at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot_helpers import Citizen, bot_site, texts, titles
from canales.core.models import Conversation
from canales.plugins.chatbot.learning import misunderstood
from canales.plugins.chatbot.models import BotSession, BotTurn

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def turns(site: Any) -> list[BotTurn]:
    async with site.db.read() as session:
        return list((await session.exec(select(BotTurn).order_by(col(BotTurn.id)))).all())


async def conversation(site: Any, conversation_id: int) -> Conversation:
    async with site.db.read() as session:
        return (await session.exec(select(Conversation).where(col(Conversation.id) == conversation_id))).one()


async def test_bot_answers_a_question_in_the_citizens_words(run_app: Any, site_file: Any) -> None:
    async with run_app(bot_site(site_file)) as app:
        ana = Citizen(app)
        replies = await ana.says("q nesecito pa sacar la sedula??")
        assert "Dirección Nacional de Identificación Civil" in texts(replies)
        assert all(m["author_kind"] == "bot" for m in replies)
        assert titles(replies) == ["Agendar una hora", "Perdí mi cédula", "👍 Me sirvió", "👎 No me sirvió"]
        conv = await conversation(app.site(), ana.conversation_id or 0)
        assert conv.state == "bot" and conv.routing_rule == "chatbot"
        (turn,) = await turns(app.site())
        assert (turn.intent, turn.outcome, turn.source) == ("cedula_tramite", "answered", "nlu")
        assert turn.confidence is not None and turn.confidence > 0.5
        assert turn.model is not None and len(turn.model) == 64
        # A button's payload comes back as the API channel's "choice".
        replies = await ana.picks("Perdí mi cédula")
        assert "denuncia" in texts(replies)
        assert (await turns(app.site()))[-1].source == "button"


@SQLITE_ONLY
async def test_a_number_picks_a_button_on_text_channels(run_app: Any, site_file: Any) -> None:
    async with run_app(bot_site(site_file)) as app:
        ana = Citizen(app)
        greeting = await ana.says("hola")
        assert titles(greeting)[:2] == ["Cédula de identidad", "Pasaporte"]
        replies = await ana.says("2")
        assert "pasaporte" in texts(replies).lower()
        assert (await turns(app.site()))[-1].source == "number"
        # A number beyond the offered buttons is just text.
        assert "no te puedo ayudar" in texts(await ana.says("27"))


@SQLITE_ONLY
async def test_did_you_mean_offers_the_close_intents_and_learns_the_pick(run_app: Any, site_file: Any) -> None:
    async with run_app(bot_site(site_file)) as app:
        ana = Citizen(app)
        replies = await ana.says("libreta y multas")
        assert "¿Quisiste decir" in texts(replies)
        assert set(titles(replies)) == {"Libreta de conducir", "Multas de tránsito", "Ninguna de estas"}
        replies = await ana.picks("Multas de tránsito")
        assert "SUCIVE" in texts(replies)
        first, second = await turns(app.site())
        assert first.outcome == "clarified" and first.review == "new"
        assert first.resolved_intent == "multas_transito"
        assert second.intent == "multas_transito" and second.source == "button"
        groups = await misunderstood(app.site())
        assert groups[0].suggested_intent == "multas_transito"


async def test_out_of_scope_hands_off_with_a_summary_and_the_bot_goes_quiet(run_app: Any, site_file: Any) -> None:
    async with run_app(bot_site(site_file)) as app:
        ana = Citizen(app)
        await ana.says("hola")
        replies = await ana.says("cuál es la capital de Francia")
        assert "no te puedo ayudar" in replies[0]["text"]
        assert "Te paso con una persona" in replies[-1]["text"]
        conv = await conversation(app.site(), ana.conversation_id or 0)
        assert conv.state == "queued"
        assert conv.data["handoff"]["from"] == "bot" and conv.data["handoff"]["reason"] == "out_of_scope"
        assert "capital de Francia" in conv.data["handoff"]["summary"]
        last = (await turns(app.site()))[-1]
        assert (last.outcome, last.reason, last.review) == ("handed_off", "out_of_scope_intent", "new")
        # After the hand-off the bot says nothing more in this conversation.
        assert await ana.says("¿hola? ¿hay alguien?") == []
        assert len(await turns(app.site())) == 2
        panels = app.site().hook.inbox_panels(site=app.site(), conversation=conv, agent=None)
        (panel,) = [p for result in panels for p in (result or [])]
        assert panel.plugin == "chatbot" and "capital de Francia" in panel.html


@SQLITE_ONLY
async def test_out_of_hours_the_bot_offers_the_other_channels(run_app: Any, site_file: Any, clock: Any) -> None:
    clock.set(dt.datetime(2026, 3, 8, 6, 0, tzinfo=dt.timezone.utc))  # a Sunday, 3 a.m. in Montevideo
    path = bot_site(site_file, hours='mon = ["09:00-17:00"]')
    async with run_app(path) as app:
        ana = Citizen(app)
        replies = await ana.says("quiero hablar con una persona")
        text = texts(replies)
        assert "no hay personas atendiendo" in text
        assert "0800 1234 (lunes a viernes de 9 a 17)" in text and "consultas@uno.gub.uy" in text
        assert await ana.state() == "bot"
        # Still there for what it knows.
        assert "pasaporte" in texts(await ana.says("cómo saco el pasaporte")).lower()


@SQLITE_ONLY
async def test_asking_for_a_person_hands_off_in_hours(run_app: Any, site_file: Any) -> None:
    async with run_app(bot_site(site_file)) as app:
        ana = Citizen(app)
        await ana.says("necesito renovar el pasaporte")
        replies = await ana.says("pasame con un humano por favor")
        assert "Te paso con una persona" in texts(replies)
        conv = await conversation(app.site(), ana.conversation_id or 0)
        assert conv.state == "queued"
        assert conv.data["handoff"]["reason"] == "asked" and conv.data["handoff"]["intent"] == "hablar_con_persona"


async def test_thumbs_down_puts_the_question_up_for_review(run_app: Any, site_file: Any) -> None:
    async with run_app(bot_site(site_file)) as app:
        ana = Citizen(app)
        await ana.says("dónde hago el examen de manejo")
        replies = await ana.picks("👎 No me sirvió")
        assert "lo vamos a usar para mejorar" in texts(replies)
        assert "Hablar con una persona" in titles(replies)
        answered, feedback = await turns(app.site())
        assert answered.feedback == "down" and answered.review == "new"
        assert feedback.source == "feedback" and feedback.review is None
        (group,) = await misunderstood(app.site())
        assert group.questions[0].text == "dónde hago el examen de manejo"
        # Thumbs up on another answer is recorded without review.
        await ana.says("y cómo pido una partida de nacimiento")
        await ana.picks("👍 Me sirvió")
        assert (await turns(app.site()))[-2].feedback == "up"
        assert (await turns(app.site()))[-2].review is None


@SQLITE_ONLY
async def test_a_guided_flow_fills_and_validates_slots_across_turns(run_app: Any, site_file: Any, clock: Any) -> None:
    clock.set(dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.timezone.utc))  # Tuesday 10 March, noon
    async with run_app(bot_site(site_file)) as app:
        ana = Citizen(app)
        replies = await ana.says("quiero agendar una hora")
        assert "¿Para qué trámite" in texts(replies)
        assert titles(replies) == ["Cédula", "Pasaporte", "Libreta de conducir"]
        replies = await ana.picks("Pasaporte")
        assert "número de cédula" in texts(replies)
        replies = await ana.says("es 1.234.567-3")
        assert "dígito verificador" in texts(replies) and "número de cédula" in texts(replies)
        replies = await ana.says("perdón, 1.234.567-2")
        assert "¿Qué día" in texts(replies)
        replies = await ana.says("el 31/02")
        assert "No entendí la fecha" in texts(replies)
        # The service of the demo does not exist here: the action's error branch.
        replies = await ana.says("el lunes")
        assert "No pude reservar la hora" in texts(replies)
        last = (await turns(app.site()))[-1]
        assert last.reason == "action_failed" and last.detail["actions"][0]["ok"] is False
        async with app.site().db.read() as session:
            stored = (await session.exec(select(BotSession))).one()
        assert stored.data["slots"] == {"tramite": "pasaporte", "cedula": "1.234.567-2", "fecha": "2026-03-16"}
        assert stored.data["flow"] is None and stored.lease_token is None


@SQLITE_ONLY
async def test_a_flow_can_be_left_by_asking_something_else_or_cancelling(run_app: Any, site_file: Any) -> None:
    async with run_app(bot_site(site_file)) as app:
        ana = Citizen(app)
        await ana.says("quiero consultar un expediente")
        replies = await ana.says("mejor decime cómo saco la libreta de conducir")
        assert "Intendencia" in texts(replies)
        await ana.says("quiero consultar un expediente")
        assert "dejamos eso" in texts(await ana.says("cancelar"))


FREE_TEXT = """
version: 1
intents:
  reclamo:
    examples: [quiero hacer un reclamo, tengo una queja, reclamo]
    flow: reclamo
  saludo:
    examples: [hola, buenas, buen día]
answers:
  saludo:
    text: ¡Hola!
flows:
  reclamo:
    steps:
      - ask: motivo
        entity: text
        text: Contame tu reclamo.
      - say:
          text: "Registramos tu reclamo: «{{ slots.motivo }}»."
"""


@SQLITE_ONLY
async def test_template_syntax_and_html_from_citizens_come_out_literally(run_app: Any, site_file: Any, tmp_path: Path) -> None:
    knowledge = tmp_path / "reclamos.yml"
    knowledge.write_text(textwrap.dedent(FREE_TEXT), "utf-8")
    async with run_app(bot_site(site_file, knowledge=knowledge)) as app:
        ana = Citizen(app)
        assert "Contame tu reclamo" in texts(await ana.says("quiero hacer un reclamo"))
        replies = await ana.says("{{ 7*7 }} <script>alert(1)</script> {% for x in y %}")
        assert texts(replies) == "Registramos tu reclamo: «{{ 7*7 }} <script>alert(1)</script> {% for x in y %}»."
        assert "49" not in texts(replies)


@SQLITE_ONLY
async def test_bad_input_gets_a_clear_answer(run_app: Any, site_file: Any) -> None:
    async with run_app(bot_site(site_file)) as app:
        ana = Citizen(app)
        assert "con palabras" in texts(await ana.says("😀🙏🎉"))
        assert "muy largo" in texts(await ana.says("necesito ayuda con mi trámite " * 100))
        assert "solo entiendo español" in texts(await ana.says("Hello, how do I renew my passport please?"))
        weird = await ana.says("\u202e\u200b¿¿¿???!!! ...")
        assert weird and weird[0]["author_kind"] == "bot"
        # A forged choice naming no intent, or with broken JSON, is just text.
        assert await ana.says("", choice='/turno_agendar{"cedula": ') != []
        assert await ana.says("", choice="/no_existe") != []
        reasons = [t.reason for t in await turns(app.site())]
        assert reasons[:3] == ["no_words", "too_long", "language:en"]
        assert len(reasons) == 6


@SQLITE_ONLY
async def test_a_forged_payload_cannot_fill_a_slot_with_an_invalid_value(run_app: Any, site_file: Any) -> None:
    async with run_app(bot_site(site_file)) as app:
        ana = Citizen(app)
        await ana.says("", choice='/turno_agendar{"cedula": "1.234.567-9", "tramite": "pasaporte"}')
        async with app.site().db.read() as session:
            stored = (await session.exec(select(BotSession))).one()
        assert stored.data["slots"] == {"tramite": "pasaporte"}


async def test_messages_of_one_conversation_arriving_together_take_turns(run_app: Any, site_file: Any) -> None:
    async with run_app(bot_site(site_file)) as app:
        ana = Citizen(app)
        await ana.says("hola")
        questions = ["cómo saco el pasaporte", "perdí la cédula", "partida de nacimiento", "multas", "libreta de conducir"]
        results = await asyncio.gather(*(Citizen(app, "ana").says(q) for q in questions))
        assert all(results)
        logged = await turns(app.site())
        assert len(logged) == 6 and len({t.message_id for t in logged}) == 6
        async with app.site().db.read() as session:
            (stored,) = (await session.exec(select(BotSession))).all()
        assert stored.lease_token is None and stored.lease_until is None
        # One conversation; each of these questions gets exactly one answer.
        messages = await ana.messages()
        assert [m["direction"] for m in messages].count("in") == 6
        assert [m["author_kind"] for m in messages].count("bot") == 6


@SQLITE_ONLY
async def test_the_bot_takes_only_its_channels(run_app: Any, site_file: Any) -> None:
    path = site_file(bot_site(site_file).read_text("utf-8").replace('channels = ["api"]', 'channels = ["chat"]'))
    async with run_app(path) as app:
        ana = Citizen(app)
        assert await ana.says("hola") == []
        assert await ana.state() == "queued"
