"""Reading a webhook body: every ``entry``, every ``messaging`` event and every
``changes`` item, each on its own (one that cannot be read becomes a :class:`Dead`
event and the others go on), ordered by their timestamps (Messenger gives
milliseconds, the feed seconds)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

UTC = dt.timezone.utc
IGNORED_MESSAGING = ("read", "delivery", "reaction", "referral", "optin", "account_linking", "policy_enforcement", "pass_thread_control", "take_thread_control")


class Unreadable(ValueError):
    """An event that does not have the shape Meta documents."""


@dataclass
class MessengerMessage:
    """A citizen's Messenger message or postback (a tapped button)."""

    mid: str
    psid: str
    text: str
    at: dt.datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Echo:
    """A message the page sent (ours, or written elsewhere, e.g. Meta's inbox)."""

    mid: str
    psid: str
    text: str
    at: dt.datetime
    metadata: str | None = None
    app_id: str | None = None


@dataclass
class CommentChange:
    """A comment added, edited, removed, hidden or shown on one of the page's posts."""

    verb: str
    comment_id: str
    post_id: str
    parent_id: str
    from_id: str | None
    from_name: str | None
    text: str | None
    at: dt.datetime
    hidden: bool | None = None

    @property
    def top_level(self) -> bool:
        return self.parent_id == self.post_id


@dataclass
class Ignored:
    """An event stored but not acted on (a read receipt, a reaction, a new post…)."""

    kind: str
    reason: str
    raw: Any
    at: dt.datetime | None = None
    object_id: str | None = None


@dataclass
class Dead:
    """An event that could not be read: kept for people to look at."""

    kind: str
    reason: str
    raw: Any
    at: dt.datetime | None = None
    object_id: str | None = None


Event = MessengerMessage | Echo | CommentChange | Ignored | Dead


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise Unreadable(f"{name} is missing or not text")
    return value


def _id(value: Any, name: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value, name)


def _ms(value: Any) -> dt.datetime:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise Unreadable("timestamp is missing or not a number")
    return dt.datetime.fromtimestamp(value / 1000, UTC)


def _seconds(value: Any) -> dt.datetime:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise Unreadable("created_time is missing or not a number")
    return dt.datetime.fromtimestamp(value, UTC)


def messaging_event(event: Any) -> Event:
    """One item of ``entry.messaging`` (or ``entry.standby``)."""
    if not isinstance(event, dict):
        raise Unreadable("a messaging event must be an object")
    sender = _id((event.get("sender") or {}).get("id"), "sender.id")
    recipient = _id((event.get("recipient") or {}).get("id"), "recipient.id")
    at = _ms(event.get("timestamp"))
    message = event.get("message")
    if isinstance(message, dict):
        mid = _id(message.get("mid"), "message.mid")
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        if message.get("is_echo"):
            metadata = message.get("metadata")
            app_id = message.get("app_id")
            return Echo(mid, recipient, text, at, metadata if isinstance(metadata, str) else None,
                        str(app_id) if app_id is not None else None)
        payload: dict[str, Any] = {}
        if isinstance(message.get("quick_reply"), dict):
            payload["choice"] = str(message["quick_reply"].get("payload", ""))[:1000]
        attachments = message.get("attachments")
        if isinstance(attachments, list) and attachments:
            payload["attachments"] = [
                {"type": str(a.get("type", "")), "url": str((a.get("payload") or {}).get("url", ""))}
                for a in attachments if isinstance(a, dict)
            ]
        if isinstance(message.get("reply_to"), dict):
            payload["reply_to"] = str(message["reply_to"].get("mid", ""))
        if not text and not payload:
            raise Unreadable("message has neither text nor attachments")
        return MessengerMessage(mid, sender, text, at, payload)
    if message is not None:
        raise Unreadable("message must be an object")
    postback = event.get("postback")
    if isinstance(postback, dict):
        title = postback.get("title") if isinstance(postback.get("title"), str) else ""
        choice = str(postback.get("payload", ""))[:1000]
        mid = postback.get("mid") or f"postback:{sender}:{event.get('timestamp')}"
        return MessengerMessage(_id(mid, "postback.mid"), sender, title or choice, at, {"choice": choice, "postback": True})
    for kind in IGNORED_MESSAGING:
        if kind in event:
            return Ignored(f"messaging.{kind}", f"{kind} events are not acted on", event, at, sender)
    return Ignored("messaging.unknown", "unknown messaging event type", event, at, sender)


