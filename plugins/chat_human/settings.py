"""Settings of the live chat (``[plugins.chat_human]`` in a site file)."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from canales.plugins.chat_human.texts import TEXTS

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# WCAG 2.1 AA for normal text (1.4.3): white text on the accent colour, and the accent
# colour as text on white, must both reach it.
MIN_CONTRAST = 4.5


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FieldRule = Literal["off", "optional", "required"]


class Prechat(_Strict):
    """The optional form shown before the first message. Each field is ``off``,
    ``optional`` or ``required``; ``topics`` turns the topic into a list to pick from
    (free text when empty). The server validates what the widget sends."""

    enabled: bool = False
    name: FieldRule = "required"
    email: FieldRule = "optional"
    topic: FieldRule = "off"
    topics: list[str] = Field(default_factory=list, max_length=30)

    @field_validator("topics")
    @classmethod
    def _topics(cls, topics: list[str]) -> list[str]:
        cleaned = [t.strip() for t in topics]
        if any(not t or len(t) > 80 for t in cleaned):
            raise ValueError("each topic is a non-empty text of at most 80 characters")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("topics repeat")
        return cleaned


class Limits(_Strict):
    """Abuse limits, kept per worker process (see docs/live-chat.md). Rates are
    token buckets: ``*_per_minute`` refills, ``*_burst`` is the bucket's size."""

    messages_per_minute: float = Field(default=20, gt=0, le=600)
    message_burst: int = Field(default=8, ge=1, le=100)
    ip_messages_per_minute: float = Field(default=120, gt=0, le=6000)
    ip_message_burst: int = Field(default=40, ge=1, le=1000)
    starts_per_hour_per_ip: float = Field(default=30, gt=0, le=10000)
    start_burst: int = Field(default=10, ge=1, le=1000)
    frames_per_second: float = Field(default=10, gt=0, le=100)
    frame_burst: int = Field(default=40, ge=1, le=1000)
    max_sockets_per_ip: int = Field(default=20, ge=1, le=10000)


class ChatSettings(_Strict):
    """``[plugins.chat_human]``: which web sites may embed the widget, how it looks
    and what it asks, heartbeats and abuse limits, and the texts it shows."""

    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (https://www.example.gub.uy) allowed to embed the widget.",
    )
    allow_missing_origin: bool = Field(
        default=True,
        description="Accept sockets without an Origin header (native mobile apps; browsers always send one).",
    )
    max_chats_per_agent: int = Field(default=3, ge=1, le=20)
    closed_when_no_agent: bool = Field(
        default=True,
        description="Treat the chat as closed (out of hours) when no agent is available.",
    )
    accent_color: str = Field(default="#0b5cad", description="Launcher and button colour, #rrggbb.")
    position: Literal["right", "left"] = "right"
    agent_name: Literal["first", "full"] = Field(
        default="first", description="Show agents to citizens by first name only, or full name."
    )
    privacy_url: HttpUrl | None = Field(default=None, description="The organism's full privacy policy.")
    prechat: Prechat = Field(default_factory=Prechat)
    demo_page: bool = Field(
        default=False, description="Serve a page that embeds the widget at /s/{site}/chat/ (to try it)."
    )
    heartbeat_interval: float = Field(default=25.0, ge=0.5, le=300)
    heartbeat_timeout: float = Field(default=10.0, ge=0.5, le=120)
    limits: Limits = Field(default_factory=Limits)
    texts: dict[str, str] = Field(default_factory=dict)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        out = []
        for origin in origins:
            parts = urlsplit(origin.strip())
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
                or parts.username
            ):
                raise ValueError(
                    f"{origin!r} is not an origin; write scheme and host only, such as "
                    f'"https://www.example.gub.uy" (no path, no "*")'
                )
            out.append(f"{parts.scheme}://{parts.netloc.lower()}")
        return out

    @field_validator("accent_color")
    @classmethod
    def _contrast(cls, color: str) -> str:
        if not _COLOR.match(color):
            raise ValueError(f"{color!r} is not a colour like \"#0b5cad\"")
        ratio = contrast(color, "#ffffff")
        if ratio < MIN_CONTRAST:
            raise ValueError(
                f"{color} on white has a contrast of {ratio:.2f}:1; WCAG 2.1 AA needs "
                f"{MIN_CONTRAST}:1 — choose a darker colour"
            )
        return color.lower()

    @field_validator("texts")
    @classmethod
    def _texts(cls, texts: dict[str, str]) -> dict[str, str]:
        return TEXTS.check(texts)

    @model_validator(mode="after")
    def _heartbeat(self) -> "ChatSettings":
        if self.heartbeat_timeout > self.heartbeat_interval * 2:
            raise ValueError("heartbeat_timeout must not exceed twice heartbeat_interval")
        return self


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
