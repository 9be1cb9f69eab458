"""Whether the chat is attended now, and what to tell the citizen when it is not:
when it opens next (in Spanish, in the site's time zone) and the site's other
channels."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from canales.core.site import Site
from canales.plugins.chat_human.settings import ChatSettings
from canales.plugins.chat_human.texts import TEXTS

WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "setiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip


def is_any_agent_available(site: Site) -> bool:
    """Whether some agent of ``site`` is online and has set themselves available.

    Always true for now: agents' presence and availability belong to the inbox.
    Wiring it (with the queue and assignment work) means asking
    ``core.presence.available_agents(site)`` — an agent with a live inbox
    connection, an active member, "disponible" on this site — cached a few seconds
    per worker, so that ``closed_when_no_agent`` takes effect. Until then that
    setting changes nothing.
    """
    return True


def spanish_moment(at: dt.datetime, now: dt.datetime, tz: ZoneInfo) -> str:
    """``at`` as a citizen reads it: "hoy a las 14:00", "mañana martes 2 de
    diciembre a las 8:00", "el lunes 1 de diciembre a las 8:00" (with the year when
    it is not this year's), in ``tz``."""
    local = at.astimezone(tz)
    today = now.astimezone(tz).date()
    article = "a la" if local.hour == 1 else "a las"
    clock = f"{article} {local.hour}:{local.minute:02d}"
    if local.date() == today:
        return f"hoy {clock}"
    day = f"{WEEKDAYS[local.weekday()]} {local.day} de {MONTHS[local.month - 1]}"
    if local.year != today.year:
        day += f" de {local.year}"
    if local.date() == today + dt.timedelta(days=1):
        return f"mañana {day} {clock}"
    return f"el {day} {clock}"


@dataclass(frozen=True)
class ChatStatus:
    """``open``, or closed for a ``reason`` (``"hours"`` or ``"no_agent"``) with the
    next opening when the calendar knows it."""

    open: bool
    reason: str | None = None
    next_opening: dt.datetime | None = None


def current_status(site: Site, settings: ChatSettings, now: dt.datetime) -> ChatStatus:
    """Closed outside business hours (holidays and closures included) and, with
    ``closed_when_no_agent``, when nobody is available; open otherwise."""
    if not site.hours.is_open(now):
        return ChatStatus(False, "hours", site.hours.next_opening(now))
    if settings.closed_when_no_agent and not is_any_agent_available(site):
        return ChatStatus(False, "no_agent")
    return ChatStatus(True)


def status_payload(site: Site, settings: ChatSettings, status: ChatStatus, now: dt.datetime) -> dict[str, Any]:
    """The ``status`` object of the protocol: state, Spanish explanation, and the
    other channels when closed."""
    texts = settings.texts
    if status.open:
        return {"open": True, "reason": None, "message": TEXTS.render(texts, "status.open")}
    when = spanish_moment(status.next_opening, now, site.config.tz) if status.next_opening else None
    if status.reason == "no_agent":
        message = TEXTS.render(texts, "status.no_agent")
    elif when:
        message = TEXTS.render(texts, "status.closed_hours", when=when)
    else:
        message = TEXTS.render(texts, "status.closed_no_opening")
    return {
        "open": False,
        "reason": status.reason,
        "next_opening": status.next_opening.isoformat() if status.next_opening else None,
        "when": when,
        "message": message,
        "alternatives": alternatives(site, settings),
    }


def alternatives(site: Site, settings: ChatSettings) -> list[dict[str, str | None]]:
    """The site's other channels (``[contact]`` of the site file) and the chatbot
    when the site enables it."""
    contact = site.config.contact
    texts = settings.texts
    out: list[dict[str, str | None]] = []
    if contact.phone:
        digits = re.sub(r"[^0-9+]", "", contact.phone)
        out.append(
            {
                "kind": "phone",
                "label": TEXTS.render(texts, "alt.phone"),
                "value": contact.phone,
                "detail": contact.phone_hours,
                "href": f"tel:{digits}" if digits else None,
            }
        )
    if contact.email:
        out.append(
            {
                "kind": "email",
                "label": TEXTS.render(texts, "alt.email"),
                "value": contact.email,
                "detail": None,
                "href": f"mailto:{contact.email}",
            }
        )
    if contact.web and contact.web.startswith(("https://", "http://")):
        out.append(
            {"kind": "web", "label": TEXTS.render(texts, "alt.web"), "value": contact.web, "detail": None, "href": contact.web}
        )
    if contact.address:
        out.append(
            {"kind": "address", "label": TEXTS.render(texts, "alt.address"), "value": contact.address, "detail": None, "href": None}
        )
    if site.has_plugin("chatbot"):
        out.append(
            {
                "kind": "chatbot",
                "label": TEXTS.render(texts, "alt.chatbot"),
                "value": TEXTS.render(texts, "alt.chatbot_detail"),
                "detail": None,
                "href": None,
            }
        )
    return out
