"""The plain HTTP/API channel: any system (a WhatsApp gateway, an SMS gateway, a
test) posts a citizen's message to a site and receives the replies on a signed
webhook callback. It is the generic channel third-party integrations start from.

Enable it with ``[plugins.api]`` in a site file; see ``docs/api-channel.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable

from pydantic import BaseModel
from starlette.routing import BaseRoute

from canales.core.hookspecs import hookimpl
from canales.core.site import Site
from canales.core.types import DeliveryResult, OutboundDelivery
from canales.plugins.api.delivery import CHANNEL, Callbacks
from canales.plugins.api.routes import routes
from canales.plugins.api.settings import ApiSettings


@hookimpl
def settings_model() -> type[BaseModel]:
    return ApiSettings


@hookimpl
def register_routes(site: Site) -> list[BaseRoute]:
    return routes()


@hookimpl
def startup(site: Site) -> None:
    site.state[CHANNEL] = Callbacks(site.settings(CHANNEL, ApiSettings))


@hookimpl
async def shutdown(site: Site) -> None:
    callbacks = site.state.pop(CHANNEL, None)
    if callbacks is not None:
        await callbacks.close()


@hookimpl
def deliver_message(site: Site, outbound: OutboundDelivery) -> Awaitable[DeliveryResult] | None:
    if outbound.conversation.channel != CHANNEL:
        return None
    callbacks: Callbacks = site.state[CHANNEL]
    return callbacks.deliver(outbound)
