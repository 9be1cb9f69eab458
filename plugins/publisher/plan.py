"""Importing a posting plan from CSV: every row is checked like a post typed in
the inbox, every problem is reported with its row number (the header is row 1, as
a spreadsheet shows it) and column name, and nothing is imported unless every row
is right.

Columns (header names, any order; UTF-8, with or without BOM; comma or semicolon
separated, as spreadsheets export in es-UY):

``date``       ``2026-03-02`` — required
``time``       ``10:00`` (24 h), local time in ``timezone`` — required
``summary``    the text of the post — required
``link``       https address on an allowed domain — required
``category``   ``beneficio``, ``período de inscripción``, ``trámite de temporada``,
               ``campaña``, ``canal de atención``, ``otro`` (or their slugs) — required
``channels``   channels separated by spaces, commas or ``|`` — optional (default:
               the settings' ``channels``)
``timezone``   IANA zone — optional (default: the site's)

Importing the same file again adds nothing: each row's content is fingerprinted
(``source_key``) and rows already imported are skipped and reported as such.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import col, select

from canales.core.site import Site
from canales.plugins.publisher.drafts import Checked, Draft, PostInvalid, check, settings_of
from canales.plugins.publisher.models import Post
from canales.plugins.publisher.texts import label
from canales.plugins.publisher.timing import TimeRefused, combine, zone
from canales.plugins.publisher.workflow import APPROVER_ROLES, EDITOR_ROLES, NotAllowed, role_of, store_new

COLUMNS = ("date", "time", "summary", "link", "category", "channels", "timezone")
REQUIRED = ("date", "time", "summary", "link", "category")
MAX_ROWS = 1000
MAX_BYTES = 1024 * 1024
_SPLIT = re.compile(r"[\s,;|]+")
_FIELD_COLUMN = {"publish_at": "date", "summary": "summary", "link": "link", "category": "category",
                 "channels": "channels", "timezone": "timezone"}


@dataclass(frozen=True)
class RowError:
    """A problem in the plan: ``row`` 0 is the file as a whole."""

    row: int
    column: str
    message: str


class PlanInvalid(ValueError):
    """The plan has errors; nothing was imported."""

    def __init__(self, errors: Sequence[RowError], texts: dict[str, str]) -> None:
        self.errors = list(errors)
        self.lines = [
            label(texts, "csv.row", row=e.row, column=e.column, message=e.message) if e.row else e.message
            for e in self.errors
        ]
        super().__init__("\n".join(self.lines))


@dataclass
class ImportReport:
    """What an import did: the posts it created and the rows already imported."""

    created: list[int] = field(default_factory=list)
    skipped_rows: list[int] = field(default_factory=list)


def _read(data: bytes | str, texts: dict[str, str]) -> list[dict[str, str]]:
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise PlanInvalid([RowError(0, "", label(texts, "csv.too_many", limit=MAX_ROWS))], texts)
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PlanInvalid([RowError(0, "", label(texts, "csv.encoding"))], texts) from None
    data = data.lstrip("\ufeff")
    first = data.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(data, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    errors = [RowError(1, h, label(texts, "csv.unknown_column", column=h)) for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        errors.append(RowError(1, ", ".join(missing), label(texts, "csv.header", missing=", ".join(missing))))
    if errors:
        raise PlanInvalid(errors, texts)
    reader.fieldnames = header
    rows = []
    for row in reader:
        if len(rows) >= MAX_ROWS:
            raise PlanInvalid([RowError(0, "", label(texts, "csv.too_many", limit=MAX_ROWS))], texts)
        cleaned = {k: (v or "").strip() for k, v in row.items() if k is not None and isinstance(v, str)}
        if any(cleaned.values()):
            rows.append(cleaned)
    if not rows:
        raise PlanInvalid([RowError(0, "", label(texts, "csv.empty"))], texts)
    return rows


def fingerprint(site_id: str, checked: Checked) -> str:
    """A row's identity, to recognise a plan imported twice."""
    parts = [site_id, checked.publish_at.isoformat(), checked.link, checked.summary, ",".join(sorted(checked.channels))]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def check_plan(site: Site, data: bytes | str) -> list[tuple[int, Checked]]:
    """Check every row; return ``(row number, checked post)`` pairs or raise
    :class:`PlanInvalid` with every error of every row."""
    texts = settings_of(site).texts
    errors: list[RowError] = []
    checked_rows: list[tuple[int, Checked]] = []
    seen: dict[tuple[object, ...], int] = {}
    for number, row in enumerate(_read(data, texts), start=2):
        zone_name = row.get("timezone") or site.config.timezone
        try:
            tz = zone(zone_name)
        except TimeRefused:
            errors.append(RowError(number, "timezone", label(texts, "error.timezone", value=zone_name)))
            continue
        try:
            instant: dt.datetime | str = combine(row.get("date", ""), row.get("time", ""), tz)
        except TimeRefused as exc:
            column = "time" if exc.code in ("gap", "ambiguous") else _bad_column(row)
            errors.append(RowError(number, column, label(texts, f"error.time.{exc.code}", **exc.params)))
            instant = ""
        channels = [c for c in _SPLIT.split(row.get("channels", "")) if c] or None
        draft = Draft(row.get("summary", ""), row.get("link", ""), row.get("category", ""),
                      instant or "", channels, tz.key)
        try:
            checked = check(site, draft)
        except PostInvalid as exc:
            for error in exc.errors:
                if error.field == "publish_at" and not instant:
                    continue  # already reported from the date/time columns
                errors.append(RowError(number, _FIELD_COLUMN.get(error.field, error.field), error.message))
            continue
        identity = (checked.publish_at, checked.link, checked.summary)
        if identity in seen:
            errors.append(RowError(number, "summary", label(texts, "csv.duplicate", other=seen[identity])))
            continue
        seen[identity] = number
        checked_rows.append((number, checked))
    if errors:
        raise PlanInvalid(errors, texts)
    return checked_rows


def _bad_column(row: dict[str, str]) -> str:
    try:
        dt.date.fromisoformat(row.get("date", "").strip())
    except ValueError:
        return "date"
    return "time"


async def import_plan(site: Site, agent_id: int, data: bytes | str, *, state: str = "pending_approval") -> ImportReport:
    """Import a CSV plan as posts in ``state`` (``draft``, ``pending_approval``, or
    ``scheduled`` for supervisors and admins): all rows or none."""
    texts = settings_of(site).texts
    if state not in ("draft", "pending_approval", "scheduled"):
        raise ValueError(f"imported posts are draft, pending_approval or scheduled, not {state!r}")
    roles = APPROVER_ROLES if state == "scheduled" else EDITOR_ROLES
    if await role_of(site, agent_id) not in roles:
        raise NotAllowed(label(texts, "error.role.approve" if state == "scheduled" else "error.role.edit"))
    rows = check_plan(site, data)
    keys = {number: fingerprint(site.id, checked) for number, checked in rows}
    report = ImportReport()
    now = site.now()
    async with site.db.write() as session:
        existing = set((await session.exec(
            select(Post.source_key).where(Post.site_id == site.id, col(Post.source_key).in_(list(keys.values())))
        )).all())
        for number, checked in rows:
            if keys[number] in existing:
                report.skipped_rows.append(number)
                continue
            post = await store_new(session, site, checked, agent_id, state, now, source_key=keys[number])
            report.created.append(post.id or 0)
    return report