def feed_change(value: Any) -> Event:
    """One ``changes`` item whose ``field`` is ``feed``."""
    if not isinstance(value, dict):
        raise Unreadable("a feed change value must be an object")
    item = value.get("item")
    verb = value.get("verb")
    if item != "comment":
        return Ignored(f"feed.{item}", f"feed item {item!r} is not acted on", value,
                       _seconds(value["created_time"]) if "created_time" in value else None,
                       str(value.get("post_id") or "") or None)
    verb = _text(verb, "verb")
    comment_id = _id(value.get("comment_id"), "comment_id")
    post_id = _id(value.get("post_id"), "post_id")
    parent_id = _id(value.get("parent_id") or post_id, "parent_id")
    author = value.get("from") if isinstance(value.get("from"), dict) else {}
    from_id = str(author["id"]) if author.get("id") else None
    text = value.get("message") if isinstance(value.get("message"), str) else None
    if verb == "add" and not text:
        raise Unreadable("an added comment has no message (check the app's permissions)")
    hidden = value.get("is_hidden") if isinstance(value.get("is_hidden"), bool) else None
    return CommentChange(verb, comment_id, post_id, parent_id, from_id,
                         author.get("name") if isinstance(author.get("name"), str) else None,
                         text, _seconds(value.get("created_time")), hidden)


def _timestamp(event: Event) -> float:
    at = getattr(event, "at", None)
    return at.timestamp() if at is not None else float("inf")


def parse(payload: dict[str, Any]) -> list[Event]:
    """Every event of a webhook body, oldest first. Never raises for one bad event:
    it becomes :class:`Dead` and the others are kept."""
    events: list[Event] = []
    if payload.get("object") != "page":
        return [Ignored(f"object.{payload.get('object')}", "only page webhooks are handled", payload)]
    entries = payload.get("entry")
    if not isinstance(entries, list):
        return [Dead("body", "entry is missing or not a list", payload)]
    for entry in entries:
        if not isinstance(entry, dict):
            events.append(Dead("entry", "an entry must be an object", entry))
            continue
        for key in ("messaging", "standby"):
            for event in entry.get(key) or []:
                try:
                    parsed = messaging_event(event)
                except (Unreadable, KeyError, TypeError, ValueError, OverflowError) as exc:
                    parsed = Dead("messaging", str(exc), event)
                if key == "standby" and not isinstance(parsed, Dead):
                    # Another app owns the thread: it answers, not us.
                    parsed = Ignored("messaging.standby", "another app owns this thread", event, getattr(parsed, "at", None))
                events.append(parsed)
        for change in entry.get("changes") or []:
            try:
                if not isinstance(change, dict):
                    raise Unreadable("a change must be an object")
                if change.get("field") != "feed":
                    parsed = Ignored(f"changes.{change.get('field')}", "only feed changes are handled", change)
                else:
                    parsed = feed_change(change.get("value"))
            except (Unreadable, KeyError, TypeError, ValueError, OverflowError) as exc:
                parsed = Dead("feed", str(exc), change)
            events.append(parsed)
        if not any(k in entry for k in ("messaging", "standby", "changes")):
            events.append(Ignored("entry.unknown", "an entry without messaging or changes", entry))
    # Stable: events with the same timestamp keep Meta's order.
    events.sort(key=_timestamp)
    return events
