"""Observability: Prometheus metrics, request ids, structured logs with personal
data masked."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from canales.core import logs
from canales.core.metrics import route_label
from helpers import api_message, eventually, signed

SITE = 'id = "uno"\nname = "Uno"\n[hours]\nalways = true\n[holidays]\ncategories = []\n[plugins.api]\nsecret = { env = "TEST_API_SECRET" }\n'


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_messages_deliveries_and_queues(run_sqlite_app: Any, site_file: Any) -> None:
    from canales.core.replies import send_reply

    async with run_sqlite_app(site_file(SITE)) as app:
        before = samples((await app.client.get("/metrics")).text)
        for i in range(3):
            body = api_message(f"m-{i}", sender=f"u{i}")
            posted = await app.client.post("/s/uno/api/messages", content=body, headers=signed("test-secret-123", body))
        await send_reply(app.site(), posted.json()["conversation_id"], "respuesta", author_kind="system")
        await eventually(lambda: app.canales.outbox.delivered == 1)
        response = await app.client.get("/metrics")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        after = samples(response.text)
        assert value(after, "canales_messages_in_total", site="uno", channel="api") - value(before, "canales_messages_in_total", site="uno", channel="api") == 3
        assert value(after, "canales_messages_out_total", site="uno", channel="api", author="system") - value(before, "canales_messages_out_total", site="uno", channel="api", author="system") == 1
        assert value(after, "canales_deliveries_total", site="uno", channel="api", outcome="done") >= 1
        assert value(after, "canales_queue_length", site="uno", team="") == 3
        assert value(after, "canales_queue_oldest_wait_seconds", site="uno", team="") >= 0
        timed = [k for k in after if k[0] == "canales_http_request_seconds_count" and ("route", "/s/{site}/api/messages") in k[1]]
        assert timed, "webhook latency is measured per route"


async def test_metrics_token(run_sqlite_app: Any, site_file: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANALES_METRICS_TOKEN", "scrape-me")
    async with run_sqlite_app(site_file(SITE)) as app:
        assert (await app.client.get("/metrics")).status_code == 401
        assert (await app.client.get("/metrics", headers={"authorization": "Bearer wrong"})).status_code == 401
        assert (await app.client.get("/metrics", headers={"authorization": "Bearer scrape-me"})).status_code == 200


def test_route_labels_stay_bounded() -> None:
    assert route_label("/s/intendencia/facebook/webhook", 200) == "/s/{site}/facebook/webhook"
    assert route_label("/inbox/demo/conversations/123", 200) == "/inbox/{site}/conversations/{id}"
    assert route_label("/wp-admin/xmlrpc.php", 404) == "unmatched"
    assert route_label("/-/static/core/inbox.js", 200) == "/-/static"


async def test_every_response_carries_a_request_id(run_sqlite_app: Any, site_file: Any) -> None:
    async with run_sqlite_app(site_file(SITE)) as app:
        generated = (await app.client.get("/healthz")).headers["x-request-id"]
        assert len(generated) == 16
        kept = await app.client.get("/healthz", headers={"x-request-id": "abc-123-def-456"})
        assert kept.headers["x-request-id"] == "abc-123-def-456"
        refused = await app.client.get("/healthz", headers={"x-request-id": "<script>"})
        assert refused.headers["x-request-id"] != "<script>"


def test_json_logs_carry_context_and_mask_personal_data() -> None:
    record = logging.LogRecord("canales.intake", logging.INFO, __file__, 1, "consulta de %s, CI %s", ("ana@correo.com.uy", "1.234.567-2"), None)
    tokens = logs.request_id.set("req-1"), logs.site_id.set("uno"), logs.conversation_id.set(7)
    try:
        line = json.loads(logs.JsonFormatter().format(record))
    finally:
        logs.conversation_id.reset(tokens[2])
        logs.site_id.reset(tokens[1])
        logs.request_id.reset(tokens[0])
    assert line["request_id"] == "req-1" and line["site"] == "uno" and line["conversation"] == 7
    assert line["level"] == "info" and line["logger"] == "canales.intake"
    assert "ana@correo.com.uy" not in line["message"] and "1.234.567-2" not in line["message"]
    assert "[email]" in line["message"] and "[cedula]" in line["message"]


def test_text_logs_mask_personal_data_too() -> None:
    record = logging.LogRecord("canales", logging.WARNING, __file__, 1, "llamar al 099 123 456", (), None)
    assert "099 123 456" not in logs.MaskingFormatter("%(message)s").format(record)
