"""Meta's messaging window, from the time of the citizen's last Messenger message
(``conversation.last_citizen_at``, kept at the message's own timestamp, not its
arrival): inside 24 h anything may be sent (``messaging_type: RESPONSE``); from 24 h
to 7 days only a human agent's reply, tagged ``HUMAN_AGENT``; after that, nothing
until the citizen writes again.

A comment does not open the window; its own clock is the 7 days during which the
page may answer it once in private.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

STANDARD = dt.timedelta(hours=24)
HUMAN_AGENT = dt.timedelta(days=7)
PRIVATE_REPLY = dt.timedelta(days=7)


@dataclass(frozen=True)
class Window:
    """``state`` is ``none`` (never wrote), ``open``, ``human`` or ``closed``;
    ``until`` is when the current state ends, ``since`` when the window closed."""

    state: str
    until: dt.datetime | None = None
    since: dt.datetime | None = None

    def allows(self, author_kind: str, human_tag: bool = True) -> bool:
        """Whether a reply by ``author_kind`` may be sent now."""
        if self.state == "open":
            return True
        return self.state == "human" and author_kind == "agent" and human_tag

    def messaging(self) -> dict[str, str]:
        """The Send API's ``messaging_type`` (and ``tag``) for a reply sent now."""
        if self.state == "human":
            return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        return {"messaging_type": "RESPONSE"}


def window(last_citizen_at: dt.datetime | None, now: dt.datetime) -> Window:
    """The window at ``now`` for a citizen who last wrote at ``last_citizen_at``."""
    if last_citizen_at is None:
        return Window("none")
    age = now - last_citizen_at
    if age <= STANDARD:
        return Window("open", until=last_citizen_at + STANDARD)
    if age <= HUMAN_AGENT:
        return Window("human", until=last_citizen_at + HUMAN_AGENT)
    return Window("closed", since=last_citizen_at + HUMAN_AGENT)


def private_reply_until(comment_at: dt.datetime) -> dt.datetime:
    """The last moment a comment can be answered in private."""
    return comment_at + PRIVATE_REPLY
