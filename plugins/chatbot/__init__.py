"""The chatbot: understands Spanish questions, guides flows, calls services, knows its
limits and learns from what it did not understand.

Status: the plugin registers and validates its settings; understanding, flows,
actions and the retraining inbox are built in their own issue (see CHANGELOG.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from canales.core.hookspecs import hookimpl


class ChatbotSettings(BaseModel):
    """``[plugins.chatbot]``: the site's knowledge file, the channels the bot answers
    on, and the confidence below which it does not guess."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    knowledge: str | None = Field(
        default=None, description="Path of the knowledge YAML, relative to the site file."
    )
    channels: list[str] = Field(default_factory=lambda: ["chat", "facebook", "api"])
    threshold: float = Field(default=0.5, gt=0, lt=1)


@hookimpl
def settings_model() -> type[BaseModel]:
    return ChatbotSettings
