"""From the classifier's ranking to what the bot does: answer, ask "¿Quisiste
decir…?", or say it cannot help. The bot and ``canales bot eval`` use this same
function, so the evaluation measures what citizens get."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from canales.plugins.chatbot.knowledge.schema import OUT_OF_SCOPE
from canales.plugins.chatbot.nlu.classifier import Ranked

MAX_CANDIDATES = 3


@dataclass(frozen=True)
class Thresholds:
    """``threshold``: the least confidence to answer; ``margin``: the least lead
    of the best intent over the next to answer without asking; ``floor``: the least
    confidence for an intent to be offered as a guess at all."""

    threshold: float = 0.5
    margin: float = 0.1
    floor: float = 0.25


@dataclass(frozen=True)
class Decision:
    kind: str  # "answer" | "clarify" | "reject"
    intent: str | None = None
    confidence: float = 0.0
    candidates: tuple[Ranked, ...] = field(default=())


def decide(ranking: Sequence[Ranked], limits: Thresholds) -> Decision:
    """Answer when the best intent is confident and clearly ahead; offer the
    plausible intents when it is close to the next or not confident enough; reject
    when the best guess is the out-of-scope class or below the floor."""
    if not ranking:
        return Decision("reject")
    top = ranking[0]
    if top.intent == OUT_OF_SCOPE:
        return Decision("reject", OUT_OF_SCOPE, top.confidence)
    in_scope = [r for r in ranking if r.intent != OUT_OF_SCOPE]
    runner_up = in_scope[1].confidence if len(in_scope) > 1 else 0.0
    if top.confidence >= limits.threshold and top.confidence - runner_up >= limits.margin:
        return Decision("answer", top.intent, top.confidence)
    candidates = tuple(r for r in in_scope[:MAX_CANDIDATES] if r.confidence >= limits.floor)
    if candidates and candidates[0] is top:
        return Decision("clarify", top.intent, top.confidence, candidates)
    return Decision("reject", top.intent, top.confidence)
