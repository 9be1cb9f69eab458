"""The values that travel through hooks: what a channel hands to core, what routing
decides, what a delivery returns.

They are plain dataclasses so that a plugin can build them without touching the
database layer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:  # pragma: no cover
    from canales.core.models import Contact, Conversation, Delivery, Message


@dataclass(frozen=True)
class Button:
    """A channel-neutral choice offered to the citizen.

    Each channel renders buttons its own way: the web widget as buttons, Messenger as
    quick replies, a text-only channel as a numbered list.
    """

    title: str
    payload: str

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass
class Inbound:
    """A citizen's message as a channel plugin hands it to :func:`core.intake.receive`.

    ``external_id`` is the channel's own id for this message (a Messenger ``mid``, a
    client message id, an API caller's id). Core stores one message per
    ``(site, channel, external_id)``: a redelivery is recognised, never stored twice.
    ``thread`` names the conversation within the channel (a Messenger PSID, a comment
    thread, a widget token's conversation); it defaults to the sender.
    """

    channel: str
    external_id: str
    sender_id: str
    text: str
    sender_name: str | None = None
    thread: str | None = None
    occurred_at: dt.datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    # Stored on the conversation this message opens (a pre-chat topic, the post a
    # comment belongs to), so that routing rules can use it; ignored otherwise.
    conversation_data: dict[str, Any] = field(default_factory=dict)

    @property
    def thread_key(self) -> str:
        return self.thread or self.sender_id


class Rejected(Exception):
    """Raised by a ``prepare_inbound`` hook to refuse a message before it is stored.

    ``code`` is a short machine-readable reason; the message is shown to people.
    """

    def __init__(self, message: str, code: str = "rejected") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Routing:
    """Who handles a new conversation: the answer of the ``route_conversation`` hook.

    ``to`` is ``"queue"`` (agents in the inbox) or ``"bot"``, or a handler name a
    plugin defines. ``team`` is the area that should answer; ``rule`` names the rule
    that decided, so agents can see why a conversation landed where it did.
    """

    to: str = "queue"
    team: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class Handoff:
    """Why a handler (the bot) gives a conversation up to people.

    ``reason`` is one of ``"asked"`` (the citizen asked for a person),
    ``"out_of_scope"``, ``"not_understood"``, ``"flow"`` (a flow step hands off) or a
    plugin's own; ``intent`` is the last intent recognised, if any, so that routing
    can send the conversation to the right team; ``summary`` is shown to the agent.
    """

    from_handler: str
    reason: str
    intent: str | None = None
    summary: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class OutboundDelivery:
    """One reply on its way to the citizen, as the ``deliver_message`` hook sees it.

    ``attempt`` counts from 1. ``outcome_unknown`` is true when an earlier attempt
    may have reached the channel without core learning so (a timeout, a crash in the
    middle of a call): the channel must reconcile before sending again, never blindly
    repeat. ``key`` is stable across retries; channels that accept an idempotency key
    should pass it on.
    """

    delivery: "Delivery"
    conversation: "Conversation"
    message: "Message"
    contact: "Contact"

    @property
    def attempt(self) -> int:
        return self.delivery.attempts

    @property
    def outcome_unknown(self) -> bool:
        return self.delivery.outcome_unknown

    @property
    def key(self) -> str:
        return self.delivery.key


@dataclass(frozen=True)
class DeliveryResult:
    """What a channel returns once a reply reached it: the channel's id for it."""

    external_id: str | None = None


class DeliveryError(Exception):
    """A delivery failed. ``retry`` says whether trying again later can help
    (a 5xx, a rate limit) or not (a permission error, a closed messaging window);
    ``retry_after`` (seconds) overrides core's backoff when the channel knows better.
    """

    def __init__(
        self, message: str, *, retry: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after


class DeliveryOutcomeUnknown(DeliveryError):
    """The call may or may not have reached the channel (for example a timeout on a
    non-idempotent send). Core retries later with ``outcome_unknown`` set, so that the
    channel reconciles first."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, retry=True, retry_after=retry_after)


@dataclass(frozen=True)
class ReplyProblem:
    """Why a channel will not take a reply, as the ``review_reply`` hook reports it.

    ``code`` is short and machine-readable (``"window_closed"``,
    ``"personal_data"``); ``message`` tells the agent what is wrong and
    ``suggestion`` what to do instead, both in the site's language.
    """

    code: str
    message: str
    suggestion: str | None = None
    plugin: str = ""


class ReplyRefused(Exception):
    """:func:`canales.core.replies.send_reply` stored nothing because a channel
    refused the reply; ``problems`` says why and what to do instead."""

    def __init__(self, problems: "list[ReplyProblem]") -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems

    @property
    def suggestion(self) -> str | None:
        """The first problem's suggestion, if any."""
        return next((p.suggestion for p in self.problems if p.suggestion), None)


@dataclass(frozen=True)
class PeriodicJob:
    """Work a plugin wants run every ``interval`` seconds in every worker.

    Jobs must be safe to run concurrently in several processes: claim rows atomically
    rather than check-then-act.
    """

    name: str
    interval: float
    run: Callable[[], Awaitable[Any]]
