"""Scheduled posts: plan, approve and publish 3–6 posts a week, each with a summary
and a link, once and on time, through any channel that can publish (the Facebook
page; any plugin implementing the publication hooks).

See ``docs/publisher.md``: the workflow, roles, the CSV plan, the settings and the
exactly-once design.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from canales.core.hookspecs import hookimpl
from canales.core.site import Site
from canales.core.types import PeriodicJob
from canales.plugins.publisher import models  # noqa: F401 - registers the tables
from canales.plugins.publisher.settings import PublisherSettings

__all__ = ["PublisherSettings"]


@hookimpl
def settings_model() -> type[BaseModel]:
    return PublisherSettings


@hookimpl
def migrations_path() -> Path:
    return Path(__file__).parent / "migrations"


@hookimpl
def periodic_jobs(site: Site) -> list[PeriodicJob]:
    from canales.plugins.publisher import recurrence, scheduler

    settings = site.settings("publisher", PublisherSettings)
    return [
        PeriodicJob("publisher-due-posts", settings.poll_seconds, lambda: scheduler.run_once(site)),
        PeriodicJob("publisher-recurrences", 600.0, lambda: recurrence.generate(site)),
    ]


@hookimpl
def register_commands(subparsers: Any) -> None:
    from canales.plugins.publisher.cli import add_commands

    add_commands(subparsers)
