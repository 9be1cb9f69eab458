"""One turn of the bot: from a citizen's message (or picked button) and what the
bot remembers, to its replies, an optional hand-off, and what to log.

Pure of storage: :mod:`canales.plugins.chatbot.handler` loads the state, calls
:meth:`Dialogue.turn`, and stores the outcome. Guided flows live in
:mod:`canales.plugins.chatbot.flows`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from canales.core.types import Button, Handoff
from canales.plugins.chatbot.actions import ActionRunner
from canales.plugins.chatbot.knowledge import Knowledge, parse_payload
from canales.plugins.chatbot.knowledge.schema import AnswerSpec
from canales.plugins.chatbot.nlu.classifier import IntentClassifier, Ranked
from canales.plugins.chatbot.nlu.decision import Decision, Thresholds, decide
from canales.plugins.chatbot.nlu.entities import Extraction
from canales.plugins.chatbot.nlu.normalize import foreign_language, has_words
from canales.plugins.chatbot.nlu.validators import Context, InvalidValue
from canales.plugins.chatbot.settings import ChatbotSettings
from canales.plugins.chatbot.state import SessionState
from canales.plugins.chatbot.templates import RenderError
from canales.plugins.chatbot.texts import TEXTS

log = logging.getLogger("canales.chatbot")

_NUMBER = re.compile(r"^\s*(?:opci[oó]n\s*)?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)
MAX_SLOT_CHARS = 500


@dataclass
class Reply:
    text: str
    buttons: list[Button] = field(default_factory=list)


@dataclass(frozen=True)
class TurnContext:
    """What the turn knows of the world: today where the site is, the site as
    templates see it, and whether people can take the conversation now."""

    today: dt.date
    site: dict[str, Any]
    humans_available: bool


@dataclass
class TurnResult:
    """What one turn did, for the citizen (replies), for people (hand-off) and for
    the log (outcome, reason, intent, confidence…)."""

    replies: list[Reply] = field(default_factory=list)
    outcome: str = "answered"  # answered | clarified | out_of_scope | handed_off
    reason: str | None = None
    source: str = "nlu"  # nlu | button | number | flow | feedback | input
    intent: str | None = None
    confidence: float | None = None
    second_intent: str | None = None
    second_confidence: float | None = None
    handoff: Handoff | None = None
    feedback: tuple[int, str] | None = None
    resolved: tuple[int, str | None] | None = None
    review: bool = False
    remember: str | None = None  # "answer" | "clarify": the handler stores the turn id
    actions: list[dict[str, Any]] = field(default_factory=list)


class Dialogue:
    """A site's bot: its knowledge, its classifier, its settings."""

    def __init__(
        self,
        knowledge: Knowledge,
        classifier: IntentClassifier | None,
        settings: ChatbotSettings,
        actions: ActionRunner | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.classifier = classifier
        self.settings = settings
        self.actions = actions
        self.limits = Thresholds(settings.threshold, settings.ambiguity_margin, settings.clarify_floor)
        from canales.plugins.chatbot.flows import FlowRunner

        self.flows = FlowRunner(self)

    # --- helpers shared with flows -------------------------------------------------

    def text(self, key: str, **params: Any) -> str:
        return TEXTS.render(self.settings.texts, key, **params)

    def rank(self, text: str) -> list[Ranked]:
        return self.classifier.rank(text) if self.classifier is not None else []

    def validation_context(self, ctx: TurnContext) -> Context:
        return Context(ctx.today)

    def render(self, source: str, state: SessionState, ctx: TurnContext, result: TurnResult) -> str:
        try:
            return self.knowledge.templates.render(
                source, {"slots": dict(state.slots), "results": dict(state.results), "site": ctx.site, "intent": result.intent}
            )
        except RenderError as exc:
            log.error("chatbot: template failed: %s", exc)
            result.reason = "render_error"
            return self.text("error")

    def say(
        self,
        answer: str | AnswerSpec,
        state: SessionState,
        ctx: TurnContext,
        result: TurnResult,
        *,
        feedback: bool = False,
    ) -> None:
        """Add an answer (by name or inline) to the replies, with its buttons and,
        if wanted, the 👍/👎 buttons."""
        spec = self.knowledge.answers.get(answer) if isinstance(answer, str) else answer
        if spec is None:
            log.error("chatbot: no answer called %r", answer)
            result.replies.append(Reply(self.text("error")))
            result.reason = "render_error"
            return
        text = self.render(spec.text, state, ctx, result)
        buttons = [Button(b.title, b.payload) for b in spec.buttons]
        if self.settings.feedback and (spec.feedback if spec.feedback is not None else feedback):
            buttons += self.feedback_buttons()
            result.remember = "answer"
        result.replies.append(Reply(text or self.text("error"), buttons))

    def feedback_buttons(self) -> list[Button]:
        return [
            Button(self.text("feedback.up"), '/feedback{"value": "up"}'),
            Button(self.text("feedback.down"), '/feedback{"value": "down"}'),
        ]

    def handoff_button(self) -> Button:
        return Button(self.text("button.handoff"), "/handoff")

    def help_buttons(self, ctx: TurnContext) -> list[Button]:
        buttons = [self.handoff_button()] if self.can_hand_off(ctx) else []
        if "menu" in self.knowledge.intents:
            buttons.append(Button(self.text("button.menu"), "/menu"))
        return buttons

    def can_hand_off(self, ctx: TurnContext) -> bool:
        return self.settings.handoff and ctx.humans_available

    def fill_slots(self, state: SessionState, extraction: Extraction) -> None:
        for entity, found in extraction.values.items():
            state.slots[entity] = found.value

    # --- the turn --------------------------------------------------------------------

    async def turn(self, state: SessionState, text: str, choice: str | None, ctx: TurnContext) -> TurnResult:
        """Handle one citizen message. Never raises for anything the citizen sent."""
        result = TurnResult()
        text = text or ""
        offered = state.buttons
        state.buttons = []
        if not choice and offered:
            number = _NUMBER.match(text)
            if number and 1 <= int(number.group(1)) <= len(offered):
                choice = offered[int(number.group(1)) - 1][1]
                result.source = "number"
        if choice:
            if result.source != "number":
                result.source = "button"
            handled = await self._choice(state, choice, ctx, result)
            if handled:
                return self._finish(state, result)
            text = choice
        await self._text(state, text, ctx, result)
        return self._finish(state, result)

    def _finish(self, state: SessionState, result: TurnResult) -> TurnResult:
        for reply in reversed(result.replies):
            if reply.buttons:
                state.buttons = [(b.title, b.payload) for b in reply.buttons]
                break
        return result

    async def _choice(self, state: SessionState, choice: str, ctx: TurnContext, result: TurnResult) -> bool:
        """A picked button. Returns False when its payload is plain text (a flow's
        option, a value) to be handled as if typed."""
        try:
            parsed = parse_payload(choice)
        except ValueError:
            parsed = None
        if parsed is None:
            return False
        name, entities = parsed
        if name == "feedback":
            self._feedback(state, str(entities.get("value", "")), ctx, result)
            return True
        if name == "handoff":
            result.intent = "handoff"
            await self.hand_off(state, ctx, result, reason="asked", question="(botón «Hablar con una persona»)")
            return True
        if name == "none":
            if state.clarify_turn is not None:
                result.resolved = (state.clarify_turn, None)
            await self.out_of_scope(state, ctx, result, reason="declined", question="(ninguna de las opciones)")
            result.review = False  # the question itself is already up for review
            return True
        if name == "restart":
            state.flow = None
            state.slots.clear()
            state.results.clear()
            if "saludo" in self.knowledge.intents:
                await self.do_intent(state, "saludo", ctx, result)
            else:
                result.replies.append(Reply(self.text("flow.cancelled")))
            return True
        if name not in self.knowledge.intents:
            return False
        if state.clarify_turn is not None:
            result.resolved = (state.clarify_turn, name)
        state.flow = None
        vctx = self.validation_context(ctx)
        for entity, value in entities.items():
            self._set_from_payload(state, entity, value, vctx)
        result.intent, result.confidence = name, 1.0
        await self.do_intent(state, name, ctx, result)
        return True

    def _set_from_payload(self, state: SessionState, entity: str, value: Any, vctx: Context) -> None:
        # A payload can come from any API caller: its values pass the same checks
        # as typed ones.
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            return
        raw = str(value)[:MAX_SLOT_CHARS]
        found = self.knowledge.entities.extract(raw, vctx, only=entity)
        if entity in found.values:
            state.slots[entity] = found.values[entity].value
        elif entity not in self.knowledge.entities.names:
            state.slots[entity] = self.knowledge.synonyms.map(raw)

    async def _text(self, state: SessionState, text: str, ctx: TurnContext, result: TurnResult) -> None:
        if not has_words(text):
            result.outcome, result.reason, result.source = "out_of_scope", "no_words", "input"
            result.replies.append(Reply(self.text("no_words"), self.help_buttons(ctx)))
            return
        if len(text) > self.settings.max_question_chars:
            result.outcome, result.reason, result.source = "out_of_scope", "too_long", "input"
            result.replies.append(Reply(self.text("too_long"), self.help_buttons(ctx)))
            return
        if state.flow is not None:
            if await self.flows.take(state, text, ctx, result):
                return
        language = foreign_language(text)
        if language:
            result.outcome, result.reason, result.source = "out_of_scope", f"language:{language}", "input"
            result.review = True
            result.replies.append(Reply(self.text("foreign_language"), self.help_buttons(ctx)))
            return
        extraction = self.knowledge.entities.extract(text, self.validation_context(ctx))
        ranking = self.rank(text)
        decision = decide(ranking, self.limits)
        self._note(result, ranking)
        if decision.kind == "answer" and decision.intent is not None:
            self.fill_slots(state, extraction)
            await self.do_intent(state, decision.intent, ctx, result, extraction=extraction)
        elif decision.kind == "clarify":
            self._clarify(state, decision, result)
        else:
            await self.out_of_scope(state, ctx, result, reason="low_confidence" if decision.intent != "out_of_scope" else "out_of_scope_intent", question=text)

    def _note(self, result: TurnResult, ranking: list[Ranked]) -> None:
        if ranking:
            result.intent, result.confidence = ranking[0].intent, ranking[0].confidence
        if len(ranking) > 1:
            result.second_intent, result.second_confidence = ranking[1].intent, ranking[1].confidence

    def _clarify(self, state: SessionState, decision: Decision, result: TurnResult) -> None:
        buttons = [Button(self.knowledge.title(c.intent), f"/{c.intent}") for c in decision.candidates]
        buttons.append(Button(self.text("clarify.none"), "/none"))
        result.replies.append(Reply(self.text("clarify"), buttons))
        result.outcome, result.review, result.remember = "clarified", True, "clarify"

    async def do_intent(
        self,
        state: SessionState,
        intent: str,
        ctx: TurnContext,
        result: TurnResult,
        extraction: Extraction | None = None,
    ) -> None:
        """Do what the knowledge says for ``intent``."""
        spec = self.knowledge.intents.get(intent)
        if spec is None:
            # A model trained on older knowledge (after a rollback) may know an
            # intent the knowledge no longer has.
            await self.out_of_scope(state, ctx, result, reason="unknown_intent", question=intent)
            return
        state.misses = 0
        result.outcome = "answered"
        if spec.handoff:
            await self.hand_off(state, ctx, result, reason="asked", question=None)
        elif spec.flow:
            await self.flows.start(state, spec.flow, ctx, result, extraction)
        elif spec.action:
            await self.run_action(state, spec.action, ctx, result)
        else:
            answer = self.knowledge.answer_for(intent)
            if answer is not None:
                self.say(answer, state, ctx, result, feedback=True)

    async def run_action(self, state: SessionState, name: str, ctx: TurnContext, result: TurnResult) -> bool:
        """Call an action's service; say its answer, or its friendly error."""
        spec = self.knowledge.actions[name]
        if self.actions is None:
            outcome_ok, data, error = False, None, "actions are not available"
        else:
            outcome = await self.actions.run(name, spec, dict(state.slots), dict(state.results))
            outcome_ok, data, error = outcome.ok, outcome.data, outcome.error
        result.actions.append({"action": name, "ok": outcome_ok, **({"error": error} if error else {})})
        if outcome_ok:
            if spec.save_as:
                state.results[spec.save_as] = data
            if spec.answer:
                self.say(spec.answer, state, ctx, result, feedback=True)
            return True
        result.reason = "action_failed"
        if spec.on_error:
            self.say(spec.on_error, state, ctx, result)
        else:
            result.replies.append(Reply(self.text("action.error"), self.help_buttons(ctx)))
        return False

    async def out_of_scope(self, state: SessionState, ctx: TurnContext, result: TurnResult, *, reason: str, question: str | None) -> None:
        """Say it cannot help; after enough misses, hand off or offer the site's
        other channels."""
        state.misses += 1
        state.flow = None
        result.outcome, result.reason, result.review = "out_of_scope", reason, True
        if state.misses >= self.settings.handoff_after_misses:
            result.replies.append(Reply(self.text("out_of_scope")))
            await self.hand_off(state, ctx, result, reason="out_of_scope", question=question)
        else:
            result.replies.append(Reply(self.text("out_of_scope"), self.help_buttons(ctx)))

    async def hand_off(self, state: SessionState, ctx: TurnContext, result: TurnResult, *, reason: str, question: str | None) -> None:
        """Give the conversation to people, or, when nobody can take it now, tell
        the citizen the site's other channels."""
        state.flow = None
        if self.can_hand_off(ctx):
            result.replies.append(Reply(self.text("handoff.doing")))
            result.handoff = Handoff(
                from_handler="bot",
                reason=reason,
                intent=result.intent if result.intent not in (None, "handoff", "out_of_scope") else None,
                summary=self._summary(state, reason, question, result),
                context={"slots": dict(state.slots)},
            )
            result.outcome = "handed_off"
            state.misses = 0
            return
        first = self.text("handoff.closed" if self.settings.handoff else "handoff.not_enabled")
        result.replies.append(Reply(first + "\n" + self.contact_text(ctx)))
        result.reason = result.reason or "offered_channels"

    def contact_text(self, ctx: TurnContext) -> str:
        contact = ctx.site.get("contact", {})
        lines = []
        if contact.get("phone"):
            hours = f" ({contact['phone_hours']})" if contact.get("phone_hours") else ""
            lines.append(self.text("contact.phone", phone=contact["phone"], hours=hours))
        for key in ("email", "web", "address"):
            if contact.get(key):
                lines.append(self.text(f"contact.{key}", **{key: contact[key]}))
        if not lines:
            return self.text("contact.none")
        return "\n".join([self.text("contact.intro"), *lines])

    def _summary(self, state: SessionState, reason: str, question: str | None, result: TurnResult) -> str:
        parts = [{"asked": "Pidió hablar con una persona", "out_of_scope": "El bot no pudo ayudar",
                  "not_understood": "El bot no entendió"}.get(reason, f"Derivado por el bot ({reason})")]
        if question:
            parts.append(f"consulta: «{question[:300]}»")
        if result.intent and result.confidence is not None and result.intent not in ("handoff", "out_of_scope"):
            parts.append(f"intención más probable: {result.intent} ({result.confidence:.0%})")
        if state.slots:
            parts.append("datos: " + ", ".join(f"{k}={v}" for k, v in sorted(state.slots.items())))
        return "; ".join(parts)[:1000]

    def _feedback(self, state: SessionState, value: str, ctx: TurnContext, result: TurnResult) -> None:
        result.source, result.reason = "feedback", "feedback"
        if value not in ("up", "down") or state.answer_turn is None:
            result.replies.append(Reply(self.text("feedback.nothing")))
            return
        result.feedback = (state.answer_turn, value)
        if value == "up":
            result.replies.append(Reply(self.text("feedback.thanks")))
        else:
            result.replies.append(Reply(self.text("feedback.sorry"), self.help_buttons(ctx)))

    def validate(self, validator: str, text: str, ctx: TurnContext) -> str:
        """Run a named validator (raises InvalidValue)."""
        return self.knowledge.entities.validate(validator, text, self.validation_context(ctx))


__all__ = ["Dialogue", "InvalidValue", "Reply", "TurnContext", "TurnResult"]
