"""The plugin's own table: delivery receipts the gateway reports."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from canales.core.db import UTCDateTime, utcnow


class SmsReceipt(SQLModel, table=True):
    __tablename__ = "sms_receipt"

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    gateway_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=20)
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
