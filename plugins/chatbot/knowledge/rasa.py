"""Import of Rasa 3.1 training data, so that bodies migrating from Rasa keep it:
NLU files (``nlu:`` with ``intent``/``examples``, ``synonym``, ``regex``,
``lookup``; entity annotations) and the ``responses:`` of a domain file.

Nothing of Rasa is installed or run: we read its documented YAML format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canales.plugins.chatbot.knowledge.annotations import Example, parse_example
from canales.plugins.chatbot.knowledge.schema import AnswerSpec, ButtonSpec
from canales.plugins.chatbot.knowledge.yamlfile import KnowledgeError, Lines, read_yaml


@dataclass
class RasaNLU:
    """What an NLU file holds, by kind."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)


def _example_lines(value: Any, path: tuple[Any, ...], lines: Lines) -> list[tuple[str, str]]:
    """Rasa's ``examples``: a block string of ``- `` lines, or a list of
    ``{text: …}`` items (the extended form with metadata). Returns each example
    with the ``file:line: key`` prefix for errors about it."""
    if isinstance(value, str):
        out = []
        for i, line in enumerate(value.splitlines()):
            stripped = line.strip()
            if not stripped:
                continue
            where = lines.error_at_block(path, i, "").removesuffix(": ")
            if not stripped.startswith("-"):
                raise KnowledgeError([f"{where}: line {i + 1} of the examples does not start with '- ': {stripped[:60]!r}"])
            out.append((stripped[1:].strip(), where))
        return out
    if isinstance(value, list):
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                out.append((item["text"].strip(), lines.where((*path, i))))
            else:
                raise KnowledgeError([lines.error((*path, i), "expected an item with 'text'")])
        return out
    raise KnowledgeError([lines.error(path, "examples must be a block of '- ' lines")])


def parse_nlu(data: Any, lines: Lines) -> RasaNLU:
    """Read the ``nlu:`` list of a Rasa 3.x training-data file."""
    if not isinstance(data, dict) or not isinstance(data.get("nlu"), list):
        raise KnowledgeError([lines.error((), "a Rasa NLU file has a top-level 'nlu:' list")])
    version = str(data.get("version", "3.1"))
    if not re.match(r"^3(\.\d+)?$", version):
        raise KnowledgeError([lines.error(("version",), f"Rasa format {version!r} is not supported; use 3.x")])
    out = RasaNLU()
    problems: list[str] = []
    for i, item in enumerate(data["nlu"]):
        path = ("nlu", i)
        if not isinstance(item, dict):
            problems.append(lines.error(path, "expected a mapping with intent, synonym, regex or lookup"))
            continue
        kinds = [k for k in ("intent", "synonym", "regex", "lookup") if k in item]
        if len(kinds) != 1 or not isinstance(item[kinds[0]], str):
            problems.append(lines.error(path, "each item has exactly one of intent, synonym, regex, lookup (a name)"))
            continue
        kind, name = kinds[0], item[kinds[0]].strip()
        try:
            entries = _example_lines(item.get("examples", ""), (*path, "examples"), lines)
        except KnowledgeError as exc:
            problems.extend(exc.problems)
            continue
        for text, where in entries:
            if kind == "intent":
                try:
                    out.examples.append(parse_example(text, name))
                except ValueError as exc:
                    problems.append(f"{where}: {exc}")
            elif kind == "synonym":
                out.synonyms.setdefault(name, []).append(text)
            elif kind == "regex":
                try:
                    re.compile(text)
                except re.error as exc:
                    problems.append(f"{where}: invalid regular expression {text!r}: {exc}")
                    continue
                out.regexes.setdefault(name, []).append(text)
            else:
                out.lookups.setdefault(name, []).append(text)
    if problems:
        raise KnowledgeError(problems)
    return out


def read_nlu(file: Path) -> RasaNLU:
    data, lines = read_yaml(file)
    return parse_nlu(data, lines)


_SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def rasa_text_to_template(text: str) -> str:
    """Rasa interpolates ``{slot}``; our answers are Jinja2. Everything else is kept
    literally (inside ``{% raw %}``), so a brace in a Rasa text cannot become
    template code."""
    out: list[str] = []
    pos = 0
    for match in _SLOT.finditer(text):
        literal = text[pos : match.start()]
        if literal:
            out.append("{% raw %}" + literal + "{% endraw %}" if ("{" in literal or "%" in literal) else literal)
        out.append("{{ slots." + match.group(1) + " }}")
        pos = match.end()
    rest = text[pos:]
    if rest:
        out.append("{% raw %}" + rest + "{% endraw %}" if ("{" in rest or "%" in rest) else rest)
    return "".join(out)


def parse_domain(data: Any, lines: Lines) -> dict[str, tuple[AnswerSpec, tuple[Any, ...]]]:
    """The ``responses:`` of a Rasa domain, as answers named like the responses
    (``utter_greet``). Of several variants the first without a ``channel`` or
    ``condition`` is used; images become a link line; ``custom`` is skipped."""
    if not isinstance(data, dict):
        raise KnowledgeError([lines.error((), "a Rasa domain file is a mapping")])
    responses = data.get("responses") or {}
    if not isinstance(responses, dict):
        raise KnowledgeError([lines.error(("responses",), "expected a mapping of response names")])
    out: dict[str, tuple[AnswerSpec, tuple[Any, ...]]] = {}
    problems: list[str] = []
    for name, variants in responses.items():
        path = ("responses", name)
        if not isinstance(variants, list) or not variants:
            problems.append(lines.error(path, "expected a list of variants"))
            continue
        plain = [v for v in variants if isinstance(v, dict) and not v.get("channel") and not v.get("condition")]
        variant = (plain or [v for v in variants if isinstance(v, dict)] or [None])[0]
        if variant is None or not (variant.get("text") or variant.get("image")):
            problems.append(lines.error(path, "no variant with text"))
            continue
        text = rasa_text_to_template(str(variant.get("text") or ""))
        if variant.get("image"):
            text = (text + "\n" if text else "") + "{% raw %}" + str(variant["image"]) + "{% endraw %}"
        buttons = []
        for j, button in enumerate(variant.get("buttons") or []):
            if not isinstance(button, dict) or "title" not in button or "payload" not in button:
                problems.append(lines.error((*path, 0, "buttons", j), "a button has title and payload"))
                continue
            # Domain files double the braces of a payload's JSON ({{"a": 1}}).
            payload = str(button["payload"]).replace("{{", "{").replace("}}", "}")
            buttons.append(ButtonSpec(title=str(button["title"]), payload=payload))
        try:
            out[str(name)] = (AnswerSpec(text=text, buttons=buttons), path)
        except ValueError as exc:
            problems.append(lines.error(path, str(exc)))
    if problems:
        raise KnowledgeError(problems)
    return out


def read_domain(file: Path) -> tuple[dict[str, tuple[AnswerSpec, tuple[Any, ...]]], Lines]:
    data, lines = read_yaml(file)
    return parse_domain(data, lines), lines
