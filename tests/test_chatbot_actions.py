"""Actions against a real local service (served by uvicorn): templated requests,
secrets in headers, timeouts, retries only when idempotent, garbage answers,
redirects, and the egress guard that keeps the bot out of internal networks."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bot_helpers import Citizen, bot_site, texts
from canales.core.siteconfig import Secret, SecretRef
from canales.plugins.chatbot.actions import ActionRunner
from canales.plugins.chatbot.egress import EgressPolicy, EgressRefused
from canales.plugins.chatbot.knowledge.schema import ActionSpec
from canales.plugins.chatbot.templates import Templates
from helpers import serve


class Service:
    """A stand-in for an organism's application service, recording what it gets."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.flaky = 0

    def app(self) -> Starlette:
        async def record(request: Request) -> None:
            self.requests.append({
                "method": request.method, "path": request.url.path, "query": dict(request.query_params),
                "headers": dict(request.headers), "body": (await request.body()).decode(),
            })

        async def expediente(request: Request) -> Response:
            await record(request)
            if request.headers.get("authorization") != "Bearer s3cret":
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            return JSONResponse({"estado": "En trámite", "oficina": "Mesa de entrada", "numero": request.path_params["n"]})

        async def reservas(request: Request) -> Response:
            await record(request)
            return JSONResponse({"codigo": "AB12", "hora": "10:30"}, status_code=201)

        async def caida(request: Request) -> Response:
            await record(request)
            return JSONResponse({"error": "down"}, status_code=503)

        async def inestable(request: Request) -> Response:
            await record(request)
            self.flaky += 1
            if self.flaky < 3:
                return JSONResponse({"error": "busy"}, status_code=503)
            return JSONResponse({"ok": True})

        async def lento(request: Request) -> Response:
            await record(request)
            await asyncio.sleep(3)
            return JSONResponse({"ok": True})

        async def basura(request: Request) -> Response:
            await record(request)
            return PlainTextResponse("<html>Internal error</html>")

        async def grande(request: Request) -> Response:
            await record(request)
            return JSONResponse({"x": "a" * 300_000})

        async def afuera(request: Request) -> Response:
            await record(request)
            return RedirectResponse("http://169.254.169.254/latest/meta-data", status_code=302)

        async def eco(request: Request) -> Response:
            await record(request)
            self.requests[-1]["raw_path"] = request.scope["raw_path"].decode()
            return JSONResponse({"ok": True})

        async def adentro(request: Request) -> Response:
            await record(request)
            return RedirectResponse("/expedientes/7", status_code=302)

        return Starlette(routes=[
            Route("/expedientes/{n}", expediente), Route("/reservas", reservas, methods=["POST"]),
            Route("/caida", caida, methods=["GET", "POST"]), Route("/inestable", inestable),
            Route("/lento", lento, methods=["GET", "POST"]), Route("/basura", basura), Route("/grande", grande),
            Route("/afuera", afuera), Route("/adentro", adentro), Route("/eco/{rest:path}", eco),
        ])


@pytest.fixture
async def service() -> Any:
    stand_in = Service()
    async with serve(stand_in.app()) as base:
        stand_in.base = base  # type: ignore[attr-defined]
        yield stand_in


def runner(loopback: bool = True) -> ActionRunner:
    policy = EgressPolicy.of(["127.0.0.1"], ["127.0.0.1"] if loopback else [])
    return ActionRunner(policy, {"token": Secret(SecretRef("env:TOKEN", "s3cret"))}, Templates())


def action(base: str, path: str, **spec: Any) -> ActionSpec:
    return ActionSpec.model_validate({"url": base + path, **spec})


async def test_a_get_with_templated_path_query_and_secret_header(service: Any) -> None:
    run = runner()
    spec = action(service.base, "/expedientes/{{ slots.expediente }}", query={"ci": "{{ slots.cedula }}"},
                  headers={"Authorization": "Bearer {{ secrets.token }}"})
    outcome = await run.run("consultar", spec, {"expediente": "2024-11-0001-01234", "cedula": "1.234.567-2"}, {})
    await run.close()
    assert outcome.ok and outcome.data["estado"] == "En trámite"
    (request,) = service.requests
    assert request["path"] == "/expedientes/2024-11-0001-01234"
    assert request["query"] == {"ci": "1.234.567-2"}
    assert request["headers"]["host"].startswith("127.0.0.1:")


