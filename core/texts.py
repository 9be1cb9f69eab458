"""Citizen- and agent-facing texts: Spanish (es-UY) defaults kept in one place per
plugin, which a site may override (to word things its own way, or to translate).

A plugin declares its catalogue once::

    TEXTS = Texts({"ack.open": "Recibimos tu consulta, {name}.", ...})

and renders a text for a site with ``TEXTS.render(site_overrides, "ack.open", name=…)``.
Overrides come from the plugin's settings (a ``texts`` table); an override for an
unknown key is refused at start-up by :meth:`Texts.check`.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any


class Texts:
    """A catalogue of texts with ``{placeholders}``."""

    def __init__(self, defaults: Mapping[str, str]) -> None:
        self.defaults = dict(defaults)

    def keys(self) -> list[str]:
        return sorted(self.defaults)

    def check(self, overrides: Mapping[str, str]) -> dict[str, str]:
        """Validate a site's overrides (use as a pydantic validator): known keys,
        and only the placeholders the default text has."""
        for key, text in overrides.items():
            if key not in self.defaults:
                raise ValueError(f"unknown text {key!r}; known: {', '.join(self.keys())}")
            wanted = _fields(self.defaults[key])
            extra = _fields(text) - wanted
            if extra:
                raise ValueError(
                    f"text {key!r} uses {', '.join(sorted(extra))}, which it does not receive "
                    f"(available: {', '.join(sorted(wanted)) or 'none'})"
                )
        return dict(overrides)

    def render(self, overrides: Mapping[str, str] | None, key: str, **params: Any) -> str:
        """The site's text for ``key`` with its placeholders filled in."""
        template = (overrides or {}).get(key) or self.defaults[key]
        return template.format_map(_Missing(params))


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
