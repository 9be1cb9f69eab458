"""Turning the time an agent writes ("2026-03-29 10:00" in Madrid) into the UTC
instant the scheduler uses, and back.

A wall-clock time that does not exist (skipped by a daylight-saving change) or that
happens twice (repeated by one) is refused rather than guessed; an explicit UTC
offset ("2026-10-25T02:30+02:00") settles the ambiguity.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class TimeRefused(ValueError):
    """A time or zone that cannot be used. ``code`` is a text key suffix
    (``error.time.<code>`` or ``error.timezone``)."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(f"time refused: {code} {params}")
        self.code = code
        self.params = params


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name``; :class:`TimeRefused` (``timezone``) if unknown."""
    if not name or not name.strip():
        raise TimeRefused("timezone", value=str(name or ""))
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeRefused("timezone", value=name) from None


def localize(local: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """Attach ``tz`` to a naive wall-clock time; refuse a time that does not exist
    or is ambiguous in that zone. Returns an aware datetime in ``tz``."""
    if local.tzinfo is not None:
        return local.astimezone(tz)
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    shown = local.strftime("%Y-%m-%d %H:%M")
    # A skipped time does not survive the round trip through UTC.
    if first.astimezone(dt.timezone.utc).astimezone(tz).replace(tzinfo=None) != local:
        raise TimeRefused("gap", when=shown, zone=tz.key)
    if first.utcoffset() != second.utcoffset():
        raise TimeRefused("ambiguous", when=shown, zone=tz.key)
    return first


def parse_when(value: str | dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """``"2026-03-02 10:00"`` (wall clock in ``tz``), ``"2026-03-02T10:00-03:00"``
    (explicit offset) or a datetime -> a UTC instant."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = value.strip()
        if not text:
            raise TimeRefused("missing")
        try:
            parsed = dt.datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        except ValueError:
            raise TimeRefused("format", value=text[:40]) from None
    return localize(parsed, tz).astimezone(dt.timezone.utc)


def combine(date_text: str, time_text: str, tz: ZoneInfo) -> dt.datetime:
    """A date column (``2026-03-02``) and a time column (``10:00``, ``9:30`` or
    ``10:00:30``), as in a CSV plan -> a UTC instant."""
    date_text, time_text = date_text.strip(), time_text.strip()
    if not date_text or not time_text:
        raise TimeRefused("missing")
    try:
        day = dt.date.fromisoformat(date_text)
        parts = [int(p) for p in time_text.split(":")]
        if not 2 <= len(parts) <= 3:
            raise ValueError(time_text)
        at = dt.time(*parts)
    except ValueError:
        raise TimeRefused("format", value=f"{date_text} {time_text}"[:40]) from None
    return localize(dt.datetime.combine(day, at), tz).astimezone(dt.timezone.utc)


def local_text(at: dt.datetime, tz: ZoneInfo) -> str:
    """``at`` as people read it in ``tz``: ``2026-03-02 10:00``."""
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
