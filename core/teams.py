"""Teams (areas) of a site: created by the site's admin, named by routing rules
(``Routing(team=…)``), and the target of transfers; their members are the agents
who answer for them."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import delete, update
from sqlmodel import col, select

from canales.core.inbox.texts import text
from canales.core.models import Conversation, Membership, Team, TeamMember
from canales.core.routing import NotFound
from canales.core.site import Site

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


async def save_team(site: Site, key: str, name: str) -> Team:
    """Create a team, or rename it. Raises ``ValueError`` for a bad key or name."""
    key = key.strip().lower()
    name = " ".join(name.split())
    if not _KEY.match(key) or not name or len(name) > 200:
        raise ValueError(text("admin.bad_team"))
    async with site.db.write() as session:
        team = await session.get(Team, (site.id, key))
        if team is None:
            team = Team(site_id=site.id, key=key, name=name)
        team.name = name
        session.add(team)
    return team


async def remove_team(site: Site, key: str) -> None:
    """Delete a team and its memberships; its conversations keep waiting, in the
    site's general queue."""
    async with site.db.write() as session:
        if await session.get(Team, (site.id, key)) is None:
            raise NotFound(f"team {key!r} not found")
        await session.exec(delete(TeamMember).where(TeamMember.site_id == site.id, TeamMember.team == key))
        await session.exec(
            update(Conversation).where(Conversation.site_id == site.id, Conversation.team == key).values(team=None)
        )
        await session.exec(delete(Team).where(Team.site_id == site.id, Team.key == key))


async def set_members(site: Site, key: str, agent_ids: Iterable[int]) -> None:
    """Make exactly ``agent_ids`` (agents of the site) the team's members."""
    wanted = set(agent_ids)
    async with site.db.write() as session:
        if await session.get(Team, (site.id, key)) is None:
            raise NotFound(f"team {key!r} not found")
        members = set(
            (
                await session.exec(
                    select(Membership.agent_id).where(Membership.site_id == site.id, col(Membership.agent_id).in_(wanted))
                )
            ).all()
        )
        await session.exec(delete(TeamMember).where(TeamMember.site_id == site.id, TeamMember.team == key))
        for agent_id in sorted(members):
            session.add(TeamMember(site_id=site.id, team=key, agent_id=agent_id))


async def teams_with_members(site: Site) -> list[tuple[Team, set[int]]]:
    """The site's teams, by name, each with its members' ids (two queries)."""
    async with site.db.read() as session:
        teams = (await session.exec(select(Team).where(Team.site_id == site.id).order_by(col(Team.name)))).all()
        rows = (await session.exec(select(TeamMember.team, TeamMember.agent_id).where(TeamMember.site_id == site.id))).all()
    members: dict[str, set[int]] = {}
    for team, agent_id in rows:
        members.setdefault(team, set()).add(agent_id)
    return [(team, members.get(team.key, set())) for team in teams]
