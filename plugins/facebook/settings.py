"""Settings of the Facebook page channel (``[plugins.facebook]`` in a site file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from canales.core.siteconfig import Secret
from canales.plugins.facebook.texts import TEXTS


class FacebookSettings(BaseModel):
    """The page, the secrets Meta issues (always by environment reference), and how
    the channel behaves.

    ``graph_url`` is Graph API's base address; tests point it at a stand-in.
    ``app_id`` is needed by ``canales facebook check`` (to read the token's
    permissions and find the app among the page's subscriptions).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    page_id: str = Field(pattern=r"^\d{1,32}$")
    app_id: str | None = Field(default=None, pattern=r"^\d{1,32}$")
    app_secret: Secret
    page_token: Secret
    verify_token: Secret
    graph_version: str = Field(default="v25.0", pattern=r"^v\d+\.\d+$")
    graph_url: HttpUrl = HttpUrl("https://graph.facebook.com")
    graph_timeout: float = Field(default=10.0, gt=0, le=60)
    # Meta allows 300 sends a second per page; stay under it (per worker).
    send_rate: float = Field(default=250.0, gt=0, le=300)
    # Webhook bodies: Meta batches up to 1000 updates; 1 MiB is ample.
    max_body_bytes: int = Field(default=1024 * 1024, ge=16 * 1024, le=16 * 1024 * 1024)
    # The automatic acknowledgement: at most once per conversation per period.
    acknowledge: bool = True
    ack_period_hours: float = Field(default=12.0, ge=0.25, le=24 * 7)
    # A human agent may answer with the HUMAN_AGENT tag up to 7 days after the
    # citizen's last message (needs Meta's App Review for Human Agent).
    human_agent_tag: bool = True
    # Hide a citizen's comment that shows personal data (its author still sees it).
    hide_comments_with_personal_data: bool = False
    # How long a 368 ("blocked for policy violations") stops sends.
    policy_block_minutes: float = Field(default=60.0, ge=1, le=24 * 60)
    subscription_check_minutes: float = Field(default=30.0, ge=1, le=24 * 60)
    # Raw webhook bodies hold personal data: keep them only while Meta may resend.
    keep_webhooks_days: float = Field(default=3.0, ge=1, le=90)
    texts: dict[str, str] = Field(default_factory=dict)

    @field_validator("texts")
    @classmethod
    def _known_texts(cls, value: dict[str, str]) -> dict[str, str]:
        return TEXTS.check(value)

    def graph_base(self) -> str:
        """``https://graph.facebook.com/v25.0``."""
        return f"{str(self.graph_url).rstrip('/')}/{self.graph_version}"
