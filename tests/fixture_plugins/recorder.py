"""A test channel plugin, "rec": records what it is asked to deliver, and can be told
to fail. Registered in tests with ``from_module("rec", this_module)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from canales import DeliveryError, DeliveryOutcomeUnknown, DeliveryResult, OutboundDelivery, hookimpl
from canales.core.site import Site

CHANNEL = "rec"


@dataclass
class Recorder:
    delivered: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[DeliveryError] = field(default_factory=list)


def recorder(site: Site) -> Recorder:
    return site.state.setdefault(CHANNEL, Recorder())


@hookimpl
def deliver_message(site: Site, outbound: OutboundDelivery) -> Any:
    if outbound.conversation.channel != CHANNEL:
        return None

    async def deliver() -> DeliveryResult:
        rec = recorder(site)
        rec.attempts.append(
            {"key": outbound.key, "attempt": outbound.attempt, "unknown": outbound.outcome_unknown, "seq": outbound.message.seq}
        )
        if rec.fail_next:
            raise rec.fail_next.pop(0)
        rec.delivered.append(
            {"key": outbound.key, "text": outbound.message.text, "seq": outbound.message.seq,
             "conversation": outbound.conversation.id, "to": outbound.contact.external_id}
        )
        return DeliveryResult(external_id=f"rec-{outbound.message.id}")

    return deliver()


__all__ = ["DeliveryOutcomeUnknown", "recorder", "Recorder"]