async def test_slot_values_cannot_change_the_path_or_query(service: Any) -> None:
    run = runner()
    spec = action(service.base, "/eco/{{ slots.n }}")
    outcome = await run.run("x", spec, {"n": "../reservas?admin=1#x"}, {})
    dots = await run.run("x", spec, {"n": ".."}, {})
    await run.close()
    assert outcome.ok and dots.ok
    assert service.requests[0]["raw_path"] == "/eco/..%2Freservas%3Fadmin%3D1%23x"
    assert service.requests[0]["query"] == {}
    assert service.requests[1]["raw_path"] == "/eco/%2E%2E"


async def test_a_post_with_a_json_body_is_sent_once(service: Any) -> None:
    run = runner()
    spec = action(service.base, "/reservas", method="POST", json={"tramite": "{{ slots.tramite }}", "datos": ["{{ slots.cedula }}", 3]})
    outcome = await run.run("reservar", spec, {"tramite": "pasaporte", "cedula": "1.234.567-2"}, {})
    assert outcome.ok and outcome.data == {"codigo": "AB12", "hora": "10:30"}
    assert json.loads(service.requests[0]["body"]) == {"tramite": "pasaporte", "datos": ["1.234.567-2", 3]}
    failing = await run.run("reservar", action(service.base, "/caida", method="POST"), {}, {})
    await run.close()
    assert not failing.ok and failing.attempts == 1 and failing.status == 503
    assert [r["path"] for r in service.requests] == ["/reservas", "/caida"]


async def test_idempotent_calls_are_retried(service: Any) -> None:
    run = runner()
    outcome = await run.run("x", action(service.base, "/inestable", retries=3), {}, {})
    assert outcome.ok and outcome.attempts == 3
    gave_up = await run.run("x", action(service.base, "/caida", retries=1), {}, {})
    await run.close()
    assert not gave_up.ok and gave_up.attempts == 2


async def test_timeouts_garbage_and_huge_answers_are_failures(service: Any) -> None:
    run = runner()
    slow = await run.run("x", action(service.base, "/lento", timeout=0.3), {}, {})
    garbage = await run.run("x", action(service.base, "/basura"), {}, {})
    huge = await run.run("x", action(service.base, "/grande"), {}, {})
    unauthorized = await run.run("x", action(service.base, "/expedientes/1"), {}, {})
    missing_slot = await run.run("x", action(service.base, "/reservas", method="POST", json={"a": "{{ slots.nada }}"}), {}, {})
    await run.close()
    assert not slow.ok and "timed out" in (slow.error or "")
    assert not garbage.ok and "not JSON" in (garbage.error or "")
    assert not huge.ok and "larger than" in (huge.error or "")
    assert not unauthorized.ok and unauthorized.status == 401 and unauthorized.attempts == 1
    assert not missing_slot.ok and "request not built" in (missing_slot.error or "")
    assert "/reservas" not in [r["path"] for r in service.requests]


async def test_redirects_stay_on_the_same_host(service: Any) -> None:
    run = runner()
    away = await run.run("x", action(service.base, "/afuera"), {}, {})
    home = await run.run("x", action(service.base, "/adentro", headers={"Authorization": "Bearer {{ secrets.token }}"}), {}, {})
    await run.close()
    assert not away.ok and "redirect to another host refused" in (away.error or "")
    assert home.ok and home.data["numero"] == "7"


async def test_loopback_is_refused_unless_explicitly_allowed(service: Any) -> None:
    run = runner(loopback=False)
    outcome = await run.run("x", action(service.base, "/reservas", method="POST"), {}, {})
    await run.close()
    assert not outcome.ok and "loopback" in (outcome.error or "")
    assert service.requests == []


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.8", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
])
def test_internal_addresses_are_refused(address: str) -> None:
    with pytest.raises(EgressRefused):
        EgressPolicy.of(["api.example.gub.uy"]).check_address("api.example.gub.uy", address)


