"""Graph API errors, sorted by what to do about them (Meta's error-handling guide).

=============  =========================================  =========================
kind           codes                                      handling
=============  =========================================  =========================
transient      1, 2, HTTP 5xx, timeouts                   retry with backoff
rate_limit     4, 17, 32, 341, 613, 80001, 80006          retry after the usage
                                                          headers say access returns
auth           190, 102                                   page "reconnect needed",
                                                          alert, retry later
blocked        368                                        circuit breaker, alert
window         10 / 2018278, 2018065, 2534022             never retry
permission     10, 200–299                                never retry
unavailable    551                                        never retry
already_used   10900 (private reply already sent)         never retry
cannot_reply   10903                                      never retry
duplicate      506 (duplicate post)                       never retry
link           1609005 (error posting link)               never retry
invalid        100 and anything else                      never retry
=============  =========================================  =========================
"""

from __future__ import annotations

from typing import Any

from canales.core.types import DeliveryError

RETRYABLE = {"transient", "rate_limit", "auth", "blocked"}
RATE_LIMIT_CODES = {4, 17, 32, 341, 613, 80001, 80006}
WINDOW_SUBCODES = {2018278, 2018065, 2534022}


def classify(status: int, code: int | None, subcode: int | None) -> str:
    """The kind of a Graph error (see the module's table)."""
    if code in (1, 2) or (code is None and status >= 500):
        return "transient"
    if code in RATE_LIMIT_CODES:
        return "rate_limit"
    if code in (190, 102):
        return "auth"
    if code == 368:
        return "blocked"
    if code == 10 and subcode in WINDOW_SUBCODES:
        return "window"
    if code == 10 or (code is not None and 200 <= code <= 299):
        return "permission"
    if code == 551:
        return "unavailable"
    if code == 10900:
        return "already_used"
    if code == 10903:
        return "cannot_reply"
    if code == 506:
        return "duplicate"
    if subcode == 1609005 or code == 1609005:
        return "link"
    if status >= 500:
        return "transient"
    return "invalid"


class GraphError(DeliveryError):
    """A Graph API call failed. A :class:`DeliveryError`, so the outbox retries it
    (or not) as ``kind`` says; ``retry_after`` comes from Meta's usage headers."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        status: int = 0,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        detail = f"Graph API error {code}" + (f"/{subcode}" if subcode else "") if code is not None else f"Graph API HTTP {status}"
        trace = f" (fbtrace_id {fbtrace_id})" if fbtrace_id else ""
        super().__init__(f"{detail}: {message}{trace}", retry=kind in RETRYABLE, retry_after=retry_after)
        self.kind = kind
        self.status = status
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.graph_message = message

    @classmethod
    def from_response(cls, status: int, body: Any, retry_after: float | None = None) -> "GraphError":
        """Read Meta's ``{"error": {"message", "type", "code", "error_subcode",
        "fbtrace_id"}}``; anything else is an HTTP error."""
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(f"unexpected answer (HTTP {status})", kind=classify(status, None, None), status=status, retry_after=retry_after)
        code = error.get("code") if isinstance(error.get("code"), int) else None
        subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
        return cls(
            str(error.get("message", "no message"))[:500],
            kind=classify(status, code, subcode),
            status=status,
            code=code,
            subcode=subcode,
            fbtrace_id=error.get("fbtrace_id"),
            retry_after=retry_after,
        )
