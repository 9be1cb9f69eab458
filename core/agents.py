"""Agents and their site memberships: creating them from the command line (and,
later, from the inbox)."""

from __future__ import annotations

from sqlmodel import select

from canales.core.db import Database
from canales.core.models import Agent, Membership, SiteRow
from canales.core.passwords import hash_password

ROLES = ("admin", "supervisor", "agent")


class AgentError(ValueError):
    """The agent cannot be created or changed as asked."""


async def add_agent(
    db: Database, *, email: str, name: str, password: str, site_id: str, role: str
) -> Agent:
    """Create an agent with a role on one site, or give an existing agent (same
    e-mail) that role on another site. The site must be known to the database."""
    if role not in ROLES:
        raise AgentError(f"role must be one of {', '.join(ROLES)}")
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AgentError(f"{email!r} is not an e-mail address")
    async with db.write() as session:
        if await session.get(SiteRow, site_id) is None:
            raise AgentError(f"no site {site_id!r} in the database; start it once or run canales db upgrade")
        agent = (await session.exec(select(Agent).where(Agent.email == email))).first()
        if agent is None:
            agent = Agent(email=email, name=name, password_hash=hash_password(password))
            session.add(agent)
            await session.flush()
        membership = await session.get(Membership, (agent.id, site_id))
        if membership is None:
            session.add(Membership(agent_id=agent.id or 0, site_id=site_id, role=role))
        else:
            membership.role = role
            session.add(membership)
    return agent


async def set_password(db: Database, email: str, password: str) -> Agent:
    """Change an agent's password; every session issued before ends."""
    async with db.write() as session:
        agent = (await session.exec(select(Agent).where(Agent.email == email.strip().lower()))).first()
        if agent is None:
            raise AgentError(f"no agent {email!r}")
        agent.password_hash = hash_password(password)
        agent.session_epoch += 1
        session.add(agent)
    return agent
