"""Measuring the classifier as citizens meet it: train on one set, decide on
another with the same thresholds the bot uses, and report in-scope accuracy,
out-of-scope recall, macro F1, a per-intent table and a confusion matrix.

Definitions: ``in_scope_accuracy`` is the share of in-scope test examples answered
with the right intent (a "¿Quisiste decir…?" is not an answer); ``oos_recall`` the
share of ``out_of_scope`` test examples the bot refused to answer; ``macro_f1`` the
F1 averaged over the test set's labels, with refusals predicted as
``out_of_scope`` and clarifications as ``(clarify)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from canales.plugins.chatbot.knowledge import TrainingData
from canales.plugins.chatbot.knowledge.schema import OUT_OF_SCOPE
from canales.plugins.chatbot.nlu.decision import Decision, Thresholds, decide
from canales.plugins.chatbot.registry import fit

CLARIFY = "(clarify)"


@dataclass
class Report:
    in_scope_accuracy: float | None
    oos_recall: float | None
    macro_f1: float
    clarified: float
    examples: int
    in_scope_examples: int
    oos_examples: int
    thresholds: dict[str, float]
    per_intent: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    folds: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _label(decision: Decision) -> str:
    if decision.kind == "answer" and decision.intent:
        return decision.intent
    if decision.kind == "clarify":
        return CLARIFY
    return OUT_OF_SCOPE


def score(texts: Sequence[str], expected: Sequence[str], decisions: Sequence[Decision], limits: Thresholds) -> Report:
    """The report for decisions made on labelled texts."""
    predicted = [_label(d) for d in decisions]
    in_scope = [i for i, e in enumerate(expected) if e != OUT_OF_SCOPE]
    oos = [i for i, e in enumerate(expected) if e == OUT_OF_SCOPE]
    truth_labels = sorted(set(expected))
    labels = sorted(set(expected) | {p for p in predicted if p != CLARIFY})
    precision, recall, f1, support = precision_recall_fscore_support(
        expected, predicted, labels=labels, zero_division=0
    )
    matrix_labels = labels + ([CLARIFY] if CLARIFY in predicted else [])
    return Report(
        in_scope_accuracy=round(sum(predicted[i] == expected[i] for i in in_scope) / len(in_scope), 4) if in_scope else None,
        oos_recall=round(sum(predicted[i] == OUT_OF_SCOPE for i in oos) / len(oos), 4) if oos else None,
        macro_f1=round(float(f1_score(expected, predicted, labels=truth_labels, average="macro", zero_division=0)), 4),
        clarified=round(predicted.count(CLARIFY) / len(predicted), 4) if predicted else 0.0,
        examples=len(expected),
        in_scope_examples=len(in_scope),
        oos_examples=len(oos),
        thresholds={"threshold": limits.threshold, "margin": limits.margin, "floor": limits.floor},
        per_intent=[
            {"intent": label, "precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        ],
        labels=matrix_labels,
        confusion=confusion_matrix(expected, predicted, labels=matrix_labels).tolist(),
        errors=[
            {"text": t, "expected": e, "got": p, "confidence": round(d.confidence, 4)}
            for t, e, p, d in zip(texts, expected, predicted, decisions)
            if e != p
        ],
    )


def evaluate(train: TrainingData, test: TrainingData, limits: Thresholds) -> Report:
    """Train on ``train``, decide on ``test``."""
    if not test.examples:
        raise ValueError("the test set has no examples")
    classifier = fit(train)
    texts = [e.text for e in test.examples]
    rankings = [classifier.rank(t) for t in texts] if classifier else [[] for _ in texts]
    return score(texts, [e.intent for e in test.examples], [decide(r, limits) for r in rankings], limits)


def cross_validate(data: TrainingData, folds: int, limits: Thresholds, seed: int = 0) -> Report:
    """Stratified ``folds``-fold cross-validation of a site's own data: every
    example is decided once, by a model that did not see it."""
    if folds < 2:
        raise ValueError("use at least 2 folds")
    examples = data.examples
    labels = [e.intent for e in examples]
    decisions: list[Decision | None] = [None] * len(examples)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # Intents with fewer examples than folds are fine: some folds lack them.
        warnings.simplefilter("ignore", UserWarning)
        splits = list(splitter.split([e.text for e in examples], labels))
    for train_idx, test_idx in splits:
        classifier = fit(TrainingData([examples[i] for i in train_idx], data.synonyms))
        for i in test_idx:
            decisions[i] = decide(classifier.rank(examples[i].text) if classifier else [], limits)
    report = score([e.text for e in examples], labels, [d for d in decisions if d is not None], limits)
    report.folds = folds
    return report


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def format_report(report: Report, errors: int = 15) -> str:
    """A plain-text report: headline figures, per-intent table, confusion matrix."""
    lines = [
        f"examples: {report.examples} ({report.in_scope_examples} in scope, {report.oos_examples} out of scope)"
        + (f", {report.folds}-fold cross-validation" if report.folds else ""),
        f"thresholds: answer ≥ {report.thresholds['threshold']}, margin ≥ {report.thresholds['margin']}, guess ≥ {report.thresholds['floor']}",
        f"in_scope_accuracy: {_pct(report.in_scope_accuracy)}",
        f"oos_recall:        {_pct(report.oos_recall)}",
        f"macro_f1:          {report.macro_f1:.3f}",
        f"clarified:         {_pct(report.clarified)}",
        "",
        f"{'intent':<28} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}",
    ]
    for row in report.per_intent:
        lines.append(f"{row['intent'][:28]:<28} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>8}")
    lines += ["", "confusion matrix (rows: expected, columns: got):"]
    short = [label[:6] for label in report.labels]
    lines.append(" " * 28 + " ".join(f"{s:>6}" for s in short))
    for label, row in zip(report.labels, report.confusion):
        if any(row) or label != CLARIFY:
            lines.append(f"{label[:27]:<28}" + " ".join(f"{n:>6}" for n in row))
    if report.errors:
        lines += ["", f"errors (first {min(errors, len(report.errors))} of {len(report.errors)}):"]
        for err in report.errors[:errors]:
            lines.append(f"  {err['text'][:60]!r}: expected {err['expected']}, got {err['got']} ({err['confidence']:.2f})")
    return "\n".join(lines)
