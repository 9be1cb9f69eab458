"""Reports (volumes, response and resolution times, the bot's share, satisfaction,
CSV), the satisfaction survey's storage, and search — on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import select

from canales import Handoff, Inbound
from canales.core import conversations as ops
from canales.core.inbox import reports
from canales.core.inbox.search import search_contacts, search_messages
from canales.core.intake import receive
from canales.core.models import Conversation, Satisfaction
from canales.core.plugins import from_module
from canales.core.replies import send_reply
from canales.core.routing import NotFound, hand_off
from canales.core.satisfaction import record_satisfaction
from canales.core.text import InvalidInput
from fixture_plugins import recorder as rec_plugin
from inbox_support import citizen_says, client_for, login, make_agent

UY = dt.timezone(dt.timedelta(hours=-3))
SITE = """
id = "uno"
name = "Sitio uno"
[hours]
always = true
[holidays]
categories = []
[plugins.api]
secret = { env = "TEST_API_SECRET" }
[plugins.rec]
"""


@pytest.fixture
def site_path(site_file: Any) -> Any:
    return site_file(SITE)


def at(hour: int, minute: int = 0, day: int = 10) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=UY)


async def test_the_report_measures_a_day(run_app: Any, site_path: Any, clock: Any) -> None:
    async with run_app(site_path, plugins={"rec": from_module("rec", rec_plugin)}, background=False) as app:
        site = app.site("uno")
        ana = await make_agent(app.canales, "ana@uno.uy", "uno", role="supervisor")
        # 1: an agent answers in 2 minutes, closes after 30; citizen gives 5.
        clock.set(at(10))
        one = await citizen_says(site, "uno", sender="c1")
        # A routing rule may name any team; a spreadsheet must not run it as a formula.
        async with site.db.write() as session:
            await session.exec(update(Conversation).where(Conversation.id == one.conversation.id).values(team="=cmd"))
        clock.set(at(10, 2))
        await ops.assign(site, one.conversation.id, ana)
        await send_reply(site, one.conversation.id, "respuesta", author_kind="agent", agent_id=ana)
        clock.set(at(10, 30))
        await ops.close(site, one.conversation.id)
        await record_satisfaction(site, one.conversation.id, 5, "Muy buena atención <b>gracias</b>")
        # 2: the bot answers and the conversation closes without people.
        clock.set(at(11))
        two = await citizen_says(site, "dos", sender="c2")
        await send_reply(site, two.conversation.id, "respuesta automática", author_kind="bot")
        clock.set(at(11, 5))
        await ops.close(site, two.conversation.id)
        # 3: the bot hands off at 12:00; an agent answers at 12:10 (10 minutes after reaching people).
        clock.set(at(11, 30))
        three = await citizen_says(site, "tres", sender="c3")
        await send_reply(site, three.conversation.id, "no entiendo", author_kind="bot")
        clock.set(at(12))
        await hand_off(site, three.conversation.id, Handoff("bot", "not_understood"))
        clock.set(at(12, 10))
        await ops.assign(site, three.conversation.id, ana)
        await send_reply(site, three.conversation.id, "te ayudo", author_kind="agent", agent_id=ana)
        await record_satisfaction(site, three.conversation.id, 2)
        # 4: another channel, late at night, unanswered.
        clock.set(at(23, 15))
        await receive(site, Inbound(channel="rec", external_id="r4", sender_id="c4", text="cuatro"))
        # Outside the period: the day before.
        clock.set(at(9, day=9))
        await citizen_says(site, "ayer", sender="c5")

        clock.set(at(23, 30))
        period = reports.Period.parse(site, "2026-03-10", "2026-03-10")
        report = await reports.build(site, period)
        assert report.total == 4
        assert report.by_channel == {"api": 3, "rec": 1}
        assert [h for h, n in enumerate(report.by_hour) if n] == [10, 11, 23] and report.by_hour[11] == 2
        assert (report.first_response.count, report.first_response.median, report.first_response.p90) == (2, 360, 600)
        assert (report.resolution.count, report.resolution.median, report.resolution.p90) == (2, 1050, 1800)
        assert (report.with_bot, report.solved_by_bot, report.bot_share) == (2, 1, 0.5)
        assert report.scores == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1} and report.average_score == 3.5
        assert [c for _, _, c in report.comments] == ["Muy buena atención <b>gracias</b>"]

        rows = list(csv.reader(io.StringIO(reports.to_csv(report))))
        assert rows[0][:4] == ["conversacion", "canal", "equipo", "estado"]
        assert len(rows) == 5
        first = dict(zip(rows[0], rows[1]))
        assert first["equipo"] == "'=cmd"  # never a formula in a spreadsheet
        assert (first["primera_respuesta_seg"], first["resolucion_seg"], first["satisfaccion"]) == ("120", "1800", "5")
        assert first["inicio"] == "2026-03-10T10:00:00-03:00"

        async with client_for(app) as client:
            await login(client, "ana@uno.uy")
            page = await client.get("/inbox/uno/reports?from=2026-03-10&to=2026-03-10")
            assert page.status_code == 200
            assert '<svg class="chart" id="chart-channels"' in page.text and 'role="img"' in page.text
            assert "50.0 %" in page.text and "6 min 0 s" in page.text  # bot share; median first response
            assert "Muy buena atención &lt;b&gt;gracias&lt;/b&gt;" in page.text
            download = await client.get("/inbox/uno/reports?from=2026-03-10&to=2026-03-10&format=csv")
            assert download.headers["content-type"].startswith("text/csv")
            assert 'filename="informe-uno-2026-03-10-2026-03-10.csv"' in download.headers["content-disposition"]
            assert download.text == reports.to_csv(report)


async def test_periods_are_parsed_safely(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(at(12))
    async with run_app(site_path, plugins={"rec": from_module("rec", rec_plugin)}, background=False) as app:
        site = app.site("uno")
        default = reports.Period.parse(site, None, None)
        assert (default.first_day, default.last_day) == (dt.date(2026, 2, 9), dt.date(2026, 3, 10))
        assert reports.Period.parse(site, "no-es-fecha", "2026-01-01") == default
        assert reports.Period.parse(site, "2026-03-10", "2026-01-01") == default
        long = reports.Period.parse(site, "2020-01-01", "2026-03-10")
        assert (long.last_day - long.first_day).days == reports.MAX_DAYS - 1
        assert long.start == dt.datetime(2025, 3, 10, tzinfo=UY)


async def test_satisfaction_is_validated_and_kept_once_per_conversation(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(id="uno"), site_file(id="dos")) as app:
        site = app.site("uno")
        received = await citizen_says(site, "hola")
        cid = received.conversation.id
        for bad in (0, 6, True, "5", 4.5):
            with pytest.raises(InvalidInput):
                await record_satisfaction(site, cid, bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await record_satisfaction(site, cid, 4, "x" * 1001)
        with pytest.raises(NotFound):
            await record_satisfaction(app.site("dos"), cid, 4)
        await record_satisfaction(site, cid, 3, "  ")
        saved = await record_satisfaction(site, cid, 4, "mejor")
        assert (saved.score, saved.comment) == (4, "mejor")
        async with site.db.read() as session:
            assert len((await session.exec(select(Satisfaction))).all()) == 1


async def test_search_finds_messages_and_contacts_with_parameters_only(run_app: Any, site_file: Any) -> None:
    async with run_app(site_file(id="uno"), site_file(id="dos")) as app:
        site = app.site("uno")
        ana = await make_agent(app.canales, "ana@uno.uy", "uno")
        beto = await make_agent(app.canales, "beto@uno.uy", "uno")
        fine = await citizen_says(site, "Tengo una multa vencida del auto", sender="c1", name="Marta Pérez")
        await citizen_says(site, "Quiero un descuento del 100% en la patente", sender="c2", name="Luis")
        await citizen_says(site, "Pagué 1000 pesos", sender="c3", name="Ana María")
        private = await citizen_says(site, "multa de beto", sender="c4", name="Pedro")
        await ops.assign(site, private.conversation.id, beto)
        await citizen_says(app.site("dos"), "multa en el otro sitio", sender="c5", name="Marta Otra")
        everything = {"uno": "supervisor"}
        if site.db.is_sqlite:
            hits = await search_messages(site.db, everything, ana, "multa venc")
        else:
            hits = await search_messages(site.db, everything, ana, "multas vencidas")  # Spanish stemming
        assert [h.conversation_id for h in hits] == [fine.conversation.id]
        assert "multa vencida" in hits[0].snippet
        # The agent role finds nothing of conversations assigned to others; no other site ever.
        as_agent = await search_messages(site.db, {"uno": "agent"}, ana, "multa")
        assert private.conversation.id not in {h.conversation_id for h in as_agent} and as_agent
        as_beto = await search_messages(site.db, {"uno": "agent"}, beto, "multa")
        assert private.conversation.id in {h.conversation_id for h in as_beto}
        assert all(h.site_id == "uno" for h in await search_messages(site.db, everything, ana, "multa"))
        # Wildcards and quotes are literal, never SQL.
        assert [h.snippet for h in await search_messages(site.db, everything, ana, "100%")] == ["Quiero un descuento del 100% en la patente"]
        assert await search_messages(site.db, everything, ana, "' OR 1=1 --") == []
        assert await search_messages(site.db, everything, ana, "_") == []
        contacts = await search_contacts(site.db, everything, ana, "marta")
        assert [c.name for c in contacts] == ["Marta Pérez"]
        assert [c.name for c in await search_contacts(site.db, everything, ana, "%")] == []
        assert [c.name for c in await search_contacts(site.db, {"uno": "agent"}, ana, "pedro")] == []
