"""Loading a site's knowledge file: validate it against the format, import Rasa
files it names, check every cross-reference and compile every template, so that a
mistake is reported with file and line at start-up, not in front of a citizen."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import TemplateSyntaxError
from pydantic import ValidationError

from canales.plugins.chatbot.knowledge import rasa
from canales.plugins.chatbot.knowledge.annotations import Example, parse_example
from canales.plugins.chatbot.knowledge.schema import (
    OUT_OF_SCOPE,
    ActionSpec,
    AnswerSpec,
    ButtonSpec,
    EntitySpec,
    FlowSpec,
    IntentSpec,
    KnowledgeFile,
)
from canales.plugins.chatbot.knowledge.yamlfile import KnowledgeError, Lines, read_yaml
from canales.plugins.chatbot.nlu.entities import EntityExtractor, Synonyms
from canales.plugins.chatbot.nlu.normalize import normalize
from canales.plugins.chatbot.templates import Templates

PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z0-9_][A-Za-z0-9_./-]{0,99}?)(?P<entities>\{.*\})?$", re.DOTALL)
# Payloads the bot understands without an intent of that name.
BUILTIN_PAYLOADS = {"handoff", "feedback", "none", "restart"}
_SECRET_USE = re.compile(r"\bsecrets\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*['\"]([^'\"]+)['\"]\s*\])")


@dataclass
class TrainingData:
    """What the classifier learns from: examples and synonyms."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)

    def digest(self) -> str:
        """A content hash of the data (order-independent)."""
        rows = sorted({(e.intent, normalize(e.text)) for e in self.examples})
        syn = sorted((k, sorted(v)) for k, v in self.synonyms.items())
        return hashlib.sha256(json.dumps([rows, syn], ensure_ascii=False).encode()).hexdigest()


@dataclass
class Knowledge:
    """A site's validated knowledge, ready to use."""

    file: Path
    intents: dict[str, IntentSpec]
    answers: dict[str, AnswerSpec]
    entities: EntityExtractor
    synonyms: Synonyms
    flows: dict[str, FlowSpec]
    actions: dict[str, ActionSpec]
    training: TrainingData
    templates: Templates
    # The answer each intent gives when it names none (its own name, or Rasa's utter_).
    intent_answer: dict[str, str] = field(default_factory=dict)

    def title(self, intent: str) -> str:
        """How an intent is offered in "¿Quisiste decir…?" buttons."""
        spec = self.intents.get(intent)
        if spec and spec.title:
            return spec.title
        examples = [e.text for e in self.training.examples if e.intent == intent]
        if examples:
            text = examples[0].rstrip("?¿!¡. ")
            return (text[:1].upper() + text[1:])[:80]
        return intent.replace("_", " ").capitalize()[:80]

    def answer_for(self, intent: str) -> str | None:
        spec = self.intents.get(intent)
        if spec and spec.answer:
            return spec.answer
        return self.intent_answer.get(intent)


def parse_payload(payload: str) -> tuple[str, dict[str, Any]] | None:
    """``/intent`` or ``/intent{"entity": "value"}`` -> (intent, entities); ``None``
    for a payload that is plain text. Raises ValueError for malformed JSON."""
    match = PAYLOAD.match(payload.strip())
    if not match:
        return None
    entities: dict[str, Any] = {}
    if match.group("entities"):
        try:
            entities = json.loads(match.group("entities"))
        except ValueError:
            raise ValueError(f"the entities of payload {payload!r} are not valid JSON") from None
        if not isinstance(entities, dict):
            raise ValueError(f"the entities of payload {payload!r} must be a JSON object")
    return match.group("intent"), entities


