"""Serving the embeddable widget: ``/s/{site}/chat/widget.js``.

The file is our hand-written ``widget.js`` with the site's configuration (texts,
pre-chat form, privacy notice, colours) written into its last line, so the launcher
shows the site's words before any socket is opened. It is cached by browsers for a
few minutes and revalidated with its ETag; ``Cross-Origin-Resource-Policy:
cross-origin`` lets organisms' pages load it from our origin.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from markupsafe import escape
from starlette.responses import HTMLResponse, Response

from canales.core.http import site_of
from canales.core.site import Site
from canales.core.text import MAX_TEXT
from canales.plugins.chat_human.desk import desk_of
from canales.plugins.chat_human.settings import ChatSettings
from canales.plugins.chat_human.texts import TEXTS, widget_texts

SOURCE = Path(__file__).parent / "widget.js"
PLACEHOLDER = "__CANALES_CHAT_CONFIG__"
MAX_AGE = 300


@dataclass(frozen=True)
class WidgetFile:
    """The widget's bytes for one site, and their ETag."""

    body: bytes
    etag: str


def widget_config(site: Site, settings: ChatSettings) -> dict[str, Any]:
    """What the widget needs before it connects."""
    prechat = settings.prechat
    return {
        "site": site.id,
        "accent": settings.accent_color,
        "position": settings.position,
        "maxText": MAX_TEXT,
        "texts": widget_texts(settings.texts, site.name),
        "privacy": {
            "text": TEXTS.render(settings.texts, "privacy.notice", site=site.name),
            "url": str(settings.privacy_url) if settings.privacy_url else None,
        },
        "prechat": (
            {"name": prechat.name, "email": prechat.email, "topic": prechat.topic, "topics": prechat.topics}
            if prechat.enabled
            else None
        ),
    }


def build(site: Site, settings: ChatSettings) -> WidgetFile:
    """The widget for ``site``: source plus configuration, and its ETag."""
    source = SOURCE.read_text("utf-8")
    if PLACEHOLDER not in source:  # pragma: no cover - guards an edit of widget.js
        raise RuntimeError(f"{SOURCE} lost its {PLACEHOLDER} marker")
    # ensure_ascii: the JSON is then plain ASCII, safe in any JavaScript context.
    config = json.dumps(widget_config(site, settings), ensure_ascii=True, separators=(",", ":"))
    body = source.replace(PLACEHOLDER, config).encode("utf-8")
    return WidgetFile(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag in candidates or "*" in candidates


async def widget_js(request: Request) -> Response:
    """``GET /s/{site}/chat/widget.js``, with revalidation by ETag."""
    desk = desk_of(site_of(request))
    widget = desk.widget
    assert widget is not None, "the chat_human startup hook builds the widget"
    headers = {
        "etag": widget.etag,
        "cache-control": f"public, max-age={MAX_AGE}",
        "cross-origin-resource-policy": "cross-origin",
    }
    if _matches(request.headers.get("if-none-match"), widget.etag):
        return Response(status_code=304, headers=headers)
    return Response(widget.body, media_type="text/javascript; charset=utf-8", headers=headers)


async def demo_page(request: Request) -> Response:
    """A page that embeds the widget with the one line an organism would paste, to
    try the chat (``demo_page = true``; the server's own origin must be in
    ``allowed_origins``)."""
    site = site_of(request)
    if not desk_of(site).settings.demo_page:
        return Response(status_code=404)
    name = escape(site.name)
    src = escape(f"/s/{site.id}/chat/widget.js")
    html = f"""<!doctype html>
<html lang="es"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>Prueba del chat — {name}</title></head>
<body><main><h1>{name}: prueba del chat</h1>
<p>Esta página incluye el chat como lo haría el sitio del organismo, con una sola línea:</p>
<pre><code>&lt;script src="{src}" async&gt;&lt;/script&gt;</code></pre>
<p>Abrí el chat con el botón de la esquina y escribí una consulta; las respuestas llegan desde la bandeja de entrada de los agentes.</p>
</main><script src="{src}" async></script></body></html>"""
    return HTMLResponse(html)
