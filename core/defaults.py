"""Core's own hook implementations: the defaults every site has.

They are ``trylast``, so that any plugin's answer comes first.
"""

from __future__ import annotations

from canales.core.hookspecs import hookimpl
from canales.core.inbox import housekeeping
from canales.core import retention
from canales.core.intake import process_unhandled
from canales.core.models import Conversation, Message
from canales.core.site import Site
from canales.core.types import Handoff, PeriodicJob, Routing


@hookimpl(trylast=True)
def route_conversation(
    site: Site, conversation: Conversation, message: Message, handoff: Handoff | None
) -> Routing:
    """Without a routing plugin, every conversation waits for the agents."""
    return Routing(to="queue", rule="default")


@hookimpl(trylast=True)
def periodic_jobs(site: Site) -> list[PeriodicJob]:
    """Pick up citizen messages stored but never handled (a crash in between),
    tidy the inbox's tables (ended sessions, old login failures, dead sockets), and,
    when the site sets a retention period, anonymise or delete what is past it."""
    jobs = [
        PeriodicJob("unhandled-messages", 15.0, lambda: process_unhandled(site)),
        PeriodicJob("inbox-housekeeping", housekeeping.INTERVAL, lambda: housekeeping.tidy(site)),
    ]
    if site.config.privacy.retention_days is not None:
        jobs.append(PeriodicJob("retention", 3600.0, lambda: retention.expire(site)))
    return jobs
