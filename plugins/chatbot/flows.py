"""Guided flows: steps run in order; ``ask`` waits for a slot's value (validated),
``menu`` waits for a choice; ``say``, ``action``, ``set``, ``goto`` and ``handoff``
run straight through. The position is part of the conversation's state, so a flow
continues across turns (and across workers)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from canales.core.types import Button
from canales.plugins.chatbot.knowledge.schema import MenuOption, StepSpec
from canales.plugins.chatbot.nlu.decision import decide
from canales.plugins.chatbot.nlu.entities import Extraction
from canales.plugins.chatbot.nlu.normalize import normalize
from canales.plugins.chatbot.nlu.validators import InvalidValue
from canales.plugins.chatbot.state import FlowPosition, SessionState

if TYPE_CHECKING:  # pragma: no cover
    from canales.plugins.chatbot.dialogue import Dialogue, TurnContext, TurnResult

log = logging.getLogger("canales.chatbot.flows")

# What a citizen writes to leave a flow (compared after normalisation).
CANCEL = {"cancelar", "cancela", "cancelo", "salir", "basta", "dejalo", "olvidalo", "no quiero", "volver", "menu", "menu principal", "volver al menu"}
MAX_STEPS_PER_TURN = 100
MAX_SLOT_CHARS = 500


class FlowRunner:
    def __init__(self, dialogue: "Dialogue") -> None:
        self.d = dialogue

    async def start(self, state: SessionState, name: str, ctx: "TurnContext", result: "TurnResult", extraction: Extraction | None) -> None:
        flow = self.d.knowledge.flows[name]
        for slot in flow.reset:
            state.slots.pop(slot, None)
        if extraction is not None:
            self.d.fill_slots(state, extraction)
        state.flow = FlowPosition(name)
        result.reason = "flow"
        await self.advance(state, ctx, result)

    def _step(self, state: SessionState) -> StepSpec | None:
        if state.flow is None:
            return None
        flow = self.d.knowledge.flows.get(state.flow.name)
        if flow is None or state.flow.step >= len(flow.steps):
            state.flow = None
            return None
        return flow.steps[state.flow.step]

    def _index(self, state: SessionState, step_id: str) -> int:
        assert state.flow is not None
        steps = self.d.knowledge.flows[state.flow.name].steps
        return next(i for i, s in enumerate(steps) if s.id == step_id)

    async def advance(self, state: SessionState, ctx: "TurnContext", result: "TurnResult") -> None:
        """Run steps until one waits for the citizen or the flow ends."""
        for _ in range(MAX_STEPS_PER_TURN):
            step = self._step(state)
            if step is None or state.flow is None:
                return
            if step.say is not None:
                self.d.say(step.say, state, ctx, result)
            elif step.ask is not None:
                if state.slots.get(step.ask) not in (None, ""):
                    state.flow.step += 1
                    state.flow.attempts = 0
                    continue
                self._prompt(step, state, ctx, result)
                return
            elif step.menu is not None:
                self._menu(step, state, ctx, result)
                return
            elif step.action is not None:
                if not await self.d.run_action(state, step.action, ctx, result):
                    state.flow = None
                    return
            elif step.handoff is not None:
                await self.d.hand_off(state, ctx, result, reason=step.handoff, question=None)
                return
            elif step.goto is not None:
                state.flow.step = self._index(state, step.goto)
                continue
            elif step.set is not None:
                for slot, value in step.set.items():
                    if value is None:
                        state.slots.pop(slot, None)
                    else:
                        state.slots[slot] = self.d.render(value, state, ctx, result)
            state.flow.step += 1
        log.error("chatbot: flow %s ran %d steps without waiting; stopped (a goto loop?)", state.flow and state.flow.name, MAX_STEPS_PER_TURN)
        state.flow = None

    def _prompt(self, step: StepSpec, state: SessionState, ctx: "TurnContext", result: "TurnResult", problem: str | None = None) -> None:
        from canales.plugins.chatbot.dialogue import Reply

        text = self.d.render(step.text or "", state, ctx, result)
        if problem:
            text = f"{problem}\n{text}"
        result.replies.append(Reply(text, [Button(b.title, b.payload) for b in step.buttons]))

    def _menu(self, step: StepSpec, state: SessionState, ctx: "TurnContext", result: "TurnResult", problem: str | None = None) -> None:
        from canales.plugins.chatbot.dialogue import Reply

        assert step.menu is not None
        text = self.d.render(step.menu.text, state, ctx, result)
        if problem:
            text = f"{problem}\n{text}"
        # An option's payload is its title, so typing the title works as well as
        # picking it (and a text channel's number resolves to it).
        result.replies.append(Reply(text, [Button(o.title, o.title) for o in step.menu.options]))

    async def take(self, state: SessionState, text: str, ctx: "TurnContext", result: "TurnResult") -> bool:
        """Use a message as the answer the flow waits for. Returns False when the
        message is something else (another confident question): the flow is left
        and the message handled as a new question."""
        step = self._step(state)
        if step is None or state.flow is None:
            return False
        result.source, result.reason, result.intent = "flow", "flow", state.flow.name
        if normalize(text) in CANCEL:
            state.flow = None
            from canales.plugins.chatbot.dialogue import Reply

            result.replies.append(Reply(self.d.text("flow.cancelled"), self.d.help_buttons(ctx)))
            result.reason = "flow_cancelled"
            return True
        if step.menu is not None:
            option = self._option(step.menu.options, text)
            if option is not None:
                await self._choose(option, state, ctx, result)
                return True
            if self._other_question(text):
                state.flow = None
                result.source, result.reason, result.intent = "nlu", None, None
                return False
            return await self._retry(step, state, ctx, result, None)
        value, problem = self._value(step, text, ctx)
        if value is not None:
            assert step.ask is not None
            state.slots[step.ask] = value
            # Other entities in the same message fill their slots too.
            extraction = self.d.knowledge.entities.extract(text, self.d.validation_context(ctx))
            for entity, found in extraction.values.items():
                if entity != (step.entity or step.ask):
                    state.slots.setdefault(entity, found.value)
            state.flow.step += 1
            state.flow.attempts = 0
            await self.advance(state, ctx, result)
            return True
        if problem is None and self._other_question(text):
            state.flow = None
            result.source, result.reason, result.intent = "nlu", None, None
            return False
        return await self._retry(step, state, ctx, result, problem)

    def _value(self, step: StepSpec, text: str, ctx: "TurnContext") -> tuple[str | None, str | None]:
        """The slot value in ``text``, or the text key saying why it is not valid
        (both ``None``: nothing that looks like a value)."""
        entity = step.entity or step.ask or "text"
        vctx = self.d.validation_context(ctx)
        try:
            if entity == "text":
                value = text.strip()[:MAX_SLOT_CHARS]
                return (self.d.validate(step.validator, value, ctx) if step.validator else value), None
            if entity not in self.d.knowledge.entities.names:
                assert step.validator is not None  # the loader requires one
                return self.d.validate(step.validator, text, ctx), None
            found = self.d.knowledge.entities.extract(text, vctx, only=entity)
            if entity in found.values:
                value = found.values[entity].value
                if step.validator:
                    value = self.d.validate(step.validator, found.values[entity].text, ctx)
                return value, None
            return None, found.invalid.get(entity)
        except InvalidValue as exc:
            return None, exc.reason

    def _other_question(self, text: str) -> bool:
        decision = decide(self.d.rank(text), self.d.limits)
        return decision.kind == "answer" and decision.intent is not None

    async def _retry(self, step: StepSpec, state: SessionState, ctx: "TurnContext", result: "TurnResult", problem: str | None) -> bool:
        from canales.plugins.chatbot.dialogue import Reply

        assert state.flow is not None
        state.flow.attempts += 1
        if state.flow.attempts > step.retries:
            state.flow = None
            result.outcome, result.reason = "out_of_scope", "flow_gave_up"
            result.replies.append(Reply(self.d.text("flow.gave_up"), self.d.help_buttons(ctx)))
            return True
        result.reason = "flow_invalid"
        if step.invalid:
            message = self.d.render(step.invalid, state, ctx, result)
        else:
            message = self.d.text(problem or "invalid.value")
        if step.menu is not None:
            self._menu(step, state, ctx, result, message)
        else:
            self._prompt(step, state, ctx, result, message)
        return True

    @staticmethod
    def _option(options: list[MenuOption], text: str) -> MenuOption | None:
        wanted = normalize(text)
        for option in options:
            if normalize(option.title) == wanted:
                return option
        matches = [o for o in options if wanted and normalize(o.title) in wanted]
        return matches[0] if len(matches) == 1 else None

    async def _choose(self, option: MenuOption, state: SessionState, ctx: "TurnContext", result: "TurnResult") -> None:
        assert state.flow is not None
        state.flow.attempts = 0
        if option.goto:
            state.flow.step = self._index(state, option.goto)
            await self.advance(state, ctx, result)
        elif option.flow:
            await self.start(state, option.flow, ctx, result, None)
        elif option.answer:
            state.flow = None
            self.d.say(option.answer, state, ctx, result, feedback=True)
        elif option.intent:
            state.flow = None
            result.intent = option.intent
            await self.d.do_intent(state, option.intent, ctx, result)
        else:
            await self.d.hand_off(state, ctx, result, reason="flow", question=None)
