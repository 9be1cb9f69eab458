"""A stand-in for Meta's Graph API and webhooks, following the documented contract
(see shared research notes ``meta-graph-api.md``), for tests and benchmarks.

* :class:`GraphStandIn` serves the Graph endpoints the Facebook plugin uses: the Send
  API (``recipient.id`` with the 24 h / 7-day windows computed from the last message
  it has seen from each user, ``recipient.comment_id`` private replies once per
  comment within 7 days), comment replies, hiding, the page feed, ``subscribed_apps``,
  ``/me`` and ``/debug_token``. Errors have Meta's JSON shape with ``fbtrace_id``;
  every response carries ``X-App-Usage`` and ``X-Business-Use-Case-Usage``.
  ``fail(...)`` scripts failures (5xx, rate limits with headers, timeouts, expired
  tokens…).
* :mod:`.payloads` builds webhook bodies (Messenger and feed) and signs them like
  Meta (``X-Hub-Signature-256`` over the raw, ASCII-escaped body).
"""

from graph_standin.app import Failure, GraphStandIn
from graph_standin.payloads import Webhooks, sign

__all__ = ["Failure", "GraphStandIn", "Webhooks", "sign"]
