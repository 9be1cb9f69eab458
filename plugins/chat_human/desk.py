"""The live chat of one site in this worker: its settings, abuse limits, the agents'
display names, the widget's bytes, and the sockets open now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from canales.core.site import Site
from canales.plugins.chat_human.availability import ChatStatus, current_status, status_payload
from canales.plugins.chat_human.history import AgentNames
from canales.plugins.chat_human.limits import SiteLimits
from canales.plugins.chat_human.settings import ChatSettings
from canales.plugins.chat_human.texts import TEXTS

if TYPE_CHECKING:  # pragma: no cover
    from canales.plugins.chat_human.socket import CitizenSocket
    from canales.plugins.chat_human.widget import WidgetFile

NAME = "chat_human"
CHANNEL = "chat"


def session_channel(session_id: int) -> str:
    """Bus channel of one chat session before its first message: tells the
    session's other tabs that the conversation now exists."""
    return f"chat-session:{session_id}"


class ChatDesk:
    """Per-site, per-worker state of the live chat (``site.state["chat_human"]``)."""

    def __init__(self, site: Site, settings: ChatSettings) -> None:
        self.site = site
        self.settings = settings
        self.limits = SiteLimits(settings.limits)
        self.names = AgentNames(site, settings.agent_name)
        self.sockets: set["CitizenSocket"] = set()
        self.widget: "WidgetFile | None" = None

    def origin_allowed(self, origin: str | None) -> bool:
        """Browsers always send ``Origin`` on a WebSocket handshake: it must be one of
        ``allowed_origins``. Native apps send none; ``allow_missing_origin`` decides."""
        if origin is None:
            return self.settings.allow_missing_origin
        return origin.strip().lower().rstrip("/") in self.settings.allowed_origins

    def status(self) -> ChatStatus:
        """Whether the chat is attended now."""
        return current_status(self.site, self.settings, self.site.now())

    def status_payload(self, status: ChatStatus | None = None) -> dict[str, Any]:
        """The protocol's ``status`` object for ``status`` (now, if not given)."""
        return status_payload(self.site, self.settings, status or self.status(), self.site.now())

    def text(self, key: str, **params: Any) -> str:
        """The site's wording of text ``key``, placeholders filled in."""
        return TEXTS.render(self.settings.texts, key, **params)


def desk_of(site: Site) -> ChatDesk:
    """The site's chat desk in this worker (made by the ``startup`` hook)."""
    desk: ChatDesk = site.state[NAME]
    return desk
