"""Finding entities in a citizen's text: regular expressions (with validators),
built-in types (cédula, dates, expediente…) and lists of values, with synonyms
mapped to one canonical value.

Regex entities are matched on the text as written; value lists on the normalised
text, whole words only, longest value first. Matches that fail their validator are
reported (so a flow can say "ese número de cédula no es válido") but fill nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from canales.plugins.chatbot.nlu.normalize import normalize, strip_accents
from canales.plugins.chatbot.nlu.validators import PATTERNS, VALIDATORS, Context, InvalidValue, Validator


@dataclass(frozen=True)
class Found:
    """An entity value found in text: ``value`` canonical, ``text`` as written."""

    entity: str
    value: str
    text: str


@dataclass
class Extraction:
    """Everything found in one message: valid values by entity (first wins) and the
    reasons why other matches were refused."""

    values: dict[str, Found] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Pattern:
    entity: str
    regex: re.Pattern[str]
    validator: Validator | None
    folded: bool  # matched against accent-free lower-cased text


class Synonyms:
    """Variants -> canonical value, compared after normalisation ("CI", "ci",
    "cédula de identidad" -> "cédula")."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.canonical: dict[str, str] = {}
        for canonical, variants in table.items():
            for variant in [canonical, *variants]:
                key = normalize(variant)
                if key:
                    self.canonical[key] = canonical
        # Longest first, so "libreta de conducir" wins over "libreta".
        variants_sorted = sorted((k for k in self.canonical if k), key=len, reverse=True)
        self._fold = (
            re.compile(r"\b(" + "|".join(re.escape(v) for v in variants_sorted) + r")\b")
            if variants_sorted
            else None
        )

    def map(self, value: str) -> str:
        """The canonical value for ``value`` (itself if it has no synonym)."""
        return self.canonical.get(normalize(value), value)

    def fold(self, normalized_text: str) -> str:
        """Replace every variant in already normalised text by its canonical value
        (normalised), so the classifier sees one word for all of them."""
        if self._fold is None:
            return normalized_text
        return self._fold.sub(lambda m: normalize(self.canonical[m.group(1)]), normalized_text)


class EntityExtractor:
    """The entities of one site's knowledge, ready to search text."""

    def __init__(
        self,
        regexes: dict[str, tuple[str, str | None]],
        builtins: dict[str, str],
        values: dict[str, list[str]],
        synonyms: Synonyms,
    ) -> None:
        """``regexes``: entity -> (pattern, validator name or None); ``builtins``:
        entity -> built-in type; ``values``: entity -> accepted values."""
        self.synonyms = synonyms
        self.patterns: list[_Pattern] = []
        for entity, (pattern, validator) in regexes.items():
            self.patterns.append(
                _Pattern(entity, re.compile(pattern, re.IGNORECASE), VALIDATORS[validator] if validator else None, False)
            )
        for entity, kind in builtins.items():
            folded = kind in ("date", "future_date", "past_date")
            self.patterns.append(_Pattern(entity, re.compile(PATTERNS[kind], re.IGNORECASE), VALIDATORS[kind], folded))
        self.values: dict[str, re.Pattern[str]] = {}
        self.value_of: dict[str, dict[str, str]] = {}
        for entity, accepted in values.items():
            table: dict[str, str] = {}
            for value in accepted:
                canonical = synonyms.map(value)
                table[normalize(value)] = canonical
                for variant, target in synonyms.canonical.items():
                    if target == canonical:
                        table[variant] = canonical
            keys = sorted((k for k in table if k), key=len, reverse=True)
            if keys:
                self.values[entity] = re.compile(r"\b(" + "|".join(re.escape(k) for k in keys) + r")\b")
                self.value_of[entity] = table

    @property
    def names(self) -> set[str]:
        return {p.entity for p in self.patterns} | set(self.values)

    def extract(self, text: str, ctx: Context, only: str | None = None) -> Extraction:
        """Search ``text`` for every entity (or only ``only``)."""
        out = Extraction()
        folded = strip_accents(text.lower())
        for pattern in self.patterns:
            if only is not None and pattern.entity != only:
                continue
            if pattern.entity in out.values:
                continue
            for match in pattern.regex.finditer(folded if pattern.folded else text):
                raw = match.group(0)
                try:
                    value = pattern.validator(raw, ctx) if pattern.validator else self.synonyms.map(raw)
                except InvalidValue as exc:
                    out.invalid.setdefault(pattern.entity, exc.reason)
                    continue
                out.values[pattern.entity] = Found(pattern.entity, value, raw)
                out.invalid.pop(pattern.entity, None)
                break
        normalized = normalize(text)
        for entity, regex in self.values.items():
            if (only is not None and entity != only) or entity in out.values:
                continue
            match = regex.search(normalized)
            if match:
                out.values[entity] = Found(entity, self.value_of[entity][match.group(1)], match.group(1))
        return out

    def validate(self, validator: str, text: str, ctx: Context) -> str:
        """Run one named validator over a whole answer (raises InvalidValue)."""
        return VALIDATORS[validator](text.strip(), ctx)
