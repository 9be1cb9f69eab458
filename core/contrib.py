"""What plugins contribute to the agents' inbox, gathered from the inbox hooks.

The inbox knows no channel by name: a Facebook conversation shows its messaging
window because the Facebook plugin returns a :class:`Panel` for it, and offers
"reply privately" because it returns a :class:`ReplyOption`.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from canales.core.models import Agent, Conversation
from canales.core.site import Site


@dataclass(frozen=True)
class Panel:
    """A titled block beside a conversation. ``html`` is trusted markup the plugin
    rendered itself (escape citizen text in it); ``level`` is ``info``, ``warning``
    or ``error``."""

    title: str
    html: Markup
    plugin: str = ""
    level: str = "info"


@dataclass(frozen=True)
class ReplyOption:
    """A way to answer: ``value`` goes back to the channel in the reply's
    ``options`` (for example ``{"reply": "private"}``). ``available`` is false, with
    ``reason``, when it cannot be used now (a closed messaging window)."""

    name: str
    value: str
    label: str
    available: bool = True
    reason: str | None = None
    default: bool = False


@dataclass(frozen=True)
class MenuLink:
    """A link in the inbox's menu, usually to a page the plugin serves with
    ``register_inbox_routes``. ``roles`` limits who sees it (site roles:
    ``admin``, ``supervisor``, ``agent``); ``badge`` is a short count or status."""

    label: str
    href: str
    plugin: str = ""
    roles: tuple[str, ...] = ("admin", "supervisor", "agent")
    badge: str | None = None


def panels(site: Site, conversation: Conversation, agent: Agent) -> list[Panel]:
    """Every plugin's panels for one conversation, in plugin order."""
    out: list[Panel] = []
    for result in site.hook.inbox_panels(site=site, conversation=conversation, agent=agent):
        out.extend(result or ())
    return out


def reply_options(site: Site, conversation: Conversation, agent: Agent) -> list[ReplyOption]:
    """Every plugin's reply options for one conversation."""
    out: list[ReplyOption] = []
    for result in site.hook.reply_options(site=site, conversation=conversation, agent=agent):
        out.extend(result or ())
    return out


def menu_links(site: Site, agent: Agent, role: str) -> list[MenuLink]:
    """Every plugin's menu links for an agent with ``role`` on the site."""
    out: list[MenuLink] = []
    for result in site.hook.inbox_menu(site=site, agent=agent):
        out.extend(link for link in result or () if role in link.roles)
    return out
