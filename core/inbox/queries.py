"""The conversation list, its counts per state and the morning backlog, each in a
fixed number of queries whatever the page holds (no query per row).

States as agents see them: ``bot`` (with the bot), ``waiting`` (``new`` or
``queued``: in the queue), ``mine`` (assigned to me), ``others`` (assigned to
someone else; supervisors and admins only) and ``closed``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal
from sqlmodel import col, select

from canales.core.conversations import labels_of
from canales.core.inbox.access import sees_everything, visible_to
from canales.core.inbox.models import ConversationRead
from canales.core.models import Contact, Conversation, ConversationLabel, Message, Team
from canales.core.site import Site

PAGE_SIZE = 50
STATES = ("mine", "waiting", "bot", "others", "closed")
STATE_NAMES = {
    "mine": "Asignadas a mí",
    "waiting": "En espera",
    "bot": "Con el bot",
    "others": "Asignadas a otros",
    "closed": "Cerradas",
}
CONVERSATION_STATE_NAMES = {
    "new": "Nueva",
    "bot": "Con el bot",
    "queued": "En espera",
    "assigned": "Asignada",
    "closed": "Cerrada",
}


@dataclass(frozen=True)
class Filters:
    """What the list shows: one state tab, and optionally one channel, team and
    label (empty string: any)."""

    state: str = "mine"
    channel: str = ""
    team: str = ""
    label: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, params: Any, role: str) -> "Filters":
        """Read filters from a query string, ignoring values that are not ours."""
        state = params.get("state", "mine")
        if state not in STATES or (state == "others" and not sees_everything(role)):
            state = "mine"
        try:
            page = max(1, min(int(params.get("page", "1")), 10_000))
        except ValueError:
            page = 1
        return cls(
            state=state,
            channel=str(params.get("channel", ""))[:32],
            team=str(params.get("team", ""))[:64],
            label=str(params.get("label", ""))[:40],
            page=page,
        )

    def query(self, **changes: Any) -> str:
        """This filter set as a query string, with ``changes`` applied."""
        from urllib.parse import urlencode

        values = {"state": self.state, "channel": self.channel, "team": self.team, "label": self.label, "page": self.page}
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None, 1) or k == "state"})


@dataclass
class Row:
    """One conversation as the list shows it."""

    conversation: Conversation
    contact: Contact
    preview: str | None
    preview_author: str | None
    unread: int
    labels: list[str] = field(default_factory=list)


@dataclass
class Listing:
    rows: list[Row]
    counts: dict[str, int]
    has_more: bool
    filters: Filters


def _state_condition(state: str, agent_id: int) -> ColumnElement[bool]:
    if state == "bot":
        return col(Conversation.state) == "bot"
    if state == "waiting":
        return col(Conversation.state).in_(("new", "queued"))
    if state == "mine":
        return and_(col(Conversation.state) == "assigned", col(Conversation.assignee_id) == agent_id)
    if state == "others":
        return and_(col(Conversation.state) == "assigned", col(Conversation.assignee_id) != agent_id)
    return col(Conversation.state) == "closed"


def _filter_conditions(site: Site, filters: Filters, role: str, agent_id: int) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [col(Conversation.site_id) == site.id, visible_to(role, agent_id)]
    if filters.channel:
        where.append(col(Conversation.channel) == filters.channel)
    if filters.team == "-":
        where.append(col(Conversation.team).is_(None))
    elif filters.team:
        where.append(col(Conversation.team) == filters.team)
    if filters.label:
        where.append(
            col(Conversation.id).in_(
                select(ConversationLabel.conversation_id).where(
                    ConversationLabel.site_id == site.id, ConversationLabel.name == filters.label
                )
            )
        )
    return where


def _preview_columns(agent_id: int) -> tuple[Any, Any, Any]:
    """Correlated sub-queries: the newest message agents-and-citizen see (its text
    and author), and how many citizen messages the agent has not read."""
    newest = (
        select(Message.seq)
        .where(Message.conversation_id == Conversation.id, Message.visibility != "internal")
        .order_by(col(Message.seq).desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    preview = (
        select(Message.text)
        .where(Message.conversation_id == Conversation.id, col(Message.seq) == newest)
        .correlate(Conversation)
        .scalar_subquery()
    )
    author = (
        select(Message.author_kind)
        .where(Message.conversation_id == Conversation.id, col(Message.seq) == newest)
        .correlate(Conversation)
        .scalar_subquery()
    )
    read_upto = (
        select(ConversationRead.last_read_seq)
        .where(ConversationRead.conversation_id == Conversation.id, ConversationRead.agent_id == agent_id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    unread = (
        select(func.count())
        .select_from(Message)
        .where(
            Message.conversation_id == Conversation.id,
            Message.direction == "in",
            col(Message.seq) > func.coalesce(read_upto, 0),
        )
        .correlate(Conversation)
        .scalar_subquery()
    )
    return preview, author, unread


async def _rows(site: Site, query: Any) -> list[Row]:
    async with site.db.read() as session:
        found = (await session.exec(query)).all()
    rows = [
        Row(conversation=c, contact=contact, preview=preview, preview_author=author, unread=int(unread or 0))
        for c, contact, preview, author, unread in found
    ]
    labels = await labels_of(site, [r.conversation.id or 0 for r in rows])
    for row in rows:
        row.labels = labels.get(row.conversation.id or 0, [])
    return rows


def _row_query(agent_id: int) -> Any:
    preview, author, unread = _preview_columns(agent_id)
    return select(Conversation, Contact, preview, author, unread).join(
        Contact, col(Contact.id) == Conversation.contact_id
    )


async def counts(site: Site, filters: Filters, role: str, agent_id: int) -> dict[str, int]:
    """Conversations per state tab under the filters, in one query."""
    where = _filter_conditions(site, filters, role, agent_id)
    columns = [
        func.coalesce(func.sum(case((_state_condition(state, agent_id), 1), else_=0)), 0).label(state)
        for state in STATES
    ]
    async with site.db.read() as session:
        row = (await session.exec(select(*columns).select_from(Conversation).where(*where))).one()
    found = dict(zip(STATES, (int(v or 0) for v in row)))
    if not sees_everything(role):
        found.pop("others")
    return found


async def listing(site: Site, filters: Filters, role: str, agent_id: int) -> Listing:
    """One page of the list, with the counts per state."""
    where = _filter_conditions(site, filters, role, agent_id)
    where.append(_state_condition(filters.state, agent_id))
    # The queue is served oldest first; every other tab shows the latest activity first.
    order = (
        [col(Conversation.created_at), col(Conversation.id)]
        if filters.state == "waiting"
        else [col(Conversation.updated_at).desc(), col(Conversation.id).desc()]
    )
    query = (
        _row_query(agent_id)
        .where(*where)
        .order_by(*order)
        .offset((filters.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = await _rows(site, query)
    return Listing(
        rows=rows[:PAGE_SIZE],
        counts=await counts(site, filters, role, agent_id),
        has_more=len(rows) > PAGE_SIZE,
        filters=filters,
    )


async def unread_total(site: Site, role: str, agent_id: int) -> int:
    """Unread citizen messages over the open conversations the agent handles or
    could take (assigned to them, or waiting)."""
    read = (
        select(ConversationRead.conversation_id, ConversationRead.last_read_seq)
        .where(ConversationRead.agent_id == agent_id)
        .subquery()
    )
    query = (
        select(func.count())
        .select_from(Conversation)
        .join(Message, col(Message.conversation_id) == Conversation.id)
        .outerjoin(read, read.c.conversation_id == Conversation.id)
        .where(
            Conversation.site_id == site.id,
            (col(Conversation.assignee_id) == agent_id) & (col(Conversation.state) == "assigned")
            | col(Conversation.state).in_(("new", "queued")),
            Message.direction == "in",
            col(Message.seq) > func.coalesce(read.c.last_read_seq, 0),
        )
    )
    async with site.db.read() as session:
        return int((await session.exec(query)).one() or 0)


@dataclass(frozen=True)
class FilterChoices:
    channels: list[str]
    teams: list[tuple[str, str]]
    labels: list[str]


async def filter_choices(site: Site) -> FilterChoices:
    """The channels, teams and labels the filters can offer (three queries)."""
    async with site.db.read() as session:
        channels = (
            await session.exec(select(Conversation.channel).where(Conversation.site_id == site.id).distinct())
        ).all()
        teams = (await session.exec(select(Team.key, Team.name).where(Team.site_id == site.id).order_by(col(Team.name)))).all()
        labels = (
            await session.exec(
                select(ConversationLabel.name).where(ConversationLabel.site_id == site.id).distinct().order_by(col(ConversationLabel.name))
            )
        ).all()
        # Teams that routing rules name but no admin has created yet still filter.
        routed = (
            await session.exec(
                select(Conversation.team).where(Conversation.site_id == site.id, col(Conversation.team).is_not(None)).distinct()
            )
        ).all()
    known = {key for key, _ in teams}
    extra = [(t, t) for t in routed if t and t not in known]
    return FilterChoices(channels=sorted(channels), teams=[*teams, *sorted(extra)], labels=list(labels))


@dataclass
class Backlog:
    """What arrived while the site was closed and still awaits a first answer."""

    rows: list[Row]
    by_channel: dict[str, int]
    total: int
    closed_from: dt.datetime | None
    closed_until: dt.datetime | None
    in_last_closure: int


BACKLOG_LIMIT = 200


def _backlog_where(site: Site, role: str, agent_id: int) -> list[Any]:
    return [
        Conversation.site_id == site.id,
        col(Conversation.after_hours).is_(True),
        col(Conversation.state).in_(("new", "queued", "assigned")),
        col(Conversation.first_response_at).is_(None),
        visible_to(role, agent_id),
    ]


async def backlog(site: Site, role: str, agent_id: int) -> Backlog:
    """Open conversations that arrived out of hours and nobody answered yet,
    oldest first, with counts per channel and how many came in the last closure
    (from the previous closing to the last opening, in the site's hours)."""
    now = site.now()
    closed_from = site.hours.previous_closing(now)
    closed_until = site.hours.last_opening(now) if site.is_open(now) else None
    where = _backlog_where(site, role, agent_id)
    query = _row_query(agent_id).where(*where).order_by(col(Conversation.created_at), col(Conversation.id)).limit(BACKLOG_LIMIT)
    rows = await _rows(site, query)
    window = [col(Conversation.created_at) >= closed_from] if closed_from else [literal(True)]
    if closed_until is not None:
        window.append(col(Conversation.created_at) < closed_until)
    async with site.db.read() as session:
        per_channel = (
            await session.exec(
                select(
                    Conversation.channel,
                    func.count(),
                    func.sum(case((and_(*window), 1), else_=0)),
                )
                .where(*where)
                .group_by(col(Conversation.channel))
            )
        ).all()
    by_channel = {channel: int(n) for channel, n, _ in per_channel}
    return Backlog(
        rows=rows,
        by_channel=dict(sorted(by_channel.items())),
        total=sum(by_channel.values()),
        closed_from=closed_from,
        closed_until=closed_until,
        in_last_closure=sum(int(w or 0) for _, _, w in per_channel),
    )
