"""The channel-neutral publication contract: which channels can publish, publishing,
and finding a post whose outcome was unknown."""

from __future__ import annotations

from typing import Any

import pytest

from canales import DeliveryOutcomeUnknown, hookimpl
from canales.core.plugins import from_module
from canales.core.publication import NoPublisher, Publication, PublicationTarget, PublishResult, find_published, publish, targets


class Wall:
    """A channel that publishes on a wall it keeps in memory; it can be told that
    the next call times out after the post went up."""

    def __init__(self) -> None:
        self.posts: dict[str, Publication] = {}
        self.timeout_next = False

    @hookimpl
    def publication_targets(self, site: Any) -> list[PublicationTarget]:
        return [PublicationTarget("wall", "Muro de prueba", max_length=280)]

    @hookimpl
    def publish_post(self, site: Any, channel: str, publication: Publication) -> Any:
        if channel != "wall":
            return None

        async def post() -> PublishResult:
            self.posts[publication.key] = publication
            if self.timeout_next:
                self.timeout_next = False
                raise DeliveryOutcomeUnknown("timeout")
            return PublishResult(f"wall-{publication.key}", url=f"https://muro/{publication.key}")

        return post()

    @hookimpl
    def find_published_post(self, site: Any, channel: str, publication: Publication) -> Any:
        if channel != "wall":
            return None

        async def find() -> PublishResult | None:
            if publication.key in self.posts:
                return PublishResult(f"wall-{publication.key}")
            return None

        return find()


SITE = 'id = "uno"\nname = "Uno"\n[plugins.wall]\n'


@pytest.fixture
async def site(run_sqlite_app: Any, site_file: Any) -> Any:
    wall = Wall()
    async with run_sqlite_app(site_file(SITE), plugins={"wall": from_module("wall", wall)}, background=False) as app:
        app.site().state["wall"] = wall
        yield app.site()


async def test_hook_publication_targets(site: Any) -> None:
    assert targets(site) == {"wall": PublicationTarget("wall", "Muro de prueba", max_length=280)}


async def test_hook_publish_post(site: Any) -> None:
    result = await publish(site, "wall", Publication(key="p1", text="Inscripciones abiertas", link="https://www.gub.uy/x"))
    assert result == PublishResult("wall-p1", url="https://muro/p1")
    with pytest.raises(NoPublisher, match="no enabled plugin publishes on channel 'facebook'"):
        await publish(site, "facebook", Publication(key="p2", text="x"))


async def test_hook_find_published_post(site: Any) -> None:
    wall = site.state["wall"]
    wall.timeout_next = True
    publication = Publication(key="p3", text="Campaña de vacunación", link="https://www.gub.uy/msp")
    with pytest.raises(DeliveryOutcomeUnknown):
        await publish(site, "wall", publication)
    # Reconcile instead of posting again.
    assert await find_published(site, "wall", publication) == PublishResult("wall-p3")
    assert await find_published(site, "wall", Publication(key="never", text="x")) is None
    assert len(wall.posts) == 1
