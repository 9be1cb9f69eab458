"""The webhook: verification handshake and every kind of bad body (unsigned,
mis-signed, SHA1-only, truncated, replayed, wrong shape, oversized), batches with a
bad event, duplicates (also concurrent), out-of-order events, edits and removals."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import pytest

from canales.core.models import Conversation, Message
from canales.plugins.facebook.models import FacebookEvent, FacebookWebhook
from canales.plugins.facebook.webhook import process_webhook
from facebook_support import APP_SECRET, PAGE, VERIFY_TOKEN, facebook_app
from graph_standin.payloads import encode

URL = "/s/uno/facebook/webhook"


@pytest.fixture
async def fb(run_app: Any, site_file: Any, monkeypatch: Any, clock: Any) -> Any:
    async with facebook_app(run_app, site_file, monkeypatch, clock, extra="max_body_bytes = 20000") as running:
        yield running


async def test_verification_handshake(fb: Any) -> None:
    ok = await fb.client.get(URL, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1158201444"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
        {"hub.challenge": "1158201444"},
    ):
        refused = await fb.client.get(URL, params=params)
        assert refused.status_code == 403 and "1158201444" not in refused.text


@pytest.mark.parametrize(
    "signature, status",
    [
        (None, 401),
        ("sha256=" + "0" * 64, 403),
        ("sha1=" + hmac.new(APP_SECRET.encode(), b"x", hashlib.sha1).hexdigest(), 403),
        ("TRUNCATED", 403),
        ("sha256=", 403),
    ],
)
async def test_bad_signatures_store_nothing(fb: Any, signature: str | None, status: int) -> None:
    body = fb.hooks.body(fb.hooks.message("psid-1", "hola", fb.now()))
    if signature == "TRUNCATED":
        signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()[:40]
    headers = {} if signature is None else {"x-hub-signature-256": signature}
    response = await fb.hooks.post(body, headers=headers)
    assert response.status_code == status
    assert "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest() not in response.text
    assert await fb.count(FacebookWebhook) == 0 and await fb.count(Message) == 0


async def test_sha1_header_alone_is_not_enough(fb: Any) -> None:
    body = fb.hooks.body(fb.hooks.message("psid-1", "hola", fb.now()))
    sha1 = "sha1=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha1).hexdigest()
    response = await fb.hooks.post(body, headers={"x-hub-signature": sha1})
    assert response.status_code == 401 and await fb.count(Message) == 0


async def test_signature_over_reserialised_json_is_refused(fb: Any) -> None:
    body = fb.hooks.body(fb.hooks.message("psid-1", "canción", fb.now()))
    pretty = json.dumps(json.loads(body), ensure_ascii=False).encode()  # not the bytes Meta signed
    from graph_standin import sign

    response = await fb.hooks.post(body, headers={"x-hub-signature-256": sign(APP_SECRET, pretty)})
    assert response.status_code == 403 and await fb.count(Message) == 0
    # The escaped bytes, signed as Meta signs them, are accepted and decoded.
    assert (await fb.hooks.post(body)).status_code == 200
    (message,) = await fb.rows(Message, Message.direction == "in")
    assert message.text == "canción"


async def test_truncated_and_oversized_bodies(fb: Any) -> None:
    body = fb.hooks.body(fb.hooks.message("psid-1", "hola", fb.now()))
    from graph_standin import sign

    truncated = body[:-7]
    assert (await fb.hooks.post(truncated, headers={"x-hub-signature-256": sign(APP_SECRET, truncated)})).status_code == 400
    big = encode({"object": "page", "entry": [], "pad": "x" * 30000})
    assert (await fb.hooks.post(big)).status_code == 413
    assert await fb.count(FacebookWebhook) == 0


async def test_replayed_body_is_stored_once(fb: Any) -> None:
    body = fb.hooks.body(fb.hooks.message("psid-1", "hola", fb.now(), mid="m_replay"))
    first, again = await fb.hooks.post(body), await fb.hooks.post(body)
    assert first.status_code == again.status_code == 200
    assert await fb.count(FacebookWebhook) == 1 and await fb.count(Message, Message.direction == "in") == 1


async def test_concurrent_redeliveries_of_one_mid_store_one_message(fb: Any) -> None:
    at = fb.now()
    bodies = [fb.hooks.body(fb.hooks.message("psid-1", "hola", at, mid="m_same"), fb.hooks.read("psid-1", at.replace(microsecond=i))) for i in range(6)]
    responses = await asyncio.gather(*(fb.hooks.post(b) for b in bodies))
    assert {r.status_code for r in responses} == {200}
    assert await fb.count(Message, Message.direction == "in") == 1
    assert await fb.count(Conversation) == 1


async def test_wrong_shapes_are_kept_as_dead_or_ignored(fb: Any) -> None:
    for payload in ({"object": "page", "entry": "nope"}, {"object": "instagram", "entry": []}, {"object": "page", "entry": [{"id": PAGE, "weird": 1}]}):
        assert (await fb.hooks.post(encode(payload))).status_code == 200
    events = await fb.rows(FacebookEvent, order=FacebookEvent.id)
    assert [(e.kind, e.status) for e in events] == [("body", "dead"), ("object.instagram", "ignored"), ("entry.unknown", "ignored")]
    assert await fb.count(Message) == 0


async def test_one_bad_event_does_not_lose_the_others(fb: Any) -> None:
    at = fb.now()
    good1 = fb.hooks.message("psid-1", "uno", at, mid="m_a")
    bad = {"sender": {"id": "psid-2"}, "recipient": {"id": PAGE}, "timestamp": "ayer", "message": {"mid": "m_b", "text": "x"}}
    good2 = fb.hooks.message("psid-3", "tres", at, mid="m_c")
    nul = fb.hooks.message("psid-4", "con \x00 nulo", at, mid="m_d")
    comment = fb.hooks.comment("555_1", "comentario", at, post_id=f"{PAGE}_555")
    broken_comment = {"item": "comment", "verb": "add", "post_id": f"{PAGE}_555", "created_time": 5}
    body = encode({"object": "page", "entry": [
        {"id": PAGE, "time": 1, "messaging": [good1, bad, good2, nul]},
        {"id": PAGE, "time": 1, "changes": [{"field": "feed", "value": comment}, {"field": "feed", "value": broken_comment}]},
    ]})
    assert (await fb.hooks.post(body)).status_code == 200
    texts = sorted(m.text for m in await fb.rows(Message, Message.direction == "in"))
    assert texts == ["comentario", "tres", "uno"]
    dead = await fb.rows(FacebookEvent, FacebookEvent.status == "dead")
    assert len(dead) == 3
    (webhook,) = await fb.rows(FacebookWebhook)
    assert webhook.state == "done"


async def test_unknown_and_uninteresting_events_are_ignored(fb: Any) -> None:
    at = fb.now()
    reaction = {"sender": {"id": "psid-1"}, "recipient": {"id": PAGE}, "timestamp": 1, "reaction": {"reaction": "love"}}
    future = {"sender": {"id": "psid-1"}, "recipient": {"id": PAGE}, "timestamp": 1, "brand_new_thing": {}}
    like = {"item": "reaction", "verb": "add", "post_id": f"{PAGE}_1", "created_time": 2}
    body = encode({"object": "page", "entry": [
        {"id": PAGE, "time": 1, "messaging": [fb.hooks.read("psid-1", at), reaction, future]},
        {"id": PAGE, "time": 1, "changes": [{"field": "feed", "value": like}, {"field": "ratings", "value": {}}]},
    ]})
    assert (await fb.hooks.post(body)).status_code == 200
    kinds = sorted(e.kind for e in await fb.rows(FacebookEvent, FacebookEvent.status == "ignored"))
    assert kinds == ["changes.ratings", "feed.reaction", "messaging.reaction", "messaging.read", "messaging.unknown"]
    assert await fb.count(Message) == 0


async def test_out_of_order_events_are_ordered_by_timestamp(fb: Any) -> None:
    at = fb.now()
    late = fb.hooks.message("psid-1", "segundo", at.replace(second=30), mid="m_2")
    early = fb.hooks.message("psid-1", "primero", at.replace(second=10), mid="m_1")
    await fb.hooks.send(late, early)  # one batch, out of order
    messages = await fb.rows(Message, Message.direction == "in", order=Message.seq)
    assert [m.text for m in messages] == ["primero", "segundo"]
    # A later delivery of an older message keeps its own time; the window runs
    # from the newest message, not from the arrival.
    fb.clock.advance(hours=30)
    await fb.hooks.send(fb.hooks.message("psid-1", "muy viejo", at, mid="m_0"))
    (conversation,) = await fb.rows(Conversation)
    assert conversation.last_citizen_at == at.replace(second=30)
    oldest = (await fb.rows(Message, Message.external_id == "m_0"))[0]
    assert oldest.occurred_at == at


async def test_comment_edits_and_removals_update_the_stored_comment(fb: Any) -> None:
    at = fb.now()
    post = f"{PAGE}_555"
    await fb.hooks.send(fb.hooks.comment("555_1", "primera versión", at, post_id=post))
    await fb.hooks.send(fb.hooks.comment("555_1", "mi cel es 099 123 456", at.replace(second=40), post_id=post, verb="edited"))
    (comment,) = await fb.rows(Message, Message.direction == "in")
    assert comment.text == "mi cel es 099 123 456"
    assert comment.payload["comment"]["history"] == ["primera versión"]
    (conversation,) = await fb.rows(Conversation)
    assert conversation.data["facebook"]["personal_data"] == ["teléfono"]
    await fb.hooks.send(fb.hooks.comment("555_1", "", at.replace(second=50), post_id=post, verb="remove"))
    (comment,) = await fb.rows(Message, Message.direction == "in")
    assert comment.payload["comment"]["removed_at"]
    (conversation,) = await fb.rows(Conversation)
    assert conversation.data["facebook"]["removed"] is True
    # A reply in the thread joins the same conversation; the page's own is ignored.
    await fb.hooks.send(fb.hooks.comment("555_2", "yo también", at, post_id=post, parent_id="555_1", user_id="u-2"))
    assert await fb.count(Conversation) == 1 and await fb.count(Message, Message.direction == "in") == 2


async def test_a_removal_that_overtakes_its_comment_hides_it_for_good(fb: Any) -> None:
    at = fb.now()
    post = f"{PAGE}_555"
    await fb.hooks.send(fb.hooks.comment("555_9", "", at.replace(second=20), post_id=post, verb="remove"))
    await fb.hooks.send(fb.hooks.comment("555_9", "borrado", at, post_id=post))
    assert await fb.count(Message) == 0


async def test_a_crash_after_storing_is_recovered(fb: Any) -> None:
    from canales.plugins.facebook.webhook import persist

    body = fb.hooks.body(fb.hooks.message("psid-1", "hola", fb.now(), mid="m_crash"))
    webhook_id = await persist(fb.site, body)  # stored, then the worker died before processing
    assert await fb.count(Message) == 0
    assert await fb.site.state["facebook"].recover() == 0  # too recent: maybe in flight
    fb.clock.advance(minutes=1)
    assert await fb.site.state["facebook"].recover() == 1
    assert await fb.count(Message, Message.direction == "in") == 1
    await process_webhook(fb.site, webhook_id)  # a late second try changes nothing
    assert await fb.count(Message, Message.direction == "in") == 1
    # Processed bodies hold personal data: forgotten after keep_webhooks_days.
    fb.clock.advance(days=4)
    await fb.site.state["facebook"].recover()
    assert await fb.count(FacebookWebhook) == 0
