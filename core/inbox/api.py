"""The inbox's JSON API, under ``/inbox/api/v1/``: what the inbox shows and does,
for programs (an organism's own systems, automations).

Authentication: ``Authorization: Bearer <token>`` with a token a site's admin
issued (it acts as one agent on one site, with the agent's current role), or the
browser's session plus the ``X-CSRF-Token`` header. Another site's objects are 404,
exactly like the HTML pages. Every endpoint is declared once in :data:`ENDPOINTS`,
from which both the routes and the OpenAPI document are built.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from canales.core.contrib import reply_options
from canales.core.conversations import labels_of
from canales.core.http import HTTPProblem, parse_json_object, read_body
from canales.core.inbox import actions, queries, search
from canales.core.inbox import api_schemas as s
from canales.core.inbox.access import SignedIn, api_caller, canales_of, conversation_for, visible_to
from canales.core.inbox.thread import ThreadItem, thread
from canales.core.inbox.web import MAX_ID, as_id, path_id
from canales.core.models import Contact, Conversation, Message
from canales.core.routing import NotFound
from canales.core.site import Site

M = TypeVar("M", bound=BaseModel)
PREFIX = "/inbox/api/v1"


@dataclass(frozen=True)
class Endpoint:
    """One API operation: how it is routed and how OpenAPI describes it."""

    method: str
    path: str
    handler: Callable[[Request], Awaitable[Response]]
    operation_id: str
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    query: tuple[tuple[str, str, str], ...] = ()


async def _caller(request: Request) -> tuple[SignedIn, Site, str]:
    who = await api_caller(request)
    site_id = request.path_params.get("site_id", "")
    role = who.role_on(site_id)
    return who, canales_of(request).sites[site_id], role


async def _body(request: Request, model: type[M]) -> M:
    raw = await read_body(request)
    data = parse_json_object(raw) if raw.strip() else {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise HTTPProblem(422, "invalid", f"{field}: {first['msg']}", field=field or None) from None


def _query_int(request: Request, name: str, default: int, maximum: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    number = as_id(value)
    if number is None:
        raise HTTPProblem(422, "invalid", f"{name} must be a whole number", field=name)
    return min(number, maximum)


def _json(model: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


def contact_out(contact: Contact) -> s.ContactOut:
    return s.ContactOut(
        id=contact.id or 0,
        channel=contact.channel,
        external_id=contact.external_id,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
    )


def conversation_out(conversation: Conversation, contact: Contact, labels: list[str], unread: int | None = None) -> s.ConversationOut:
    return s.ConversationOut(
        id=conversation.id or 0,
        channel=conversation.channel,
        state=conversation.state,  # type: ignore[arg-type]
        team=conversation.team,
        assignee_id=conversation.assignee_id,
        routing_rule=conversation.routing_rule,
        after_hours=conversation.after_hours,
        last_seq=conversation.last_seq,
        contact=contact_out(contact),
        labels=labels,
        unread=unread,
        created_at=conversation.created_at.isoformat(),
        updated_at=conversation.updated_at.isoformat(),
    )


def message_out(item: ThreadItem) -> s.MessageOut:
    m, d = item.message, item.delivery
    return s.MessageOut(
        id=m.id or 0,
        conversation_id=m.conversation_id,
        seq=m.seq,
        direction=m.direction,  # type: ignore[arg-type]
        author_kind=m.author_kind,  # type: ignore[arg-type]
        author_agent_id=m.author_agent_id,
        channel=m.channel,
        text=m.text,
        visibility=m.visibility,  # type: ignore[arg-type]
        created_at=m.created_at.isoformat(),
        delivery=s.DeliveryOut(id=d.id or 0, state=d.state, attempts=d.attempts, last_error=d.last_error) if d else None,  # type: ignore[arg-type]
    )


def _refused(exc: actions.ActionError) -> HTTPProblem:
    return HTTPProblem(422, "refused", str(exc))


# --- handlers ---------------------------------------------------------------------


async def me(request: Request) -> Response:
    who = await api_caller(request)
    canales = canales_of(request)
    return _json(
        s.MeOut(
            agent=s.AgentOut(id=who.id, name=who.agent.name, email=who.agent.email),
            sites=[s.SiteOut(id=site_id, name=canales.sites[site_id].name, role=role) for site_id, role in sorted(who.roles.items())],  # type: ignore[arg-type]
        )
    )


async def list_conversations(request: Request) -> Response:
    who, site, role = await _caller(request)
    state = request.query_params.get("state", "mine")
    if state not in queries.STATES:
        raise HTTPProblem(422, "invalid", f"state must be one of {', '.join(queries.STATES)}", field="state")
    filters = queries.Filters.from_query(request.query_params, role)
    listing = await queries.listing(site, filters, role, who.id)
    return _json(
        s.ConversationList(
            conversations=[conversation_out(r.conversation, r.contact, r.labels, r.unread) for r in listing.rows],
            counts=listing.counts,
            has_more=listing.has_more,
        )
    )


async def _detail(site: Site, who: SignedIn, conversation: Conversation) -> s.ConversationDetail:
    async with site.db.read() as session:
        contact = (await session.exec(select(Contact).where(col(Contact.id) == conversation.contact_id))).one()
    labels = (await labels_of(site, [conversation.id or 0]))[conversation.id or 0]
    base = conversation_out(conversation, contact, labels)
    handoff = conversation.data.get("handoff") if isinstance(conversation.data, dict) else None
    return s.ConversationDetail(
        **base.model_dump(),
        reply_options=[
            s.ReplyOptionOut(name=o.name, value=o.value, label=o.label, available=o.available, reason=o.reason, default=o.default)
            for o in reply_options(site, conversation, who.agent)
        ],
        handoff=s.HandoffOut.model_validate(handoff) if isinstance(handoff, dict) else None,
    )


async def get_conversation(request: Request) -> Response:
    who, site, role = await _caller(request)
    conversation = await conversation_for(site, path_id(request, "conversation_id"), role, who.id)
    return _json(await _detail(site, who, conversation))


async def list_messages(request: Request) -> Response:
    who, site, role = await _caller(request)
    conversation = await conversation_for(site, path_id(request, "conversation_id"), role, who.id)
    after = _query_int(request, "after", 0, MAX_ID)
    items = await thread(site, conversation.id or 0, after=after)
    limit = _query_int(request, "limit", 100, 500)
    return _json(
        s.MessageList(conversation_id=conversation.id or 0, last_seq=conversation.last_seq, messages=[message_out(i) for i in items[:limit]])
    )


def _created(message: Message) -> Response:
    return _json(message_out(ThreadItem(message, None, None)), status=201)


async def post_reply(request: Request) -> Response:
    who, site, role = await _caller(request)
    cid = path_id(request, "conversation_id")
    body = await _body(request, s.ReplyIn)
    try:
        message = await actions.reply(site, who, role, cid, body.text, body.options)
    except actions.ActionError as exc:
        raise _refused(exc) from None
    return _created(message)


async def post_note(request: Request) -> Response:
    who, site, role = await _caller(request)
    cid = path_id(request, "conversation_id")
    body = await _body(request, s.NoteIn)
    try:
        message = await actions.note(site, who, role, cid, body.text)
    except actions.ActionError as exc:
        raise _refused(exc) from None
    return _created(message)


def _conversation_action(
    run: Callable[[Site, SignedIn, str, int, Any], Awaitable[Any]], model: type[BaseModel]
) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        who, site, role = await _caller(request)
        cid = path_id(request, "conversation_id")
        body = await _body(request, model)
        try:
            await run(site, who, role, cid, body)
        except actions.ActionError as exc:
            raise _refused(exc) from None
        # Read without the visibility rule: after a transfer the agent may no
        # longer see it, but the caller must learn the outcome of its own call.
        async with site.db.read() as session:
            conversation = (
                await session.exec(select(Conversation).where(col(Conversation.id) == cid, Conversation.site_id == site.id))
            ).one()
        return _json(await _detail(site, who, conversation))

    return handler


async def _take(site: Site, who: SignedIn, role: str, cid: int, body: Any) -> Any:
    return await actions.take(site, who, role, cid)


async def _transfer(site: Site, who: SignedIn, role: str, cid: int, body: s.TransferIn) -> Any:
    return await actions.transfer(site, who, role, cid, to_agent=body.agent_id, to_team=body.team, reason=body.reason)


async def _release(site: Site, who: SignedIn, role: str, cid: int, body: s.ReleaseIn) -> Any:
    return await actions.release(site, who, role, cid, body.reason)


async def _close(site: Site, who: SignedIn, role: str, cid: int, body: Any) -> Any:
    return await actions.close(site, who, role, cid)


async def _reopen(site: Site, who: SignedIn, role: str, cid: int, body: Any) -> Any:
    return await actions.reopen(site, who, role, cid)


async def put_labels(request: Request) -> Response:
    who, site, role = await _caller(request)
    cid = path_id(request, "conversation_id")
    body = await _body(request, s.LabelsIn)
    try:
        labels = await actions.set_labels(site, who, role, cid, body.labels)
    except actions.ActionError as exc:
        raise _refused(exc) from None
    return _json(s.LabelsOut(labels=labels))


async def list_contacts(request: Request) -> Response:
    who, site, role = await _caller(request)
    query = search.clean_query(request.query_params.get("q"))
    if not query:
        raise HTTPProblem(422, "invalid", f"q needs at least {search.MIN_QUERY} characters", field="q")
    hits = await search.search_contacts(site.db, {site.id: role}, who.id, query)
    return _json(
        s.ContactList(
            contacts=[
                s.ContactOut(id=h.contact_id, channel=h.channel, external_id=h.external_id, name=h.name, email=h.email, phone=h.phone)
                for h in hits
            ]
        )
    )


async def get_contact(request: Request) -> Response:
    who, site, role = await _caller(request)
    contact_id = path_id(request, "contact_id")
    async with site.db.read() as session:
        contact = (await session.exec(select(Contact).where(col(Contact.id) == contact_id, Contact.site_id == site.id))).first()
        conversations = (
            await session.exec(
                select(Conversation)
                .where(Conversation.site_id == site.id, Conversation.contact_id == contact_id, visible_to(role, who.id))
                .order_by(col(Conversation.id).desc())
                .limit(100)
            )
        ).all()
    if contact is None or not conversations:
        raise NotFound(f"contact {contact_id} not found")
    labels = await labels_of(site, [c.id or 0 for c in conversations])
    return _json(
        s.ContactDetail(
            contact=contact_out(contact),
            conversations=[conversation_out(c, contact, labels.get(c.id or 0, [])) for c in conversations],
        )
    )


async def search_messages(request: Request) -> Response:
    who, site, role = await _caller(request)
    query = search.clean_query(request.query_params.get("q"))
    if not query:
        raise HTTPProblem(422, "invalid", f"q needs at least {search.MIN_QUERY} characters", field="q")
    hits = await search.search_messages(site.db, {site.id: role}, who.id, query)
    return _json(
        s.SearchResult(
            messages=[
                s.SearchHit(
                    conversation_id=h.conversation_id,
                    message_id=h.message_id,
                    seq=h.seq,
                    snippet=h.snippet,
                    author_kind=h.author_kind,
                    channel=h.channel,
                    created_at=h.created_at.isoformat(),
                )
                for h in hits
            ]
        )
    )


async def retry_delivery(request: Request) -> Response:
    who, site, role = await _caller(request)
    try:
        await actions.retry_delivery(site, who, role, path_id(request, "delivery_id"))
    except actions.ActionError as exc:
        raise _refused(exc) from None
    return JSONResponse({"ok": True}, status_code=202)


async def openapi(request: Request) -> Response:
    from canales.core.inbox.openapi import document

    return JSONResponse(document())


CONV = "/sites/{site_id}/conversations/{conversation_id}"
LIST_QUERY = (
    ("state", "string", "mine, waiting, bot, others (supervisors and admins) or closed; default mine"),
    ("channel", "string", "only this channel"),
    ("team", "string", "only this team ('-' for none)"),
    ("label", "string", "only conversations with this label"),
    ("page", "integer", "page number, 50 per page"),
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/me", me, "getMe", "The agent behind the token and their sites", response=s.MeOut),
    Endpoint("GET", "/sites/{site_id}/conversations", list_conversations, "listConversations", "Conversations of a state tab, with counts per state", response=s.ConversationList, query=LIST_QUERY),
    Endpoint("GET", CONV, get_conversation, "getConversation", "One conversation, its reply options and hand-off context", response=s.ConversationDetail),
    Endpoint("GET", CONV + "/messages", list_messages, "listMessages", "Messages after a sequence number, oldest first", response=s.MessageList, query=(("after", "integer", "sequence number already held (default 0)"), ("limit", "integer", "at most this many (default 100, max 500)"))),
    Endpoint("POST", CONV + "/replies", post_reply, "postReply", "Reply to the citizen (takes the conversation if nobody holds it)", body=s.ReplyIn, response=s.MessageOut, status=201),
    Endpoint("POST", CONV + "/notes", post_note, "postNote", "Add an internal note", body=s.NoteIn, response=s.MessageOut, status=201),
    Endpoint("POST", CONV + "/take", _conversation_action(_take, s.Empty), "takeConversation", "Take a waiting (or the bot's) conversation", body=s.Empty, response=s.ConversationDetail),
    Endpoint("POST", CONV + "/transfer", _conversation_action(_transfer, s.TransferIn), "transferConversation", "Transfer to an agent or a team", body=s.TransferIn, response=s.ConversationDetail),
    Endpoint("POST", CONV + "/release", _conversation_action(_release, s.ReleaseIn), "releaseConversation", "Return to the queue", body=s.ReleaseIn, response=s.ConversationDetail),
    Endpoint("POST", CONV + "/close", _conversation_action(_close, s.Empty), "closeConversation", "Close", body=s.Empty, response=s.ConversationDetail),
    Endpoint("POST", CONV + "/reopen", _conversation_action(_reopen, s.Empty), "reopenConversation", "Reopen a closed conversation", body=s.Empty, response=s.ConversationDetail),
    Endpoint("PUT", CONV + "/labels", put_labels, "setLabels", "Replace the conversation's labels", body=s.LabelsIn, response=s.LabelsOut),
    Endpoint("GET", "/sites/{site_id}/contacts", list_contacts, "searchContacts", "Contacts whose name, e-mail, phone or channel id contains q", response=s.ContactList, query=(("q", "string", "at least 2 characters"),)),
    Endpoint("GET", "/sites/{site_id}/contacts/{contact_id}", get_contact, "getContact", "A contact and their conversations", response=s.ContactDetail),
    Endpoint("GET", "/sites/{site_id}/search", search_messages, "searchMessages", "Messages matching q (Spanish full-text on PostgreSQL)", response=s.SearchResult, query=(("q", "string", "at least 2 characters"),)),
    Endpoint("POST", "/sites/{site_id}/deliveries/{delivery_id}/retry", retry_delivery, "retryDelivery", "Try a failed delivery again", body=s.Empty, status=202),
    Endpoint("GET", "/openapi.json", openapi, "openapi", "This document"),
)


def routes() -> list[BaseRoute]:
    """The API's routes, relative to ``/inbox/api/v1``."""
    return [Route(e.path, e.handler, methods=[e.method], name=e.operation_id) for e in ENDPOINTS]
