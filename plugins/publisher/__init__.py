"""Scheduled posts: plan, approve and publish 3–6 posts a week, each with a summary
and a link, once and on time.

Status: the plugin registers and validates its settings; posts, approval, the
calendar and the scheduler are built in their own issue (see CHANGELOG.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from canales.core.hookspecs import hookimpl


class PublisherSettings(BaseModel):
    """``[plugins.publisher]``: where posts may link to, and the weekly cadence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_link_domains: list[str] = Field(default_factory=lambda: ["gub.uy"], min_length=1)
    weekly_min: int = Field(default=3, ge=0)
    weekly_max: int = Field(default=6, ge=1)
    channels: list[str] = Field(default_factory=lambda: ["facebook"])


@hookimpl
def settings_model() -> type[BaseModel]:
    return PublisherSettings
