"""Agents as a site's admin manages them: create, change role, deactivate or
reactivate on the site, reset a password. Every change that affects access tells
the agent's live sockets (in any worker) to re-check their session.

A site's admin acts on that site only. Deactivating is per site (the agent's
other sites are untouched); only when no active site is left is the agent's
account itself deactivated, which ends all their sessions. A password is reset by
a site's admin only if every site the agent works on is one where that admin is
admin too — otherwise one body's admin could take over another body's access.
"""

from __future__ import annotations

import re

from sqlmodel import col, select

from canales.core import events
from canales.core.agents import ROLES
from canales.core.inbox.access import SignedIn
from canales.core.inbox.texts import text
from canales.core.models import Agent, Membership
from canales.core.passwords import generate_password, hash_password
from canales.core.routing import NotFound
from canales.core.site import Site

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """The change was refused; the message is for the admin."""


async def _membership(site: Site, agent_id: int) -> tuple[Agent, Membership]:
    async with site.db.read() as session:
        row = (
            await session.exec(
                select(Agent, Membership)
                .join(Membership, col(Membership.agent_id) == Agent.id)
                .where(Membership.site_id == site.id, Membership.agent_id == agent_id)
            )
        ).first()
    if row is None:
        raise NotFound(f"agent {agent_id} not found")
    return row[0], row[1]


async def create_agent(site: Site, *, email: str, name: str, role: str) -> tuple[Agent, str | None]:
    """Create an agent with a role on the site and return it with its first
    password (shown once). An agent that already exists (same e-mail, another
    site) only gains the role here; their password stays theirs (``None``)."""
    email = email.strip().lower()
    name = " ".join(name.split())
    if not _EMAIL.match(email) or len(email) > 254:
        raise AccountError(text("admin.bad_email", email=email[:80]))
    if not name or len(name) > 200:
        raise AccountError(text("admin.bad_name"))
    if role not in ROLES:
        raise AccountError(text("admin.bad_role"))
    password = generate_password()
    async with site.db.write() as session:
        agent = (await session.exec(select(Agent).where(Agent.email == email))).first()
        created = agent is None
        if agent is None:
            agent = Agent(email=email, name=name, password_hash=hash_password(password), created_at=site.now())
            session.add(agent)
            await session.flush()
        membership = await session.get(Membership, (agent.id, site.id))
        if membership is None:
            membership = Membership(agent_id=agent.id or 0, site_id=site.id, role=role)
        membership.role, membership.active = role, True
        session.add(membership)
        await session.flush()
        await session.refresh(agent)
    await events.access_changed(site.bus, agent.id or 0)
    return agent, password if created else None


async def _admins_left(site: Site, without: int) -> int:
    async with site.db.read() as session:
        return len(
            (
                await session.exec(
                    select(Membership.agent_id)
                    .join(Agent, col(Agent.id) == Membership.agent_id)
                    .where(
                        Membership.site_id == site.id,
                        Membership.role == "admin",
                        col(Membership.active).is_(True),
                        col(Agent.active).is_(True),
                        Membership.agent_id != without,
                    )
                )
            ).all()
        )


async def set_role(site: Site, agent_id: int, role: str) -> None:
    """Change an agent's role on the site; the site always keeps an admin."""
    if role not in ROLES:
        raise AccountError(text("admin.bad_role"))
    _, membership = await _membership(site, agent_id)
    if membership.role == "admin" and role != "admin" and not await _admins_left(site, agent_id):
        raise AccountError(text("admin.last_admin"))
    async with site.db.write() as session:
        membership.role = role
        session.add(membership)
    await events.access_changed(site.bus, agent_id)


async def set_active(site: Site, agent_id: int, active: bool, *, by: SignedIn) -> None:
    """Deactivate (or reactivate) an agent on the site (see module doc)."""
    if agent_id == by.id and not active:
        raise AccountError(text("admin.self"))
    agent, membership = await _membership(site, agent_id)
    if not active and membership.role == "admin" and not await _admins_left(site, agent_id):
        raise AccountError(text("admin.last_admin"))
    async with site.db.write() as session:
        membership.active = active
        session.add(membership)
        others = (
            await session.exec(
                select(Membership.site_id).where(
                    Membership.agent_id == agent_id, Membership.site_id != site.id, col(Membership.active).is_(True)
                )
            )
        ).all()
        fresh = await session.get(Agent, agent_id)
        assert fresh is not None
        if not active and not others and fresh.active:
            fresh.active = False
            fresh.session_epoch += 1
            session.add(fresh)
        elif active and not fresh.active:
            fresh.active = True
            session.add(fresh)
    await events.access_changed(site.bus, agent_id)


async def reset_password(site: Site, agent_id: int, *, by: SignedIn) -> str:
    """Give the agent a new random password (returned, to be shown once); every
    session of the agent ends."""
    await _membership(site, agent_id)
    async with site.db.read() as session:
        their_sites = set(
            (
                await session.exec(
                    select(Membership.site_id).where(Membership.agent_id == agent_id, col(Membership.active).is_(True))
                )
            ).all()
        )
    if any(by.roles.get(s) != "admin" for s in their_sites):
        raise AccountError(text("admin.other_sites"))
    password = generate_password()
    async with site.db.write() as session:
        agent = await session.get(Agent, agent_id)
        assert agent is not None
        agent.password_hash = hash_password(password)
        agent.session_epoch += 1
        session.add(agent)
    await events.access_changed(site.bus, agent_id)
    return password
