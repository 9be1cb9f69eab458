"""The link and time checks of the publisher (pure functions, no database)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from canales.plugins.publisher.links import LinkRefused, check_link, links_in_text
from canales.plugins.publisher.settings import PublisherSettings
from canales.plugins.publisher.timing import TimeRefused, combine, parse_when, zone

DOMAINS = ["gub.uy", "ejemplo.gub.uy"]
UTC = dt.timezone.utc


@pytest.mark.parametrize("link, expected", [
    ("https://www.gub.uy/tramites/becas", "https://www.gub.uy/tramites/becas"),
    ("https://gub.uy", "https://gub.uy/"),
    ("HTTPS://WWW.GUB.UY/Tramites?id=3#paso-2", "https://www.gub.uy/Tramites?id=3#paso-2"),
    ("https://tramites.ejemplo.gub.uy:443/inicio", "https://tramites.ejemplo.gub.uy:443/inicio"),
    ("https://www.gub.uy/login?next=/tramites/becas", "https://www.gub.uy/login?next=/tramites/becas"),
    ("https://www.gub.uy/login?next=https://tramites.gub.uy/x", "https://www.gub.uy/login?next=https://tramites.gub.uy/x"),
    ("  https://www.gub.uy/a  ", "https://www.gub.uy/a"),
])
def test_allowed_links_are_normalised(link: str, expected: str) -> None:
    assert check_link(link, DOMAINS) == expected


@pytest.mark.parametrize("link, code", [
    (None, "missing"),
    ("   ", "missing"),
    ("http://www.gub.uy/x", "scheme"),
    ("ftp://www.gub.uy/x", "scheme"),
    ("www.gub.uy/x", "scheme"),
    ("javascript:alert(1)", "script"),
    ("JavaScript:alert(1)//https://gub.uy", "script"),
    ("data:text/html;base64,PHNjcmlwdD4=", "script"),
    ("https://usuario:clave@www.gub.uy/", "credentials"),
    ("https://www.gub.uy@evil.example/", "credentials"),
    ("https://192.168.0.1/x", "ip"),
    ("https://[::1]/x", "ip"),
    ("https://2130706433/", "ip"),
    ("https://0x7f.1/", "ip"),
    ("https://www.gub.uy:8443/x", "port"),
    ("https://evil.example/x", "domain"),
    ("https://gub.uy.evil.example/x", "domain"),
    ("https://notgub.uy/x", "domain"),
    ("https://www.gub.uy\\@evil.example/", "malformed"),
    ("https://www.gub.uy/a b", "malformed"),
    ("https://www.gub.uy/login?next=//evil.example", "redirect"),
    ("https://www.gub.uy/login?next=%2F%2Fevil.example", "redirect"),
    ("https://www.gub.uy/login?next=%252F%252Fevil.example", "redirect"),
    ("https://www.gub.uy/login?url=https://evil.example/phish", "redirect"),
    ("https://www.gub.uy/login?r=/\\evil.example", "malformed"),
    ("https://www.gub.uy/login?r=%2F%5Cevil.example", "redirect"),
    ("https://www.gub.uy/go?to=javascript:alert(1)", "script"),
    ("https://www.gub.uy/redirect/https://evil.example/x", "redirect"),
    ("https://www.gub.uy//evil.example/x", "redirect"),
    ("https://www.gub.uy/#next=//evil.example", "redirect"),
    ("https://www.gub.uy/" + "a" * 2100, "long"),
])
def test_refused_links_name_the_rule(link: str | None, code: str) -> None:
    with pytest.raises(LinkRefused) as exc:
        check_link(link, DOMAINS)
    assert exc.value.code == code


def test_links_inside_a_text_are_found() -> None:
    text = "Inscribite en https://www.gub.uy/becas. Más info: www.evil.example/x, o (https://gub.uy/a)."
    assert links_in_text(text) == ["https://www.gub.uy/becas", "https://www.evil.example/x", "https://gub.uy/a"]


def test_settings_refuse_bad_domains_and_cadence() -> None:
    with pytest.raises(ValueError, match="without https://"):
        PublisherSettings(allowed_link_domains=["https://gub.uy"])
    with pytest.raises(ValueError, match="weekly_min"):
        PublisherSettings(weekly_min=7, weekly_max=6)
    with pytest.raises(ValueError, match="unknown text"):
        PublisherSettings(texts={"nope": "x"})
    assert PublisherSettings(allowed_link_domains=["Ejemplo.GUB.uy."]).allowed_link_domains == ["ejemplo.gub.uy"]


def test_montevideo_has_one_offset_all_year() -> None:
    tz = zone("America/Montevideo")
    for month in range(1, 13):
        assert parse_when(f"2026-{month:02d}-15 10:00", tz) == dt.datetime(2026, month, 15, 13, 0, tzinfo=UTC)


def test_madrid_across_both_changes() -> None:
    tz = zone("Europe/Madrid")
    assert parse_when("2026-03-28 10:00", tz) == dt.datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    assert parse_when("2026-03-29 10:00", tz) == dt.datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    with pytest.raises(TimeRefused) as gap:
        parse_when("2026-03-29 02:30", tz)  # clocks jump from 02:00 to 03:00
    assert gap.value.code == "gap"
    with pytest.raises(TimeRefused) as twice:
        combine("2026-10-25", "02:30", tz)  # 02:00-03:00 happens twice
    assert twice.value.code == "ambiguous"
    # An explicit offset settles it.
    assert parse_when("2026-10-25T02:30+01:00", tz) == dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert parse_when(dt.datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Madrid"), fold=1), tz) == \
        dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize("value", ["Mars/Olympus", "", "../../etc/passwd", "UTC+3"])
def test_unknown_zones_are_refused(value: str) -> None:
    with pytest.raises(TimeRefused) as exc:
        zone(value)
    assert exc.value.code == "timezone"


@pytest.mark.parametrize("date, time, code", [("2026-02-30", "10:00", "format"), ("2026-03-02", "25:00", "format"),
                                              ("02/03/2026", "10:00", "format"), ("", "10:00", "missing")])
def test_bad_dates_and_times(date: str, time: str, code: str) -> None:
    with pytest.raises(TimeRefused) as exc:
        combine(date, time, zone("America/Montevideo"))
    assert exc.value.code == code
