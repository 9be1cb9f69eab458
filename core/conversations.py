"""Operations on a conversation that people (or plugins) perform: assign, transfer to
an agent or a team, return to the queue, close, reopen, label.

The inbox calls them for agents; the live-chat plugin calls them for automatic
assignment. Each one is a conditional update (two agents taking the same
conversation at once: one wins, the other gets :class:`ConversationConflict`),
leaves an internal activity note in the thread, and tells the bus.

Permissions are the caller's business: these functions check only that every
object belongs to the site.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from canales.core import events
from canales.core.inbox.texts import text
from canales.core.models import (
    OPEN_STATES,
    Agent,
    Conversation,
    ConversationLabel,
    Membership,
    Team,
)
from canales.core.replies import add_note
from canales.core.routing import NotFound
from canales.core.site import Site

WAITING_STATES = ("new", "queued")
TAKEABLE_STATES = ("new", "queued", "bot")
MAX_LABELS = 20
MAX_REASON = 500
_LABEL = re.compile(r"^[\w][\w -]{0,39}$")


class ConversationConflict(Exception):
    """The operation cannot be done now (the conversation is closed, or someone
    else took it first). The message is meant for the agent."""


async def _agent_names(site: Site, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    async with site.db.read() as session:
        rows = (await session.exec(select(Agent.id, Agent.name).where(col(Agent.id).in_(wanted)))).all()
    return {agent_id: name for agent_id, name in rows if agent_id is not None}


async def _check_agent(site: Site, agent_id: int) -> None:
    """Raise :class:`NotFound` unless the agent is active and an active member of
    the site."""
    async with site.db.read() as session:
        row = (
            await session.exec(
                select(Membership.agent_id)
                .join(Agent, col(Agent.id) == Membership.agent_id)
                .where(
                    Membership.agent_id == agent_id,
                    Membership.site_id == site.id,
                    col(Membership.active).is_(True),
                    col(Agent.active).is_(True),
                )
            )
        ).first()
    if row is None:
        raise NotFound(text("error.no_agent"))


async def _load(site: Site, conversation_id: int) -> Conversation:
    async with site.db.read() as session:
        conversation = (
            await session.exec(
                select(Conversation).where(
                    col(Conversation.id) == conversation_id, Conversation.site_id == site.id
                )
            )
        ).first()
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


async def _update(site: Site, conversation_id: int, where: Sequence[Any], values: dict[str, Any]) -> Conversation | None:
    """Apply ``values`` if the conversation (of this site) still matches ``where``;
    return the fresh row, or ``None`` if it did not match."""
    values = {**values, "updated_at": site.now()}
    async with site.db.write() as session:
        result = await session.exec(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id, Conversation.site_id == site.id, *where)
            .values(**values)
        )
        if not result.rowcount:
            return None
        return (await session.exec(select(Conversation).where(col(Conversation.id) == conversation_id))).one()


async def _finish(site: Site, conversation: Conversation, note: str) -> Conversation:
    await add_note(site, conversation.id or 0, note, agent_id=None)
    fresh = await _load(site, conversation.id or 0)
    await events.conversation_changed(site, fresh)
    return fresh


def _with_reason(note: str, reason: str | None) -> str:
    return f"{note} {text('note.reason', reason=reason)}" if reason else note


def _clean_reason(reason: str | None) -> str | None:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ValueError(text("error.reason_too_long", max=MAX_REASON))
    return reason or None


async def assign(
    site: Site,
    conversation_id: int,
    agent_id: int,
    *,
    by: int | None = None,
    only_if_unassigned: bool = False,
) -> Conversation:
    """Give an open conversation to an agent of the site.

    With ``only_if_unassigned`` (an agent taking it from the queue, or automatic
    assignment) it succeeds only while nobody holds it; otherwise it reassigns.
    Raises :class:`NotFound` (conversation or agent not of this site) or
    :class:`ConversationConflict` (closed, or taken meanwhile).
    """
    await _check_agent(site, agent_id)
    where: list[Any] = [col(Conversation.state).in_(OPEN_STATES)]
    if only_if_unassigned:
        where += [col(Conversation.state).in_(TAKEABLE_STATES), col(Conversation.assignee_id).is_(None)]
    fresh = await _update(site, conversation_id, where, {"state": "assigned", "assignee_id": agent_id})
    if fresh is None:
        current = await _load(site, conversation_id)
        raise ConversationConflict(text("error.closed" if current.state == "closed" else "error.taken"))
    names = await _agent_names(site, (agent_id, by))
    if by == agent_id:
        note = text("note.taken", agent=names.get(agent_id, ""))
    elif by is None:
        note = text("note.assigned", agent=names.get(agent_id, ""))
    else:
        note = text("note.assigned_by", by=names.get(by, ""), agent=names.get(agent_id, ""))
    return await _finish(site, fresh, note)


async def transfer(
    site: Site,
    conversation_id: int,
    *,
    to_agent: int | None = None,
    to_team: str | None = None,
    reason: str | None = None,
    by: int | None = None,
) -> Conversation:
    """Hand an open conversation to another agent, or to a team's queue (it waits
    there, unassigned, for one of the team), recording the reason in the thread."""
    reason = _clean_reason(reason)
    if (to_agent is None) == (to_team is None):
        raise ValueError(text("error.transfer_target"))
    names = await _agent_names(site, (to_agent, by))
    by_name = names.get(by or 0, text("note.system"))
    if to_agent is not None:
        await _check_agent(site, to_agent)
        values: dict[str, Any] = {"state": "assigned", "assignee_id": to_agent}
        note = text("note.transferred_agent", by=by_name, agent=names.get(to_agent, ""))
    else:
        async with site.db.read() as session:
            team = await session.get(Team, (site.id, to_team))
        if team is None:
            raise NotFound(text("error.no_team", team=to_team))
        values = {"state": "queued", "assignee_id": None, "team": team.key}
        note = text("note.transferred_team", by=by_name, team=team.name)
    fresh = await _update(site, conversation_id, [col(Conversation.state).in_(OPEN_STATES)], values)
    if fresh is None:
        await _load(site, conversation_id)
        raise ConversationConflict(text("error.closed"))
    return await _finish(site, fresh, _with_reason(note, reason))


async def release(site: Site, conversation_id: int, *, by: int | None = None, reason: str | None = None) -> Conversation:
    """Put an open conversation back in its team's queue, unassigned."""
    reason = _clean_reason(reason)
    fresh = await _update(
        site, conversation_id, [col(Conversation.state).in_(OPEN_STATES)], {"state": "queued", "assignee_id": None}
    )
    if fresh is None:
        await _load(site, conversation_id)
        raise ConversationConflict(text("error.closed"))
    names = await _agent_names(site, (by,))
    note = text("note.released", by=names.get(by or 0, text("note.system")))
    return await _finish(site, fresh, _with_reason(note, reason))


