"""Validators for values citizens type: a Uruguayan cédula (with its check digit),
dates, expediente numbers, numbers and e-mail addresses.

Each validator takes the matched text and returns the value in canonical form
(``"1.234.567-2"``, ``"2026-03-15"``), or raises :class:`InvalidValue` whose
``reason`` is a key of the plugin's text catalogue, so the citizen is told what
was wrong in the site's words.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from canales.plugins.chatbot.nlu.normalize import strip_accents


class InvalidValue(ValueError):
    """A value that does not pass its validator; ``reason`` is a text key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Context:
    """What validators need to know: today's date where the site is."""

    today: dt.date


# --- cédula -------------------------------------------------------------------------

CEDULA_PATTERN = r"(?<![\d.])(?:\d\.?)?\d{3}\.?\d{3}\s?[-‐/]?\s?\d(?![\d.])"
_CEDULA_WEIGHTS = (2, 9, 8, 7, 6, 3, 4)


def cedula_check_digit(body: str) -> int:
    """The check digit of a cédula's number without it (6 or 7 digits; old 6-digit
    numbers are padded with a leading zero): ``sum(d·w) `` with weights
    2,9,8,7,6,3,4, then ``(10 − sum mod 10) mod 10``."""
    digits = body.zfill(7)
    if len(digits) != 7 or not digits.isdigit():
        raise ValueError("a cédula number has 6 or 7 digits before the check digit")
    total = sum(int(d) * w for d, w in zip(digits, _CEDULA_WEIGHTS))
    return (10 - total % 10) % 10


def cedula(text: str, ctx: Context) -> str:
    """``"1.234.567-2"``, ``"12345672"`` or ``"1234567 2"`` -> ``"1.234.567-2"``."""
    digits = re.sub(r"\D", "", text)
    if len(digits) not in (7, 8):
        raise InvalidValue("invalid.cedula_format")
    body, check = digits[:-1], int(digits[-1])
    if cedula_check_digit(body) != check:
        raise InvalidValue("invalid.cedula_check")
    body = body.zfill(7)
    return f"{body[0]}.{body[1:4]}.{body[4:7]}-{check}"


# --- dates --------------------------------------------------------------------------

MONTHS = {
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
}
WEEKDAYS = {"lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "domingo": 6}
DATE_PATTERN = (
    r"\b\d{1,2}\s*[/.-]\s*\d{1,2}(?:\s*[/.-]\s*\d{2,4})?\b"
    r"|\b\d{1,2}\s+de\s+(?:" + "|".join(MONTHS) + r")(?:\s+(?:de|del)\s+\d{4})?\b"
    r"|\bpasado\s+manana\b|\bmanana\b|\bhoy\b"
    r"|\b(?:el\s+)?(?:proximo\s+)?(?:" + "|".join(WEEKDAYS) + r")\b"
)


def parse_date(text: str, ctx: Context) -> dt.date:
    """A date as citizens write it: 15/3, 15/03/2026, 15-3-26, "15 de marzo (de
    2026)", "hoy", "mañana", "pasado mañana", "el lunes". A day and month without a
    year is the next such day from today."""
    t = strip_accents(text.lower()).strip()
    if t == "hoy":
        return ctx.today
    if t == "manana":
        return ctx.today + dt.timedelta(days=1)
    if re.fullmatch(r"pasado\s+manana", t):
        return ctx.today + dt.timedelta(days=2)
    day_name = re.fullmatch(r"(?:el\s+)?(?:proximo\s+)?(\w+)", t)
    if day_name and day_name.group(1) in WEEKDAYS:
        ahead = (WEEKDAYS[day_name.group(1)] - ctx.today.weekday()) % 7 or 7
        return ctx.today + dt.timedelta(days=ahead)
    year: int | None = None
    numeric = re.fullmatch(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*(\d{2,4}))?", t)
    if numeric:
        day, month = int(numeric.group(1)), int(numeric.group(2))
        if numeric.group(3):
            year = int(numeric.group(3))
            if year < 100:
                year += 2000
            elif year < 1900:
                raise InvalidValue("invalid.date")
    else:
        words = re.fullmatch(r"(\d{1,2})\s+de\s+(\w+)(?:\s+(?:de|del)\s+(\d{4}))?", t)
        if not words or words.group(2) not in MONTHS:
            raise InvalidValue("invalid.date")
        day, month = int(words.group(1)), MONTHS[words.group(2)]
        year = int(words.group(3)) if words.group(3) else None
    try:
        if year is not None:
            return dt.date(year, month, day)
        candidate = dt.date(ctx.today.year, month, day)
        if candidate < ctx.today:
            candidate = dt.date(ctx.today.year + 1, month, day)
        return candidate
    except ValueError:
        raise InvalidValue("invalid.date") from None


def date(text: str, ctx: Context) -> str:
    return parse_date(text, ctx).isoformat()


def future_date(text: str, ctx: Context) -> str:
    """A date from today on (a booking)."""
    value = parse_date(text, ctx)
    if value < ctx.today:
        raise InvalidValue("invalid.date_past")
    return value.isoformat()


def past_date(text: str, ctx: Context) -> str:
    """A date up to today (a birth, a fine)."""
    value = parse_date(text, ctx)
    if value > ctx.today:
        raise InvalidValue("invalid.date_future")
    return value.isoformat()


# --- others -------------------------------------------------------------------------

# Expedientes of the state's document system: year-inciso-unidad-number, e.g.
# 2024-11-0001-01234. A site with another numbering gives its own regex.
EXPEDIENTE_PATTERN = r"\b(?:19|20)\d{2}\s?-\s?\d{1,2}\s?-\s?\d{1,4}\s?-\s?\d{1,6}\b"


def expediente(text: str, ctx: Context) -> str:
    parts = re.findall(r"\d+", text)
    if len(parts) != 4:
        raise InvalidValue("invalid.expediente")
    year = int(parts[0])
    if not 1990 <= year <= ctx.today.year:
        raise InvalidValue("invalid.expediente")
    return f"{parts[0]}-{int(parts[1]):02d}-{int(parts[2]):04d}-{int(parts[3]):05d}"


NUMBER_PATTERN = r"\b\d{1,12}\b"


def number(text: str, ctx: Context) -> str:
    digits = re.sub(r"\D", "", text)
    if not digits:
        raise InvalidValue("invalid.number")
    return str(int(digits))


EMAIL_PATTERN = r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+\b"


def email(text: str, ctx: Context) -> str:
    value = text.strip()
    if not re.fullmatch(EMAIL_PATTERN, value):
        raise InvalidValue("invalid.email")
    return value.lower()


Validator = Callable[[str, Context], str]

VALIDATORS: dict[str, Validator] = {
    "cedula": cedula,
    "date": date,
    "future_date": future_date,
    "past_date": past_date,
    "expediente": expediente,
    "number": number,
    "email": email,
}

# The pattern each built-in entity type finds in text (dates are searched in the
# accent-free lower-cased text, the others in the text as written).
PATTERNS: dict[str, str] = {
    "cedula": CEDULA_PATTERN,
    "date": DATE_PATTERN,
    "future_date": DATE_PATTERN,
    "past_date": DATE_PATTERN,
    "expediente": EXPEDIENTE_PATTERN,
    "number": NUMBER_PATTERN,
    "email": EMAIL_PATTERN,
}
