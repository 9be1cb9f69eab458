"""A test publishing channel, "pubtest": implements the publication hooks by calling
a local HTTP stand-in (:mod:`publishing_standin`) served for real, so that calls
made from several worker processes are counted in one place.

Registered with ``--plugin pubtest=fixture_plugins.publishing`` (command line) or
``from_module("pubtest", this_module)``. Setting ``PUBTEST_CRASH_AFTER_PUBLISH=1``
makes the process die right after the stand-in accepted a post and before the
publisher could record it — a real crash between the call and the state update.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from canales import DeliveryError, DeliveryOutcomeUnknown, hookimpl
from canales.core.publication import Publication, PublicationTarget, PublishResult
from canales.core.site import Site

NAME = "pubtest"


class PubTestSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    channel: str = NAME
    timeout: float = 2.0
    max_length: int = 500
    link_card: bool = True


def _settings(site: Site) -> PubTestSettings:
    return site.settings(NAME, PubTestSettings)


@hookimpl
def settings_model() -> type[BaseModel]:
    return PubTestSettings


@hookimpl
def startup(site: Site) -> None:
    settings = _settings(site)
    site.state[NAME] = httpx.AsyncClient(base_url=settings.url, timeout=settings.timeout)


@hookimpl
async def shutdown(site: Site) -> None:
    client = site.state.pop(NAME, None)
    if client is not None:
        await client.aclose()


@hookimpl
def publication_targets(site: Site) -> list[PublicationTarget]:
    settings = _settings(site)
    return [PublicationTarget(settings.channel, "Canal de prueba", settings.max_length, settings.link_card)]


def _client(site: Site) -> httpx.AsyncClient:
    return site.state[NAME]


@hookimpl
def publish_post(site: Site, channel: str, publication: Publication) -> Any:
    if channel != _settings(site).channel:
        return None

    async def call() -> PublishResult:
        body = {"key": publication.key, "message": publication.text, "link": publication.link}
        try:
            response = await _client(site).post("/posts", json=body)
        except httpx.TimeoutException as exc:
            raise DeliveryOutcomeUnknown(f"stand-in timed out: {exc!r}") from None
        except httpx.TransportError as exc:
            # The request may not have left: the stand-in is unreachable.
            raise DeliveryError(f"stand-in unreachable: {exc!r}") from None
        if response.status_code >= 500:
            raise DeliveryError(f"stand-in answered {response.status_code}")
        if response.status_code >= 400:
            error = response.json().get("error", {})
            raise DeliveryError(f"({error.get('code')}) {error.get('message')}", retry=False)
        if os.environ.get("PUBTEST_CRASH_AFTER_PUBLISH") == "1":
            os._exit(3)
        data = response.json()
        return PublishResult(external_id=data["id"], url=f"{site.settings(NAME).url}/p/{data['id']}")

    return call()


@hookimpl
def find_published_post(site: Site, channel: str, publication: Publication) -> Any:
    if channel != _settings(site).channel:
        return None

    async def find() -> PublishResult | None:
        response = await _client(site).get("/posts", params={"key": publication.key})
        response.raise_for_status()
        for post in response.json()["data"]:
            return PublishResult(external_id=post["id"])
        return None

    return find()
