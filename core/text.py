"""Checking text that comes from outside (citizens, channels, agents) before it is
stored: valid Unicode without NUL, normalised (NFC), not empty, not oversized."""

from __future__ import annotations

import unicodedata

MAX_TEXT = 4096


class InvalidInput(ValueError):
    """Input that cannot be stored; ``field`` names the part at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


def clean(value: object, field: str, limit: int, *, allow_empty: bool = False) -> str:
    """Return ``value`` NFC-normalised, or raise :class:`InvalidInput` saying why not."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text")
    if "\x00" in value:
        raise InvalidInput(field, "contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(field, "is not valid Unicode (lone surrogate)") from None
    value = unicodedata.normalize("NFC", value)
    if not allow_empty and not value.strip():
        raise InvalidInput(field, "is empty")
    if len(value) > limit:
        raise InvalidInput(field, f"is longer than {limit} characters")
    return value
