"""What an agent does to a conversation, with the role checks, shared by the HTML
pages and the JSON API. Each function checks what the agent may do, then calls
core's operations (:mod:`canales.core.conversations`, :mod:`canales.core.replies`).

Rules: an agent sees the queue, the bot's conversations and their own, and
manages (transfers, closes, reopens) their own; supervisors and admins see and
manage every conversation of the site. Answering a conversation that nobody holds
takes it first, so two agents never answer the same citizen at once.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from canales.core import conversations as ops
from canales.core.contrib import ReplyOption, reply_options
from canales.core.inbox.access import Forbidden, SignedIn, can_manage, conversation_for, sees_everything
from canales.core.inbox.texts import text
from canales.core.models import Conversation, Delivery, Message
from canales.core.replies import ConversationClosed, add_note, send_reply
from canales.core.routing import NotFound
from canales.core.site import Site
from canales.core.text import MAX_TEXT, InvalidInput, clean


class ActionError(Exception):
    """The action was refused for a reason the agent can act on (shown as is)."""


def _clean_text(value: Any) -> str:
    try:
        return clean(value, "text", MAX_TEXT)
    except InvalidInput as exc:
        if exc.reason == "is empty":
            raise ActionError(text("error.empty_text")) from None
        if exc.reason.startswith("is longer"):
            raise ActionError(text("error.text_too_long", max=MAX_TEXT)) from None
        raise ActionError(text("error.invalid_text", reason=exc.reason)) from None


def choose_options(options: list[ReplyOption], chosen: dict[str, str]) -> dict[str, str]:
    """The reply options to send: each group's chosen value (which must be
    offered and available now) or else its available default."""
    groups: dict[str, list[ReplyOption]] = {}
    for option in options:
        groups.setdefault(option.name, []).append(option)
    unknown = set(chosen) - set(groups)
    if unknown:
        raise ActionError(text("error.option_unknown"))
    result: dict[str, str] = {}
    for name, group in groups.items():
        if name in chosen:
            match = next((o for o in group if o.value == chosen[name]), None)
            if match is None:
                raise ActionError(text("error.option_unknown"))
            if not match.available:
                raise ActionError(text("error.option_unavailable", label=match.label, reason=match.reason or ""))
            result[name] = match.value
        else:
            default = next((o for o in group if o.default and o.available), None)
            if default is not None:
                result[name] = default.value
    return result


async def _take_if_free(site: Site, conversation: Conversation, who: SignedIn, role: str) -> None:
    if conversation.state in ops.TAKEABLE_STATES and conversation.assignee_id is None:
        try:
            await ops.assign(site, conversation.id or 0, who.id, by=who.id, only_if_unassigned=True)
        except ops.ConversationConflict as exc:
            raise ActionError(str(exc)) from None
    elif conversation.state == "assigned" and conversation.assignee_id != who.id and not sees_everything(role):
        raise Forbidden()


async def reply(
    site: Site, who: SignedIn, role: str, conversation_id: int, body: Any, chosen: dict[str, str]
) -> Message:
    """Answer the citizen. Any refusal — ours or a channel's hook inside
    :func:`send_reply` (for example personal data in a public reply) — comes back
    as :class:`ActionError` with its message, never as a server error."""
    conversation = await conversation_for(site, conversation_id, role, who.id)
    message_text = _clean_text(body)
    if conversation.state == "closed":
        raise ActionError(text("error.closed"))
    options = choose_options(reply_options(site, conversation, who.agent), chosen)
    await _take_if_free(site, conversation, who, role)
    try:
        return await send_reply(
            site, conversation_id, message_text, author_kind="agent", agent_id=who.id, options=options or None
        )
    except (NotFound, Forbidden):
        raise
    except ConversationClosed:
        raise ActionError(text("error.closed")) from None
    except Exception as exc:  # noqa: BLE001 - every refusal is shown to the agent, see docstring
        raise ActionError(text("error.reply_refused", reason=str(exc) or type(exc).__name__)) from exc


async def note(site: Site, who: SignedIn, role: str, conversation_id: int, body: Any) -> Message:
    """Add an internal note (never delivered to the citizen)."""
    await conversation_for(site, conversation_id, role, who.id)
    return await add_note(site, conversation_id, _clean_text(body), agent_id=who.id)


async def take(site: Site, who: SignedIn, role: str, conversation_id: int) -> Conversation:
    """Take a waiting (or the bot's) conversation."""
    await conversation_for(site, conversation_id, role, who.id)
    try:
        return await ops.assign(site, conversation_id, who.id, by=who.id, only_if_unassigned=True)
    except ops.ConversationConflict as exc:
        raise ActionError(str(exc)) from None


async def _manageable(site: Site, who: SignedIn, role: str, conversation_id: int) -> Conversation:
    conversation = await conversation_for(site, conversation_id, role, who.id)
    if not can_manage(conversation, role, who.id):
        raise Forbidden()
    return conversation


async def transfer(
    site: Site,
    who: SignedIn,
    role: str,
    conversation_id: int,
    *,
    to_agent: int | None,
    to_team: str | None,
    reason: str | None,
) -> Conversation:
    """Transfer to an agent or a team (supervisors and admins: any conversation;
    agents: their own, and any waiting one)."""
    conversation = await conversation_for(site, conversation_id, role, who.id)
    if not (can_manage(conversation, role, who.id) or conversation.state in ops.WAITING_STATES):
        raise Forbidden()
    try:
        return await ops.transfer(site, conversation_id, to_agent=to_agent, to_team=to_team, reason=reason, by=who.id)
    except (ops.ConversationConflict, ValueError) as exc:
        raise ActionError(str(exc)) from None
    except NotFound as exc:
        # The conversation was checked above: what is missing is the target.
        raise ActionError(str(exc)) from None


async def release(site: Site, who: SignedIn, role: str, conversation_id: int, reason: str | None) -> Conversation:
    await _manageable(site, who, role, conversation_id)
    try:
        return await ops.release(site, conversation_id, by=who.id, reason=reason)
    except (ops.ConversationConflict, ValueError) as exc:
        raise ActionError(str(exc)) from None


async def close(site: Site, who: SignedIn, role: str, conversation_id: int) -> Conversation:
    await _manageable(site, who, role, conversation_id)
    try:
        return await ops.close(site, conversation_id, by=who.id)
    except ops.ConversationConflict as exc:
        raise ActionError(str(exc)) from None


async def reopen(site: Site, who: SignedIn, role: str, conversation_id: int) -> Conversation:
    await _manageable(site, who, role, conversation_id)
    try:
        return await ops.reopen(site, conversation_id, by=who.id)
    except ops.ConversationConflict as exc:
        raise ActionError(str(exc)) from None


async def set_labels(site: Site, who: SignedIn, role: str, conversation_id: int, labels: list[str]) -> list[str]:
    await conversation_for(site, conversation_id, role, who.id)
    try:
        return await ops.set_labels(site, conversation_id, labels)
    except ValueError as exc:
        raise ActionError(str(exc)) from None


async def retry_delivery(site: Site, who: SignedIn, role: str, delivery_id: int) -> Delivery:
    """Put a failed delivery back in the outbox (the "Reintentar" button)."""
    async with site.db.read() as session:
        delivery = (
            await session.exec(select(Delivery).where(col(Delivery.id) == delivery_id, Delivery.site_id == site.id))
        ).first()
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} not found")
    await conversation_for(site, delivery.conversation_id, role, who.id)
    assert site.outbox is not None
    if not await site.outbox.retry(site, delivery_id):
        raise ActionError(text("error.retry_failed"))
    return delivery
