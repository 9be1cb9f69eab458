"""``canales bot …``: check the knowledge, train, list and restore model versions,
evaluate, and review misunderstood questions from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from canales.core.siteconfig import ConfigError


def register(subparsers: Any) -> None:
    bot = subparsers.add_parser("bot", help="the chatbot: train, evaluate, model versions, misunderstood questions")
    sub = bot.add_subparsers(dest="bot_command", required=True, metavar="ACTION")

    def site_parser(name: str, help: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help)
        parser.add_argument("--site", required=True, help="site file or id")
        parser.add_argument("--database-url", help="default: $DATABASE_URL or sqlite:///canales.db")
        return parser

    check = sub.add_parser("check", help="validate a site's knowledge file (with file and line for each problem)")
    check.add_argument("--site", required=True, help="site file or id")
    check.set_defaults(func=cmd_check)

    train = site_parser("train", "train the site's model on its knowledge and the examples added in review, and activate it")
    train.set_defaults(func=cmd_train)

    models = site_parser("models", "list the site's model versions (newest first)")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)

    rollback = site_parser("rollback", "restore the previous model version (or --to DIGEST)")
    rollback.add_argument("--to", help="a version's digest (or its first characters)")
    rollback.set_defaults(func=cmd_rollback)

    evaluate = sub.add_parser("eval", help="evaluate: --train FILE --test FILE, or --site ID --folds N")
    evaluate.add_argument("--train", type=Path, help="training data: a knowledge file or a Rasa 3.1 NLU file")
    evaluate.add_argument("--test", type=Path, help="test data (same formats); out_of_scope examples must be refused")
    evaluate.add_argument("--site", help="cross-validate this site's data (knowledge file + added examples)")
    evaluate.add_argument("--folds", type=int, default=5)
    evaluate.add_argument("--database-url")
    evaluate.add_argument("--threshold", type=float)
    evaluate.add_argument("--margin", type=float)
    evaluate.add_argument("--floor", type=float)
    evaluate.add_argument("--json", action="store_true", help="print exactly one JSON object")
    evaluate.set_defaults(func=cmd_eval)

    questions = site_parser("questions", "misunderstood questions, grouped by similarity")
    questions.add_argument("--status", default="new", choices=["new", "done", "ignored"])
    questions.add_argument("--limit", type=int, default=500)
    questions.add_argument("--json", action="store_true")
    questions.set_defaults(func=cmd_questions)

    assign = site_parser("assign", "add questions as examples of an intent (or out_of_scope)")
    assign.add_argument("--turn", type=int, action="append", required=True, help="a question's id (repeatable)")
    assign.add_argument("--intent", required=True)
    assign.set_defaults(func=cmd_assign)

    review = site_parser("review", "mark questions new, done or ignored")
    review.add_argument("--turn", type=int, action="append", required=True)
    review.add_argument("--status", required=True, choices=["new", "done", "ignored"])
    review.set_defaults(func=cmd_review)


@asynccontextmanager
async def _site(args: argparse.Namespace) -> AsyncIterator[Any]:
    from canales.core.cli import default_database_url, resolve_site
    from canales.core.runtime import Canales

    canales = Canales(
        [resolve_site(args.site)], database_url=args.database_url or default_database_url(), background=False
    )
    try:
        await canales.sync_sites()
        site = next(iter(canales.sites.values()))
        if "chatbot" not in site.plugins:
            raise ConfigError(f"site {site.id!r} does not enable the chatbot")
        yield site
    finally:
        await canales.db.close()


def _knowledge(site: Any) -> Any:
    from canales.plugins.chatbot.bot import read_knowledge

    knowledge = read_knowledge(site)
    if knowledge is None:
        raise ConfigError(f"site {site.id!r}: plugins.chatbot.knowledge is not set")
    return knowledge


def cmd_check(args: argparse.Namespace) -> int:
    from canales.core.bus import Bus
    from canales.core.cli import resolve_site
    from canales.core.db import Database
    from canales.core.plugins import installed
    from canales.core.site import build_site
    from canales.core.siteconfig import load_site_file

    site = build_site(load_site_file(resolve_site(args.site)), installed(), Database("sqlite://"), Bus())
    knowledge = _knowledge(site)
    intents = {e.intent for e in knowledge.training.examples}
    print(
        f"{knowledge.file}: OK — {len(knowledge.intents)} intents ({len(intents)} with examples), "
        f"{len(knowledge.training.examples)} examples, {len(knowledge.answers)} answers, "
        f"{len(knowledge.flows)} flows, {len(knowledge.actions)} actions"
    )
    return 0


async def cmd_train(args: argparse.Namespace) -> int:
    from canales.plugins.chatbot import registry

    async with _site(args) as site:
        model, new = await registry.train(site, _knowledge(site), "cli")
    state = "trained" if new else "already trained; activated"
    print(f"site {site.id}: model {model.digest[:12]} {state} — {model.n_examples} examples "
          f"({model.n_added} added in review), {model.n_intents} intents, {model.train_seconds:.2f} s")
    print("running workers switch to it within 30 seconds")
    return 0


async def cmd_models(args: argparse.Namespace) -> int:
    from canales.plugins.chatbot import registry

    async with _site(args) as site:
        rows = registry.describe(await registry.versions(site))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"site {site.id}: no model yet (canales bot train --site {site.id})")
    for row in rows:
        mark = "*" if row["active"] else " "
        print(f"{mark} {str(row['digest'])[:12]}  {row['created_at'][:19]}  {row['examples']:>5} examples "
              f"({row['added_examples']} added)  {row['intents']:>3} intents  by {row['created_by']}")
    return 0


async def cmd_rollback(args: argparse.Namespace) -> int:
    from canales.plugins.chatbot import registry

    async with _site(args) as site:
        try:
            model = await registry.rollback(site, args.to)
        except registry.NoSuchModel as exc:
            print(f"canales bot rollback: {exc}", file=sys.stderr)
            return 1
    print(f"site {site.id}: model {model.digest[:12]} (from {model.created_at:%Y-%m-%d %H:%M}) is active again; "
          f"running workers switch to it within 30 seconds")
    return 0


async def cmd_eval(args: argparse.Namespace) -> int:
    from canales.plugins.chatbot.evaluation import cross_validate, evaluate, format_report
    from canales.plugins.chatbot.knowledge import KnowledgeError, read_training
    from canales.plugins.chatbot.nlu.decision import Thresholds

    def limits(base: Thresholds) -> Thresholds:
        return Thresholds(
            args.threshold if args.threshold is not None else base.threshold,
            args.margin if args.margin is not None else base.margin,
            args.floor if args.floor is not None else base.floor,
        )

    try:
        if args.site:
            from canales.plugins.chatbot import registry
            from canales.plugins.chatbot.bot import settings_of

            async with _site(args) as site:
                settings = settings_of(site)
                data, _ = await registry.training_data(site, _knowledge(site))
            report = cross_validate(data, args.folds, limits(Thresholds(settings.threshold, settings.ambiguity_margin, settings.clarify_floor)))
        elif args.train and args.test:
            report = evaluate(read_training(args.train), read_training(args.test), limits(Thresholds()))
        else:
            print("canales bot eval: give --train FILE --test FILE, or --site ID [--folds N]", file=sys.stderr)
            return 2
    except KnowledgeError as exc:
        print("canales bot eval: " + "\n".join(exc.problems), file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"canales bot eval: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print(format_report(report))
    return 0


async def cmd_questions(args: argparse.Namespace) -> int:
    from canales.plugins.chatbot.learning import misunderstood

    async with _site(args) as site:
        groups = await misunderstood(site, args.status, limit=args.limit)
    if args.json:
        print(json.dumps([
            {"suggested_intent": g.suggested_intent, "size": g.size,
             "questions": [{"id": q.turn_id, "text": q.text, "at": q.created_at.isoformat(), "intent": q.intent,
                            "confidence": q.confidence, "outcome": q.outcome, "reason": q.reason, "feedback": q.feedback}
                           for q in g.questions]}
            for g in groups
        ], ensure_ascii=False, indent=2))
        return 0
    if not groups:
        print(f"site {site.id}: no {args.status} questions")
    for group in groups:
        print(f"— {group.size} question(s); suggested intent: {group.suggested_intent or '?'}")
        for q in group.questions[:10]:
            guess = f"{q.intent} {q.confidence:.2f}" if q.intent and q.confidence is not None else "-"
            print(f"   #{q.turn_id:<6} {q.text[:70]!r}  [{q.outcome}{', 👎' if q.feedback == 'down' else ''}; {guess}]")
    return 0


async def cmd_assign(args: argparse.Namespace) -> int:
    from canales.plugins.chatbot.learning import ReviewError, assign

    async with _site(args) as site:
        try:
            changed = await assign(site, args.turn, args.intent)
        except ReviewError as exc:
            print(f"canales bot assign: {exc}", file=sys.stderr)
            return 1
    print(f"{changed} example(s) added to {args.intent}; run `canales bot train --site {site.id}` to use them")
    return 0


async def cmd_review(args: argparse.Namespace) -> int:
    from canales.plugins.chatbot.learning import set_review

    async with _site(args) as site:
        changed = await set_review(site, args.turn, args.status)
    print(f"{changed} question(s) marked {args.status}")
    return 0
