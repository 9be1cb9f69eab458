"""Live chat answered by agents: the citizen widget, the queue and assignment.

Status: the plugin registers and validates its settings; the widget, the citizen
socket and the queue are built in their own issue (see CHANGELOG.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from canales.core.hookspecs import hookimpl


class ChatSettings(BaseModel):
    """``[plugins.chat_human]``: which web sites may embed the widget, and how many
    chats an agent takes at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (https://www.example.gub.uy) allowed to embed the widget.",
    )
    max_chats_per_agent: int = Field(default=3, ge=1, le=20)
    closed_when_no_agent: bool = Field(
        default=True,
        description="Treat the chat as closed (out of hours) when no agent is available.",
    )


@hookimpl
def settings_model() -> type[BaseModel]:
    return ChatSettings
