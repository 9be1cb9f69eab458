"""Delivering replies (the ``deliver_message`` hook, called by core's outbox).

* Messenger: ``POST /{page}/messages`` with ``recipient.id``, ``RESPONSE`` inside
  24 h, ``MESSAGE_TAG``/``HUMAN_AGENT`` for a human agent's reply up to 7 days; the
  delivery key travels in ``message.metadata`` and comes back in the echo.
* Comment, public: ``POST /{comment}/comments``.
* Comment, private: the one private reply is claimed in ``facebook_private_reply``
  *before* calling (``POST /{page}/messages`` with ``recipient.comment_id``), then
  the public "we wrote to you" comment is posted, only after the private reply
  succeeded. A retry resumes where the last attempt stopped.

A send whose outcome is unknown (a timeout) raises ``DeliveryOutcomeUnknown``; the
next attempt first looks for the proof that it went out (the echo carrying our key,
or the comment read back from Meta) and only sends if there is none.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from canales.core.models import Message
from canales.core.site import Site
from canales.core.types import DeliveryError, DeliveryOutcomeUnknown, DeliveryResult, OutboundDelivery
from canales.plugins.facebook.errors import GraphError
from canales.plugins.facebook.inbound import record_object, update_data
from canales.plugins.facebook.models import FacebookObject, FacebookPrivateReply
from canales.plugins.facebook.policy import default_reply, facebook_data, kind_of, local, private_reply_problem, target_comment
from canales.plugins.facebook.texts import TEXTS
from canales.plugins.facebook.window import window

log = logging.getLogger("canales.facebook.delivery")

# After a timeout, give the echo this long to arrive before the next attempt.
RECONCILE_AFTER = 30.0
QUICK_REPLIES_MAX = 13
QUICK_REPLY_TITLE_MAX = 20


def metadata_for(key: str) -> str:
    """What we put in ``message.metadata`` (and find again in the echo)."""
    return f"canales:{key}"


class Deliveries:
    """Sends one site's replies through the Graph API."""

    def __init__(self, site: Site, runtime: Any) -> None:
        self.site = site
        self.runtime = runtime

    @property
    def settings(self) -> Any:
        return self.runtime.settings

    @property
    def graph(self) -> Any:
        return self.runtime.graph

    async def deliver(self, outbound: OutboundDelivery) -> DeliveryResult:
        kind = kind_of(outbound.conversation)
        if kind == "messenger":
            return await self.messenger(outbound)
        options = outbound.message.payload.get("options") or {}
        comment = await target_comment(self.site, outbound.conversation, options)
        if comment is None or not comment.external_id:
            raise DeliveryError("there is no citizen comment to answer in this conversation", retry=False)
        reply = options.get("reply", default_reply(outbound.conversation))
        result = await (self.private(outbound, comment) if reply == "private" else self.public(outbound, comment.external_id))
        if options.get("hide"):
            await self.runtime.hide(comment.external_id, comment)
        return result

    async def _known(self, key: str, kinds: tuple[str, ...]) -> str | None:
        """The id of what delivery ``key`` already created, if we know of it."""
        async with self.site.db.read() as session:
            row = (
                await session.exec(
                    select(FacebookObject.external_id)
                    .where(FacebookObject.site_id == self.site.id, FacebookObject.delivery_key == key, col(FacebookObject.kind).in_(kinds))
                    .order_by(col(FacebookObject.id))
                )
            ).first()
        return row

    async def _send(self, path: str, body: dict[str, Any]) -> Any:
        try:
            return await self.graph.send(path, body)
        except DeliveryOutcomeUnknown as exc:
            raise DeliveryOutcomeUnknown(str(exc), retry_after=RECONCILE_AFTER) from exc

    # -- Messenger ------------------------------------------------------------------

    async def messenger(self, outbound: OutboundDelivery) -> DeliveryResult:
        key = outbound.key
        if outbound.outcome_unknown:
            mid = await self._known(key, ("message", "echo"))
            if mid is not None:
                return DeliveryResult(external_id=mid)
            # No echo came back for the earlier attempt: it did not go out.
        conversation = outbound.conversation
        current = window(conversation.last_citizen_at, self.site.now())
        author = outbound.message.author_kind
        if not current.allows(author, self.settings.human_agent_tag):
            raise DeliveryError(
                f"Meta's messaging window does not allow this {author} reply now (window {current.state})", retry=False
            )
        psid = facebook_data(conversation).get("psid") or conversation.thread_key.removeprefix("messenger:")
        message: dict[str, Any] = {"text": outbound.message.text, "metadata": metadata_for(key)}
        buttons = outbound.message.payload.get("buttons") or []
        if buttons:
            message["quick_replies"] = [
                {"content_type": "text", "title": b["title"][:QUICK_REPLY_TITLE_MAX], "payload": b["payload"][:1000]}
                for b in buttons[:QUICK_REPLIES_MAX]
            ]
        body = {"recipient": {"id": psid}, **current.messaging(), "message": message}
        result = await self._send(f"/{self.settings.page_id}/messages", body)
        mid = str(result.get("message_id", ""))
        if mid:
            await record_object(self.site, "message", mid, key)
        return DeliveryResult(external_id=mid or None)

    # -- comments -------------------------------------------------------------------

    async def _read_back(self, comment_id: str, text: str) -> str | None:
        """Find the page's reply with ``text`` under ``comment_id`` that no other
        delivery claimed (after a timeout: did it go through?)."""
        answer = await self.graph.read(f"/{comment_id}/comments", {"fields": "id,message,from,created_time", "order": "reverse_chronological", "limit": 50})
        for item in answer.get("data", []) if isinstance(answer, dict) else []:
            if (item.get("from") or {}).get("id") == self.settings.page_id and item.get("message") == text:
                async with self.site.db.read() as session:
                    claimed = (
                        await session.exec(
                            select(FacebookObject.delivery_key).where(FacebookObject.site_id == self.site.id, FacebookObject.external_id == item["id"])
                        )
                    ).first()
                if claimed is None:
                    return str(item["id"])
        return None

    async def public(self, outbound: OutboundDelivery, comment_id: str, text: str | None = None, kind: str = "comment") -> DeliveryResult:
        key = outbound.key
        text = text or outbound.message.text
        known = await self._known(key, (kind,))
        if known is not None:
            return DeliveryResult(external_id=known)
        if outbound.outcome_unknown:
            found = await self._read_back(comment_id, text)
            if found is not None:
                await record_object(self.site, kind, found, key)
                return DeliveryResult(external_id=found)
        result = await self._send(f"/{comment_id}/comments", {"message": text})
        new_id = str(result.get("id", ""))
        if new_id:
            await record_object(self.site, kind, new_id, key)
        return DeliveryResult(external_id=new_id or None)

    async def _claim_private(self, outbound: OutboundDelivery, comment: Message) -> FacebookPrivateReply:
        """Take the comment's one private reply for this delivery, before calling."""
        now = self.site.now()
        comment_id = comment.external_id or ""
        try:
            async with self.site.db.write() as session:
                row = FacebookPrivateReply(
                    site_id=self.site.id, comment_id=comment_id, conversation_id=outbound.conversation.id or 0,
                    message_id=outbound.message.id or 0, delivery_key=outbound.key, created_at=now, updated_at=now,
                )
                session.add(row)
                await session.flush()
                await session.refresh(row)
            return row
        except IntegrityError:
            pass
        async with self.site.db.write() as session:
            await session.exec(
                update(FacebookPrivateReply)
                .where(FacebookPrivateReply.site_id == self.site.id, FacebookPrivateReply.comment_id == comment_id, FacebookPrivateReply.state == "failed")
                .values(state="sending", delivery_key=outbound.key, message_id=outbound.message.id, updated_at=now)
            )
            row = (
                await session.exec(
                    select(FacebookPrivateReply).where(FacebookPrivateReply.site_id == self.site.id, FacebookPrivateReply.comment_id == comment_id)
                )
            ).one()
        if row.delivery_key != outbound.key:
            raise DeliveryError(f"the private reply to comment {comment_id} was already used", retry=False)
        return row

    async def _set_private(self, row: FacebookPrivateReply, **values: Any) -> None:
        values["updated_at"] = self.site.now()
        async with self.site.db.write() as session:
            await session.exec(update(FacebookPrivateReply).where(col(FacebookPrivateReply.id) == row.id).values(**values))
        for name, value in values.items():
            setattr(row, name, value)
        state = {"comment_id": row.comment_id, "state": row.state, "at": local(self.site, row.updated_at)}
        await update_data(self.site, row.conversation_id, {"private_reply": state})

    async def private(self, outbound: OutboundDelivery, comment: Message) -> DeliveryResult:
        row = await self._claim_private(outbound, comment)
        if row.state == "sending":
            await self._private_message(outbound, comment, row)
        if row.notice_id is None:
            notice = TEXTS.render(self.settings.texts, "private_notice")
            posted = await self.public(outbound, row.comment_id, text=notice, kind="notice")
            await self._set_private(row, notice_id=posted.external_id)
        return DeliveryResult(external_id=row.mid)

    async def _private_message(self, outbound: OutboundDelivery, comment: Message, row: FacebookPrivateReply) -> None:
        key = outbound.key
        if outbound.outcome_unknown:
            mid = await self._known(key, ("message", "echo"))
            if mid is not None:
                await self._set_private(row, state="sent", mid=mid)
                return
        problem = await private_reply_problem(self.site, comment)
        if problem is not None and problem.code == "private_expired":
            await self._set_private(row, state="failed")
            raise DeliveryError(problem.message, retry=False)
        body = {"recipient": {"comment_id": row.comment_id}, "message": {"text": outbound.message.text, "metadata": metadata_for(key)}}
        try:
            result = await self._send(f"/{self.settings.page_id}/messages", body)
        except GraphError as exc:
            if exc.kind == "already_used" and outbound.outcome_unknown:
                # Our earlier, timed-out call was the one that used it.
                await self._set_private(row, state="sent")
                return
            if not exc.retry:
                await self._set_private(row, state="failed")
            raise
        mid = str(result.get("message_id", "")) or None
        if mid:
            await record_object(self.site, "message", mid, key)
        await self._set_private(row, state="sent", mid=mid)
