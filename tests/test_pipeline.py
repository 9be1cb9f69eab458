"""The message pipeline on SQLite and PostgreSQL: intake is idempotent, routing is
recorded, replies and their outbox rows are stored together and delivered once, in
order, with retries and crash recovery."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, update
from sqlmodel import col, select

from canales import DeliveryError, DeliveryOutcomeUnknown, Handoff, Inbound, Rejected, Routing, hookimpl
from canales.core.intake import process_unhandled, receive, store
from canales.core.models import Contact, Conversation, Delivery, Message
from canales.core.plugins import from_module
from canales.core.replies import ConversationClosed, add_note, send_reply
from canales.core.routing import NotFound, hand_off
from canales.core.runtime import Canales
from canales.core.text import InvalidInput
from fixture_plugins import recorder as rec_plugin
from helpers import eventually

SITE = """
id = "{id}"
name = "Sitio {id}"
[hours]
always = true
[holidays]
categories = []
[plugins.rec]
"""


@pytest.fixture
def sites(site_file: Any) -> tuple[Path, Path]:
    return site_file(SITE.format(id="uno"), id="uno"), site_file(SITE.format(id="dos"), id="dos")


def plugins(**extra: Any) -> dict[str, Any]:
    return {"rec": from_module("rec", rec_plugin), **{k: from_module(k, v) for k, v in extra.items()}}


def inbound(external_id: str, text: str = "hola", sender: str = "ana", **kw: Any) -> Inbound:
    return Inbound(channel="rec", external_id=external_id, sender_id=sender, text=text, **kw)


async def count(site: Any, model: Any, *where: Any) -> int:
    async with site.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


async def test_intake_is_idempotent(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins()) as app:
        site = app.site("uno")
        first = await receive(site, inbound("m-1"))
        again = await receive(site, inbound("m-1"))
        assert not first.duplicate and again.duplicate
        assert again.message.id == first.message.id
        assert await count(site, Message, Message.site_id == "uno") == 1


async def test_concurrent_redeliveries_store_one_message(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins()) as app:
        site = app.site("uno")
        results = await asyncio.gather(*(store(site, inbound("same-id")) for _ in range(20)))
        assert sum(not r.duplicate for r in results) == 1
        assert await count(site, Message) == 1
        assert await count(site, Conversation) == 1


async def test_concurrent_first_messages_open_one_conversation(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins()) as app:
        site = app.site("uno")
        results = await asyncio.gather(*(store(site, inbound(f"m-{i}")) for i in range(15)))
        assert len({r.conversation.id for r in results}) == 1
        assert sorted(r.message.seq for r in results) == list(range(1, 16))
        assert await count(site, Conversation) == 1


async def test_sequence_numbers_are_per_conversation(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins()) as app:
        site = app.site("uno")
        a = [await store(site, inbound(f"a{i}", sender="ana")) for i in range(3)]
        b = [await store(site, inbound(f"b{i}", sender="beto")) for i in range(2)]
        assert [r.message.seq for r in a] == [1, 2, 3]
        assert [r.message.seq for r in b] == [1, 2]
        assert a[0].conversation.id != b[0].conversation.id


async def test_same_external_id_on_two_sites_is_two_messages(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins()) as app:
        one = await receive(app.site("uno"), inbound("m-1"))
        two = await receive(app.site("dos"), inbound("m-1"))
        assert not one.duplicate and not two.duplicate
        assert one.conversation.site_id == "uno" and two.conversation.site_id == "dos"


async def test_bad_input_stores_nothing(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins()) as app:
        site = app.site("uno")
        for bad, field in [
            (inbound("x", text="   "), "text"),
            (inbound("x", text="a" * 5000), "text"),
            (inbound("x", text="nul\x00byte"), "text"),
            (inbound("x", text="\ud800"), "text"),
            (inbound("", text="hola"), "external_id"),
            (inbound("x", occurred_at=dt.datetime(2026, 1, 1)), "occurred_at"),
        ]:
            with pytest.raises(InvalidInput) as exc:
                await receive(site, bad)
            assert exc.value.field == field
        assert await count(site, Message) == 0
        assert await count(site, Contact) == 0


class Vetoing:
    @hookimpl
    def prepare_inbound(self, site: Any, inbound: Inbound) -> None:
        if "spam" in inbound.text:
            raise Rejected("parece spam", code="spam")
        inbound.metadata["checked"] = True


async def test_hook_prepare_inbound(run_app: Any, site_file: Any) -> None:
    path = site_file(SITE.format(id="uno") + "[plugins.veto]\n")
    async with run_app(path, plugins=plugins(veto=Vetoing())) as app:
        site = app.site()
        with pytest.raises(Rejected):
            await receive(site, inbound("s1", text="compre spam"))
        assert await count(site, Message) == 0
        ok = await receive(site, inbound("s2", text="una consulta"))
        assert ok.message.payload["meta"] == {"checked": True}


async def test_default_routing_queues_and_records_rule(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins()) as app:
        received = await receive(app.site("uno"), inbound("m-1"))
        assert received.conversation.state == "queued"
        assert received.conversation.routing_rule == "default"


class BotFirst:
    """Routes new conversations to the bot; on hand-off, to a team."""

    def __init__(self) -> None:
        self.routed: list[tuple[str, str | None]] = []
        self.handled: list[tuple[str, int]] = []

    @hookimpl
    def route_conversation(self, site: Any, conversation: Any, message: Any, handoff: Any) -> Routing | None:
        if handoff is None:
            return Routing(to="bot", rule="bot-first")
        if handoff.intent and handoff.intent.startswith("multas"):
            return Routing(to="queue", team="transito", rule="intent:multas_*")
        return None

    @hookimpl
    async def conversation_routed(self, site: Any, conversation: Any, routing: Routing, handoff: Any) -> None:
        self.routed.append((conversation.state, handoff.reason if handoff else None))

    @hookimpl
    async def handle_message(self, site: Any, conversation: Any, message: Any) -> None:
        self.handled.append((conversation.state, message.seq))
        if conversation.state == "bot":
            await send_reply(site, conversation.id, f"eco: {message.text}", author_kind="bot")


async def test_hook_route_conversation(run_app: Any, site_file: Any) -> None:
    bot = BotFirst()
    path = site_file(SITE.format(id="uno") + "[plugins.bot]\n")
    async with run_app(path, plugins=plugins(bot=bot)) as app:
        site = app.site()
        received = await receive(site, inbound("m-1", text="hola"))
        assert received.conversation.state == "bot"
        assert received.conversation.routing_rule == "bot-first"
        # Routing happens once per conversation, not per message.
        await receive(site, inbound("m-2", text="otra"))
        assert bot.routed == [("bot", None)]


async def test_hook_conversation_routed(run_app: Any, site_file: Any) -> None:
    bot = BotFirst()
    path = site_file(SITE.format(id="uno") + "[plugins.bot]\n")
    async with run_app(path, plugins=plugins(bot=bot)) as app:
        site = app.site()
        received = await receive(site, inbound("m-1", text="multa"))
        handed = await hand_off(site, received.conversation.id, Handoff("bot", "asked", intent="multas_consulta", summary="pide persona"))
        assert handed.state == "queued" and handed.team == "transito"
        assert handed.routing_rule == "intent:multas_*"
        assert handed.data["handoff"]["reason"] == "asked"
        assert bot.routed == [("bot", None), ("queued", "asked")]
        # A closed or foreign conversation cannot be handed off.
        with pytest.raises(NotFound):
            await hand_off(app.site(), 999999, Handoff("bot", "asked"))


async def test_hook_handle_message(run_app: Any, site_file: Any) -> None:
    bot = BotFirst()
    path = site_file(SITE.format(id="uno") + "[plugins.bot]\n")
    async with run_app(path, plugins=plugins(bot=bot)) as app:
        site = app.site()
        await receive(site, inbound("m-1", text="hola"))
        await receive(site, inbound("m-2", text="chau"))
        assert bot.handled == [("bot", 1), ("bot", 3)]
        rec = rec_plugin.recorder(site)
        await eventually(lambda: len(rec.delivered) == 2)
        assert [d["text"] for d in rec.delivered] == ["eco: hola", "eco: chau"]
        assert [d["seq"] for d in rec.delivered] == [2, 4]


async def test_a_disabled_plugin_never_sees_the_sites_messages(run_app: Any, site_file: Any) -> None:
    bot = BotFirst()
    with_bot = site_file(SITE.format(id="uno") + "[plugins.bot]\n", id="uno")
    without = site_file(SITE.format(id="dos") + "[plugins.bot]\nenabled = false\n", id="dos")
    async with run_app(with_bot, without, plugins=plugins(bot=bot)) as app:
        await receive(app.site("dos"), inbound("m-1"))
        assert bot.handled == [] and bot.routed == []
        await receive(app.site("uno"), inbound("m-1"))
        assert bot.handled == [("bot", 1)]


async def test_hook_deliver_message(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins()) as app:
        site = app.site("uno")
        received = await receive(site, inbound("m-1"))
        reply = await send_reply(site, received.conversation.id, "Buenos días", author_kind="system")
        rec = rec_plugin.recorder(site)
        await eventually(lambda: count(site, Delivery, Delivery.state == "done"))
        assert rec.delivered[0]["text"] == "Buenos días" and rec.delivered[0]["to"] == "ana"
        async with site.db.read() as session:
            delivery = (await session.exec(select(Delivery).where(Delivery.message_id == reply.id))).one()
            message = await session.get(Message, reply.id)
        assert delivery.state == "done" and delivery.attempts == 1
        assert message is not None and message.external_id == f"rec-{reply.id}"


async def test_reply_and_outbox_row_are_one_transaction(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins(), background=False) as app:
        site = app.site("uno")
        received = await receive(site, inbound("m-1"))
        with pytest.raises(InvalidInput):
            await send_reply(site, received.conversation.id, "", author_kind="bot")
        with pytest.raises(NotFound):
            await send_reply(app.site("dos"), received.conversation.id, "otra", author_kind="bot")
        assert await count(site, Message, Message.direction == "out") == 0
        assert await count(site, Delivery) == 0
        await send_reply(site, received.conversation.id, "hola", author_kind="bot")
        assert await count(site, Message, Message.direction == "out") == 1
        assert await count(site, Delivery, Delivery.state == "pending") == 1


async def test_notes_are_never_delivered(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins()) as app:
        site = app.site("uno")
        received = await receive(site, inbound("m-1"))
        note = await add_note(site, received.conversation.id, "llamar mañana", agent_id=None)
        assert note.visibility == "internal" and note.seq == 2
        await send_reply(site, received.conversation.id, "respuesta", author_kind="system")
        rec = rec_plugin.recorder(site)
        await eventually(lambda: rec.delivered)
        await asyncio.sleep(0.2)
        assert [d["text"] for d in rec.delivered] == ["respuesta"]
        assert await count(site, Delivery) == 1


async def test_agent_cannot_answer_a_closed_conversation(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins(), background=False) as app:
        site = app.site("uno")
        received = await receive(site, inbound("m-1"))
        async with site.db.write() as session:
            await session.exec(update(Conversation).values(state="closed"))
        with pytest.raises(ConversationClosed):
            await send_reply(site, received.conversation.id, "tarde", author_kind="agent", agent_id=1)


async def test_failed_delivery_is_retried_with_backoff_then_delivered(run_app: Any, sites: Any, clock: Any) -> None:
    async with run_app(*sites, plugins=plugins(), background=False) as app:
        site = app.site("uno")
        rec = rec_plugin.recorder(site)
        rec.fail_next = [DeliveryError("503 del canal"), DeliveryError("429", retry_after=30)]
        received = await receive(site, inbound("m-1"))
        await send_reply(site, received.conversation.id, "respuesta", author_kind="system")
        assert await app.canales.outbox.run_once() == 1
        async with site.db.read() as session:
            delivery = (await session.exec(select(Delivery))).one()
        assert delivery.state == "pending" and delivery.last_error == "503 del canal"
        assert delivery.next_attempt_at > clock()
        assert await app.canales.outbox.run_once() == 0  # not due yet
        clock.advance(seconds=3)
        await app.canales.outbox.run_once()
        async with site.db.read() as session:
            delivery = (await session.exec(select(Delivery))).one()
        assert (delivery.next_attempt_at - clock()).total_seconds() == pytest.approx(30, abs=0.01)
        clock.advance(seconds=31)
        assert await app.canales.outbox.run_once() == 1
        assert [d["text"] for d in rec.delivered] == ["respuesta"]
        assert [a["attempt"] for a in rec.attempts] == [1, 2, 3]


async def test_permanent_failure_is_kept_as_failed(run_app: Any, sites: Any) -> None:
    async with run_app(*sites, plugins=plugins(), background=False) as app:
        site = app.site("uno")
        rec = rec_plugin.recorder(site)
        rec.fail_next = [DeliveryError("(#10) fuera de la ventana", retry=False)]
        received = await receive(site, inbound("m-1"))
        await send_reply(site, received.conversation.id, "respuesta", author_kind="system")
        await app.canales.outbox.run_once()
        async with site.db.read() as session:
            delivery = (await session.exec(select(Delivery))).one()
        assert delivery.state == "failed" and "ventana" in (delivery.last_error or "")
        # An agent can put it back in the queue.
        assert await app.canales.outbox.retry(site, delivery.id)
        await app.canales.outbox.run_once()
        assert len(rec.delivered) == 1


async def test_replies_of_a_conversation_go_out_in_order(run_app: Any, sites: Any, clock: Any) -> None:
    async with run_app(*sites, plugins=plugins(), background=False) as app:
        site = app.site("uno")
        rec = rec_plugin.recorder(site)
        rec.fail_next = [DeliveryError("falla transitoria")]
        received = await receive(site, inbound("m-1"))
        for text in ("uno", "dos", "tres"):
            await send_reply(site, received.conversation.id, text, author_kind="system")
        await app.canales.outbox.run_once()  # "uno" fails; "dos" must wait for it
        assert rec.delivered == []
        clock.advance(minutes=1)
        while await app.canales.outbox.run_once():
            pass
        assert [d["text"] for d in rec.delivered] == ["uno", "dos", "tres"]


async def test_a_crashed_delivery_is_retried_with_outcome_unknown(run_app: Any, sites: Any, clock: Any) -> None:
    async with run_app(*sites, plugins=plugins(), background=False) as app:
        site = app.site("uno")
        received = await receive(site, inbound("m-1"))
        await send_reply(site, received.conversation.id, "respuesta", author_kind="system")
        # A worker claims the row and dies before finishing the call.
        claimed = await app.canales.outbox.claim()
        assert len(claimed) == 1
        assert await app.canales.outbox.claim() == []  # leased: nobody else takes it
        clock.advance(minutes=2)  # the lease runs out
        await app.canales.outbox.run_once()
        rec = rec_plugin.recorder(site)
        assert rec.attempts == [{"key": claimed[0].key, "attempt": 2, "unknown": True, "seq": 2}]
        assert len(rec.delivered) == 1


async def test_outcome_unknown_is_passed_to_the_next_attempt(run_app: Any, sites: Any, clock: Any) -> None:
    async with run_app(*sites, plugins=plugins(), background=False) as app:
        site = app.site("uno")
        rec = rec_plugin.recorder(site)
        rec.fail_next = [DeliveryOutcomeUnknown("timeout")]
        received = await receive(site, inbound("m-1"))
        await send_reply(site, received.conversation.id, "respuesta", author_kind="system")
        await app.canales.outbox.run_once()
        clock.advance(minutes=20)
        await app.canales.outbox.run_once()
        assert [a["unknown"] for a in rec.attempts] == [False, True]


async def test_two_relays_deliver_each_reply_once(run_app: Any, sites: Any, database_url: str, clock: Any) -> None:
    async with run_app(*sites, plugins=plugins(), background=False) as app:
        site = app.site("uno")
        for i in range(12):
            received = await receive(site, inbound(f"m-{i}", sender=f"c{i}"))
            await send_reply(site, received.conversation.id, f"r{i}", author_kind="system")
        other = Canales(sites, database_url=database_url, plugins=plugins(), clock=clock, background=False)
        await other.start()
        try:
            other_site = other.sites["uno"]
            other_site.state["rec"] = rec_plugin.recorder(site)  # count in one place
            app.canales.outbox.batch = other.outbox.batch = 3
            async def drain(outbox: Any) -> None:
                while await outbox.run_once():
                    await asyncio.sleep(0)
            await asyncio.gather(drain(app.canales.outbox), drain(other.outbox))
        finally:
            await other.stop()
        delivered = rec_plugin.recorder(site).delivered
        assert sorted(d["text"] for d in delivered) == sorted(f"r{i}" for i in range(12))
        assert len({d["key"] for d in delivered}) == 12


class Crashing:
    @hookimpl
    def handle_message(self, site: Any, conversation: Any, message: Any) -> None:
        self.seen = getattr(self, "seen", 0) + 1


async def test_messages_stored_but_not_handled_are_picked_up(run_app: Any, site_file: Any, clock: Any) -> None:
    handler = Crashing()
    path = site_file(SITE.format(id="uno") + "[plugins.crash]\n")
    async with run_app(path, plugins=plugins(crash=handler), background=False) as app:
        site = app.site()
        received = await store(site, inbound("m-1"))  # the process dies here
        assert received.conversation.state == "new"
        assert await process_unhandled(site) == 0  # too recent: maybe still in flight
        clock.advance(seconds=30)
        assert await process_unhandled(site) == 1
        assert await process_unhandled(site) == 0
        assert handler.seen == 1
        async with site.db.read() as session:
            conversation = await session.get(Conversation, received.conversation.id)
        assert conversation is not None and conversation.state == "queued"


async def test_bus_events_follow_commits(run_app: Any, sites: Any) -> None:
    from canales.core.events import conversation_channel, inbox_channel

    async with run_app(*sites, plugins=plugins(), background=False) as app:
        site = app.site("uno")
        inbox = site.bus.subscribe(inbox_channel("uno"))
        other_inbox = site.bus.subscribe(inbox_channel("dos"))
        received = await receive(site, inbound("m-1"))
        citizen = site.bus.subscribe(conversation_channel(received.conversation.id))
        await add_note(site, received.conversation.id, "nota interna", agent_id=None)
        await send_reply(site, received.conversation.id, "respuesta", author_kind="system")
        kinds = []
        while (event := await inbox.get(timeout=0.2)) is not None:
            kinds.append((event["kind"], event.get("message", {}).get("seq")))
        assert ("message", 1) in kinds and ("message", 2) in kinds and ("message", 3) in kinds
        seen_by_citizen = []
        while (event := await citizen.get(timeout=0.2)) is not None:
            if event["kind"] == "message":
                seen_by_citizen.append(event["message"]["text"])
        assert seen_by_citizen == ["respuesta"]  # never the internal note
        assert await other_inbox.get(timeout=0.1) is None
        async with site.db.read() as session:
            seqs = (await session.exec(select(Message.seq).order_by(col(Message.seq)))).all()
        assert seqs == [1, 2, 3]


class Reviewer:
    """Refuses replies that mention "prohibido", except internal notes."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    @hookimpl
    async def review_reply(self, site: Any, conversation: Any, text: str, author_kind: str, options: Any) -> Any:
        self.seen.append((text, author_kind, options))
        if "prohibido" in text:
            from canales import ReplyProblem

            return [ReplyProblem("forbidden_word", "La respuesta usa una palabra prohibida.", suggestion="Reformulala.")]
        return None


