"""From webhook events to conversations.

Messenger messages and citizens' comments become core messages on channel
``facebook`` (through :func:`canales.core.intake.store`, deduplicated by ``mid`` and
``comment_id``), then go through routing and the handler stage
(:func:`canales.core.intake.process`). A Messenger thread is one conversation per
person (thread ``messenger:{psid}``); a comment thread is one conversation per
top-level comment with its replies (thread ``comment:{comment_id}``), marked with
its post and link. ``conversation.data["kind"]`` is ``"messenger"`` or ``"comment"``.

Edits, removals and hiding update the stored comment. The page's own comments and
echoes are recognised (never citizen messages): echoes of our sends are recorded to
reconcile unknown outcomes. Anything else is stored as an ignored event.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from canales.core import events as core_events
from canales.core import privacy
from canales.core.intake import Received, process, store
from canales.core.models import Conversation, Message
from canales.core.site import Site
from canales.core.text import InvalidInput
from canales.core.types import Inbound, Rejected
from canales.plugins.facebook.models import FacebookEvent, FacebookObject
from canales.plugins.facebook.payload import CommentChange, Dead, Echo, Event, Ignored, MessengerMessage

log = logging.getLogger("canales.facebook")

CHANNEL = "facebook"
ATTACHMENT_LABELS = {"image": "imagen", "audio": "audio", "video": "video", "file": "archivo", "sticker": "sticker"}


def post_link(post_id: str) -> str:
    """The public address of a page post (``{page}_{post}``)."""
    page, _, post = post_id.partition("_")
    return f"https://www.facebook.com/{page}/posts/{post}" if post else f"https://www.facebook.com/{post_id}"


def comment_link(post_id: str, comment_id: str) -> str:
    return f"{post_link(post_id)}?comment_id={comment_id.rpartition('_')[2]}"


async def record_event(site: Site, webhook_id: int | None, event: Ignored | Dead, status: str | None = None) -> None:
    """Keep an event that was not turned into a message."""
    async with site.db.write() as session:
        session.add(
            FacebookEvent(
                site_id=site.id,
                webhook_id=webhook_id,
                kind=event.kind[:64],
                status=status or ("dead" if isinstance(event, Dead) else "ignored"),
                reason=event.reason,
                object_id=event.object_id,
                event=event.raw,
                occurred_at=event.at,
                created_at=site.now(),
            )
        )


async def record_object(site: Site, kind: str, external_id: str, delivery_key: str | None) -> None:
    """Remember something the page created (idempotent)."""
    try:
        async with site.db.write() as session:
            session.add(FacebookObject(site_id=site.id, kind=kind, external_id=external_id, delivery_key=delivery_key, created_at=site.now()))
    except IntegrityError:
        if delivery_key is None:
            return
        async with site.db.write() as session:
            await session.exec(
                update(FacebookObject)
                .where(FacebookObject.site_id == site.id, FacebookObject.external_id == external_id, col(FacebookObject.delivery_key).is_(None))
                .values(delivery_key=delivery_key)
            )


async def is_ours(site: Site, external_id: str) -> bool:
    async with site.db.read() as session:
        row = (
            await session.exec(select(FacebookObject.id).where(FacebookObject.site_id == site.id, FacebookObject.external_id == external_id))
        ).first()
    return row is not None


async def update_data(site: Site, conversation_id: int, changes: dict[str, Any], kind: str | None = None) -> Conversation:
    """Merge ``changes`` into ``conversation.data["facebook"]`` (row locked)."""
    async with site.db.write() as session:
        conversation = (
            await session.exec(select(Conversation).where(col(Conversation.id) == conversation_id).with_for_update())
        ).one()
        data = dict(conversation.data or {})
        data["facebook"] = {**data.get("facebook", {}), **changes}
        if kind:
            data["kind"] = kind
        conversation.data = data
        session.add(conversation)
        await session.flush()
        await session.refresh(conversation)
    return conversation


async def _message_by_external_id(site: Site, external_id: str) -> Message | None:
    async with site.db.read() as session:
        return (
            await session.exec(
                select(Message).where(Message.site_id == site.id, Message.channel == CHANNEL, Message.external_id == external_id)
            )
        ).first()


async def _publish_update(site: Site, message: Message) -> None:
    await site.bus.publish(core_events.inbox_channel(site.id), {"kind": "message_updated", "message": core_events.message_dict(message)})


def _findings(site: Site, text: str) -> list[privacy.Finding]:
    return privacy.for_site(site).find(text, ignore=privacy.site_contacts(site))


class Intake:
    """Handles the events of webhook bodies for one site."""

    def __init__(self, site: Site, runtime: Any) -> None:
        self.site = site
        self.runtime = runtime  # FacebookRuntime: settings, graph

    @property
    def page_id(self) -> str:
        return self.runtime.settings.page_id

    async def handle(self, events: list[Event], webhook_id: int | None) -> None:
        """Handle every event; one that fails is dead-lettered, the others go on."""
        for event in events:
            try:
                await self.one(event, webhook_id)
            except (InvalidInput, Rejected) as exc:
                await record_event(self.site, webhook_id, Dead(type(event).__name__, str(exc), _raw(event), getattr(event, "at", None)))

    async def one(self, event: Event, webhook_id: int | None) -> None:
        if isinstance(event, (Ignored, Dead)):
            await record_event(self.site, webhook_id, event)
        elif isinstance(event, MessengerMessage):
            await self.messenger(event)
        elif isinstance(event, Echo):
            await self.echo(event, webhook_id)
        elif isinstance(event, CommentChange):
            await self.comment(event, webhook_id)

    # -- Messenger ------------------------------------------------------------------

    async def messenger(self, event: MessengerMessage) -> None:
        text = event.text
        if not text and event.payload.get("attachments"):
            kinds = ", ".join(ATTACHMENT_LABELS.get(a["type"], a["type"] or "adjunto") for a in event.payload["attachments"])
            text = f"[{kinds}]"
        inbound = Inbound(
            channel=CHANNEL, external_id=event.mid, sender_id=event.psid, text=text,
            thread=f"messenger:{event.psid}", occurred_at=event.at, payload=event.payload,
            metadata={"kind": "messenger"},
        )
        received = await store(self.site, inbound)
        if received.duplicate:
            return
        await self._window_from_event_time(received)
        if received.new_conversation or received.conversation.data.get("kind") != "messenger":
            received.conversation = await update_data(self.site, received.conversation.id or 0, {"psid": event.psid}, kind="messenger")
        await process(self.site, received)

    async def _window_from_event_time(self, received: Received) -> None:
        """Core stamps ``last_citizen_at`` with the arrival time; Meta's window runs
        from the message's own time (a redelivery can come hours late)."""
        conversation_id = received.conversation.id
        async with self.site.db.write() as session:
            latest = (
                select(func.max(Message.occurred_at))
                .where(Message.conversation_id == conversation_id, Message.direction == "in")
                .scalar_subquery()
            )
            await session.exec(update(Conversation).where(col(Conversation.id) == conversation_id).values(last_citizen_at=latest))
            conversation = await session.get(Conversation, conversation_id)
            if conversation is not None:
                await session.refresh(conversation)
                received.conversation = conversation

    async def echo(self, event: Echo, webhook_id: int | None) -> None:
        ours = event.metadata is not None and event.metadata.startswith("canales:")
        if ours or await is_ours(self.site, event.mid):
            key = event.metadata.removeprefix("canales:") if ours and event.metadata else None
            await record_object(self.site, "echo", event.mid, key)
            return
        await record_event(self.site, webhook_id, Ignored("messaging.echo", "a message the page sent outside canales", _raw(event), event.at, event.psid))

    # -- comments -------------------------------------------------------------------

    async def comment(self, event: CommentChange, webhook_id: int | None) -> None:
        if event.from_id == self.page_id or await is_ours(self.site, event.comment_id):
            await record_event(self.site, webhook_id, Ignored("feed.comment.own", "the page's own comment", _raw(event), event.at, event.comment_id))
            return
        if event.verb == "add":
            await self.comment_added(event, webhook_id)
        elif event.verb in ("edit", "edited"):
            await self.comment_edited(event, webhook_id)
        elif event.verb in ("remove", "delete"):
            await self.comment_removed(event, webhook_id)
        elif event.verb in ("hide", "unhide"):
            await self.comment_hidden(event, webhook_id, event.verb == "hide" if event.hidden is None else event.hidden)
        else:
            await record_event(self.site, webhook_id, Ignored(f"feed.comment.{event.verb}", f"comment verb {event.verb!r} is not acted on", _raw(event), event.at, event.comment_id))

    async def _thread_of(self, event: CommentChange) -> str:
        if event.top_level:
            return f"comment:{event.comment_id}"
        parent = await _message_by_external_id(self.site, event.parent_id)
        if parent is not None:
            async with self.site.db.read() as session:
                conversation = await session.get(Conversation, parent.conversation_id)
            if conversation is not None:
                return conversation.thread_key
        return f"comment:{event.parent_id}"

    async def _was_removed(self, comment_id: str) -> bool:
        async with self.site.db.read() as session:
            row = (
                await session.exec(
                    select(FacebookEvent.id).where(
                        FacebookEvent.site_id == self.site.id, FacebookEvent.object_id == comment_id, FacebookEvent.kind == "feed.comment.remove"
                    )
                )
            ).first()
        return row is not None

    async def comment_added(self, event: CommentChange, webhook_id: int | None, edited: bool = False) -> None:
        if await self._was_removed(event.comment_id):
            # The removal overtook the comment (out of order): never show it.
            await record_event(self.site, webhook_id, Ignored("feed.comment.add", "the comment was removed before it arrived", _raw(event), event.at, event.comment_id))
            return
        text = event.text or ""
        findings = _findings(self.site, text)
        inbound = Inbound(
            channel=CHANNEL, external_id=event.comment_id, sender_id=event.from_id or "desconocido",
            sender_name=event.from_name, text=text, thread=await self._thread_of(event), occurred_at=event.at,
            payload={"comment": {"post_id": event.post_id, "parent_id": event.parent_id, "link": comment_link(event.post_id, event.comment_id),
                                 **({"edited_at": event.at.isoformat()} if edited else {})}},
            metadata={"kind": "comment", "visibility": "public", "personal_data": sorted({f.kind for f in findings})},
        )
        received = await store(self.site, inbound)
        if received.duplicate:
            return
        await update_data(
            self.site, received.conversation.id or 0,
            {"post_id": event.post_id, "post_link": post_link(event.post_id), "comment_id": event.comment_id,
             "comment_at": event.at.isoformat(), "comment_link": comment_link(event.post_id, event.comment_id),
             "personal_data": [f.label for f in findings], "removed": False},
            kind="comment",
        )
        if findings and self.runtime.settings.hide_comments_with_personal_data:
            await self.runtime.hide(event.comment_id, received.message)
        received.conversation = await self._fresh(received.conversation.id or 0)
        await process(self.site, received)

    async def _fresh(self, conversation_id: int) -> Conversation:
        async with self.site.db.read() as session:
            return (await session.exec(select(Conversation).where(col(Conversation.id) == conversation_id))).one()

    async def _update_message(self, message: Message, text: str | None, comment: dict[str, Any]) -> Message:
        async with self.site.db.write() as session:
            row = (await session.exec(select(Message).where(col(Message.id) == message.id).with_for_update())).one()
            payload = dict(row.payload or {})
            payload["comment"] = {**payload.get("comment", {}), **comment}
            if text is not None and text != row.text:
                payload["comment"].setdefault("history", []).append(row.text)
                row.text = text
            row.payload = payload
            session.add(row)
            await session.flush()
            await session.refresh(row)
        await _publish_update(self.site, row)
        return row

    async def comment_edited(self, event: CommentChange, webhook_id: int | None) -> None:
        message = await _message_by_external_id(self.site, event.comment_id)
        if message is None:
            # The edit overtook the comment: store it with its edited text.
            if event.text:
                await self.comment_added(event, webhook_id, edited=True)
            return
        previous = (message.payload.get("comment") or {}).get("edited_at")
        if previous and previous >= event.at.isoformat():
            return  # an older edit arriving late
        message = await self._update_message(message, event.text, {"edited_at": event.at.isoformat()})
        findings = _findings(self.site, message.text)
        await self._refresh_comment_data(message, {"personal_data": [f.label for f in findings]})

    async def comment_removed(self, event: CommentChange, webhook_id: int | None) -> None:
        message = await _message_by_external_id(self.site, event.comment_id)
        # Kept as a tombstone in every case, so that a late "add" is not shown.
        await record_event(self.site, webhook_id, Ignored("feed.comment.remove", "comment removed", _raw(event), event.at, event.comment_id))
        if message is not None:
            message = await self._update_message(message, None, {"removed_at": event.at.isoformat()})
            await self._refresh_comment_data(message, {"removed": True})

    async def comment_hidden(self, event: CommentChange, webhook_id: int | None, hidden: bool) -> None:
        message = await _message_by_external_id(self.site, event.comment_id)
        if message is None:
            await record_event(self.site, webhook_id, Ignored(f"feed.comment.{event.verb}", "hiding a comment canales never saw", _raw(event), event.at, event.comment_id))
            return
        message = await self._update_message(message, None, {"hidden": hidden})
        await self._refresh_comment_data(message, {"hidden": hidden})

    async def _refresh_comment_data(self, message: Message, changes: dict[str, Any]) -> None:
        conversation = await self._fresh(message.conversation_id)
        if conversation.data.get("facebook", {}).get("comment_id") == message.external_id:
            conversation = await update_data(self.site, message.conversation_id, changes)
        await core_events.conversation_changed(self.site, conversation)


def _raw(event: Any) -> dict[str, Any]:
    raw = {k: v for k, v in vars(event).items() if k != "raw"}
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in raw.items()}
