"""Settings of the API channel (``[plugins.api]`` in a site file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from canales.core.siteconfig import Secret


class ApiSettings(BaseModel):
    """``secret`` signs requests both ways (HMAC-SHA256 over ``{timestamp}.{body}``);
    replies are POSTed to ``callback_url``; without one, callers poll
    ``GET /api/conversations/{id}/messages``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret: Secret
    callback_url: HttpUrl | None = None
    callback_timeout: float = Field(default=10.0, gt=0, le=60)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    timestamp_tolerance: int = Field(default=300, ge=30, le=3600)
