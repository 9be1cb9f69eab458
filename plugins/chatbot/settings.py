"""Settings of the chatbot (``[plugins.chatbot]`` in a site file)."""

from __future__ import annotations

import ipaddress

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from canales.core.siteconfig import Secret
from canales.plugins.chatbot.texts import TEXTS

CHANNEL = "bot"


class ChatbotSettings(BaseModel):
    """Where the bot answers, what it knows, when it does not guess, and what it may
    call. See ``docs/chatbot.md``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    knowledge: str | None = Field(
        default=None, description="Path of the knowledge YAML, relative to the site file."
    )
    channels: list[str] = Field(
        default_factory=lambda: ["chat", "facebook", "api"],
        description="Channels whose new conversations go to the bot first.",
    )
    threshold: float = Field(default=0.5, gt=0, lt=1, description="Below this confidence the bot does not answer.")
    ambiguity_margin: float = Field(
        default=0.1, ge=0, lt=1, description="When the best two intents are closer than this, the bot asks which one."
    )
    clarify_floor: float = Field(
        default=0.25, gt=0, lt=1, description="Below this confidence the bot does not even offer a guess."
    )
    handoff: bool = Field(
        default=True, description="Hand conversations the bot cannot help with to the agents (in business hours)."
    )
    handoff_after_misses: int = Field(
        default=1, ge=1, le=5, description="Consecutive questions not understood before handing off."
    )
    feedback: bool = Field(default=True, description="Offer 👍/👎 buttons under answers.")
    max_question_chars: int = Field(default=600, ge=50, le=4096)
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Hosts actions may call (exact names, no wildcards)."
    )
    allow_loopback_hosts: list[str] = Field(
        default_factory=list,
        description="FOR TESTS AND LOCAL DEVELOPMENT ONLY: allowed hosts that may resolve to a loopback address.",
    )
    secrets: dict[str, Secret] = Field(
        default_factory=dict, description="Secrets actions may use in headers, by name: { env = \"NAME\" }."
    )
    endpoint: bool = Field(
        default=False,
        description="Serve the bot's own minimal JSON endpoint at /s/{site}/bot/messages (channel \"bot\").",
    )
    texts: dict[str, str] = Field(default_factory=dict)

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: dict[str, str]) -> dict[str, str]:
        return TEXTS.check(value)

    @field_validator("allowed_hosts", "allow_loopback_hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        out = []
        for host in hosts:
            clean = host.strip().lower().rstrip(".")
            bare = clean[1:-1] if clean.startswith("[") and clean.endswith("]") else clean
            if not bare or any(c in bare for c in "/*@ ?#") or (":" in bare and not _is_ip(bare)):
                raise ValueError(
                    f"{host!r} is not a host name (write api.example.gub.uy: no scheme, port, path or wildcard)"
                )
            out.append(bare)
        return out

    @field_validator("channels")
    @classmethod
    def _channels(cls, channels: list[str]) -> list[str]:
        for channel in channels:
            if not channel or len(channel) > 32:
                raise ValueError(f"{channel!r} is not a channel name")
        return channels

    @model_validator(mode="after")
    def _consistent(self) -> "ChatbotSettings":
        if self.clarify_floor > self.threshold:
            raise ValueError("clarify_floor must not be above threshold")
        stray = set(self.allow_loopback_hosts) - set(self.allowed_hosts)
        if stray:
            raise ValueError(f"allow_loopback_hosts lists hosts that are not in allowed_hosts: {', '.join(sorted(stray))}")
        if self.endpoint and CHANNEL not in self.channels:
            raise ValueError(f'the bot\'s endpoint is channel "{CHANNEL}": add it to channels')
        return self

    @model_validator(mode="after")
    def _knowledge_loads(self, info: ValidationInfo) -> "ChatbotSettings":
        """Read the knowledge file now, so that `canales check` reports its
        problems (file and line) as start-up would."""
        site_file = (info.context or {}).get("site_file")
        if self.knowledge is None or site_file is None:
            return self
        from canales.plugins.chatbot.knowledge import KnowledgeError, load_knowledge

        path = Path(self.knowledge)
        if not path.is_absolute():
            path = Path(site_file).parent / path
        try:
            load_knowledge(path, allowed_hosts=self.allowed_hosts, secret_names=self.secrets)
        except KnowledgeError as exc:
            raise ValueError("the knowledge file has problems:\n" + "\n".join(exc.problems)) from None
        return self


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