def _validate_file(data: Any, lines: Lines) -> KnowledgeFile:
    if not isinstance(data, dict):
        raise KnowledgeError([lines.error((), "a knowledge file is a mapping (version: 1, intents: …)")])
    try:
        return KnowledgeFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            loc = tuple("json" if p == "json_body" else "import" if p == "import_" else p for p in loc)
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key; check its spelling (see docs/chatbot.md)"
            # Union types report each alternative; the key is what matters.
            loc = tuple(p for p in loc if p not in ("str", "AnswerSpec", "list[str]"))
            problems.append(lines.error(loc, message))
        raise KnowledgeError(sorted(set(problems), key=problems.index)) from None


def _examples(spec: KnowledgeFile, lines: Lines, problems: list[str]) -> list[Example]:
    out = []
    for name, intent in spec.intents.items():
        for i, raw in enumerate(intent.examples):
            try:
                out.append(parse_example(raw, name))
            except ValueError as exc:
                problems.append(lines.error(("intents", name, "examples", i), str(exc)))
    return out


def _relative(base: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else base.parent / path


def read_training(file: Path) -> TrainingData:
    """Training data from a knowledge file of ours or a Rasa 3.1 NLU file (for
    ``canales bot eval``); only intents, examples and synonyms are read."""
    data, lines = read_yaml(file)
    if isinstance(data, dict) and "nlu" in data:
        nlu = rasa.parse_nlu(data, lines)
        return TrainingData(nlu.examples, nlu.synonyms)
    spec = _validate_file(data, lines)
    problems: list[str] = []
    training = TrainingData(_examples(spec, lines, problems), {k: list(v) for k, v in spec.synonyms.items()})
    for name in spec.import_.rasa_nlu:
        nlu = rasa.read_nlu(_relative(file, name))
        training.examples.extend(nlu.examples)
        for canonical, variants in nlu.synonyms.items():
            training.synonyms.setdefault(canonical, []).extend(variants)
    if problems:
        raise KnowledgeError(problems)
    return training


class _Checker:
    """Cross-reference checks and template compilation, collecting problems."""

    def __init__(self, lines: Lines, templates: Templates) -> None:
        self.lines = lines
        self.templates = templates
        self.problems: list[str] = []

    def error(self, path: Iterable[Any], message: str) -> None:
        self.problems.append(self.lines.error(tuple(path), message))

    def template(self, source: str, path: tuple[Any, ...], kind: str = "text") -> None:
        try:
            self.templates.compile(source, kind)
        except TemplateSyntaxError as exc:
            offset = 1 if tuple(path) in self.lines.block else 0
            base = self.lines.line(path) or 0
            self.problems.append(
                f"{self.lines.file}:{base + offset + (exc.lineno or 1) - 1}: {'.'.join(map(str, path))}: "
                f"template error: {exc.message}"
            )
            return
        if kind != "header" and _SECRET_USE.search(source):
            self.error(path, "secrets can only be used in an action's headers")


def load_knowledge(
    file: Path,
    *,
    allowed_hosts: Iterable[str] = (),
    secret_names: Iterable[str] = (),
) -> Knowledge:
    """Read, validate and prepare a knowledge file. Raises :class:`KnowledgeError`
    listing every problem with file and line."""
    data, lines = read_yaml(file)
    spec = _validate_file(data, lines)
    templates = Templates()
    check = _Checker(lines, templates)
    examples = _examples(spec, lines, check.problems)
    intents: dict[str, IntentSpec] = dict(spec.intents)
    answers: dict[str, AnswerSpec] = dict(spec.answers)
    synonyms: dict[str, list[str]] = {k: list(v) for k, v in spec.synonyms.items()}
    entities: dict[str, EntitySpec] = dict(spec.entities)
    answer_lines: dict[str, tuple[Lines, tuple[Any, ...]]] = {n: (lines, ("answers", n)) for n in answers}

    for name in spec.import_.rasa_nlu:
        nlu = rasa.read_nlu(_relative(file, name))
        examples.extend(nlu.examples)
        for example in nlu.examples:
            intents.setdefault(example.intent, IntentSpec())
        for canonical, variants in nlu.synonyms.items():
            synonyms.setdefault(canonical, []).extend(variants)
        for entity, patterns in nlu.regexes.items():
            if entity not in entities:
                entities[entity] = EntitySpec(regex="|".join(f"(?:{p})" for p in patterns))
        for entity, values in nlu.lookups.items():
            if entity not in entities:
                entities[entity] = EntitySpec(values=values)
    for name in spec.import_.rasa_domain:
        imported, domain_lines = rasa.read_domain(_relative(file, name))
        for answer_name, (answer, path) in imported.items():
            if answer_name in answers:
                check.error(("import", "rasa_domain"), f"the response {answer_name!r} is also defined in answers")
                continue
            answers[answer_name] = answer
            answer_lines[answer_name] = (domain_lines, path)

    # Annotated values teach value entities their values (and synonyms).
    for example in examples:
        for note in example.annotations:
            current = entities.get(note.entity)
            if current is None or current.values:
                values = list(current.values) if current else []
                if note.value not in values:
                    values.append(note.value)
                entities[note.entity] = EntitySpec(values=values)
            if normalize(note.text) != normalize(note.value):
                variants = synonyms.setdefault(note.value, [])
                if note.text not in variants:
                    variants.append(note.text)

    # Entities.
    regexes: dict[str, tuple[str, str | None]] = {}
    builtins: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for name, entity in entities.items():
        if entity.regex:
            try:
                re.compile(entity.regex)
            except re.error as exc:
                check.error(("entities", name, "regex"), f"invalid regular expression: {exc}")
                continue
            regexes[name] = (entity.regex, entity.validator)
        elif entity.type:
            builtins[name] = entity.type
        else:
            values[name] = list(entity.values)
    synonym_table = Synonyms(synonyms)
    extractor = EntityExtractor(regexes, builtins, values, synonym_table)

    intent_answer: dict[str, str] = {}
    for name, intent in intents.items():
        path = ("intents", name)
        if intent.answer and intent.answer not in answers:
            check.error((*path, "answer"), f"no answer called {intent.answer!r}")
        if intent.flow and intent.flow not in spec.flows:
            check.error((*path, "flow"), f"no flow called {intent.flow!r}")
        if intent.action and intent.action not in spec.actions:
            check.error((*path, "action"), f"no action called {intent.action!r}")
        if not (intent.answer or intent.flow or intent.action or intent.handoff) and name != OUT_OF_SCOPE:
            for candidate in (name, f"utter_{name}"):
                if candidate in answers:
                    intent_answer[name] = candidate
                    break
            else:
                check.error(path, f"the intent has nothing to do: add answers.{name}, or give it answer, flow, action or handoff")

    def buttons(items: list[ButtonSpec], path: tuple[Any, ...]) -> None:
        for i, button in enumerate(items):
            try:
                parsed = parse_payload(button.payload)
            except ValueError as exc:
                check.error((*path, i, "payload"), str(exc))
                continue
            if parsed and parsed[0] not in intents and parsed[0] not in BUILTIN_PAYLOADS:
                check.error((*path, i, "payload"), f"the payload names an unknown intent {parsed[0]!r}")

    for name, answer in answers.items():
        where_lines, path = answer_lines[name]
        sub = _Checker(where_lines, templates)
        sub.template(answer.text, (*path, "text"))
        check.problems.extend(sub.problems)
        if where_lines is lines:
            buttons(answer.buttons, (*path, "buttons"))

    for name, flow in spec.flows.items():
        ids = {step.id for step in flow.steps if step.id}
        for i, step in enumerate(flow.steps):
            path = ("flows", name, "steps", i)
            if isinstance(step.say, str) and step.say not in answers:
                check.error((*path, "say"), f"no answer called {step.say!r}")
            elif isinstance(step.say, AnswerSpec):
                check.template(step.say.text, (*path, "say", "text"))
                buttons(step.say.buttons, (*path, "say", "buttons"))
            if step.ask:
                check.template(step.text or "", (*path, "text"))
                if step.invalid:
                    check.template(step.invalid, (*path, "invalid"))
                entity = step.entity or step.ask
                if entity != "text" and entity not in extractor.names and not step.validator:
                    check.error((*path, "entity" if step.entity else "ask"),
                                f"no entity called {entity!r} fills this slot; define it under entities, "
                                f"give a validator, or write entity: text to take the whole answer")
                buttons(step.buttons, (*path, "buttons"))
            if step.menu:
                check.template(step.menu.text, (*path, "menu", "text"))
                for j, option in enumerate(step.menu.options):
                    opath = (*path, "menu", "options", j)
                    if option.goto and option.goto not in ids:
                        check.error((*opath, "goto"), f"no step with id {option.goto!r} in this flow")
                    if option.flow and option.flow not in spec.flows:
                        check.error((*opath, "flow"), f"no flow called {option.flow!r}")
                    if option.answer and option.answer not in answers:
                        check.error((*opath, "answer"), f"no answer called {option.answer!r}")
                    if option.intent and option.intent not in intents:
                        check.error((*opath, "intent"), f"no intent called {option.intent!r}")
            if step.action and step.action not in spec.actions:
                check.error((*path, "action"), f"no action called {step.action!r}")
            if step.goto and step.goto not in ids:
                check.error((*path, "goto"), f"no step with id {step.goto!r} in this flow")
            for slot, value in (step.set or {}).items():
                if value is not None:
                    check.template(value, (*path, "set", slot))

    hosts = {h.lower() for h in allowed_hosts}
    secrets = set(secret_names)
    for name, action in spec.actions.items():
        path = ("actions", name)
        _check_url(action, path, hosts, check)
        for header, value in action.headers.items():
            check.template(value, (*path, "headers", header), kind="header")
            for match in _SECRET_USE.finditer(value):
                secret = match.group(1) or match.group(2)
                if secret not in secrets:
                    check.error((*path, "headers", header),
                                f"the secret {secret!r} is not declared; add it to [plugins.chatbot.secrets] "
                                f'in the site file ({secret} = {{ env = "…" }})')
        for key, value in action.query.items():
            check.template(value, (*path, "query", key), kind="value")
        for leaf_path, leaf in _string_leaves(action.json_body, (*path, "json")):
            check.template(leaf, leaf_path, kind="value")
        for key in ("answer", "on_error"):
            target = getattr(action, key)
            if target and target not in answers:
                check.error((*path, key), f"no answer called {target!r}")

    if check.problems:
        raise KnowledgeError(check.problems)
    return Knowledge(
        file=file,
        intents=intents,
        answers=answers,
        entities=extractor,
        synonyms=synonym_table,
        flows=dict(spec.flows),
        actions=dict(spec.actions),
        training=TrainingData(examples, synonyms),
        templates=templates,
        intent_answer=intent_answer,
    )


def _check_url(action: ActionSpec, path: tuple[Any, ...], hosts: set[str], check: _Checker) -> None:
    # The scheme, host and port are literal: only the path and query may vary, so
    # that no slot can send a request elsewhere.
    head = re.match(r"^(https?)://([^/?#{}]+)(?=[/?#]|$)", action.url)
    if not head:
        check.error((*path, "url"), "the URL must start with http:// or https:// and a literal host (no template before the path)")
        return
    try:
        host = urlsplit(action.url.split("{", 1)[0]).hostname or ""
    except ValueError:
        check.error((*path, "url"), "not a valid URL")
        return
    if host.lower() not in hosts:
        check.error((*path, "url"),
                    f"the host {host!r} is not allowed; add it to allowed_hosts in [plugins.chatbot] of the site file")
    check.template(action.url, (*path, "url"), kind="url")


def _string_leaves(value: Any, path: tuple[Any, ...]) -> Iterable[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _string_leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _string_leaves(item, (*path, i))
