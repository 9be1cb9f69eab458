"""The shapes of the inbox's JSON API. Requests are validated with these models
(unknown fields refused) and the OpenAPI document is generated from them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from canales.core.text import MAX_TEXT


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplyIn(Strict):
    """A reply to the citizen. ``options`` picks among the conversation's reply
    options (``GET …/conversations/{id}`` lists them), e.g. ``{"reply": "private"}``."""

    text: StrictStr = Field(min_length=1, max_length=MAX_TEXT)
    options: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class NoteIn(Strict):
    """An internal note: agents see it, the citizen never does."""

    text: StrictStr = Field(min_length=1, max_length=MAX_TEXT)


class TransferIn(Strict):
    """Give the conversation to an agent (``agent_id``) or a team's queue
    (``team``): exactly one of them."""

    agent_id: StrictInt | None = None
    team: StrictStr | None = Field(default=None, max_length=64)
    reason: StrictStr | None = Field(default=None, max_length=500)


class ReleaseIn(Strict):
    reason: StrictStr | None = Field(default=None, max_length=500)


class LabelsIn(Strict):
    labels: list[StrictStr] = Field(max_length=20)


class Empty(Strict):
    """No body needed (``{}`` is accepted)."""


class SiteOut(BaseModel):
    id: str
    name: str
    role: Literal["admin", "supervisor", "agent"]


class AgentOut(BaseModel):
    id: int
    name: str
    email: str


class MeOut(BaseModel):
    agent: AgentOut
    sites: list[SiteOut]


class ContactOut(BaseModel):
    id: int
    channel: str
    external_id: str
    name: str | None
    email: str | None
    phone: str | None


class ConversationOut(BaseModel):
    id: int
    channel: str
    state: Literal["new", "bot", "queued", "assigned", "closed"]
    team: str | None
    assignee_id: int | None
    routing_rule: str | None
    after_hours: bool
    last_seq: int = Field(description="Sequence number of the newest message; fetch messages after the one you hold.")
    contact: ContactOut
    labels: list[str]
    unread: int | None = Field(default=None, description="Citizen messages this agent has not read (lists only).")
    created_at: str
    updated_at: str


class ReplyOptionOut(BaseModel):
    name: str
    value: str
    label: str
    available: bool
    reason: str | None
    default: bool


class HandoffOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    reason: str | None = None
    intent: str | None = None
    summary: str | None = None


class ConversationDetail(ConversationOut):
    reply_options: list[ReplyOptionOut]
    handoff: HandoffOut | None


class DeliveryOut(BaseModel):
    id: int
    state: Literal["pending", "sending", "done", "failed"]
    attempts: int
    last_error: str | None


class MessageOut(BaseModel):
    id: int
    conversation_id: int
    seq: int
    direction: Literal["in", "out"]
    author_kind: Literal["citizen", "agent", "bot", "system"]
    author_agent_id: int | None
    channel: str
    text: str
    visibility: Literal["public", "private", "internal"]
    created_at: str
    delivery: DeliveryOut | None = None


class ConversationList(BaseModel):
    conversations: list[ConversationOut]
    counts: dict[str, int]
    has_more: bool


class MessageList(BaseModel):
    conversation_id: int
    last_seq: int
    messages: list[MessageOut]


class ContactList(BaseModel):
    contacts: list[ContactOut]


class ContactDetail(BaseModel):
    contact: ContactOut
    conversations: list[ConversationOut]


class SearchHit(BaseModel):
    conversation_id: int
    message_id: int
    seq: int
    snippet: str
    author_kind: str
    channel: str
    created_at: str


class SearchResult(BaseModel):
    messages: list[SearchHit]


class LabelsOut(BaseModel):
    labels: list[str]


class Problem(BaseModel):
    """An error: a short code, a message for people, and the field at fault."""

    error: str
    message: str
    field: str | None = None
