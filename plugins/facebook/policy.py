"""The reply policy, checked before a reply is stored (the ``review_reply`` hook)
and shown in the inbox (``reply_options``, ``inbox_panels``).

* Messenger replies are private, inside Meta's window (:mod:`.window`): after 24 h
  only a human agent (``HUMAN_AGENT`` tag), after 7 days nothing.
* A comment is answered in public by default. If the comment or the draft holds
  personal data or a sensitive topic (:mod:`canales.core.privacy`), the answer must
  go private: one private message per comment, within 7 days of the comment; then
  a public comment says a private message was sent. When that is impossible, the
  agent is told why and offered the site's other channels.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from markupsafe import Markup, escape
from sqlmodel import select

from canales.core import privacy
from canales.core.contrib import Panel, ReplyOption
from canales.core.models import Conversation, Message
from canales.core.site import Site
from canales.core.types import ReplyProblem
from canales.plugins.facebook.models import FacebookPrivateReply
from canales.plugins.facebook.texts import TEXTS
from canales.plugins.facebook.window import Window, private_reply_until, window

PLUGIN = "facebook"
CHANNEL = "facebook"
# Meta's limits on text: Messenger 2000 characters, a comment 8000.
MESSENGER_MAX = 2000
COMMENT_MAX = 8000


def _texts(site: Site) -> dict[str, str]:
    return site.settings(PLUGIN).texts


def _t(site: Site, key: str, **params: Any) -> str:
    return TEXTS.render(_texts(site), key, **params)


def local(site: Site, at: dt.datetime) -> str:
    """A time as agents read it: ``28/11 14:05``."""
    return at.astimezone(site.config.tz).strftime("%d/%m %H:%M")


def kind_of(conversation: Conversation) -> str | None:
    """``messenger`` or ``comment`` for this channel's conversations."""
    if conversation.channel != CHANNEL:
        return None
    kind = (conversation.data or {}).get("kind")
    if kind:
        return str(kind)
    return "comment" if conversation.thread_key.startswith("comment:") else "messenger"


def facebook_data(conversation: Conversation) -> dict[str, Any]:
    return dict((conversation.data or {}).get("facebook", {}))


def other_channels(site: Site) -> str:
    contact = site.config.contact
    parts = []
    if contact.phone:
        parts.append(f"teléfono {contact.phone}" + (f" ({contact.phone_hours})" if contact.phone_hours else ""))
    if contact.email:
        parts.append(f"correo {contact.email}")
    if contact.web:
        parts.append(contact.web)
    return ", ".join(parts) or "los canales de atención del organismo"


def messenger_window(site: Site, conversation: Conversation) -> Window:
    return window(conversation.last_citizen_at, site.now())


def comment_at(conversation: Conversation) -> dt.datetime | None:
    value = facebook_data(conversation).get("comment_at")
    return dt.datetime.fromisoformat(value) if value else None


async def private_reply_of(site: Site, comment_id: str) -> FacebookPrivateReply | None:
    async with site.db.read() as session:
        return (
            await session.exec(
                select(FacebookPrivateReply).where(FacebookPrivateReply.site_id == site.id, FacebookPrivateReply.comment_id == comment_id)
            )
        ).first()


async def target_comment(site: Site, conversation: Conversation, options: dict[str, Any]) -> Message | None:
    """The citizen comment a reply answers: ``options["comment_id"]`` if given (it
    must belong to the conversation), else the conversation's latest one."""
    wanted = options.get("comment_id") or facebook_data(conversation).get("comment_id")
    if not wanted:
        return None
    async with site.db.read() as session:
        return (
            await session.exec(
                select(Message).where(
                    Message.conversation_id == conversation.id,
                    Message.direction == "in",
                    Message.external_id == str(wanted),
                )
            )
        ).first()


def default_reply(conversation: Conversation) -> str:
    """Private when the comment shows personal data, else public."""
    return "private" if facebook_data(conversation).get("personal_data") else "public"


async def review(
    site: Site, conversation: Conversation, text: str, author_kind: str, options: dict[str, Any]
) -> list[ReplyProblem]:
    """Every reason this reply cannot go out (empty when it can)."""
    kind = kind_of(conversation)
    if kind == "messenger":
        return _review_messenger(site, conversation, text, author_kind)
    if kind == "comment":
        return await _review_comment(site, conversation, text, author_kind, options)
    return []


def _problem(code: str, message: str, suggestion: str | None = None) -> ReplyProblem:
    return ReplyProblem(code, message, suggestion, plugin=PLUGIN)


