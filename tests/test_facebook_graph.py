"""Graph API failures of every class, against the stand-in: retried or not as Meta's
taxonomy says, usage headers honoured, the page's health alerted, and unknown
outcomes reconciled — never a message sent twice."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from canales import DeliveryOutcomeUnknown
from canales.core.alerts import open_alerts
from canales.core.models import Conversation, Delivery
from canales.core.publication import Publication, find_published, publish
from canales.core.replies import send_reply
from canales.plugins.facebook.errors import GraphError, classify
from canales.plugins.facebook.graph import TokenBucket, appsecret_proof
from facebook_support import PAGE, facebook_app


@pytest.fixture
async def fb(run_app: Any, site_file: Any, monkeypatch: Any, clock: Any) -> Any:
    # No automatic acknowledgement: each test counts its own sends.
    async with facebook_app(run_app, site_file, monkeypatch, clock, extra="acknowledge = false") as running:
        yield running


async def conversation_with_message(fb: Any) -> int:
    await fb.hooks.send(fb.hooks.message("psid-1", "Hola", fb.now()))
    (conversation,) = await fb.rows(Conversation)
    return conversation.id


async def delivery(fb: Any) -> Any:
    (row,) = await fb.rows(Delivery)
    return row


@pytest.mark.parametrize(
    "status, code, subcode, kind",
    [(500, 2, None, "transient"), (503, None, None, "transient"), (400, 1, None, "transient"),
     (400, 4, None, "rate_limit"), (400, 17, None, "rate_limit"), (400, 32, None, "rate_limit"),
     (400, 341, None, "rate_limit"), (400, 613, None, "rate_limit"), (400, 80001, None, "rate_limit"),
     (400, 80006, None, "rate_limit"), (400, 190, 463, "auth"), (400, 368, None, "blocked"),
     (400, 10, 2018278, "window"), (400, 10, None, "permission"), (400, 200, None, "permission"),
     (400, 230, None, "permission"), (400, 551, 1545041, "unavailable"), (400, 10900, None, "already_used"),
     (400, 10903, None, "cannot_reply"), (400, 506, None, "duplicate"), (400, 100, 1609005, "link"),
     (400, 100, 2018001, "invalid")],
)
def test_error_taxonomy(status: int, code: int | None, subcode: int | None, kind: str) -> None:
    assert classify(status, code, subcode) == kind
    error = GraphError.from_response(status, {"error": {"message": "m", "code": code, "error_subcode": subcode, "fbtrace_id": "T1"}} if code else None)
    assert error.kind == kind
    assert error.retry == (kind in ("transient", "rate_limit", "auth", "blocked"))
    if code:
        assert "fbtrace_id T1" in str(error)


def test_appsecret_proof_is_hmac_of_the_token() -> None:
    import hashlib
    import hmac

    assert appsecret_proof("secret", "token") == hmac.new(b"secret", b"token", hashlib.sha256).hexdigest()


async def test_the_stand_in_refuses_calls_without_a_valid_proof(fb: Any) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=fb.site.state["facebook"].settings.graph_base()) as client:
        missing = await client.get("/me", params={"access_token": "fb-page-token"})
        wrong = await client.get("/me", params={"access_token": "fb-page-token", "appsecret_proof": "00"})
    assert missing.json()["error"]["code"] == wrong.json()["error"]["code"] == 100
    assert "fbtrace_id" in missing.json()["error"] and "x-app-usage" in missing.headers
    # The plugin's client always sends it.
    assert (await fb.site.state["facebook"].graph.read("/me"))["id"] == PAGE


async def test_token_bucket_keeps_the_rate() -> None:
    bucket = TokenBucket(rate=100, capacity=10)
    start = time.monotonic()
    for _ in range(40):
        await bucket.acquire()
    # 10 at once, then 30 more at 100/s: at least 0.3 s.
    assert time.monotonic() - start >= 0.28


async def test_server_errors_are_retried_then_delivered_once(fb: Any) -> None:
    conversation = await conversation_with_message(fb)
    fb.graph.fail("messages", status=503)
    await send_reply(fb.site, conversation, "respuesta", author_kind="system")
    await fb.drain()
    row = await delivery(fb)
    assert row.state == "pending" and "HTTP 503" in (row.last_error or "")
    fb.clock.advance(minutes=5)
    await fb.drain()
    assert (await delivery(fb)).state == "done" and len(fb.graph.sent) == 1


async def test_rate_limit_honours_estimated_time_to_regain_access(fb: Any) -> None:
    conversation = await conversation_with_message(fb)
    buc = {PAGE: [{"type": "messenger", "call_count": 100, "total_time": 20, "total_cputime": 20, "estimated_time_to_regain_access": 7}]}
    fb.graph.fail("messages", code=613, message="(#613) Calls to this api have exceeded the rate limit.",
                  headers={"x-business-use-case-usage": json.dumps(buc)})
    await send_reply(fb.site, conversation, "uno", author_kind="system")
    await fb.drain()
    row = await delivery(fb)
    assert row.state == "pending" and (row.next_attempt_at - fb.now()).total_seconds() == pytest.approx(420, abs=2)
    calls = fb.graph.count("messages")
    fb.clock.advance(minutes=3)
    # While paused, nothing is called (the pause is shared through the page row).
    with pytest.raises(GraphError) as paused:
        await fb.site.state["facebook"].graph.send(f"/{PAGE}/messages", {})
    assert paused.value.kind == "rate_limit" and fb.graph.count("messages") == calls
    fb.clock.advance(minutes=5)
    await fb.drain()
    assert (await delivery(fb)).state == "done" and len(fb.graph.sent) == 1


async def test_expired_token_marks_the_page_and_alerts(fb: Any) -> None:
    conversation = await conversation_with_message(fb)
    fb.graph.token_valid = False
    await send_reply(fb.site, conversation, "respuesta", author_kind="system")
    await fb.drain()
    row = await delivery(fb)
    assert row.state == "pending" and "190" in (row.last_error or "")
    (alert,) = await open_alerts(fb.site)
    assert alert.code == "reconnect" and "reconectarse" in alert.message
    panels = fb.site.hook.inbox_panels(site=fb.site, conversation=(await fb.rows(Conversation))[0], agent=None)
    assert any("reconectarse" in str(p.html) for result in panels for p in result or [])
    fb.graph.token_valid = True  # an admin renewed the token
    fb.clock.advance(minutes=6)
    await fb.drain()
    assert (await delivery(fb)).state == "done"
    assert await open_alerts(fb.site) == []


async def test_policy_block_opens_the_circuit_breaker(fb: Any) -> None:
    conversation = await conversation_with_message(fb)
    fb.graph.fail("messages", code=368, message="The action attempted has been deemed abusive or is otherwise disallowed")
    await send_reply(fb.site, conversation, "uno", author_kind="system")
    await fb.drain()
    (alert,) = await open_alerts(fb.site)
    assert alert.code == "blocked"
    calls = len(fb.graph.calls)
    fb.clock.advance(minutes=30)
    await fb.drain()
    assert len(fb.graph.calls) == calls  # the breaker is open: no call at all
    fb.clock.advance(minutes=31)
    await fb.drain()
    assert (await delivery(fb)).state == "done" and len(fb.graph.sent) == 1


@pytest.mark.parametrize(
    "code, subcode",
    [(10, 2018278), (551, 1545041), (200, None), (10, None), (100, 2018001)],
)
async def test_permanent_errors_are_not_retried(fb: Any, code: int, subcode: int | None) -> None:
    conversation = await conversation_with_message(fb)
    fb.graph.fail("messages", code=code, subcode=subcode, message="no")
    await send_reply(fb.site, conversation, "uno", author_kind="system")
    await fb.drain()
    row = await delivery(fb)
    assert row.state == "failed" and row.attempts == 1
    fb.clock.advance(hours=1)
    await fb.drain()
    assert fb.graph.count("messages") == 1


async def test_timeout_that_went_through_is_reconciled_by_its_echo(fb: Any) -> None:
    conversation = await conversation_with_message(fb)
    fb.graph.fail("messages", delay=1.0, effect=True)  # sent, but the answer comes too late
    await send_reply(fb.site, conversation, "una sola vez", author_kind="system")
    await fb.drain()
    row = await delivery(fb)
    assert row.state == "pending" and row.outcome_unknown
    await asyncio.sleep(0.8)  # the echo (with our key in metadata) arrives meanwhile
    fb.clock.advance(minutes=1)
    await fb.drain()
    row = await delivery(fb)
    assert row.state == "done" and row.external_id == fb.graph.sent[0]["mid"]
    assert len(fb.graph.sent) == 1 and fb.graph.count("messages") == 1


async def test_timeout_that_did_not_go_through_is_sent_after_checking(fb: Any) -> None:
    conversation = await conversation_with_message(fb)
    fb.graph.fail("messages", delay=1.0, status=504)  # nothing sent, no answer in time
    await send_reply(fb.site, conversation, "una sola vez", author_kind="system")
    await fb.drain()
    assert (await delivery(fb)).outcome_unknown
    await asyncio.sleep(0.6)
    fb.clock.advance(minutes=1)
    await fb.drain()
    assert (await delivery(fb)).state == "done" and len(fb.graph.sent) == 1


async def test_private_reply_timeout_is_reconciled_and_the_notice_posted_once(fb: Any) -> None:
    await fb.hooks.send(fb.hooks.comment("555_1", "mi cédula es 1.234.567-2", fb.now(), post_id=f"{PAGE}_555"))
    (conversation,) = await fb.rows(Conversation)
    fb.graph.fail("messages", delay=1.0, effect=True)
    await send_reply(fb.site, conversation.id, "Te escribimos en privado", author_kind="agent", agent_id=await _agent(fb), options={"reply": "private"})
    await fb.drain()
    await asyncio.sleep(0.8)
    fb.clock.advance(minutes=1)
    await fb.drain()
    assert len([s for s in fb.graph.sent if s["kind"] == "private_reply"]) == 1
    notices = [c for c in fb.graph.comments.values() if c.parent_id == "555_1"]
    assert len(notices) == 1 and (await delivery(fb)).state == "done"


async def test_private_reply_used_elsewhere_is_not_retried(fb: Any) -> None:
    await fb.hooks.send(fb.hooks.comment("555_1", "tengo cáncer, ¿qué trámite hago?", fb.now(), post_id=f"{PAGE}_555"))
    (conversation,) = await fb.rows(Conversation)
    fb.graph.comments["555_1"].private_replied = True  # answered from Meta's own inbox
    await send_reply(fb.site, conversation.id, "Te escribimos", author_kind="agent", agent_id=await _agent(fb), options={"reply": "private"})
    await fb.drain()
    row = await delivery(fb)
    assert row.state == "failed" and "10900" in (row.last_error or "")
    assert [c for c in fb.graph.comments.values() if c.parent_id == "555_1"] == []  # no public notice


async def _agent(fb: Any) -> int:
    from canales.core.agents import add_agent

    agent = await add_agent(fb.site.db, email="b@ejemplo.gub.uy", name="B", password="una-clave-larga-y-segura-123", site_id="uno", role="agent")
    return agent.id


async def test_publishing_and_its_errors(fb: Any) -> None:
    post = Publication(key="pub-1", text="Abrió la inscripción a becas", link="https://www.gub.uy/becas")
    result = await publish(fb.site, "facebook", post)
    assert result.external_id == fb.graph.posts[0]["id"] and result.url and result.url.startswith("https://www.facebook.com/")
    with pytest.raises(GraphError) as duplicate:
        await publish(fb.site, "facebook", Publication(key="pub-2", text=post.text, link=post.link))
    assert duplicate.value.kind == "duplicate" and not duplicate.value.retry
    fb.graph.bad_links.add("https://www.gub.uy/roto")
    with pytest.raises(GraphError) as link:
        await publish(fb.site, "facebook", Publication(key="pub-3", text="otro", link="https://www.gub.uy/roto"))
    assert link.value.kind == "link" and not link.value.retry
    # A timeout is an unknown outcome; the feed is read back instead of posting again.
    later = Publication(key="pub-4", text="Vacunación antigripal", link="https://www.gub.uy/gripe")
    fb.graph.fail("feed_post", delay=1.0, effect=True)
    with pytest.raises(DeliveryOutcomeUnknown):
        await publish(fb.site, "facebook", later)
    found = await find_published(fb.site, "facebook", later)
    assert found is not None and found.external_id == fb.graph.posts[-1]["id"]
    assert await find_published(fb.site, "facebook", Publication(key="pub-5", text="nunca publicado")) is None
    targets = fb.site.hook.publication_targets(site=fb.site)
    assert targets[0][0].channel == "facebook"


async def test_subscription_check_alerts_when_meta_unsubscribes(fb: Any) -> None:
    runtime = fb.site.state["facebook"]
    assert await runtime.check_subscription() is True
    fb.graph.subscribed_fields = []
    assert await runtime.check_subscription() is False
    (alert,) = await open_alerts(fb.site)
    assert alert.code == "unsubscribed"
    fb.graph.subscribed_fields = ["messages", "feed"]
    assert await runtime.check_subscription() is False
    assert "message_echoes" in (await open_alerts(fb.site))[0].message
    fb.graph.subscribed_fields = ["messages", "messaging_postbacks", "message_echoes", "feed"]
    assert await runtime.check_subscription() is True
    assert await open_alerts(fb.site) == []