async def test_a_name_resolving_to_an_internal_address_is_refused() -> None:
    policy = EgressPolicy.of(["api.example.gub.uy", "mixed.example.gub.uy"])

    async def dns(host: str, port: int) -> list[str]:
        return {"api.example.gub.uy": ["200.40.30.20"], "mixed.example.gub.uy": ["200.40.30.20", "10.1.2.3"]}[host]

    assert await policy.resolve("api.example.gub.uy", 443, dns) == "200.40.30.20"
    with pytest.raises(EgressRefused):
        await policy.resolve("mixed.example.gub.uy", 443, dns)
    with pytest.raises(EgressRefused):
        await policy.resolve("other.example.org", 443, dns)


BOOKING = """
version: 1
intents:
  turno:
    examples: [quiero una hora, agendar turno, reservar hora, necesito un turno]
    flow: turno
  saludo:
    examples: [hola, buenas, buen día]
answers:
  saludo:
    text: ¡Hola!
  listo:
    text: "Reservado para el {{{{ slots.fecha | fecha }}}}: código {{{{ results.turno.codigo }}}} a las {{{{ results.turno.hora }}}}."
  fallo:
    text: No pude reservar ahora; probá más tarde.
entities:
  cedula: {{type: cedula}}
  fecha: {{type: future_date}}
flows:
  turno:
    steps:
      - ask: cedula
        text: ¿Tu cédula?
      - ask: fecha
        text: ¿Qué día?
      - action: reservar
      - say: listo
actions:
  reservar:
    method: POST
    url: {base}/{path}
    headers:
      Authorization: "Bearer {{{{ secrets.agenda }}}}"
    json: {{cedula: "{{{{ slots.cedula }}}}", fecha: "{{{{ slots.fecha }}}}"}}
    timeout: 2
    save_as: turno
    on_error: fallo
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_flow_calls_the_service_and_says_its_answer(
    run_app: Any, site_file: Any, service: Any, tmp_path: Path, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set(dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.timezone.utc))
    monkeypatch.setenv("AGENDA_TOKEN", "s3cret")
    for path, expected in (("reservas", "código AB12 a las 10:30"), ("caida", "No pude reservar ahora")):
        knowledge = tmp_path / f"{path}.yml"
        knowledge.write_text(textwrap.dedent(BOOKING.format(base=service.base, path=path)), "utf-8")
        site = bot_site(site_file, knowledge=knowledge, extra=textwrap.dedent('''
            allow_loopback_hosts = ["127.0.0.1"]
            [plugins.chatbot.secrets]
            agenda = { env = "AGENDA_TOKEN" }
            ''').replace('allowed_hosts = ["servicios.ejemplo.gub.uy"]', ""))
        site.write_text(site.read_text("utf-8").replace('allowed_hosts = ["servicios.ejemplo.gub.uy"]', 'allowed_hosts = ["127.0.0.1"]'), "utf-8")
        async with run_app(site) as app:
            ana = Citizen(app, sender=f"ana-{path}")
            await ana.says("quiero una hora, mi cédula es 1.234.567-2")
            replies = await ana.says("el 20/3")
            assert expected in texts(replies), texts(replies)
    booked = [r for r in service.requests if r["path"] == "/reservas"]
    assert json.loads(booked[0]["body"]) == {"cedula": "1.234.567-2", "fecha": "2026-03-20"}
    assert booked[0]["headers"]["authorization"] == "Bearer s3cret"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_loopback_service_is_refused_by_default_in_a_running_site(
    run_app: Any, site_file: Any, service: Any, tmp_path: Path, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set(dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.timezone.utc))
    monkeypatch.setenv("AGENDA_TOKEN", "s3cret")
    knowledge = tmp_path / "k.yml"
    knowledge.write_text(textwrap.dedent(BOOKING.format(base=service.base, path="reservas")), "utf-8")
    site = bot_site(site_file, knowledge=knowledge, extra='[plugins.chatbot.secrets]\nagenda = { env = "AGENDA_TOKEN" }')
    site.write_text(site.read_text("utf-8").replace('allowed_hosts = ["servicios.ejemplo.gub.uy"]', 'allowed_hosts = ["127.0.0.1"]'), "utf-8")
    async with run_app(site) as app:
        ana = Citizen(app)
        await ana.says("quiero una hora, mi cédula es 1.234.567-2")
        assert "No pude reservar ahora" in texts(await ana.says("el 20/3"))
    assert service.requests == []
