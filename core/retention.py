"""Data protection (Ley 18.331): keeping conversations only as long as the site's
purpose needs, and a contact's right to see and to erase what is stored about them.

* :func:`expire` — closed conversations older than ``[privacy] retention_days`` are
  anonymised (texts and identities removed; dates, channels and outcomes kept for the
  reports) or deleted, as ``[privacy] retention`` says. A periodic job runs it.
* :func:`export_contact` — everything stored about one contact, as JSON-ready data.
* :func:`forget_contact` — delete everything stored about one contact.

Plugins take part through the ``forget_conversations`` and ``export_contact`` hooks,
for the rows of their own tables.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import String, cast, delete, func, literal, update
from sqlmodel import col, select

from canales.core.models import (
    Contact,
    Conversation,
    ConversationLabel,
    Delivery,
    Message,
    Satisfaction,
)
from canales.core.routing import NotFound
from canales.core.site import Site, await_all

log = logging.getLogger("canales.retention")

ANONYMISED = "anon-"
REMOVED_TEXT = ""


async def expire(site: Site, limit: int = 200) -> int:
    """Anonymise or delete the site's closed conversations past the retention
    period; return how many. Safe to run in several workers at once."""
    days = site.config.privacy.retention_days
    if days is None:
        return 0
    cutoff = site.now() - dt.timedelta(days=days)
    async with site.db.read() as session:
        ids = list(
            (
                await session.exec(
                    select(Conversation.id)
                    .where(
                        Conversation.site_id == site.id,
                        Conversation.state == "closed",
                        col(Conversation.closed_at) < cutoff,
                        ~col(Conversation.thread_key).startswith(ANONYMISED),
                    )
                    .order_by(col(Conversation.id))
                    .limit(limit)
                )
            ).all()
        )
    if not ids:
        return 0
    await forget_conversations(site, [i for i in ids if i is not None], site.config.privacy.retention)
    log.info("site %s: %s %d conversations past %d days", site.id, site.config.privacy.retention, len(ids), days)
    return len(ids)


async def forget_conversations(site: Site, ids: list[int], mode: str) -> None:
    """Anonymise (``"anonymise"``) or delete (``"delete"``) these conversations of
    the site, their messages and what hangs from them, then the contacts left with no
    conversation. Plugins clean their own rows first (``forget_conversations``)."""
    if mode not in ("anonymise", "delete"):
        raise ValueError("mode is 'anonymise' or 'delete'")
    await await_all(site.hook.forget_conversations(site=site, conversation_ids=ids, mode=mode))
    async with site.db.write() as session:
        ours = col(Conversation.id).in_(ids) & (Conversation.site_id == site.id)
        contact_ids = set((await session.exec(select(Conversation.contact_id).where(ours))).all())
        of_these = col(Message.conversation_id).in_(
            select(Conversation.id).where(ours).scalar_subquery()
        )
        await session.exec(delete(Delivery).where(col(Delivery.conversation_id).in_(ids), Delivery.site_id == site.id))
        if mode == "delete":
            for table in (ConversationLabel, Satisfaction):
                await session.exec(delete(table).where(col(table.conversation_id).in_(ids), table.site_id == site.id))
            await _delete_inbox_rows(session, ids)
            await session.exec(delete(Message).where(of_these))
            await session.exec(delete(Conversation).where(ours))
        else:
            await session.exec(update(Message).where(of_these).values(text=REMOVED_TEXT, payload={}, external_id=None))
            await session.exec(
                update(Satisfaction).where(col(Satisfaction.conversation_id).in_(ids), Satisfaction.site_id == site.id).values(comment=None)
            )
            await session.exec(
                update(Conversation)
                .where(ours)
                .values(thread_key=literal(ANONYMISED) + cast(Conversation.id, String), data={})
            )
        # A contact goes too once none of its conversations remains un-anonymised.
        for contact_id in contact_ids:
            remaining = (
                await session.exec(
                    select(func.count())
                    .select_from(Conversation)
                    .where(Conversation.contact_id == contact_id, ~col(Conversation.thread_key).startswith(ANONYMISED))
                )
            ).one()
            if remaining:
                continue
            if mode == "delete" and not (
                await session.exec(select(func.count()).select_from(Conversation).where(Conversation.contact_id == contact_id))
            ).one():
                await session.exec(delete(Contact).where(col(Contact.id) == contact_id))
            else:
                await session.exec(
                    update(Contact)
                    .where(col(Contact.id) == contact_id)
                    .values(name=None, email=None, phone=None, data={}, external_id=literal(ANONYMISED) + cast(Contact.id, String))
                )


async def _delete_inbox_rows(session: Any, ids: list[int]) -> None:
    """Rows of the inbox that point at conversations (read markers)."""
    from canales.core.inbox.models import ConversationRead

    await session.exec(delete(ConversationRead).where(col(ConversationRead.conversation_id).in_(ids)))


async def _contact(site: Site, contact_id: int) -> Contact:
    async with site.db.read() as session:
        contact = (
            await session.exec(select(Contact).where(col(Contact.id) == contact_id, Contact.site_id == site.id))
        ).first()
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    return contact


async def export_contact(site: Site, contact_id: int) -> dict[str, Any]:
    """Everything stored about one contact of the site: the contact, its
    conversations with every message (internal notes marked as such), survey
    answers, labels, and each plugin's data. Raises :class:`NotFound`."""
    contact = await _contact(site, contact_id)
    async with site.db.read() as session:
        conversations = (
            await session.exec(
                select(Conversation).where(Conversation.contact_id == contact.id, Conversation.site_id == site.id).order_by(col(Conversation.id))
            )
        ).all()
        ids = [c.id for c in conversations]
        messages = (
            await session.exec(select(Message).where(col(Message.conversation_id).in_(ids)).order_by(col(Message.conversation_id), col(Message.seq)))
        ).all()
        surveys = (await session.exec(select(Satisfaction).where(col(Satisfaction.conversation_id).in_(ids)))).all()
        labels = (await session.exec(select(ConversationLabel).where(col(ConversationLabel.conversation_id).in_(ids)))).all()
    by_conversation: dict[int, list[dict[str, Any]]] = {}
    for m in messages:
        by_conversation.setdefault(m.conversation_id, []).append(
            {
                "seq": m.seq,
                "direction": m.direction,
                "author": m.author_kind,
                "visibility": m.visibility,
                "text": m.text,
                "created_at": m.created_at.isoformat(),
            }
        )
    plugins: dict[str, Any] = {}
    for impl in site.pm.hook.export_contact.get_hookimpls():
        name = site.pm.get_name(impl.plugin) or "?"
        (value,) = await await_all([impl.function(site=site, contact=contact, conversation_ids=ids)])
        if value:
            plugins[name] = value
    return {
        "site": site.id,
        "exported_at": site.now().isoformat(),
        "contact": {
            "id": contact.id,
            "channel": contact.channel,
            "external_id": contact.external_id,
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "data": contact.data,
            "created_at": contact.created_at.isoformat(),
            "last_seen_at": contact.last_seen_at.isoformat(),
        },
        "conversations": [
            {
                "id": c.id,
                "channel": c.channel,
                "state": c.state,
                "team": c.team,
                "created_at": c.created_at.isoformat(),
                "closed_at": c.closed_at.isoformat() if c.closed_at else None,
                "data": c.data,
                "labels": sorted(label.name for label in labels if label.conversation_id == c.id),
                "satisfaction": next(
                    ({"score": s.score, "comment": s.comment} for s in surveys if s.conversation_id == c.id), None
                ),
                "messages": by_conversation.get(c.id or 0, []),
            }
            for c in conversations
        ],
        "plugins": plugins,
    }


async def forget_contact(site: Site, contact_id: int) -> int:
    """Delete everything stored about one contact of the site (an erasure request);
    return how many conversations went. Raises :class:`NotFound`."""
    contact = await _contact(site, contact_id)
    async with site.db.read() as session:
        ids = [
            i
            for i in (await session.exec(select(Conversation.id).where(Conversation.contact_id == contact.id))).all()
            if i is not None
        ]
    await forget_conversations(site, ids, "delete")
    async with site.db.write() as session:
        await session.exec(delete(Contact).where(col(Contact.id) == contact.id))
    log.info("site %s: contact %s and %d conversations erased on request", site.id, contact_id, len(ids))
    return len(ids)