async def test_hook_review_reply(run_app: Any, site_file: Any) -> None:
    from canales import ReplyRefused

    reviewer = Reviewer()
    path = site_file(SITE.format(id="uno") + "[plugins.review]\n")
    async with run_app(path, plugins=plugins(review=reviewer), background=False) as app:
        site = app.site()
        received = await receive(site, inbound("m-1"))
        conversation_id = received.conversation.id
        with pytest.raises(ReplyRefused) as refused:
            await send_reply(site, conversation_id, "esto está prohibido", author_kind="bot", options={"reply": "public"})
        assert [p.code for p in refused.value.problems] == ["forbidden_word"]
        assert refused.value.suggestion == "Reformulala."
        assert "palabra prohibida" in str(refused.value)
        # Nothing stored: no message, no delivery, the sequence untouched.
        assert await count(site, Message, Message.direction == "out") == 0
        assert await count(site, Delivery) == 0
        await send_reply(site, conversation_id, "todo bien", author_kind="bot")
        assert await count(site, Delivery) == 1
        assert reviewer.seen == [
            ("esto está prohibido", "bot", {"reply": "public"}),
            ("todo bien", "bot", {}),
        ]
        # Notes are never reviewed: they go nowhere.
        await add_note(site, conversation_id, "prohibido", agent_id=None)
        assert len(reviewer.seen) == 2
        # Another site's conversation is not found before any review.
        with pytest.raises(NotFound):
            await send_reply(site, 999999, "hola", author_kind="bot")
        assert len(reviewer.seen) == 2


async def test_a_claim_takes_one_batch_and_two_claims_do_not_overlap(run_app: Any, sites: Any, database_url: str, clock: Any) -> None:
    async with run_app(*sites, plugins=plugins(), background=False) as app:
        site = app.site("uno")
        for i in range(30):
            received = await receive(site, inbound(f"m-{i}", sender=f"c{i}"))
            await send_reply(site, received.conversation.id, f"r{i}", author_kind="system")
        other = Canales(sites, database_url=database_url, plugins=plugins(), clock=clock, background=False)
        await other.start()
        try:
            app.canales.outbox.batch = other.outbox.batch = 5
            first, second = await asyncio.gather(app.canales.outbox.claim(), other.outbox.claim())
        finally:
            await other.stop()
        assert len(first) == 5 and len(second) == 5
        assert not {d.id for d in first} & {d.id for d in second}
        assert await count(site, Delivery, Delivery.state == "sending") == 10
