"""The knowledge file format (version 1), as pydantic models.

One YAML file per site holds what the bot knows: intents with examples, answers
(Jinja2 templates with buttons), synonyms, entities, guided flows and actions. The
format is documented in ``docs/chatbot.md``; these models are its exact definition.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,99}$"
SLOT = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
OUT_OF_SCOPE = "out_of_scope"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ButtonSpec(Strict):
    """A choice shown under a message. ``payload`` is what the bot receives when it
    is picked: ``/intent`` or ``/intent{"entity": "value"}`` (Rasa's syntax), or
    plain text."""

    title: str = Field(min_length=1, max_length=80)
    payload: str = Field(min_length=1, max_length=1000)


class AnswerSpec(Strict):
    """A message: ``text`` is a Jinja2 template (sandboxed) that sees ``slots``,
    ``results`` and ``site``; ``buttons`` follow it. ``feedback`` adds the
    "¿Te sirvió?" buttons (default: on for intents' answers)."""

    text: str = Field(min_length=1, max_length=4000)
    buttons: list[ButtonSpec] = Field(default_factory=list, max_length=10)
    feedback: bool | None = None


class IntentSpec(Strict):
    """What citizens may want. The bot does one of: ``answer`` (default: the answer
    with the intent's name), start a ``flow``, run an ``action``, or ``handoff`` to
    people."""

    title: str | None = Field(default=None, max_length=80)
    examples: list[str] = Field(default_factory=list)
    answer: str | None = Field(default=None, pattern=NAME)
    flow: str | None = Field(default=None, pattern=NAME)
    action: str | None = Field(default=None, pattern=NAME)
    handoff: bool = False

    @field_validator("examples")
    @classmethod
    def _examples(cls, examples: list[str]) -> list[str]:
        for example in examples:
            if not isinstance(example, str) or not example.strip():
                raise ValueError("examples must be non-empty text")
            if len(example) > 500:
                raise ValueError("an example is longer than 500 characters")
        return examples

    @model_validator(mode="after")
    def _one_response(self) -> "IntentSpec":
        chosen = [k for k in ("answer", "flow", "action") if getattr(self, k)] + (["handoff"] if self.handoff else [])
        if len(chosen) > 1:
            raise ValueError(f"an intent does one thing; it has {', '.join(chosen)}")
        return self


ValidatorName = Literal["cedula", "date", "future_date", "past_date", "expediente", "number", "email"]


class EntitySpec(Strict):
    """Something to find in a citizen's text. ``type`` picks a built-in
    (``cedula`` with its check digit, ``date``, ``expediente``, ``number``,
    ``email``); or give a ``regex`` (optionally with a ``validator``) or a list of
    ``values`` (matched as whole words, synonyms included)."""

    type: ValidatorName | None = None
    regex: str | None = Field(default=None, max_length=1000)
    validator: ValidatorName | None = None
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind(self) -> "EntitySpec":
        kinds = [k for k in ("type", "regex") if getattr(self, k)] + (["values"] if self.values else [])
        if len(kinds) != 1:
            raise ValueError("an entity has exactly one of: type, regex, values")
        if self.validator and not self.regex:
            raise ValueError("validator goes with regex (a type brings its own)")
        return self


class MenuOption(Strict):
    """One option of a menu: go to a step of the flow (``goto``), start another
    ``flow``, give an ``answer``, act as an ``intent``, or ``handoff``."""

    title: str = Field(min_length=1, max_length=80)
    goto: str | None = None
    flow: str | None = Field(default=None, pattern=NAME)
    answer: str | None = Field(default=None, pattern=NAME)
    intent: str | None = Field(default=None, pattern=NAME)
    handoff: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> "MenuOption":
        chosen = [k for k in ("goto", "flow", "answer", "intent") if getattr(self, k)] + (["handoff"] if self.handoff else [])
        if len(chosen) != 1:
            raise ValueError("a menu option has exactly one of: goto, flow, answer, intent, handoff")
        return self


class MenuSpec(Strict):
    text: str = Field(min_length=1, max_length=4000)
    options: list[MenuOption] = Field(min_length=1, max_length=10)


class StepSpec(Strict):
    """One step of a flow; exactly one of ``say``, ``ask``, ``menu``, ``action``,
    ``handoff``, ``goto``, ``set``. ``ask: slot`` waits for a value (skipped when the
    slot is already filled): ``text``/``buttons`` ask for it, ``entity`` names the
    entity that fills it (default: the slot's name; ``text`` takes the whole
    message), ``validator`` adds a check, ``invalid`` says what was wrong and
    ``retries`` bounds the attempts."""

    id: str | None = Field(default=None, pattern=SLOT)
    say: str | AnswerSpec | None = None
    ask: str | None = Field(default=None, pattern=SLOT)
    text: str | None = Field(default=None, max_length=4000)
    buttons: list[ButtonSpec] = Field(default_factory=list, max_length=10)
    entity: str | None = None
    validator: ValidatorName | None = None
    invalid: str | None = Field(default=None, max_length=1000)
    retries: int = Field(default=2, ge=0, le=5)
    menu: MenuSpec | None = None
    action: str | None = Field(default=None, pattern=NAME)
    handoff: str | None = Field(default=None, max_length=40)
    goto: str | None = Field(default=None, pattern=SLOT)
    set: dict[str, str | None] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "StepSpec":
        kinds = [k for k in ("say", "ask", "menu", "action", "handoff", "goto", "set") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a step has exactly one of: say, ask, menu, action, handoff, goto, set")
        if self.ask and not self.text:
            raise ValueError("an ask step needs the text that asks for the value")
        if not self.ask and (self.text or self.buttons or self.entity or self.validator or self.invalid):
            raise ValueError("text, buttons, entity, validator and invalid belong to ask steps")
        return self


class FlowSpec(Strict):
    """A guided flow: steps run in order; ``ask`` and ``menu`` wait for the citizen.
    ``reset`` clears slots when the flow starts (so a second booking asks again)."""

    title: str | None = Field(default=None, max_length=80)
    reset: list[str] = Field(default_factory=list)
    steps: list[StepSpec] = Field(min_length=1, max_length=50)


Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
IDEMPOTENT = ("GET", "HEAD", "PUT", "DELETE")


class ActionSpec(Strict):
    """A call to an application service. ``url``, ``query`` values, ``json`` string
    leaves and ``headers`` are templates over ``slots``; headers may also use
    ``secrets.NAME`` (declared in the site file). ``retries`` only for idempotent
    methods. On success the JSON result is ``results.<save_as>`` and ``answer`` is
    said; on any failure, ``on_error``."""

    url: str = Field(min_length=8, max_length=2000)
    method: Method = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    timeout: float = Field(default=5.0, gt=0, le=30)
    retries: int = Field(default=0, ge=0, le=3)
    save_as: str | None = Field(default=None, pattern=SLOT)
    answer: str | None = Field(default=None, pattern=NAME)
    on_error: str | None = Field(default=None, pattern=NAME)

    @model_validator(mode="after")
    def _idempotent_retries(self) -> "ActionSpec":
        if self.retries and self.method not in IDEMPOTENT:
            raise ValueError(
                f"retries are only allowed for idempotent methods ({', '.join(IDEMPOTENT)}); "
                f"a {self.method} could be applied twice"
            )
        return self


class ImportSpec(Strict):
    """Rasa 3.1 files to import, relative to the knowledge file."""

    rasa_nlu: list[str] = Field(default_factory=list)
    rasa_domain: list[str] = Field(default_factory=list)


class KnowledgeFile(Strict):
    """A whole knowledge file."""

    version: Literal[1]
    language: Literal["es"] = "es"
    import_: ImportSpec = Field(default_factory=ImportSpec, alias="import")
    intents: dict[str, IntentSpec] = Field(default_factory=dict)
    answers: dict[str, AnswerSpec] = Field(default_factory=dict)
    synonyms: dict[str, list[str]] = Field(default_factory=dict)
    entities: dict[str, EntitySpec] = Field(default_factory=dict)
    flows: dict[str, FlowSpec] = Field(default_factory=dict)
    actions: dict[str, ActionSpec] = Field(default_factory=dict)

    @field_validator("intents", "answers", "entities", "flows", "actions")
    @classmethod
    def _names(cls, table: dict[str, Any]) -> dict[str, Any]:
        import re

        for name in table:
            if not re.match(NAME, name):
                raise ValueError(f"{name!r} is not a valid name (letters, digits, _ . / -)")
        return table
