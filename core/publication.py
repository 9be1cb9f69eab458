"""Publication: a post (summary and link) going out through a channel that can
publish (the Facebook page; any plugin implementing ``publish_post``).

The publisher plugin plans and schedules posts; this module is the channel-neutral
contract and the one function that calls the hooks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from canales.core.site import Site, await_maybe


@dataclass(frozen=True)
class Publication:
    """What a channel needs to publish a post. ``key`` identifies the post across
    attempts (a channel may put it in metadata to find the post again)."""

    key: str
    text: str
    link: str | None = None
    scheduled_for: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PublicationTarget:
    """A channel that can publish, and its limits."""

    channel: str
    label: str
    max_length: int
    link_card: bool = True


@dataclass(frozen=True)
class PublishResult:
    """The channel's id (and, if known, public address) of a published post."""

    external_id: str
    url: str | None = None


class NoPublisher(LookupError):
    """No enabled plugin publishes on that channel."""


def targets(site: Site) -> dict[str, PublicationTarget]:
    """Every channel of the site that can publish, by name."""
    found: dict[str, PublicationTarget] = {}
    for result in site.hook.publication_targets(site=site):
        for target in result or ():
            found[target.channel] = target
    return found


async def publish(site: Site, channel: str, publication: Publication) -> PublishResult:
    """Publish through the plugin that owns ``channel``. Raises :class:`NoPublisher`,
    or whatever the channel raises (``DeliveryError``, ``DeliveryOutcomeUnknown``)."""
    result = await await_maybe(
        site.hook.publish_post(site=site, channel=channel, publication=publication)
    )
    if result is None:
        raise NoPublisher(f"no enabled plugin publishes on channel {channel!r}")
    return result


async def find_published(site: Site, channel: str, publication: Publication) -> PublishResult | None:
    """Ask the channel whether a post whose outcome was unknown is there after all."""
    return await await_maybe(
        site.hook.find_published_post(site=site, channel=channel, publication=publication)
    )