def _review_messenger(site: Site, conversation: Conversation, text: str, author_kind: str) -> list[ReplyProblem]:
    settings = site.settings(PLUGIN)
    problems = []
    if len(text) > MESSENGER_MAX:
        problems.append(_problem("too_long", f"Messenger admite hasta {MESSENGER_MAX} caracteres por mensaje (la respuesta tiene {len(text)}).", "Acortá la respuesta o enviala en dos mensajes."))
    current = messenger_window(site, conversation)
    wait = _t(site, "suggest.wait") + " " + _t(site, "suggest.other_channel", channels=other_channels(site))
    if current.state in ("closed", "none"):
        problems.append(_problem("window_closed", _t(site, "refuse.window_closed"), wait))
    elif current.state == "human" and not settings.human_agent_tag:
        problems.append(_problem("window_human_only", _t(site, "refuse.human_tag_disabled"), wait))
    elif current.state == "human" and author_kind != "agent":
        problems.append(_problem("window_human_only", _t(site, "refuse.human_only", until=local(site, current.until or site.now())), wait))
    return problems


async def _review_comment(
    site: Site, conversation: Conversation, text: str, author_kind: str, options: dict[str, Any]
) -> list[ReplyProblem]:
    reply = options.get("reply", default_reply(conversation))
    if reply not in ("public", "private"):
        return [_problem("reply_kind", _t(site, "refuse.reply_kind"))]
    if len(text) > (MESSENGER_MAX if reply == "private" else COMMENT_MAX):
        limit = MESSENGER_MAX if reply == "private" else COMMENT_MAX
        return [_problem("too_long", f"La respuesta supera los {limit} caracteres que admite Facebook.", "Acortá la respuesta.")]
    comment = await target_comment(site, conversation, options)
    if comment is None:
        return [_problem("no_comment", _t(site, "refuse.no_comment"))]
    if (comment.payload.get("comment") or {}).get("removed_at"):
        return [_problem("comment_removed", _t(site, "refuse.comment_removed"), _t(site, "suggest.other_channel", channels=other_channels(site)))]
    private_problem = await private_reply_problem(site, comment)
    if reply == "private":
        return [private_problem] if private_problem else []
    detector = privacy.for_site(site)
    ignore = privacy.site_contacts(site)
    in_draft = detector.find(text, ignore=ignore)
    # An automatic acknowledgement is a fixed text that repeats nothing of the comment.
    in_comment = [] if author_kind == "system" else detector.find(comment.text, ignore=ignore)
    if not in_draft and not in_comment:
        return []
    where = "la respuesta" if in_draft else "el comentario de la persona"
    message = _t(site, "refuse.personal_data", where=where, found=privacy.describe(in_draft or in_comment))
    if private_problem is None:
        suggestion = _t(site, "suggest.private")
    else:
        suggestion = f"{private_problem.message} " + _t(site, "suggest.other_channel", channels=other_channels(site))
    return [_problem("personal_data", message, suggestion)]


async def private_reply_problem(site: Site, comment: Message) -> ReplyProblem | None:
    """Why ``comment`` cannot be answered in private now, or ``None``."""
    other = _t(site, "suggest.other_channel", channels=other_channels(site))
    used = await private_reply_of(site, comment.external_id or "")
    if used is not None and used.state != "failed":
        return _problem("private_used", _t(site, "refuse.private_used"), other)
    until = private_reply_until(comment.occurred_at)
    if site.now() > until:
        return _problem("private_expired", _t(site, "refuse.private_expired", expired=local(site, until)), other)
    return None


# --- the inbox --------------------------------------------------------------------


