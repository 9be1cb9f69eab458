"""The outbox relay: delivers stored replies through their channel, once.

Any number of workers may run it. A worker *claims* due rows in one atomic
``UPDATE … WHERE id IN (SELECT … [FOR UPDATE SKIP LOCKED]) RETURNING``, giving each a
lease; it marks a row ``done`` only after the channel accepted it. A row whose lease
expired (its worker died mid-call) is claimed again with ``outcome_unknown`` set, so
the channel reconciles instead of blindly sending twice. Replies of one conversation
go out in order: a row is not claimed while an earlier one of its conversation is
still pending.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, case, exists, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from canales.core import events, metrics
from canales.core.models import Contact, Conversation, Delivery, Message
from canales.core.site import Site, await_maybe
from canales.core.types import DeliveryError, DeliveryOutcomeUnknown, DeliveryResult, OutboundDelivery

log = logging.getLogger("canales.outbox")

LEASE = dt.timedelta(seconds=60)
MAX_ATTEMPTS = 12
BASE_DELAY = 2.0
MAX_DELAY = 15 * 60.0


def backoff(attempt: int) -> float:
    """Seconds to wait after the ``attempt``-th failure: exponential, capped, with
    full jitter so that many failed rows do not retry in lockstep."""
    return random.uniform(BASE_DELAY / 2, min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1)))


class Outbox:
    """Claims and delivers due replies for the sites of this process."""

    def __init__(self, sites: Iterable[Site], poll_interval: float = 1.0, batch: int = 20) -> None:
        self.sites = {site.id: site for site in sites}
        for site in self.sites.values():
            site.outbox = self
        self.poll_interval = poll_interval
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsettled: list[tuple[Delivery, DeliveryResult | DeliveryError]] = []
        self._settling = asyncio.Lock()
        self.delivered = 0
        self.failed = 0

    def _any_site(self) -> Site:
        return next(iter(self.sites.values()))

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        if self.sites:
            self._task = asyncio.create_task(self._run(), name="canales-outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the relay must survive a database hiccup
                log.exception("outbox: relay pass failed; retrying")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as the event is set, and stop() would hang.
            try:
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def claim(self) -> list[Delivery]:
        """Atomically take up to ``batch`` due deliveries (at most one per
        conversation) and give them a lease."""
        site = self._any_site()
        db = site.db
        now = site.now()
        earlier = aliased(Delivery)
        due = or_(
            and_(col(Delivery.state) == "pending", col(Delivery.next_attempt_at) <= now),
            and_(col(Delivery.state) == "sending", col(Delivery.lease_until) < now),
        )
        blocked = exists().where(
            earlier.conversation_id == Delivery.conversation_id,
            earlier.id < Delivery.id,
            col(earlier.state).in_(("pending", "sending")),
        )
        candidates = (
            select(Delivery.id)
            .where(col(Delivery.site_id).in_(list(self.sites)), due, ~blocked)
            .order_by(col(Delivery.id))
            .limit(self.batch)
        )
        if db.is_sqlite:
            # BEGIN IMMEDIATE already makes this transaction the only writer.
            chosen = col(Delivery.id).in_(candidates.scalar_subquery())
        else:
            # A MATERIALIZED CTE picks and locks its rows once. As a plain
            # "id IN (subquery … SKIP LOCKED)" the planner may re-run the subquery
            # for every row it updates, each run skipping the rows just taken: a
            # batch of 20 silently becomes every due row.
            locked = candidates.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
            chosen = col(Delivery.id).in_(select(locked.c.id))
        async with db.write() as session:
            result = await session.exec(
                update(Delivery)
                .where(chosen)
                .values(
                    state="sending",
                    lease_until=now + LEASE,
                    attempts=Delivery.attempts + 1,
                    # A lease that ran out means a worker died mid-call: whether the
                    # channel got it is unknown.
                    outcome_unknown=case(
                        (col(Delivery.state) == "sending", True), else_=Delivery.outcome_unknown
                    ),
                )
                .returning(Delivery)
            )
            return list(result.scalars().all())

    async def run_once(self) -> int:
        """Claim and deliver one batch; return how many rows were claimed."""
        claimed = await self.claim()
        if claimed:
            contexts = await self._load(claimed)
            await asyncio.gather(*(self._deliver(d, contexts[d.message_id]) for d in claimed))
        return len(claimed)

    async def _load(self, deliveries: list[Delivery]) -> dict[int, tuple[Message, Conversation, Contact]]:
        """The message, conversation and contact of every claimed delivery, in one
        query."""
        async with self._any_site().db.read() as session:
            rows = (
                await session.exec(
                    select(Message, Conversation, Contact)
                    .join(Conversation, col(Conversation.id) == Message.conversation_id)
                    .join(Contact, col(Contact.id) == Conversation.contact_id)
                    .where(col(Message.id).in_([d.message_id for d in deliveries]))
                )
            ).all()
        return {message.id or 0: (message, conversation, contact) for message, conversation, contact in rows}

    async def _deliver(self, delivery: Delivery, context: tuple[Message, Conversation, Contact]) -> None:
        site = self.sites[delivery.site_id]
        outcome: DeliveryResult | DeliveryError
        try:
            outbound = OutboundDelivery(delivery, context[1], context[0], context[2])
            result = await await_maybe(site.hook.deliver_message(site=site, outbound=outbound))
            if result is None:
                outcome = DeliveryError(f"no enabled plugin delivers on channel {delivery.channel!r}", retry=False)
            elif not isinstance(result, DeliveryResult):
                outcome = DeliveryError(
                    f"deliver_message returned {type(result).__name__}, not DeliveryResult", retry=False
                )
            else:
                outcome = result
        except DeliveryError as exc:
            outcome = exc
        except Exception as exc:  # noqa: BLE001 - a plugin bug must not lose the reply
            log.exception("outbox: delivery %s raised", delivery.id)
            outcome = DeliveryError(f"{type(exc).__name__}: {exc}")
        await self._settle(delivery, outcome)

    async def _settle(self, delivery: Delivery, outcome: DeliveryResult | DeliveryError) -> None:
        """Record an outcome. Outcomes that finish while another is being written
        are written together, in one transaction (group commit): one commit for many
        deliveries, and none waits for a slow one."""
        self._unsettled.append((delivery, outcome))
        async with self._settling:
            batch, self._unsettled = self._unsettled, []
            if not batch:
                return  # another task wrote ours
            now = self._any_site().now()
            async with self._any_site().db.write() as session:
                for item, result in batch:
                    for statement in self._settle_statements(item, result, now):
                        await session.exec(statement)
        for item, result in batch:
            await self._announce(item, result)

    def _settle_statements(self, delivery: Delivery, outcome: DeliveryResult | DeliveryError, now: dt.datetime) -> list[Any]:
        if isinstance(outcome, DeliveryResult):
            statements: list[Any] = [
                update(Delivery)
                .where(col(Delivery.id) == delivery.id)
                .values(state="done", done_at=now, lease_until=None, external_id=outcome.external_id,
                        last_error=None, outcome_unknown=False)
            ]
            if outcome.external_id:
                statements.append(
                    update(Message).where(col(Message.id) == delivery.message_id).values(external_id=outcome.external_id)
                )
            return statements
        final = not outcome.retry or delivery.attempts >= MAX_ATTEMPTS
        delay = outcome.retry_after if outcome.retry_after is not None else backoff(delivery.attempts)
        values: dict[str, object] = {
            "state": "failed" if final else "pending",
            "lease_until": None,
            "last_error": str(outcome)[:2000],
            "next_attempt_at": now + dt.timedelta(seconds=delay),
        }
        if isinstance(outcome, DeliveryOutcomeUnknown):
            values["outcome_unknown"] = True
        return [update(Delivery).where(col(Delivery.id) == delivery.id).values(**values)]

    async def _announce(self, delivery: Delivery, outcome: DeliveryResult | DeliveryError) -> None:
        site = self.sites[delivery.site_id]
        if isinstance(outcome, DeliveryResult):
            metrics.delivery_outcome(site.id, delivery.channel, "done")
            self.delivered += 1
            await events.delivery_changed(site, delivery.message_id, delivery.conversation_id, "done")
            return
        final = not outcome.retry or delivery.attempts >= MAX_ATTEMPTS
        kind = "failed" if final else "unknown" if isinstance(outcome, DeliveryOutcomeUnknown) else "retry"
        metrics.delivery_outcome(site.id, delivery.channel, kind)
        log.log(
            logging.WARNING if final else logging.INFO,
            "site %s: delivery %s attempt %s failed (%s)%s",
            site.id,
            delivery.id,
            delivery.attempts,
            outcome,
            "; giving up" if final else "; will retry",
        )
        if final:
            self.failed += 1
            await events.delivery_changed(site, delivery.message_id, delivery.conversation_id, "failed")

    async def retry(self, site: Site, delivery_id: int) -> bool:
        """Put a failed delivery back in the queue (an agent's "try again")."""
        async with site.db.write() as session:
            result = await session.exec(
                update(Delivery)
                .where(
                    col(Delivery.id) == delivery_id,
                    Delivery.site_id == site.id,
                    Delivery.state == "failed",
                )
                .values(state="pending", next_attempt_at=site.now(), attempts=0)
            )
        self.wake()
        return bool(result.rowcount)
