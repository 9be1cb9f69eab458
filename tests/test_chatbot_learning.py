"""The learning loop: misunderstood questions grouped for review, assigned to an
intent, retrained into a new model version that answers them, and the previous
version restored; and the ``canales bot`` commands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot_helpers import Citizen, bot_site, texts
from canales.core.cli import main
from canales.plugins.chatbot import registry
from canales.plugins.chatbot.learning import (
    Question,
    ReviewError,
    assign,
    group_questions,
    misunderstood,
    needs_retraining,
    outcomes,
    retrain,
    set_review,
)
from canales.plugins.chatbot.models import BotExample, BotTurn

ROOT = Path(__file__).resolve().parent.parent
MISUNDERSTOOD = "me quedé sin el plástico de identificación"


def q(turn_id: int, text: str, intent: str | None = None, resolved: str | None = None) -> Question:
    at = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=turn_id)
    return Question(turn_id, 1, text, at, intent, 0.3, "out_of_scope", "low_confidence", None, resolved, "new")


def test_similar_questions_are_grouped() -> None:
    groups = group_questions([
        q(1, "cuándo cobro la jubilación del bps", "out_of_scope"),
        q(2, "cuando cobra el bps la jubilacion", "horario_contacto"),
        q(3, "fecha de cobro jubilación bps", "horario_contacto", resolved="horario_contacto"),
        q(4, "receta de ñoquis caseros", "out_of_scope"),
    ])
    assert [g.size for g in groups] == [3, 1]
    assert groups[0].turn_ids == [3, 2, 1]  # newest first
    assert groups[0].suggested_intent == "horario_contacto"
    assert groups[1].suggested_intent is None
    assert group_questions([]) == []


async def test_review_assign_retrain_and_rollback(run_app: Any, site_file: Any) -> None:
    async with run_app(bot_site(site_file)) as app:
        site = app.site()
        before = await registry.active_model(site)
        assert before is not None
        first = await Citizen(app, "ana").says(MISUNDERSTOOD)
        assert "no te puedo ayudar" in texts(first)
        (group,) = await misunderstood(site)
        (question,) = group.questions
        assert question.text == MISUNDERSTOOD and question.review == "new"

        with pytest.raises(ReviewError):
            await assign(site, [question.turn_id], "no_such_intent")
        assert await assign(site, [question.turn_id], "cedula_extravio", agent_id=None) == 1
        assert await needs_retraining(site)
        assert await misunderstood(site) == []
        (done,) = await misunderstood(site, "done")
        assert done.questions[0].review == "done"

        model, new = await retrain(site)
        assert new and model.digest != before.digest and model.n_added == 1
        assert not await needs_retraining(site)
        assert [m.digest for m in await registry.versions(site)] == [model.digest, before.digest]
        answer = await Citizen(app, "beto").says(MISUNDERSTOOD)
        assert "Si perdiste la cédula" in texts(answer)
        async with site.db.read() as session:
            turn = (await session.exec(select(BotTurn).order_by(col(BotTurn.id).desc()))).first()
            example = (await session.exec(select(BotExample))).one()
        assert turn is not None and turn.intent == "cedula_extravio" and turn.model == model.digest
        assert example.intent == "cedula_extravio" and example.text == MISUNDERSTOOD

        # Retraining the same data gives the same version.
        again, new_again = await retrain(site)
        assert again.digest == model.digest and not new_again

        restored = await registry.rollback(site)
        assert restored.digest == before.digest
        bot = site.state["chatbot"]
        assert await bot.refresh() and bot.digest == before.digest
        assert "no te puedo ayudar" in texts(await Citizen(app, "carla").says(MISUNDERSTOOD))

        assert await set_review(site, [question.turn_id], "ignored") == 1
        counts = await outcomes(site, dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
        assert counts["handed_off"] == 2 and counts["answered"] == 1


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_train_models_rollback(capsys: pytest.CaptureFixture[str], site_file: Any, sqlite_url: str) -> None:
    site = str(bot_site(site_file))
    code, out, _ = run_cli(capsys, "bot", "check", "--site", site)
    assert code == 0 and "16 intents" in out
    code, out, _ = run_cli(capsys, "bot", "train", "--site", site, "--database-url", sqlite_url)
    assert code == 0 and "trained" in out
    code, out, _ = run_cli(capsys, "bot", "train", "--site", site, "--database-url", sqlite_url)
    assert code == 0 and "already trained" in out
    code, out, _ = run_cli(capsys, "bot", "models", "--site", site, "--database-url", sqlite_url, "--json")
    (version,) = json.loads(out)
    assert version["active"] and version["examples"] >= 200
    code, _, err = run_cli(capsys, "bot", "rollback", "--site", site, "--database-url", sqlite_url)
    assert code == 1 and "no earlier model version" in err
    code, out, _ = run_cli(capsys, "bot", "questions", "--site", site, "--database-url", sqlite_url)
    assert code == 0 and "no new questions" in out


def test_cli_eval_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    train = ROOT / "sites" / "demo" / "chatbot.yml"
    test = ROOT / "sites" / "demo" / "chatbot-test.yml"
    code, out, _ = run_cli(capsys, "bot", "eval", "--train", str(train), "--test", str(test), "--json")
    assert code == 0
    report = json.loads(out)  # exactly one JSON document, nothing else
    assert {"in_scope_accuracy", "oos_recall", "macro_f1", "per_intent", "confusion", "labels"} <= set(report)
    assert report["in_scope_accuracy"] >= 0.85 and report["oos_recall"] >= 0.6 and report["macro_f1"] >= 0.8
    assert len(report["confusion"]) == len(report["labels"])
    code, out, _ = run_cli(capsys, "bot", "eval", "--train", str(train), "--test", str(test))
    assert code == 0 and "in_scope_accuracy:" in out and "confusion matrix" in out


def test_cli_eval_reads_rasa_files_and_reports_bad_ones(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    nlu = tmp_path / "nlu.yml"
    nlu.write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: saludo\n  examples: |\n    - hola\n    - buenas\n    - buen día\n    - holis\n"
        "- intent: pasaporte\n  examples: |\n    - quiero el [pasaporte](tramite)\n    - sacar pasaporte\n    - renovar pasaporte\n    - pasaporte vencido\n"
        "- intent: out_of_scope\n  examples: |\n    - quién ganó el partido\n    - contame un chiste\n    - qué hora es en Tokio\n",
        "utf-8",
    )
    code, out, _ = run_cli(capsys, "bot", "eval", "--train", str(nlu), "--test", str(nlu), "--json")
    assert code == 0 and json.loads(out)["examples"] == 11
    broken = tmp_path / "broken.yml"
    broken.write_text("version: 1\nintents:\n  saludo:\n    examples: [hola\n", "utf-8")
    code, _, err = run_cli(capsys, "bot", "eval", "--train", str(broken), "--test", str(nlu))
    assert code == 1 and f"{broken}:" in err and "not valid YAML" in err


def test_cli_cross_validates_a_site(capsys: pytest.CaptureFixture[str], site_file: Any, sqlite_url: str) -> None:
    site = str(bot_site(site_file))
    code, out, _ = run_cli(capsys, "bot", "eval", "--site", site, "--folds", "3", "--database-url", sqlite_url, "--json")
    report = json.loads(out)
    assert code == 0 and report["folds"] == 3 and report["examples"] >= 200
    assert report["in_scope_accuracy"] > 0.7


def test_cli_check_reports_file_and_line(capsys: pytest.CaptureFixture[str], site_file: Any, tmp_path: Path) -> None:
    knowledge = tmp_path / "malo.yml"
    knowledge.write_text("version: 1\nintents:\n  saludo:\n    examples: [hola]\n    answer: nada\n", "utf-8")
    code, _, err = run_cli(capsys, "bot", "check", "--site", str(bot_site(site_file, knowledge=knowledge)))
    assert code == 2 and f"{knowledge}:5: intents.saludo.answer: no answer called 'nada'" in err
