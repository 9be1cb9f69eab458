"""Rendering the answers organisms write: Jinja2 in a sandbox.

Answers are templates written by the organism, never by citizens: a citizen's text
reaches a template only as data (a slot value), so ``{{ 7*7 }}`` typed by a citizen
is printed as those characters, never evaluated. The sandbox
(:class:`ImmutableSandboxedEnvironment`) keeps even a careless or tampered knowledge
file from reaching Python internals or changing data; output is bounded.

URL templates of actions use a second environment that percent-encodes every value
it prints, so a slot cannot add a path segment or a query parameter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined, Template, TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT = 4000


def _fecha(value: Any) -> str:
    """ISO date -> dd/mm/aaaa, as Uruguayans write it."""
    try:
        return dt.date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return str(value)


def _text_env() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        autoescape=False, undefined=Undefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["fecha"] = _fecha
    return env


def _url_finalize(value: Any) -> str:
    text = "" if value is None or isinstance(value, Undefined) else str(value)
    if text in (".", ".."):
        # A slot must not walk up the service's path.
        return text.replace(".", "%2E")
    return quote(text, safe="")


TEXT = _text_env()
URL = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined, finalize=_url_finalize)
VALUE = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


class Templates:
    """Compiled templates of one knowledge file, by source text."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, str], Template] = {}

    def compile(self, source: str, kind: str = "text") -> Template:
        """Compile (once) and return; raises :class:`jinja2.TemplateSyntaxError`."""
        key = (kind, source)
        if key not in self._compiled:
            env = {"text": TEXT, "url": URL, "value": VALUE, "header": VALUE}[kind]
            self._compiled[key] = env.from_string(source)
        return self._compiled[key]

    def render(self, source: str, context: dict[str, Any], kind: str = "text") -> str:
        """Render ``source`` with ``context``; raises :class:`RenderError`."""
        try:
            out = self.compile(source, kind).render(**context)
        except TemplateError as exc:
            raise RenderError(f"{type(exc).__name__}: {exc}") from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError, OverflowError, MemoryError) as exc:
            raise RenderError(f"{type(exc).__name__}: {exc}") from None
        if kind == "text":
            out = "\n".join(line.rstrip() for line in out.strip().splitlines())
            if len(out) > MAX_OUTPUT:
                out = out[: MAX_OUTPUT - 1] + "…"
        return out


class RenderError(Exception):
    """A template failed while rendering (a missing value under StrictUndefined, a
    sandbox violation, an error in an expression)."""
