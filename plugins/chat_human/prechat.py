"""The pre-chat form: checking what the citizen filled in against what the site asks,
and passing the answers on to the agents (with the first message, and as a note
citizens never see)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canales.core.text import InvalidInput, clean
from canales.plugins.chat_human.frames import Start
from canales.plugins.chat_human.models import ChatSession
from canales.plugins.chat_human.settings import Prechat
from canales.plugins.chat_human.texts import TEXTS

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


class PrechatProblem(ValueError):
    """A pre-chat field the site asks for is missing or wrong. ``code`` is
    ``required``, ``email``, ``topic``, ``too_long``, ``privacy`` or ``invalid``
    (then ``reason`` says why)."""

    def __init__(self, field: str, code: str, *, limit: int | None = None, reason: str = "") -> None:
        super().__init__(f"{field}: {reason or code}")
        self.field = field
        self.code = code
        self.limit = limit
        self.reason = reason


@dataclass(frozen=True)
class PrechatAnswers:
    """The form's answers, cleaned; ``None`` where the site does not ask or the
    citizen left an optional field empty."""

    name: str | None
    email: str | None
    topic: str | None


def _field(value: str | None, field: str, rule: str, limit: int) -> str | None:
    if rule == "off" or value is None:
        value = None
    else:
        try:
            value = clean(value, field, 10 * limit, allow_empty=True).strip() or None
        except InvalidInput as exc:
            raise PrechatProblem(field, "invalid", reason=exc.reason) from None
        if value is not None and len(value) > limit:
            raise PrechatProblem(field, "too_long", limit=limit)
    if value is None and rule == "required":
        raise PrechatProblem(field, "required")
    return value


def check(form: Prechat, start: Start) -> PrechatAnswers:
    """Validate what the citizen filled in against what the site asks; fields the
    site does not ask for are dropped. Raises :class:`PrechatProblem`."""
    if not start.privacy:
        raise PrechatProblem("privacy", "privacy")
    if not form.enabled:
        return PrechatAnswers(None, None, None)
    name = _field(start.name, "name", form.name, 200)
    email = _field(start.email, "email", form.email, 254)
    if email is not None and not _EMAIL.match(email):
        raise PrechatProblem("email", "email")
    topic = _field(start.topic, "topic", form.topic, 80)
    if topic is not None and form.topics and topic not in form.topics:
        raise PrechatProblem("topic", "topic")
    return PrechatAnswers(name, email.lower() if email else None, topic)


def metadata(session: ChatSession) -> dict[str, Any]:
    """What the first message carries for the agents and integrations (stored in
    its payload under ``meta.chat``)."""
    data = {"email": session.email, "topic": session.topic, "origin": session.origin}
    return {"chat": {key: value for key, value in data.items() if value}}


def note_text(texts: Mapping[str, str], session: ChatSession) -> str | None:
    """The agents' note with the form's answers, or ``None`` if there are none."""
    parts = [
        TEXTS.render(texts, "note.name", value=session.name) if session.name else None,
        TEXTS.render(texts, "note.email", value=session.email) if session.email else None,
        TEXTS.render(texts, "note.topic", value=session.topic) if session.topic else None,
    ]
    answers = "; ".join(part for part in parts if part)
    return TEXTS.render(texts, "note.prechat", answers=answers) if answers else None