def reply_options(site: Site, conversation: Conversation) -> list[ReplyOption] | None:
    """Public or private for comments (private first when the comment shows
    personal data); Messenger's one option says whether the window allows it."""
    kind = kind_of(conversation)
    if kind == "messenger":
        current = messenger_window(site, conversation)
        available = current.state in ("open", "human")
        reason = None
        if not available:
            reason = _t(site, "refuse.window_closed")
        elif current.state == "human":
            reason = _t(site, "window.human", until=local(site, current.until or site.now()))
        return [ReplyOption("reply", "private", _t(site, "option.messenger"), available=available, reason=reason, default=True)]
    if kind != "comment":
        return None
    data = facebook_data(conversation)
    default = default_reply(conversation)
    private_available, private_reason = True, None
    state = (data.get("private_reply") or {}).get("state")
    at = comment_at(conversation)
    if data.get("removed"):
        return [
            ReplyOption("reply", "public", _t(site, "option.public"), available=False, reason=_t(site, "refuse.comment_removed")),
            ReplyOption("reply", "private", _t(site, "option.private"), available=False, reason=_t(site, "refuse.comment_removed")),
        ]
    if state in ("sending", "sent"):
        private_available, private_reason = False, _t(site, "refuse.private_used")
    elif at is not None and site.now() > private_reply_until(at):
        private_available = False
        private_reason = _t(site, "refuse.private_expired", expired=local(site, private_reply_until(at)))
    if not private_available and data.get("personal_data"):
        private_reason = f"{private_reason} " + _t(site, "suggest.other_channel", channels=other_channels(site))
    public_available = not data.get("personal_data")
    public_reason = None if public_available else _t(site, "refuse.personal_data", where="el comentario de la persona", found=", ".join(data["personal_data"]))
    return [
        ReplyOption("reply", "public", _t(site, "option.public"), available=public_available, reason=public_reason, default=default == "public"),
        ReplyOption("reply", "private", _t(site, "option.private"), available=private_available, reason=private_reason, default=default == "private"),
    ]


def panels(site: Site, conversation: Conversation, health: Any = None) -> list[Panel] | None:
    """The messaging window of a Messenger conversation; the post, link, personal
    data and private-reply state of a comment; the page's health if it is bad."""
    kind = kind_of(conversation)
    if kind is None:
        return None
    out: list[Panel] = []
    if kind == "messenger":
        current = messenger_window(site, conversation)
        level = {"open": "info", "human": "warning"}.get(current.state, "error")
        if current.state == "open":
            line = _t(site, "window.open", until=local(site, current.until or site.now()))
        elif current.state == "human":
            line = _t(site, "window.human", until=local(site, current.until or site.now()))
        elif current.state == "closed":
            line = _t(site, "window.closed", since=local(site, current.since or site.now()))
        else:
            line = _t(site, "window.none")
        out.append(Panel(_t(site, "panel.window"), Markup("<p>{}</p>").format(line), plugin=PLUGIN, level=level))
    else:
        data = facebook_data(conversation)
        lines = []
        if data.get("post_link"):
            lines.append(Markup('<p>Publicación: <a href="{}" rel="noopener noreferrer" target="_blank">{}</a></p>').format(data["post_link"], data["post_link"]))
        if data.get("comment_link"):
            lines.append(Markup('<p><a href="{}" rel="noopener noreferrer" target="_blank">Ver el comentario</a></p>').format(data["comment_link"]))
        if data.get("removed"):
            lines.append(Markup("<p>{}</p>").format(_t(site, "refuse.comment_removed")))
        if data.get("hidden"):
            lines.append(Markup("<p>Comentario oculto (solo lo ven su autor y la página).</p>"))
        if data.get("personal_data"):
            lines.append(Markup("<p>Datos personales o temas sensibles: {}. Respondé en privado.</p>").format(", ".join(data["personal_data"])))
        reply = data.get("private_reply") or {}
        at = comment_at(conversation)
        level = "warning" if data.get("personal_data") else "info"
        if reply.get("state") == "sent":
            lines.append(Markup("<p>{}</p>").format(_t(site, "private.sent", at=reply.get("at", ""))))
        elif reply.get("state") == "sending":
            lines.append(Markup("<p>{}</p>").format(_t(site, "private.pending")))
        elif at is not None and site.now() > private_reply_until(at):
            lines.append(Markup("<p>{}</p>").format(_t(site, "private.expired", expired=local(site, private_reply_until(at)))))
        elif at is not None:
            lines.append(Markup("<p>{}</p>").format(_t(site, "private.available", until=local(site, private_reply_until(at)))))
        out.append(Panel(_t(site, "panel.comment"), Markup("").join(lines), plugin=PLUGIN, level=level))
    row = getattr(health, "row", None)
    if row is not None:
        problems = []
        if row.reconnect_needed:
            problems.append(_t(site, "page.reconnect"))
        if row.blocked_until is not None and row.blocked_until > site.now():
            problems.append(_t(site, "page.blocked", until=local(site, row.blocked_until)))
        if row.unsubscribed:
            problems.append(_t(site, "page.unsubscribed"))
        if problems:
            out.append(Panel(_t(site, "panel.page"), Markup("").join(Markup("<p>{}</p>").format(escape(p)) for p in problems), plugin=PLUGIN, level="error"))
    return out

