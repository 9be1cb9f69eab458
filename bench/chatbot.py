"""Chatbot benchmark: classification latency and throughput for a site with 50
intents x 20 examples, training time for 1,000 examples, and full bot turns per
second through the API channel beside a bare Starlette endpoint measured in the same
run.

    .venv/bin/python bench/chatbot.py [--turns 300] [--queries 3000]

Prints figures and ratios; nothing is asserted (see docs/chatbot.md for results).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import api_message, signed  # noqa: E402

from canales.core import migrate  # noqa: E402
from canales.core.app import create_app  # noqa: E402
from canales.core.runtime import Canales  # noqa: E402
from canales.plugins.chatbot.knowledge import load_knowledge  # noqa: E402
from canales.plugins.chatbot.nlu.classifier import IntentClassifier  # noqa: E402

INTENTS, PER_INTENT = 50, 20
FRAMES = [
    "cómo hago {a} {b}", "quiero {a} {b}", "necesito {a} de {b}", "requisitos para {a} {b}",
    "dónde tramito {a} {b}", "cuánto sale {a} {b}", "me ayudás con {a} {b}", "q necesito p {a} {b}",
    "tengo que hacer {a} {b}", "info sobre {a} {b}", "se puede {a} {b} online", "plazo de {a} {b}",
    "quiero saber de {a} {b}", "consulta por {a} {b}", "ayuda con {a} {b} por favor", "como saco {a} {b}",
    "hola, {a} {b}", "buenas, necesito {a} {b}", "{a} {b} vencido", "perdí {a} {b}", "renovar {a} {b}",
]


def syllables(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("bcdfglmnprstv") + rng.choice("aeiou") for _ in range(n))


def generate(rng: random.Random) -> tuple[dict, list[tuple[str, str]]]:
    """A knowledge file (50 intents x 20 examples) and held-out queries."""
    intents, answers, queries = {}, {}, []
    for i in range(INTENTS):
        a, b = syllables(rng, 3), syllables(rng, 2)
        frames = rng.sample(FRAMES, len(FRAMES))
        name = f"tramite_{i:02d}"
        intents[name] = {"examples": [f.format(a=a, b=b) for f in frames[:PER_INTENT]]}
        answers[name] = {"text": f"Para el trámite {a} {b} necesitás tu cédula."}
        queries.append((frames[PER_INTENT].format(a=a, b=b), name))
    return {"version": 1, "intents": intents, "answers": answers}, queries


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def api_turns_per_second(knowledge: Path | None, turns: int, workdir: Path, questions: list[str]) -> float:
    """Citizen messages per second through the API channel (each a new
    conversation): with the bot answering, or (``knowledge=None``) without the
    bot, where they only go to the agents' queue."""
    os.environ["BENCH_API_SECRET"] = "bench-secret-123456"
    db = workdir / f"bench-{'bot' if knowledge else 'queue'}.db"
    await migrate.upgrade(f"sqlite:///{db}")
    site = workdir / "bench.toml"
    bot = f'[plugins.chatbot]\nknowledge = "{knowledge}"\nchannels = ["api"]\n' if knowledge else ""
    site.write_text(
        'id = "bench"\nname = "Bench"\n[hours]\nalways = true\n[holidays]\ncategories = []\n'
        '[plugins.api]\nsecret = { env = "BENCH_API_SECRET" }\n' + bot,
        "utf-8",
    )
    canales = Canales([site], database_url=f"sqlite:///{db}", background=False)
    app = create_app(canales)
    await canales.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            started = time.perf_counter()
            for i in range(turns):
                body = api_message(f"b{i}", questions[i % len(questions)], sender=f"c{i}")
                response = await client.post("/s/bench/api/messages", content=body, headers=signed("bench-secret-123456", body))
                assert response.status_code == 202, response.text
            return turns / (time.perf_counter() - started)
    finally:
        await canales.stop()


async def bare_per_second(turns: int, questions: list[str]) -> float:
    """The same requests to a bare Starlette endpoint that parses the JSON and
    answers (no storage): the ceiling of the HTTP stack in this process."""

    async def bare_endpoint(request: Request) -> JSONResponse:
        data = await request.json()
        return JSONResponse({"reply": f"eco: {data['text']}"}, status_code=202)

    bare = Starlette(routes=[Route("/messages", bare_endpoint, methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=bare), base_url="http://bench") as client:
        started = time.perf_counter()
        for i in range(turns):
            body = api_message(f"b{i}", questions[i % len(questions)], sender=f"c{i}")
            response = await client.post("/messages", content=body, headers={"content-type": "application/json"})
            assert response.status_code == 202
        return turns / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--queries", type=int, default=3000)
    args = parser.parse_args()
    rng = random.Random(42)
    data, queries = generate(rng)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        knowledge_path = workdir / "bench.yml"
        knowledge_path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
        knowledge = load_knowledge(knowledge_path)
        examples = knowledge.training.examples
        print(f"site: {INTENTS} intents x {PER_INTENT} examples = {len(examples)} examples")

        started = time.perf_counter()
        classifier = IntentClassifier(knowledge.synonyms).fit([e.text for e in examples], [e.intent for e in examples])
        train_seconds = time.perf_counter() - started
        print(f"training ({len(examples)} examples): {train_seconds:.2f} s")

        texts = [q for q, _ in queries]
        correct = sum(classifier.rank(q)[0].intent == intent for q, intent in queries)
        latencies = []
        for i in range(args.queries):
            text = texts[i % len(texts)] + ("" if i < len(texts) else f" {i}")
            started = time.perf_counter()
            classifier.rank(text)
            latencies.append((time.perf_counter() - started) * 1000)
        mean = statistics.fmean(latencies)
        print(f"classification: p50 {pct(latencies, 50):.3f} ms, p99 {pct(latencies, 99):.3f} ms, "
              f"throughput {1000 / mean:,.0f} texts/s on one core; held-out accuracy {correct}/{len(queries)}")

        bare = asyncio.run(bare_per_second(args.turns, texts))
        queue = asyncio.run(api_turns_per_second(None, args.turns, workdir, texts))
        bot = asyncio.run(api_turns_per_second(knowledge_path, args.turns, workdir, texts))
        print(f"bare Starlette JSON endpoint (no storage), same client: {bare:,.0f} requests/s")
        print(f"API channel without the bot (store + route to the queue, SQLite): {queue:,.0f} messages/s")
        print(f"API channel with the bot (+ lease, classify, log the turn, store the reply and its outbox row): {bot:,.0f} turns/s")
        print(f"ratio bot/bare: {bot / bare:.3f}; bot/API-without-bot: {bot / queue:.3f}")


if __name__ == "__main__":
    main()
