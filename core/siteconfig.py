"""Site files: one TOML file per organism's site, validated at start-up.

A site file names the site, its time zone, business hours, holidays, the other
channels citizens can use, and the plugins it enables with their settings::

    id = "demo"
    name = "Intendencia de Ejemplo"

    [hours]
    mon = ["08:00-12:00", "13:00-20:00"]

    [plugins.facebook]
    page_id = "1234"
    app_secret = { env = "DEMO_FB_APP_SECRET" }

Anything wrong is a :class:`ConfigError` that names the file, the key and what was
expected. Secrets are never written in the file: a table ``{ env = "NAME" }`` (or
``{ file = "PATH" }``) is read from the environment (or a file) at load time, and is
shown redacted everywhere.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError, core_schema

SITE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SHIFT = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class ConfigError(Exception):
    """A site file cannot be used. The message names file, key and expectation."""


# --- secrets -----------------------------------------------------------------------


@dataclass(frozen=True)
class SecretRef:
    """Where a secret came from (``env:NAME`` or ``file:PATH``) and its value."""

    source: str
    value: str


class Secret:
    """A secret setting. ``str(secret)`` and ``repr`` never show the value; call
    :meth:`reveal` where the value is really needed."""

    __slots__ = ("_ref",)

    def __init__(self, ref: SecretRef) -> None:
        self._ref = ref

    def reveal(self) -> str:
        return self._ref.value

    @property
    def source(self) -> str:
        return self._ref.source

    def __repr__(self) -> str:
        return f"Secret({self._ref.source!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._ref == self._ref

    def __hash__(self) -> int:
        return hash(self._ref)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> "Secret":
            if isinstance(value, Secret):
                return value
            if isinstance(value, SecretRef):
                return cls(value)
            raise PydanticCustomError(
                "secret_literal",
                'secrets are not written in site files: give { env = "NAME" } '
                '(an environment variable) or { file = "PATH" }',
            )

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda s: f"<redacted: {s.source}>"
            ),
        )


def _resolve_secrets(value: Any, path: str, file: Path) -> Any:
    """Replace every ``{ env = … }`` / ``{ file = … }`` table by a :class:`SecretRef`."""
    if isinstance(value, dict):
        if set(value) == {"env"} and isinstance(value["env"], str):
            name = value["env"]
            if name not in os.environ:
                raise ConfigError(
                    f"{file}: {path}: the environment variable {name} is not set "
                    f"(this secret is read from it)"
                )
            return SecretRef(f"env:{name}", os.environ[name])
        if set(value) == {"file"} and isinstance(value["file"], str):
            secret_path = Path(value["file"])
            if not secret_path.is_absolute():
                secret_path = file.parent / secret_path
            try:
                return SecretRef(
                    f"file:{value['file']}", secret_path.read_text("utf-8").strip()
                )
            except OSError as exc:
                raise ConfigError(
                    f"{file}: {path}: cannot read the secret file {secret_path}: "
                    f"{exc.strerror}"
                ) from None
        return {k: _resolve_secrets(v, f"{path}.{k}" if path else k, file) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_secrets(v, f"{path}[{i}]", file) for i, v in enumerate(value)]
    return value


def redacted(value: Any) -> Any:
    """A copy of raw config with every secret shown as ``<redacted: source>``."""
    if isinstance(value, SecretRef):
        return f"<redacted: {value.source}>"
    if isinstance(value, Secret):
        return f"<redacted: {value.source}>"
    if isinstance(value, dict):
        return {k: redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


# --- the site model -----------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_shift(text: str) -> tuple[int, int]:
    """``"08:00-12:30"`` -> ``(480, 750)`` minutes since midnight; ``24:00`` allowed
    as an end."""
    match = _SHIFT.match(text.strip())
    if not match:
        raise ValueError(f'expected a shift like "08:00-12:00", got {text!r}')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60:
        raise ValueError(f"{text!r} is not a valid time range")
    if end <= start:
        raise ValueError(
            f"{text!r} ends before it starts; a shift past midnight is written as "
            f'two: "22:00-24:00" on one day and "00:00-06:00" on the next'
        )
    return start, end


class Hours(Strict):
    """Opening shifts per weekday. Several shifts a day are allowed (split shifts);
    ``["00:00-24:00"]`` is open all day; an empty list or a missing day is closed.
    ``always = true`` means 24 h, every day (holidays still apply unless
    ``holidays.categories`` is empty)."""

    always: bool = False
    mon: list[str] = Field(default_factory=list)
    tue: list[str] = Field(default_factory=list)
    wed: list[str] = Field(default_factory=list)
    thu: list[str] = Field(default_factory=list)
    fri: list[str] = Field(default_factory=list)
    sat: list[str] = Field(default_factory=list)
    sun: list[str] = Field(default_factory=list)

    @field_validator(*WEEKDAYS)
    @classmethod
    def _shifts(cls, shifts: list[str]) -> list[str]:
        parsed = sorted(parse_shift(s) for s in shifts)
        for (_, end), (start, _) in zip(parsed, parsed[1:]):
            if start < end:
                raise ValueError(f"shifts overlap: {shifts}")
        return shifts

    def weekly(self) -> dict[int, list[tuple[int, int]]]:
        """Weekday number (Monday = 0) -> sorted shifts in minutes."""
        if self.always:
            return {d: [(0, 24 * 60)] for d in range(7)}
        return {
            i: sorted(parse_shift(s) for s in getattr(self, day))
            for i, day in enumerate(WEEKDAYS)
        }


class Holidays(Strict):
    """Days the site is closed: a country's holidays from the ``holidays`` package
    (Uruguay's ``public`` no-laborables and ``bank`` laborables, which public offices
    also close for) plus one-off closures."""

    country: str = "UY"
    subdivision: str | None = None
    categories: list[Literal["public", "bank", "optional", "armed_forces", "government", "school", "workday", "half_day", "unofficial"]] = Field(
        default_factory=lambda: ["public", "bank"]
    )
    closures: list[dt.date] = Field(default_factory=list)


class ContactChannels(Strict):
    """The site's other channels, offered to citizens when nobody can answer here."""

    phone: str | None = None
    phone_hours: str | None = None
    email: str | None = None
    web: str | None = None
    address: str | None = None


