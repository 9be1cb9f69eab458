"""canales: advanced digital service channels for government bodies.

This package is the public surface a plugin author imports::

    from canales import hookimpl, Inbound, Routing, DeliveryResult

Everything else lives in ``canales.core`` (the kernel) and ``canales.plugins`` (the
built-in channels).
"""

from __future__ import annotations

import os as _os

__version__ = "0.1.0"

# In a source checkout the kernel and the plugins sit beside this folder (core/,
# plugins/), as the design card lays the repository out; installed, they sit inside it.
# Extending __path__ makes ``canales.core`` importable in both cases, even when the
# checkout's root is first on sys.path.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_root, "core", "hookspecs.py")):
    __path__.append(_root)  # type: ignore[name-defined]  # noqa: F821

from canales.core.hookspecs import hookimpl, hookspec  # noqa: E402
from canales.core.types import (  # noqa: E402
    Button,
    DeliveryError,
    DeliveryOutcomeUnknown,
    DeliveryResult,
    Handoff,
    Inbound,
    OutboundDelivery,
    PeriodicJob,
    Rejected,
    ReplyProblem,
    ReplyRefused,
    Routing,
)

__all__ = [
    "__version__",
    "hookimpl",
    "hookspec",
    "Button",
    "DeliveryError",
    "DeliveryOutcomeUnknown",
    "DeliveryResult",
    "Handoff",
    "Inbound",
    "OutboundDelivery",
    "PeriodicJob",
    "Rejected",
    "ReplyProblem",
    "ReplyRefused",
    "Routing",
]
