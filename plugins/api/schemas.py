"""The shapes the API channel accepts and returns. The OpenAPI document is built
from these models, and a test checks real requests and responses against it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from canales.core.text import MAX_TEXT


class Sender(BaseModel):
    """Who wrote: the caller's stable id for the person, and a display name."""

    model_config = ConfigDict(extra="forbid")
    id: StrictStr = Field(min_length=1, max_length=255)
    name: StrictStr | None = Field(default=None, max_length=200)


class InboundMessage(BaseModel):
    """A citizen's message posted by an integration."""

    model_config = ConfigDict(extra="forbid")
    id: StrictStr = Field(
        min_length=1,
        max_length=255,
        description="The caller's id for this message. Posting the same id again stores nothing new.",
    )
    sender: Sender
    text: StrictStr = Field(max_length=MAX_TEXT)
    thread: StrictStr | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Conversation key within the caller's system; defaults to sender.id.",
    )
    choice: StrictStr | None = Field(
        default=None,
        max_length=1000,
        description="The payload of a button the citizen picked, if any.",
    )


class ButtonOut(BaseModel):
    title: str
    payload: str


class MessageOut(BaseModel):
    """A stored message, as the API returns it."""

    id: int
    conversation_id: int
    seq: int = Field(description="Position in the conversation: 1, 2, 3…")
    direction: Literal["in", "out"]
    author_kind: Literal["citizen", "agent", "bot", "system"]
    author_agent_id: int | None
    channel: str
    text: str
    buttons: list[ButtonOut]
    visibility: Literal["public", "private"]
    created_at: str
    occurred_at: str


class PostResult(BaseModel):
    """The answer to a posted message: 202 when stored, 200 when it was a repeat."""

    duplicate: bool
    conversation_id: int
    message: MessageOut


class ConversationState(BaseModel):
    id: int
    state: Literal["new", "bot", "queued", "assigned", "closed"]
    last_seq: int


class MessageList(BaseModel):
    conversation: ConversationState
    messages: list[MessageOut]


class CallbackMessage(BaseModel):
    seq: int
    text: str
    buttons: list[ButtonOut]
    author: Literal["agent", "bot", "system"]
    created_at: str


class CallbackConversation(BaseModel):
    id: int
    thread: str


class CallbackRecipient(BaseModel):
    id: str


class ReplyCallback(BaseModel):
    """What the site's callback URL receives for every reply. ``delivery_id`` stays
    the same when a delivery is retried: drop a repeat."""

    delivery_id: str
    conversation: CallbackConversation
    recipient: CallbackRecipient
    message: CallbackMessage


class Problem(BaseModel):
    """An error: a short code, a message for people, and the field at fault."""

    error: str
    message: str
    field: str | None = None