class Privacy(Strict):
    """Personal data: detection (:mod:`canales.core.privacy`) with the site's own
    sensitive topics, each a list of words, added to the defaults (or replacing them
    with ``replace_default_topics = true``); and retention
    (:mod:`canales.core.retention`)."""

    sensitive_topics: dict[str, list[str]] = Field(default_factory=dict)
    replace_default_topics: bool = False
    # Ley 18.331, art. 8: data are kept only while the purpose needs them. Closed
    # conversations older than this are anonymised or deleted (None: kept).
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    retention: Literal["anonymise", "delete"] = "anonymise"


class SiteConfig(Strict):
    """A validated site file. ``plugins`` holds each enabled plugin's raw settings;
    each plugin's own model validates them (see :mod:`canales.core.plugins`)."""

    id: str = Field(pattern=SITE_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    timezone: str = "America/Montevideo"
    locale: str = "es-UY"
    hours: Hours = Field(default_factory=lambda: Hours(always=True))
    holidays: Holidays = Field(default_factory=Holidays)
    contact: ContactChannels = Field(default_factory=ContactChannels)
    privacy: Privacy = Field(default_factory=Privacy)
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as "
                f'"America/Montevideo"'
            ) from None
        return value

    @field_validator("plugins")
    @classmethod
    def _enabled_flag(cls, plugins: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, table in plugins.items():
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise ValueError(f"{name!r} is not a plugin name")
            if "enabled" in table and not isinstance(table["enabled"], bool):
                raise ValueError(f"plugins.{name}.enabled must be true or false")
        return plugins

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def enabled_plugins(self) -> list[str]:
        """Plugins whose ``[plugins.<name>]`` table is present and not
        ``enabled = false``, in file order."""
        return [
            name
            for name, table in self.plugins.items()
            if table.get("enabled", True) is not False
        ]

    def plugin_settings(self, name: str) -> dict[str, Any]:
        """The raw settings of one plugin, without the reserved ``enabled`` key."""
        return {k: v for k, v in self.plugins.get(name, {}).items() if k != "enabled"}


def describe_error(file: Path | str, exc: ValidationError, prefix: str = "") -> str:
    """Turn pydantic's errors into lines that name file, key and expectation."""
    lines = []
    for error in exc.errors():
        parts = [*(prefix.split(".") if prefix else []), *error["loc"]]
        key = ".".join(str(part) for part in parts if part != "")
        message = error["msg"].removeprefix("Value error, ")
        got = error.get("input")
        detail = ""
        # Never echo what was written where a secret belongs.
        if error["type"] not in ("missing", "extra_forbidden", "secret_literal") and not isinstance(
            got, (dict, SecretRef)
        ):
            detail = f" (got {got!r})"
        if error["type"] == "extra_forbidden":
            message = "unknown key; check its spelling"
        lines.append(f"{file}: {key or '(top level)'}: {message}{detail}")
    return "\n".join(lines)


def load_site_file(path: str | Path) -> SiteConfig:
    """Read and validate one site file (core keys only; plugin settings are
    validated when the site's plugins are loaded)."""
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such site file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    raw = _resolve_secrets(raw, "", file)
    plugins = raw.get("plugins", {})
    if not isinstance(plugins, dict) or not all(isinstance(v, dict) for v in plugins.values()):
        raise ConfigError(
            f"{file}: plugins: expected tables such as [plugins.chatbot], one per "
            f"enabled plugin"
        )
    try:
        config = SiteConfig.model_validate({**raw, "path": file})
    except ValidationError as exc:
        raise ConfigError(describe_error(file, exc)) from None
    return config
