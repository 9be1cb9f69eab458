"""The inbox's working pages: the conversation list, the morning backlog and a
conversation, plus the fragments the page script fetches to stay live."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from canales.core import events, presence
from canales.core.contrib import panels, reply_options
from canales.core.conversations import labels_of
from canales.core.inbox import canned, queries
from canales.core.inbox.access import can_manage, conversation_for, require, sees_everything, signed_in, site_for
from canales.core.inbox.thread import DELIVERY_NAMES, mark_read, satisfaction_of, site_agents, site_teams, thread
from canales.core.inbox.thread import item as thread_item
from canales.core.inbox.web import as_id, done, path_id, render, render_fragment
from canales.core.models import Alert, Contact, Conversation
from canales.core.routing import NotFound


async def conversation_list(request: Request) -> Response:
    who = await signed_in(request)
    site, role = site_for(request, who)
    filters = queries.Filters.from_query(request.query_params, role)
    listing = await queries.listing(site, filters, role, who.id)
    unread = await queries.unread_total(site, role, who.id)
    context = {
        "listing": listing,
        "filters": filters,
        "unread_total": unread,
        "role": role,
        "state_labels": queries.STATE_NAMES,
    }
    if request.query_params.get("fragment") == "list":
        return render_fragment(request, "inbox/_list.html", site=site, **context)
    choices = await queries.filter_choices(site)
    return await render(request, "inbox/list.html", who=who, site=site, choices=choices, **context)


async def backlog(request: Request) -> Response:
    who = await signed_in(request)
    site, role = site_for(request, who)
    found = await queries.backlog(site, role, who.id)
    if request.query_params.get("fragment") == "list":
        return render_fragment(request, "inbox/_backlog.html", site=site, backlog=found)
    return await render(request, "inbox/backlog.html", who=who, site=site, role=role, backlog=found, is_open=site.is_open())


async def _contact(site: Any, conversation: Conversation) -> Contact | None:
    async with site.db.read() as session:
        return (await session.exec(select(Contact).where(col(Contact.id) == conversation.contact_id))).first()


async def conversation_context(who: Any, site: Any, role: str, conversation: Conversation) -> dict[str, Any]:
    """Everything the conversation page shows besides the thread."""
    contact = await _contact(site, conversation)
    agents = await site_agents(site)
    answers = await canned.answers_of(site)
    labels = (await labels_of(site, [conversation.id or 0]))[conversation.id or 0]
    return {
        "conversation": conversation,
        "contact": contact,
        "labels": labels,
        "agents": agents,
        "agent_names": {agent_id: name for agent_id, name, _ in agents},
        "online": await presence.online_agent_ids(site, [a for a, _, _ in agents]),
        "teams": await site_teams(site),
        "canned": [(a, canned.fill(a.text, site, contact, who.agent)) for a in answers],
        "panels": panels(site, conversation, who.agent),
        "options": reply_options(site, conversation, who.agent),
        "satisfaction": await satisfaction_of(site, conversation.id or 0),
        "handoff": conversation.data.get("handoff") if isinstance(conversation.data, dict) else None,
        "can_manage": can_manage(conversation, role, who.id),
        "sees_all": sees_everything(role),
        "delivery_names": DELIVERY_NAMES,
        "me": who.id,
    }


async def conversation_page(request: Request, *, error: str | None = None, draft: str = "", note_draft: str = "", status: int = 200) -> Response:
    who = await signed_in(request)
    site, role = site_for(request, who)
    conversation = await conversation_for(site, path_id(request, "conversation_id"), role, who.id)
    items = await thread(site, conversation.id or 0)
    await mark_read(site, who.id, conversation.id or 0, conversation.last_seq)
    context = await conversation_context(who, site, role, conversation)
    return await render(
        request,
        "inbox/conversation.html",
        who=who,
        site=site,
        role=role,
        status=status,
        items=items,
        error=error,
        draft=draft,
        note_draft=note_draft,
        **context,
    )


async def messages_fragment(request: Request) -> Response:
    """Messages after ``?after=N``, for the page script's catch-up (the sequence
    numbers make it exact: nothing skipped, nothing twice)."""
    who = await signed_in(request)
    site, role = site_for(request, who)
    conversation = await conversation_for(site, path_id(request, "conversation_id"), role, who.id)
    items = await thread(site, conversation.id or 0, after=as_id(request.query_params.get("after")) or 0)
    if items and request.query_params.get("read") == "1":
        await mark_read(site, who.id, conversation.id or 0, items[-1].message.seq)
    return render_fragment(
        request, "inbox/_messages.html", site=site, items=items, conversation=conversation, delivery_names=DELIVERY_NAMES, csrf_token=who.csrf
    )


async def message_fragment(request: Request) -> Response:
    """One message (its delivery state changed)."""
    who = await signed_in(request)
    site, role = site_for(request, who)
    conversation = await conversation_for(site, path_id(request, "conversation_id"), role, who.id)
    found = await thread_item(site, conversation.id or 0, path_id(request, "message_id"))
    if found is None:
        raise NotFound("no such message")
    return render_fragment(
        request, "inbox/_messages.html", site=site, items=[found], conversation=conversation, delivery_names=DELIVERY_NAMES, csrf_token=who.csrf
    )


async def status_fragment(request: Request) -> Response:
    """The conversation's state and the actions it allows now."""
    who = await signed_in(request)
    site, role = site_for(request, who)
    conversation = await conversation_for(site, path_id(request, "conversation_id"), role, who.id)
    context = await conversation_context(who, site, role, conversation)
    return render_fragment(request, "inbox/_status.html", csrf_token=who.csrf, site=site, **context)


async def mark_read_action(request: Request) -> Response:
    """The page script marks messages read as they appear on screen."""
    who = await signed_in(request)
    site, role = site_for(request, who)
    conversation = await conversation_for(site, path_id(request, "conversation_id"), role, who.id)
    form = await request.form()
    seq = min(as_id(form.get("seq")) or 0, conversation.last_seq)
    await mark_read(site, who.id, conversation.id or 0, seq)
    return HTMLResponse(status_code=204)


async def availability(request: Request) -> Response:
    """The agent's "disponible / ausente" switch on this site."""
    who = await signed_in(request)
    site, _ = site_for(request, who)
    form = await request.form()
    await presence.set_available(site, who.id, form.get("available") == "1")
    back = str(form.get("back", ""))
    return done(request, back if back.startswith(f"/inbox/{site.id}/") else f"/inbox/{site.id}/", "availability")


async def resolve_alert(request: Request) -> Response:
    """Mark an open alert of the site as resolved (supervisors and admins)."""
    who = await signed_in(request)
    site, role = site_for(request, who)
    require(role, "admin", "supervisor")
    alert_id = path_id(request, "alert_id")
    async with site.db.write() as session:
        result = await session.exec(
            update(Alert)
            .where(col(Alert.id) == alert_id, Alert.site_id == site.id, col(Alert.resolved_at).is_(None))
            .values(resolved_at=site.now())
        )
    if not result.rowcount:
        raise NotFound("no such open alert")
    await site.bus.publish(events.inbox_channel(site.id), {"kind": "alert"})
    return done(request, f"/inbox/{site.id}/", "alert")
