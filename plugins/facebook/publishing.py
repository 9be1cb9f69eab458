"""Publishing posts on the page feed (the publication hooks): ``POST /{page}/feed``
with the summary and its link. Meta answers 506 to a duplicate post and 1609005 when
it cannot use the link: neither is retried. A timeout is an unknown outcome, which
the publisher reconciles by reading the feed back (:meth:`Publishing.find`), never by
posting again."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from canales.core.publication import Publication, PublicationTarget, PublishResult
from canales.core.site import Site
from canales.plugins.facebook.inbound import record_object
from canales.plugins.facebook.models import FacebookObject

CHANNEL = "facebook"
# Meta's limit for a page post's text.
MAX_POST_LENGTH = 63206


def target() -> PublicationTarget:
    return PublicationTarget(CHANNEL, "Página de Facebook", MAX_POST_LENGTH, link_card=True)


def post_url(post_id: str) -> str:
    page, _, post = post_id.partition("_")
    return f"https://www.facebook.com/{page}/posts/{post}" if post else f"https://www.facebook.com/{post_id}"


class Publishing:
    def __init__(self, site: Site, runtime: Any) -> None:
        self.site = site
        self.runtime = runtime

    async def publish(self, publication: Publication) -> PublishResult:
        """Post ``publication`` (message and link); return the post's id."""
        body: dict[str, Any] = {"message": publication.text}
        if publication.link:
            body["link"] = publication.link
        result = await self.runtime.graph.send(f"/{self.runtime.settings.page_id}/feed", body)
        post_id = str(result["id"])
        await record_object(self.site, "post", post_id, publication.key)
        return PublishResult(external_id=post_id, url=post_url(post_id))

    async def find(self, publication: Publication) -> PublishResult | None:
        """The post made for ``publication``, if it is on the page (read back from
        the feed: the same text and link)."""
        async with self.site.db.read() as session:
            known = (
                await session.exec(
                    select(FacebookObject.external_id).where(
                        FacebookObject.site_id == self.site.id, FacebookObject.kind == "post", FacebookObject.delivery_key == publication.key
                    )
                )
            ).first()
        if known is not None:
            return PublishResult(external_id=known, url=post_url(known))
        feed = await self.runtime.graph.read(
            f"/{self.runtime.settings.page_id}/feed", {"fields": "id,message,link,created_time", "limit": 25}
        )
        for post in feed.get("data", []) if isinstance(feed, dict) else []:
            if post.get("message") == publication.text and (post.get("link") or None) == (publication.link or None):
                post_id = str(post["id"])
                await record_object(self.site, "post", post_id, publication.key)
                return PublishResult(external_id=post_id, url=post_url(post_id))
        return None
