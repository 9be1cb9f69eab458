"""What the bot remembers about one conversation between turns: slots, results of
actions, where it is in a flow, the buttons it last offered, consecutive misses.

Stored as JSON in the plugin's session table (:mod:`canales.plugins.chatbot.models`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_RESULT_BYTES = 16 * 1024


@dataclass
class FlowPosition:
    name: str
    step: int = 0
    attempts: int = 0


@dataclass
class SessionState:
    slots: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    flow: FlowPosition | None = None
    buttons: list[tuple[str, str]] = field(default_factory=list)
    misses: int = 0
    # Turn ids the next message may refer to: the last answer (for 👍/👎) and the
    # last "¿Quisiste decir…?" (to learn which intent the citizen meant).
    answer_turn: int | None = None
    clarify_turn: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "SessionState":
        data = dict(data or {})
        flow = data.pop("flow", None)
        buttons = [tuple(b) for b in data.pop("buttons", [])]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(flow=FlowPosition(**flow) if flow else None, buttons=buttons, **known)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """The state to store. An action result too large to carry from turn to
        turn is dropped here (the turn that called the action still saw it)."""
        out = asdict(self)
        out["buttons"] = [list(b) for b in self.buttons]
        out["results"] = {
            name: data
            for name, data in self.results.items()
            if len(json.dumps(data, ensure_ascii=False, default=str)) <= MAX_RESULT_BYTES
        }
        return out