async def close(site: Site, conversation_id: int, *, by: int | None = None) -> Conversation:
    """Close an open conversation. The citizen's next message opens a new one."""
    fresh = await _update(
        site, conversation_id, [col(Conversation.state).in_(OPEN_STATES)], {"state": "closed", "closed_at": site.now()}
    )
    if fresh is None:
        await _load(site, conversation_id)
        raise ConversationConflict(text("error.already_closed"))
    names = await _agent_names(site, (by,))
    return await _finish(site, fresh, text("note.closed", by=names.get(by or 0, text("note.system"))))


async def reopen(site: Site, conversation_id: int, *, by: int | None = None) -> Conversation:
    """Reopen a closed conversation: assigned to ``by`` when an agent reopens it,
    else back in the queue. Refused (:class:`ConversationConflict`) when the
    citizen already has another open conversation on the same channel thread."""
    if by is not None:
        await _check_agent(site, by)
    values: dict[str, Any] = {"closed_at": None}
    values.update({"state": "assigned", "assignee_id": by} if by is not None else {"state": "queued", "assignee_id": None})
    try:
        fresh = await _update(site, conversation_id, [Conversation.state == "closed"], values)
    except IntegrityError:
        current = await _load(site, conversation_id)
        async with site.db.read() as session:
            other = (
                await session.exec(
                    select(Conversation.id).where(
                        Conversation.site_id == site.id,
                        Conversation.channel == current.channel,
                        Conversation.thread_key == current.thread_key,
                        col(Conversation.state).in_(OPEN_STATES),
                    )
                )
            ).first()
        raise ConversationConflict(text("error.reopen_conflict", other=other)) from None
    if fresh is None:
        await _load(site, conversation_id)
        raise ConversationConflict(text("error.not_closed"))
    names = await _agent_names(site, (by,))
    return await _finish(site, fresh, text("note.reopened", by=names.get(by or 0, text("note.system"))))


def normalise_labels(labels: Iterable[str]) -> list[str]:
    """Trim, lower-case and de-duplicate labels; raise ``ValueError`` (with a
    message for the agent) for an invalid one or too many."""
    out: list[str] = []
    for raw in labels:
        if not isinstance(raw, str):
            raise ValueError(text("error.label", label=str(raw)[:40]))
        label = " ".join(raw.split()).lower()
        if not label:
            continue
        if not _LABEL.match(label):
            raise ValueError(text("error.label", label=label[:40]))
        if label not in out:
            out.append(label)
    if len(out) > MAX_LABELS:
        raise ValueError(text("error.too_many_labels", max=MAX_LABELS))
    return out


async def set_labels(site: Site, conversation_id: int, labels: Iterable[str]) -> list[str]:
    """Replace a conversation's labels (open or closed); return them sorted."""
    wanted = normalise_labels(labels)
    async with site.db.write() as session:
        conversation = (
            await session.exec(
                select(Conversation).where(col(Conversation.id) == conversation_id, Conversation.site_id == site.id)
            )
        ).first()
        if conversation is None:
            raise NotFound(f"conversation {conversation_id} not found")
        await session.exec(delete(ConversationLabel).where(col(ConversationLabel.conversation_id) == conversation_id))
        for name in wanted:
            session.add(ConversationLabel(conversation_id=conversation_id, name=name, site_id=site.id))
        conversation.updated_at = site.now()
        session.add(conversation)
        await session.flush()
        await session.refresh(conversation)
    await events.conversation_changed(site, conversation)
    return sorted(wanted)


async def labels_of(site: Site, conversation_ids: Iterable[int]) -> dict[int, list[str]]:
    """The labels of several conversations of the site, in one query."""
    ids = list(conversation_ids)
    found: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return found
    # By conversation id only (the primary key's index), then keep the site's: a
    # site_id condition makes SQLite scan the site's whole label index instead.
    async with site.db.read() as session:
        rows = (
            await session.exec(
                select(ConversationLabel.conversation_id, ConversationLabel.name, ConversationLabel.site_id)
                .where(col(ConversationLabel.conversation_id).in_(ids))
                .order_by(col(ConversationLabel.name))
            )
        ).all()
    for conversation_id, name, site_id in rows:
        if site_id == site.id:
            found[conversation_id].append(name)
    return found
