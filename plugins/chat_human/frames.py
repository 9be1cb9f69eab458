"""The frames a citizen's client sends, and how a raw text frame becomes one.

Every frame is a JSON object with a ``type``. Types and fields are strict: a string
where a number is expected, an unknown field or a missing one is a
:class:`FrameProblem` naming the field, answered with an ``error`` frame (see
``docs/chat-protocol.md``); nothing is stored.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, TypeAdapter, ValidationError

from canales.core.text import MAX_TEXT

# A frame longer than this (in characters) closes the socket with 1009; the server
# is also started with a byte limit (core.http.WS_MAX_SIZE) so that a larger one is
# refused before it is read into memory.
MAX_FRAME = 32 * 1024
MAX_TOKEN = 128
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Start(_Frame):
    """Open a chat: the pre-chat form (as the site asks for it) and the citizen's
    acceptance of the privacy notice. Answered with ``started`` and the token."""

    type: Literal["start"]
    privacy: StrictBool
    name: StrictStr | None = None
    email: StrictStr | None = None
    topic: StrictStr | None = None


class Resume(_Frame):
    """Come back to a chat with its token; receive every message after
    ``last_seq`` of ``conversation_id`` (of the chat's current conversation, when
    the client's is older or unknown)."""

    type: Literal["resume"]
    token: StrictStr = Field(max_length=MAX_TOKEN)
    conversation_id: StrictInt | None = None
    last_seq: StrictInt = Field(default=0, ge=0)


class Say(_Frame):
    """A citizen's message. ``id`` is chosen by the client and sent again, unchanged,
    when the client is not sure the message arrived; the server stores it once."""

    type: Literal["message"]
    id: StrictStr = Field(pattern=CLIENT_ID_PATTERN)
    text: StrictStr = Field(max_length=MAX_TEXT)
    choice: StrictStr | None = Field(default=None, max_length=1000)


class Typing(_Frame):
    """The citizen is writing (``active``) or stopped."""

    type: Literal["typing"]
    active: StrictBool = True


class Read(_Frame):
    """The citizen has seen the conversation up to ``seq``."""

    type: Literal["read"]
    seq: StrictInt = Field(ge=0)


class Ping(_Frame):
    """The client checks the connection; answered with ``pong``."""

    type: Literal["ping"]


class Pong(_Frame):
    """The answer to the server's ``ping``."""

    type: Literal["pong"]


class TranscriptRequest(_Frame):
    """Ask for the conversation as a text file."""

    type: Literal["transcript"]


Frame = Union[Start, Resume, Say, Typing, Read, Ping, Pong, TranscriptRequest]
TYPES = ("start", "resume", "message", "typing", "read", "ping", "pong", "transcript")
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Annotated[Frame, Field(discriminator="type")])


class FrameProblem(Exception):
    """A frame that cannot be used. ``code`` is ``invalid_json``, ``invalid_frame``,
    ``unknown_type`` or ``invalid``; ``field`` names the field at fault."""

    def __init__(self, code: str, reason: str, field: str | None = None, client_id: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.field = field
        self.client_id = client_id


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


def parse(raw: str) -> Frame:
    """Turn one text frame into a typed frame, or raise :class:`FrameProblem`."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except ValueError as exc:
        raise FrameProblem("invalid_json", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise FrameProblem("invalid_json", "JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise FrameProblem("invalid_frame", "a frame is a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise FrameProblem("invalid", "type: must be text naming the frame", field="type")
    if kind not in TYPES:
        raise FrameProblem("unknown_type", f"unknown frame type {kind[:40]!r}", field="type")
    client_id = data.get("id") if kind == "message" else None
    if not (isinstance(client_id, str) and _CLIENT_ID.match(client_id)):
        client_id = None
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        # The discriminator is the first part of the location; drop it.
        location = [str(part) for part in error["loc"][1:]] or [str(error["loc"][0])]
        field = ".".join(location)
        message = "not allowed" if error["type"] == "extra_forbidden" else error["msg"]
        raise FrameProblem("invalid", f"{field}: {message}", field=field, client_id=client_id) from None
