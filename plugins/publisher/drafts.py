"""What an agent writes for a post, checked before anything is stored: the summary,
the link (see :mod:`links`), the category, the channels and their length limits,
and the publication time in a known zone, in the future. Also the preview: the text
exactly as each channel will show it.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from canales.core.publication import PublicationTarget, targets
from canales.core.site import Site
from canales.core.text import InvalidInput, clean
from canales.plugins.publisher.links import LinkRefused, check_link, links_in_text
from canales.plugins.publisher.models import CATEGORIES
from canales.plugins.publisher.settings import PublisherSettings
from canales.plugins.publisher.texts import label
from canales.plugins.publisher.timing import TimeRefused, local_text, parse_when, zone

PLUGIN = "publisher"


def settings_of(site: Site) -> PublisherSettings:
    return site.settings(PLUGIN, PublisherSettings)


@dataclass(frozen=True)
class Draft:
    """A post as an agent (or a CSV row) gives it. ``publish_at`` is a wall-clock
    time in ``timezone`` (default: the site's), a string with an explicit offset, or
    an aware datetime. ``channels`` defaults to the settings' ``channels``."""

    summary: str
    link: str
    category: str
    publish_at: str | dt.datetime
    channels: Sequence[str] | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with a draft: the field (or CSV column) and a message in
    Spanish for the agent."""

    field: str
    message: str


class PostInvalid(ValueError):
    """A draft that cannot be stored; nothing was."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class Checked:
    """A draft that passed every check, normalised and ready to store."""

    summary: str
    link: str
    category: str
    publish_at: dt.datetime
    timezone: str
    channels: tuple[str, ...]


@dataclass(frozen=True)
class ChannelPreview:
    """How the post will look on one channel: ``text`` as published (with the link
    at its end when the channel shows no link card), and whether it fits."""

    channel: str
    label: str
    text: str
    link: str
    link_card: bool
    length: int
    max_length: int

    @property
    def fits(self) -> bool:
        return self.length <= self.max_length


@dataclass
class _Errors:
    texts: dict[str, str]
    items: list[FieldError] = field(default_factory=list)

    def add(self, name: str, key: str, **params: object) -> None:
        self.items.append(FieldError(name, label(self.texts, key, **params)))


def category_of(value: str) -> str | None:
    """A category slug from a slug or its Spanish name, accents and case aside
    ("Período de inscripción" -> ``periodo_inscripcion``); ``None`` if unknown."""
    plain = unicodedata.normalize("NFKD", value.strip().lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    plain = plain.replace(" de ", "_").replace(" ", "_").replace("-", "_")
    return plain if plain in CATEGORIES else None


def compose(summary: str, link: str, target: PublicationTarget) -> str:
    """The text a channel publishes: the summary, plus the link at the end when the
    channel does not show links as cards."""
    return summary if target.link_card else f"{summary}\n\n{link}"


def preview(site: Site, summary: str, link: str, channels: Sequence[str]) -> list[ChannelPreview]:
    """The post as each of ``channels`` will show it (unknown channels left out)."""
    available = targets(site)
    shown = []
    for channel in channels:
        target = available.get(channel)
        if target is None:
            continue
        text = compose(summary, link, target)
        shown.append(ChannelPreview(channel, target.label, text, link, target.link_card, len(text), target.max_length))
    return shown


def _link_error(errors: _Errors, name: str, exc: LinkRefused) -> None:
    errors.add(name, f"error.link.{exc.code}", **exc.params)


def check(site: Site, draft: Draft, *, now: dt.datetime | None = None) -> Checked:
    """Validate ``draft`` for ``site``; raise :class:`PostInvalid` listing every
    field at fault (so that a CSV row reports all its problems at once)."""
    settings = settings_of(site)
    errors = _Errors(settings.texts)
    domains = settings.allowed_link_domains

    summary = ""
    try:
        summary = clean(draft.summary, "summary", settings.summary_max_length).strip()
    except InvalidInput as exc:
        if "empty" in exc.reason:
            errors.add("summary", "error.summary.empty")
        elif "longer" in exc.reason:
            errors.add("summary", "error.summary.long", length=len(draft.summary), limit=settings.summary_max_length)
        else:
            errors.add("summary", "error.summary.invalid")
    for inner in links_in_text(summary):
        try:
            check_link(inner, domains)
        except LinkRefused as exc:
            reason = label(settings.texts, f"error.link.{exc.code}", **exc.params)
            errors.add("summary", "error.summary.link", link=inner[:80], reason=reason)
            break

    link = ""
    try:
        link = check_link(draft.link, domains)
    except LinkRefused as exc:
        _link_error(errors, "link", exc)

    category = category_of(draft.category or "")
    if category is None:
        errors.add("category", "error.category", value=draft.category, known=", ".join(CATEGORIES))

    tz: ZoneInfo | None = None
    zone_name = draft.timezone or site.config.timezone
    try:
        tz = zone(zone_name)
    except TimeRefused:
        errors.add("timezone", "error.timezone", value=zone_name)
    publish_at: dt.datetime | None = None
    if tz is not None:
        try:
            publish_at = parse_when(draft.publish_at, tz)
        except TimeRefused as exc:
            errors.add("publish_at", f"error.time.{exc.code}", **exc.params)
        else:
            earliest = (now or site.now()) + dt.timedelta(minutes=settings.min_lead_minutes)
            if publish_at < earliest:
                errors.add("publish_at", "error.time.past", when=local_text(publish_at, tz), lead=settings.min_lead_minutes)

    channels = tuple(dict.fromkeys(draft.channels if draft.channels is not None else settings.channels))
    available = targets(site)
    if not channels:
        errors.add("channels", "error.channels.empty")
    for channel in channels:
        target = available.get(channel)
        if target is None:
            errors.add("channels", "error.channels.unknown", channel=channel, known=", ".join(sorted(available)) or "ninguno")
        elif summary and link:
            length = len(compose(summary, link, target))
            if length > target.max_length:
                errors.add("summary", "error.length", length=length, label=target.label, limit=target.max_length)

    if errors.items:
        raise PostInvalid(errors.items)
    assert publish_at is not None and category is not None and tz is not None
    return Checked(summary, link, category, publish_at, tz.key, channels)
