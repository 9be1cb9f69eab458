"""Settings of the publisher (``[plugins.publisher]`` in a site file)."""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from canales.plugins.publisher.texts import TEXTS

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class PublisherSettings(BaseModel):
    """``[plugins.publisher]``: where posts may link to, the weekly cadence, and how
    the scheduler behaves (late posts, retries, checks of unconfirmed posts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_link_domains: list[str] = Field(default_factory=lambda: ["gub.uy"], min_length=1)
    """Domains a post may link to; each one includes its subdomains."""
    weekly_min: int = Field(default=3, ge=0)
    weekly_max: int = Field(default=6, ge=1)
    channels: list[str] = Field(default_factory=lambda: ["facebook"], min_length=1)
    """Channels a new post targets when none are given."""
    slot_times: list[str] = Field(default_factory=lambda: ["10:00", "13:00", "17:00"], min_length=1)
    """Local times of day the cadence monitor proposes for free slots (inside business hours)."""
    summary_max_length: int = Field(default=1000, ge=50, le=63206)
    min_lead_minutes: int = Field(default=5, ge=0, le=24 * 60)
    """A post cannot be scheduled less than this many minutes ahead."""
    late_window_minutes: int = Field(default=120, ge=1)
    """After downtime, a scheduled post less late than this is published; a later one
    is flagged ("missed") and not published."""
    poll_seconds: float = Field(default=2.0, gt=0, le=60)
    lease_seconds: int = Field(default=120, ge=10, le=3600)
    """How long a worker may take to publish one claimed post before it is presumed
    dead and the post is reconciled as unconfirmed."""
    max_attempts: int = Field(default=6, ge=1, le=50)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=30 * 60.0, gt=0)
    reconcile_checks: int = Field(default=5, ge=1, le=50)
    """How many times an unconfirmed post is looked for on the channel before it is
    marked failed for a person to check."""
    reconcile_delay_seconds: float = Field(default=30.0, ge=0)
    recurrence_horizon_days: int = Field(default=45, ge=1, le=400)
    """Occurrences of recurring posts are created this many days ahead, for approval."""
    batch: int = Field(default=20, ge=1, le=500)
    """How many due posts one worker claims at a time."""
    concurrency: int = Field(default=4, ge=1, le=50)
    """How many claimed posts one worker publishes at once."""
    texts: dict[str, str] = Field(default_factory=dict)

    @field_validator("allowed_link_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        cleaned = []
        for domain in domains:
            value = domain.strip().lower().rstrip(".")
            try:
                value = value.encode("idna").decode("ascii")
            except UnicodeError:
                raise ValueError(f"{domain!r} is not a domain name") from None
            if not _DOMAIN.match(value):
                raise ValueError(f"{domain!r} is not a domain name (write it like \"gub.uy\", without https://)")
            cleaned.append(value)
        return cleaned

    @field_validator("slot_times")
    @classmethod
    def _slot_times(cls, times: list[str]) -> list[str]:
        for value in times:
            if not _TIME.match(value):
                raise ValueError(f"{value!r} is not a time of day like \"10:00\"")
        return sorted(times)

    @field_validator("texts")
    @classmethod
    def _texts(cls, texts: dict[str, str]) -> dict[str, str]:
        return TEXTS.check(texts)

    @model_validator(mode="after")
    def _cadence(self) -> "PublisherSettings":
        if self.weekly_min > self.weekly_max:
            raise ValueError(f"weekly_min ({self.weekly_min}) is above weekly_max ({self.weekly_max})")
        return self

    def slots(self) -> list[dt.time]:
        """``slot_times`` as times of day."""
        return [dt.time(int(t[:2]), int(t[3:])) for t in self.slot_times]
