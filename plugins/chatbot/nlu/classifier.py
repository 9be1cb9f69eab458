"""The intent classifier: word and character n-gram TF-IDF features over
normalised Spanish, and a linear model whose probabilities are calibrated.

Why this and not a neural model: a site has tens of intents with ten to fifty
examples each; sparse n-gram features with a linear model are what Rasa's own
language-agnostic default uses for such data, train in a second on a CPU, answer in
well under a millisecond and need nothing downloaded. Character n-grams over a
phonetically folded view absorb typos and voseo ("sedula", "podés").

A model is a pure function of its training data and :data:`PIPELINE_VERSION`
(training is deterministic), so it is stored and versioned as its data, never as a
pickle.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from canales.plugins.chatbot.nlu.entities import Synonyms
from canales.plugins.chatbot.nlu.normalize import normalize, phonetic

# Bump when features or model change: every site's model is then retrained.
PIPELINE_VERSION = "tfidf-word12-charwb25-linearsvc-sigmoid3/1"
CALIBRATION_FOLDS = 3


@dataclass(frozen=True)
class Ranked:
    """An intent and the classifier's probability for it."""

    intent: str
    confidence: float


class IntentClassifier:
    """Fit on (text, intent) pairs; rank intents for a new text."""

    def __init__(self, synonyms: Synonyms | None = None) -> None:
        self.synonyms = synonyms or Synonyms({})
        self.features = FeatureUnion(
            [
                (
                    "words",
                    TfidfVectorizer(
                        preprocessor=self._words, analyzer="word", ngram_range=(1, 2),
                        token_pattern=r"(?u)\b\w+\b", sublinear_tf=True,
                    ),
                ),
                (
                    "chars",
                    TfidfVectorizer(
                        preprocessor=self._sounds, analyzer="char_wb", ngram_range=(2, 5),
                        sublinear_tf=True,
                    ),
                ),
            ]
        )
        self.model: CalibratedClassifierCV | None = None
        self.intents: list[str] = []
        self.single: str | None = None
        self.fast: _FastScorer | None = None

    def _words(self, text: str) -> str:
        return self.synonyms.fold(normalize(text))

    def _sounds(self, text: str) -> str:
        return phonetic(self._words(text))

    def fit(self, texts: Sequence[str], intents: Sequence[str]) -> "IntentClassifier":
        """Train. Intents with fewer examples than the calibration folds are
        repeated to reach them (calibration needs every intent in every fold)."""
        if len(texts) != len(intents):
            raise ValueError("texts and intents differ in length")
        counts = Counter(intents)
        if not counts:
            raise ValueError("no training examples")
        self.intents = sorted(counts)
        if len(counts) == 1:
            self.single = self.intents[0]
            return self
        x, y = list(texts), list(intents)
        for intent, count in counts.items():
            if count < CALIBRATION_FOLDS:
                extra = [t for t, i in zip(texts, intents) if i == intent]
                while count < CALIBRATION_FOLDS:
                    x.extend(extra[: CALIBRATION_FOLDS - count])
                    y.extend([intent] * len(extra[: CALIBRATION_FOLDS - count]))
                    count += len(extra[: CALIBRATION_FOLDS - count])
        matrix = self.features.fit_transform(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model = CalibratedClassifierCV(
                LinearSVC(C=0.5, class_weight="balanced", dual=True, tol=1e-3, max_iter=2000),
                method="sigmoid",
                cv=CALIBRATION_FOLDS,
                ensemble=False,
            ).fit(matrix, y)
        self.fast = _FastScorer.from_fitted(self.features, self.model)
        return self

    def rank(self, text: str) -> list[Ranked]:
        """Every intent with its probability, best first."""
        if self.fast is not None:
            row = self.fast.proba(text)
            order = np.argsort(-row)
            return [Ranked(self.fast.classes[i], float(row[i])) for i in order]
        return self.rank_many([text])[0]

    def rank_many(self, texts: Sequence[str]) -> list[list[Ranked]]:
        if self.single is not None:
            return [[Ranked(self.single, 1.0)] for _ in texts]
        if self.model is None:
            raise RuntimeError("the classifier is not trained")
        probabilities = self.model.predict_proba(self.features.transform(list(texts)))
        classes = list(self.model.classes_)
        out = []
        for row in probabilities:
            order = np.argsort(-row)
            out.append([Ranked(classes[i], float(row[i])) for i in order])
        return out


class _FastScorer:
    """The fitted pipeline's arithmetic for one text, without scikit-learn's
    per-call validation (which costs milliseconds for a single short text):
    TF-IDF (sublinear tf, idf, l2 per vectoriser), the linear decision function,
    then each class's sigmoid calibration, normalised. A test checks it agrees with
    ``predict_proba``; if scikit-learn's fitted attributes ever change shape,
    :meth:`from_fitted` returns ``None`` and the slow path is used."""

    def __init__(
        self,
        parts: list[tuple[Callable[[str], list[str]], dict[str, int], np.ndarray, int]],
        coef: np.ndarray,
        intercept: np.ndarray,
        calibration: list[tuple[float, float]],
        classes: list[str],
    ) -> None:
        self.parts = parts
        self.coef = coef  # (n_features, n_decisions), dense: rows fetched by column
        self.intercept = intercept
        self.a = np.array([a for a, _ in calibration])
        self.b = np.array([b for _, b in calibration])
        self.classes = classes

    @classmethod
    def from_fitted(cls, features: FeatureUnion, model: CalibratedClassifierCV) -> "_FastScorer | None":
        try:
            parts = []
            offset = 0
            for _, vectorizer in features.transformer_list:
                if not (vectorizer.sublinear_tf and vectorizer.norm == "l2" and vectorizer.use_idf):
                    return None
                parts.append((vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset))
                offset += len(vectorizer.vocabulary_)
            (calibrated,) = model.calibrated_classifiers_
            svc: Any = calibrated.estimator
            coef = np.asarray(svc.coef_, dtype=float).T.copy()
            calibration = [(float(c.a_), float(c.b_)) for c in calibrated.calibrators]
            if calibrated.method != "sigmoid" or coef.shape[0] != offset:
                return None
            return cls(parts, coef, np.asarray(svc.intercept_, dtype=float), calibration, [str(c) for c in model.classes_])
        except (AttributeError, ValueError, TypeError):
            return None

    def proba(self, text: str) -> np.ndarray:
        decision = self.intercept.copy()
        for analyze, vocabulary, idf, offset in self.parts:
            counts = Counter(t for t in analyze(text) if t in vocabulary)
            if not counts:
                continue
            columns = [vocabulary[t] for t in counts]
            weights = np.array([(1.0 + math.log(n)) * idf[c] for c, n in zip(columns, counts.values())])
            weights /= np.linalg.norm(weights)
            decision += weights @ self.coef[[offset + c for c in columns]]
        if len(self.classes) == 2:
            positive = 1.0 / (1.0 + np.exp(self.a[0] * decision[0] + self.b[0]))
            return np.array([1.0 - positive, positive])
        proba = 1.0 / (1.0 + np.exp(self.a * decision + self.b))
        total = proba.sum()
        if total == 0:
            return np.full(len(self.classes), 1.0 / len(self.classes))
        return proba / total
