"""The Facebook page channel: Messenger and page comments, acknowledged at once,
answered in business hours, publicly or privately as the guideline says.

Status: the plugin registers and validates its settings; the webhook, the Graph API
client and the reply policy are built in their own issue (see CHANGELOG.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from canales.core.hookspecs import hookimpl
from canales.core.siteconfig import Secret


class FacebookSettings(BaseModel):
    """``[plugins.facebook]``: the page, and the secrets Meta issues (always by
    environment reference)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    page_id: str = Field(pattern=r"^\d{1,32}$")
    app_secret: Secret
    page_token: Secret
    verify_token: Secret
    graph_version: str = Field(default="v25.0", pattern=r"^v\d+\.\d+$")


@hookimpl
def settings_model() -> type[BaseModel]:
    return FacebookSettings
