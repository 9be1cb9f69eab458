"""Who is using the inbox, on which sites, with which role, and what they may see.

Every inbox request starts here: :func:`signed_in` (a browser session) or
:func:`api_caller` (an API token or a session) finds the agent; :func:`site_for`
gives the site of the URL only if the agent is an active member of it — any other
site is "not found", exactly like a site that does not exist.

Roles per site: ``admin`` (everything, plus agents, teams, canned answers, tokens,
the site's settings), ``supervisor`` (every conversation of the site, reassigning,
reports) and ``agent`` (the queue, the bot's conversations and their own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, or_, true
from sqlmodel import col, select
from starlette.requests import HTTPConnection

from canales.core.inbox import sessions
from canales.core.inbox.tokens import authenticate
from canales.core.models import Conversation, Membership
from canales.core.routing import NotFound

if TYPE_CHECKING:  # pragma: no cover
    from canales.core.models import Agent
    from canales.core.runtime import Canales
    from canales.core.site import Site

ROLES = ("admin", "supervisor", "agent")
ROLE_NAMES = {"admin": "Administración", "supervisor": "Supervisión", "agent": "Agente"}
OPEN_TO_EVERY_AGENT = ("new", "queued", "bot")
SIGNED_IN_KEY = "canales.inbox.signed_in"


class LoginRequired(Exception):
    """No valid session (or token) came with the request."""


class Forbidden(Exception):
    """The agent's role on the site does not allow the action."""


@dataclass
class SignedIn:
    """The agent behind a request: their active roles per site (only sites this
    process serves), and how they authenticated."""

    agent: "Agent"
    roles: dict[str, str]
    session_id: int | None = None
    token_id: int | None = None
    csrf: str = ""

    @property
    def id(self) -> int:
        return self.agent.id or 0

    def role_on(self, site_id: str) -> str:
        """The agent's role on ``site_id``; :class:`NotFound` if none."""
        role = self.roles.get(site_id)
        if role is None:
            raise NotFound(f"site {site_id!r} not found")
        return role


def canales_of(conn: HTTPConnection) -> "Canales":
    return conn.app.state.canales


def session_cookie_name(conn: HTTPConnection) -> str:
    return sessions.SECURE_COOKIE if conn.url.scheme in ("https", "wss") else sessions.COOKIE


def prelogin_cookie_name(conn: HTTPConnection) -> str:
    return sessions.SECURE_PRELOGIN_COOKIE if conn.url.scheme in ("https", "wss") else sessions.PRELOGIN_COOKIE


def csrf_secrets(conn: HTTPConnection) -> list[str]:
    """The cookie values a request's CSRF token may be derived from: the
    session's, and the pre-login cookie's (the login form; a stale session cookie
    must not make logging in impossible)."""
    values = [conn.cookies.get(session_cookie_name(conn)), conn.cookies.get(prelogin_cookie_name(conn))]
    return [v for v in values if v]


async def _roles(canales: "Canales", agent_id: int) -> dict[str, str]:
    async with canales.db.read() as session:
        rows = (
            await session.exec(
                select(Membership.site_id, Membership.role).where(
                    Membership.agent_id == agent_id, col(Membership.active).is_(True)
                )
            )
        ).all()
    return {site_id: role for site_id, role in rows if site_id in canales.sites}


def _now(canales: "Canales") -> Any:
    return next(iter(canales.sites.values())).now()


async def signed_in(conn: HTTPConnection) -> SignedIn:
    """The agent of the request's session cookie; :class:`LoginRequired` if none."""
    cached = conn.scope.get(SIGNED_IN_KEY)
    if cached is not None:
        return cached
    canales = canales_of(conn)
    token = conn.cookies.get(session_cookie_name(conn))
    active = await sessions.find_session(canales.db, token, _now(canales))
    if active is None or token is None:
        raise LoginRequired()
    who = SignedIn(
        agent=active.agent,
        roles=await _roles(canales, active.agent.id or 0),
        session_id=active.session.id,
        csrf=sessions.csrf_for(token),
    )
    conn.scope[SIGNED_IN_KEY] = who
    return who


async def api_caller(conn: HTTPConnection) -> SignedIn:
    """The agent behind a JSON API call: ``Authorization: Bearer <token>`` (one
    site, the agent's role there) or else the browser session."""
    authorization = conn.headers.get("authorization", "")
    if not authorization:
        return await signed_in(conn)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise LoginRequired()
    canales = canales_of(conn)
    access = await authenticate(canales.db, token.strip(), _now(canales))
    if access is None or access.token.site_id not in canales.sites:
        raise LoginRequired()
    who = SignedIn(agent=access.agent, roles={access.token.site_id: access.role}, token_id=access.token.id)
    conn.scope[SIGNED_IN_KEY] = who
    return who


def site_for(conn: HTTPConnection, who: SignedIn) -> tuple["Site", str]:
    """The site named in the URL and the agent's role on it; :class:`NotFound`
    for a site the agent is not an active member of (or that does not exist)."""
    site_id = conn.path_params.get("site_id", "")
    role = who.role_on(site_id)
    return canales_of(conn).sites[site_id], role


def require(role: str, *allowed: str) -> None:
    """Raise :class:`Forbidden` unless ``role`` is one of ``allowed``."""
    if role not in allowed:
        raise Forbidden()


def sees_everything(role: str) -> bool:
    return role in ("admin", "supervisor")


def visible_to(role: str, agent_id: int) -> ColumnElement[bool]:
    """SQL condition: the conversations an agent with ``role`` may see."""
    if sees_everything(role):
        return true()
    return or_(col(Conversation.state).in_(OPEN_TO_EVERY_AGENT), col(Conversation.assignee_id) == agent_id)


def can_see(conversation: Conversation, role: str, agent_id: int) -> bool:
    """Python twin of :func:`visible_to`, for one loaded conversation."""
    return sees_everything(role) or conversation.state in OPEN_TO_EVERY_AGENT or conversation.assignee_id == agent_id


def can_manage(conversation: Conversation, role: str, agent_id: int) -> bool:
    """Whether the agent may transfer, release, close or reopen it: supervisors
    and admins any, an agent their own."""
    return sees_everything(role) or conversation.assignee_id == agent_id


async def conversation_for(site: "Site", conversation_id: int, role: str, agent_id: int) -> Conversation:
    """A conversation of the site that the agent may see; :class:`NotFound`
    otherwise (whether it is another site's, someone else's or absent)."""
    async with site.db.read() as session:
        conversation = (
            await session.exec(
                select(Conversation).where(col(Conversation.id) == conversation_id, Conversation.site_id == site.id)
            )
        ).first()
    if conversation is None or not can_see(conversation, role, agent_id):
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation
