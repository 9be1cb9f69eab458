"""Serving the widget (content type, ETag revalidation, cross-origin policy, the
site's configuration inside), the widget's size and hygiene, the chat's settings,
and the small pieces behind the protocol (Spanish dates, token buckets)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from canales.core.runtime import Canales
from canales.core.siteconfig import ConfigError
from canales.plugins.chat_human.availability import spanish_moment
from canales.plugins.chat_human.limits import Connections, TokenBucket
from canales.plugins.chat_human.settings import contrast
from canales.plugins.chat_human.widget import PLACEHOLDER, SOURCE
from chat_support import chat_site

ROOT = Path(__file__).resolve().parent.parent
MONTEVIDEO = ZoneInfo("America/Montevideo")
LIMIT = 30 * 1024


def config_of(body: str) -> dict[str, Any]:
    """The site configuration the server wrote into the widget's last line."""
    match = re.search(r"\}\)\((\{.*\})\);\s*$", body, flags=re.S)
    assert match, "no configuration at the end of widget.js"
    return json.loads(match.group(1))


async def test_the_widget_is_served_for_cross_origin_embedding_with_revalidation(run_sqlite_app: Any, site_file: Any) -> None:
    async with run_sqlite_app(site_file(chat_site())) as app:
        response = await app.client.get("/s/uno/chat/widget.js")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
        assert response.headers["cross-origin-resource-policy"] == "cross-origin"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "public, max-age=300"
        etag = response.headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
        again = await app.client.get("/s/uno/chat/widget.js", headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert again.headers["cross-origin-resource-policy"] == "cross-origin"
        stale = await app.client.get("/s/uno/chat/widget.js", headers={"if-none-match": '"0000"'})
        assert stale.status_code == 200
        head = await app.client.head("/s/uno/chat/widget.js")
        assert head.status_code == 200 and head.headers["etag"] == etag
        config = config_of(response.text)
        assert config["site"] == "uno" and config["texts"]["title"] == "Organismo Uno"
        assert config["prechat"] is None and "18.331" in config["privacy"]["text"]
        assert PLACEHOLDER not in response.text


async def test_the_sites_texts_and_form_are_in_its_widget(run_sqlite_app: Any, site_file: Any) -> None:
    extra = """
accent_color = "#1b4d1b"
privacy_url = "https://www.uno.gub.uy/privacidad"
[plugins.chat_human.texts]
"ui.launcher" = "Escribinos"
"privacy.notice" = "{site} cuida tus datos."
[plugins.chat_human.prechat]
enabled = true
topic = "required"
topics = ["Permisos"]
"""
    async with run_sqlite_app(site_file(chat_site(plugins=extra))) as app:
        config = config_of((await app.client.get("/s/uno/chat/widget.js")).text)
        assert config["texts"]["launcher"] == "Escribinos"
        assert config["privacy"] == {"text": "Organismo Uno cuida tus datos.", "url": "https://www.uno.gub.uy/privacidad"}
        assert config["prechat"] == {"name": "required", "email": "optional", "topic": "required", "topics": ["Permisos"]}
        assert config["accent"] == "#1b4d1b"
        # Placeholders the widget fills itself are left for it.
        assert config["texts"]["typing"] == "{name} está escribiendo…"


async def test_a_site_without_the_chat_has_no_widget(run_sqlite_app: Any, site_file: Any) -> None:
    async with run_sqlite_app(site_file()) as app:
        assert (await app.client.get("/s/uno/chat/widget.js")).status_code == 404


async def test_the_demo_page_is_served_only_when_asked(run_sqlite_app: Any, site_file: Any) -> None:
    async with run_sqlite_app(site_file(chat_site()), site_file(chat_site("dos", extra="demo_page = true"), id="dos")) as app:
        assert (await app.client.get("/s/uno/chat/")).status_code == 404
        page = await app.client.get("/s/dos/chat/")
        assert page.status_code == 200 and '<script src="/s/dos/chat/widget.js" async></script>' in page.text


def test_the_widget_is_small_and_the_readme_says_how_small() -> None:
    size = SOURCE.stat().st_size
    assert size < LIMIT, f"widget.js is {size} bytes; keep it under {LIMIT}"
    readme = (ROOT / "README.md").read_text("utf-8")
    stated = re.search(r"widget\.js`.{0,200}?([0-9]+\.[0-9]) KB unminified", readme, flags=re.S)
    assert stated, "README.md must state the widget's size"
    assert abs(float(stated.group(1)) - size / 1024) <= 0.5, f"README says {stated.group(1)} KB; it is {size / 1024:.1f} KB"


def test_the_widget_inserts_text_only_as_text() -> None:
    source = SOURCE.read_text("utf-8")
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", 'setAttribute("on'):
        assert risky not in source, f"widget.js uses {risky}"
    assert not re.search(r"\son[a-z]+\s*=\s*[\"']", source), "no inline event handlers"
    assert "import " not in source and "require(" not in source, "no third-party code"


@pytest.mark.parametrize(
    ("site", "message"),
    [
        ({"extra": 'accent_color = "#7fb2e5"'}, "contrast of"),
        ({"extra": 'accent_color = "blue"'}, "is not a colour"),
        ({"origins": ("https://organismo.gub.uy/contacto",)}, "is not an origin"),
        ({"origins": ("*",)}, "is not an origin"),
        ({"extra": "heartbeat_interval = 5\nheartbeat_timeout = 20"}, "heartbeat_timeout"),
        ({"plugins": '[plugins.chat_human.texts]\n"ui.nada" = "x"'}, "unknown text 'ui.nada'"),
        ({"plugins": '[plugins.chat_human.texts]\n"ui.launcher" = "Hola {name}"'}, "uses name"),
        ({"plugins": '[plugins.chat_human.prechat]\ntopics = ["a", "a"]'}, "topics repeat"),
    ],
)
def test_bad_chat_settings_are_refused_at_start_naming_the_key(
    site_file: Any, tmp_path: Path, site: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        Canales([site_file(chat_site(**site))], database_url=f"sqlite:///{tmp_path}/x.db")
    assert "plugins.chat_human" in str(refused.value) and message in str(refused.value)


def test_contrast_follows_wcag() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#0b5cad", "#ffffff") > 4.5
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize(
    ("at", "now", "said"),
    [
        ("2025-12-01T11:00", "2025-12-01T10:00", "hoy a las 8:00"),
        ("2025-12-01T11:00", "2025-11-30T18:00", "mañana lunes 1 de diciembre a las 8:00"),
        ("2025-12-01T11:00", "2025-11-28T18:00", "el lunes 1 de diciembre a las 8:00"),
        ("2025-12-03T16:30", "2025-12-01T18:00", "el miércoles 3 de diciembre a las 13:30"),
        ("2026-01-05T04:00", "2025-12-30T18:00", "el lunes 5 de enero de 2026 a la 1:00"),
        ("2025-09-15T12:00", "2025-09-12T18:00", "el lunes 15 de setiembre a las 9:00"),
    ],
)
def test_the_next_opening_is_said_in_spanish_in_the_sites_zone(at: str, now: str, said: str) -> None:
    utc = dt.timezone.utc
    assert spanish_moment(dt.datetime.fromisoformat(at).replace(tzinfo=utc), dt.datetime.fromisoformat(now).replace(tzinfo=utc), MONTEVIDEO) == said


def test_a_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(capacity=3, rate=0.5, clock=lambda: now[0])
    assert [bucket.take("a") for _ in range(3)] == [0, 0, 0]
    assert bucket.take("a") == pytest.approx(2.0)
    assert bucket.take("b") == 0  # keys are independent
    now[0] += 2.0
    assert bucket.wait("a") == 0 and bucket.take("a") == 0 and bucket.take("a") > 0


def test_idle_full_buckets_are_forgotten() -> None:
    now = [0.0]
    bucket = TokenBucket(capacity=1, rate=1, clock=lambda: now[0])
    for n in range(10_001):
        bucket.take(n)
    now[0] += 5
    bucket.take("trigger")
    bucket.take("again")
    assert len(bucket) < 100


def test_connections_per_address_have_a_ceiling() -> None:
    connections = Connections(ceiling=2)
    assert connections.open("a") and connections.open("a") and not connections.open("a")
    assert connections.open("b")
    connections.close("a")
    assert connections.open("a") and connections.total == 3
