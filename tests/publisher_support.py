"""Shared pieces of the publisher's tests: a site with the test publishing channel,
the channel's stand-in served for real, and agents with each role."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from canales.core.plugins import from_module
from canales.plugins.publisher.drafts import Draft
from fixture_plugins import publishing
from helpers import serve
from publishing_standin import StandIn

UTC = dt.timezone.utc

SITE = """
id = "{id}"
name = "Sitio {id}"
timezone = "{tz}"

[hours]
mon = ["09:00-18:00"]
tue = ["09:00-18:00"]
wed = ["09:00-18:00"]
thu = ["09:00-18:00"]
fri = ["09:00-18:00"]

[holidays]
country = "UY"
categories = ["public"]

[plugins.pubtest]
url = "{url}"
{pubtest}

[plugins.publisher]
allowed_link_domains = ["gub.uy", "ejemplo.gub.uy"]
{publisher}
"""


def site_text(url: str, *, id: str = "pub", tz: str = "America/Montevideo", pubtest: str = "",
              publisher: str = "") -> str:
    if "channels" not in publisher:
        publisher = 'channels = ["pubtest"]\n' + publisher
    return SITE.format(id=id, tz=tz, url=url, pubtest=pubtest, publisher=publisher)


def plugins() -> dict[str, Any]:
    return {"pubtest": from_module("pubtest", publishing)}


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    """The publishing stand-in, served on a real port (``standin.url``)."""
    stand = StandIn()
    async with serve(stand.app()) as url:
        stand.url = url  # type: ignore[attr-defined]
        yield stand


@dataclass
class People:
    editor: int
    supervisor: int
    admin: int
    outsider: int


async def people(site: Any) -> People:
    """An editor (role agent), a supervisor and an admin of ``site``, and an admin of
    another site. (Rows written directly: hashing passwords is not what these
    tests are about, and it is slow.)"""
    from canales.core.models import Agent, Membership, SiteRow

    ids = {}
    async with site.db.write() as session:
        if await session.get(SiteRow, "otro") is None:
            session.add(SiteRow(id="otro", name="Otro"))
        for role, site_id in (("agent", site.id), ("supervisor", site.id), ("admin", site.id), ("outsider", "otro")):
            agent = Agent(email=f"{role}@{site.id}.gub.uy", name=role.title(), password_hash="-")
            session.add(agent)
            await session.flush()
            session.add(Membership(agent_id=agent.id, site_id=site_id, role="admin" if role == "outsider" else role))
            ids[role] = agent.id
    return People(ids["agent"], ids["supervisor"], ids["admin"], ids["outsider"])


def draft(when: str | dt.datetime, summary: str = "Abrió la inscripción a becas 2026.",
          link: str = "https://www.gub.uy/tramites/becas", category: str = "periodo_inscripcion",
          **kw: Any) -> Draft:
    return Draft(summary=summary, link=link, category=category, publish_at=when, **kw)


async def count(site: Any, model: Any, *where: Any) -> int:
    async with site.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()
