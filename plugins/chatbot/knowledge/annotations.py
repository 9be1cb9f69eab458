"""Entity annotations inside training examples, in Rasa's syntax (which our
format shares): ``[text](entity)``, ``[text](entity:value)`` and
``[text]{"entity": "…", "value": "…"}``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_ANNOTATION = re.compile(r"\[(?P<text>[^\[\]]+?)\](?:\((?P<short>[^()]+)\)|(?P<json>\{[^{}]*\}))")


@dataclass(frozen=True)
class Annotation:
    entity: str
    text: str
    value: str


@dataclass(frozen=True)
class Example:
    """One training example: plain text (annotations removed), its intent, and the
    entity values annotated in it."""

    text: str
    intent: str
    annotations: tuple[Annotation, ...] = field(default=())


def parse_example(raw: str, intent: str) -> Example:
    """Strip annotations from ``raw``; raise ValueError for a malformed one."""
    annotations: list[Annotation] = []

    def replace(match: re.Match[str]) -> str:
        text = match.group("text")
        if match.group("short"):
            entity, _, value = match.group("short").partition(":")
            entity = entity.strip()
            value = value.strip() or text
        else:
            try:
                data = json.loads(match.group("json"))
            except ValueError:
                raise ValueError(f"the annotation {match.group(0)!r} is not valid JSON") from None
            if not isinstance(data, dict) or not isinstance(data.get("entity"), str):
                raise ValueError(f'the annotation {match.group(0)!r} needs "entity"')
            entity = data["entity"]
            value = str(data.get("value", text))
        if not entity:
            raise ValueError(f"the annotation {match.group(0)!r} names no entity")
        annotations.append(Annotation(entity, text, value))
        return text

    text = _ANNOTATION.sub(replace, raw).strip()
    if not text:
        raise ValueError("the example is empty")
    return Example(text, intent, tuple(annotations))
