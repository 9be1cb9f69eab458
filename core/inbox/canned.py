"""Canned answers: a site's prepared replies, with placeholders filled in for each
conversation (``{nombre}`` is the citizen's name), inserted in the reply box by
agents (the ``/`` key in an empty reply box opens the list)."""

from __future__ import annotations

import re
import string

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from canales.core.inbox.models import CannedAnswer
from canales.core.inbox.texts import text
from canales.core.models import Agent, Contact
from canales.core.routing import NotFound
from canales.core.site import Site
from canales.core.text import MAX_TEXT, InvalidInput, clean

PLACEHOLDERS = {
    "nombre": "el nombre del ciudadano (vacío si no se conoce)",
    "agente": "tu nombre",
    "organismo": "el nombre del sitio",
    "telefono": "el teléfono de atención del sitio",
    "correo": "el correo de atención del sitio",
    "web": "la web del sitio",
}
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def check_placeholders(body: str) -> None:
    """Raise ``ValueError`` (for the admin) if the text uses an unknown
    placeholder or a malformed brace."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(body) if name is not None}
    except ValueError:
        raise ValueError(text("admin.bad_placeholder", found="una llave { sin cerrar", available=_available())) from None
    unknown = sorted(f for f in fields if f not in PLACEHOLDERS)
    if unknown:
        raise ValueError(text("admin.bad_placeholder", found=", ".join(f"{{{u}}}" for u in unknown), available=_available()))


def _available() -> str:
    return ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)


def fill(body: str, site: Site, contact: Contact | None, agent: Agent) -> str:
    """The answer's text for one conversation, placeholders filled in."""
    values = _Blank(
        nombre=(contact.name if contact and contact.name else ""),
        agente=agent.name,
        organismo=site.name,
        telefono=site.config.contact.phone or "",
        correo=site.config.contact.email or "",
        web=site.config.contact.web or "",
    )
    try:
        return body.format_map(values)
    except (ValueError, IndexError, KeyError):
        return body


async def answers_of(site: Site) -> list[CannedAnswer]:
    async with site.db.read() as session:
        return list(
            (await session.exec(select(CannedAnswer).where(CannedAnswer.site_id == site.id).order_by(col(CannedAnswer.shortcut)))).all()
        )


async def save(site: Site, *, answer_id: int | None, shortcut: str, title: str, body: str) -> CannedAnswer:
    """Create (``answer_id`` None) or update a canned answer of the site. Raises
    ``ValueError`` with a message for the admin."""
    shortcut = shortcut.strip().lower()
    if not _SHORTCUT.match(shortcut):
        raise ValueError(text("admin.bad_shortcut"))
    title = " ".join(title.split())
    if not title or len(title) > 120:
        raise ValueError(text("admin.bad_title"))
    try:
        body = clean(body, "text", MAX_TEXT)
    except InvalidInput:
        raise ValueError(text("error.empty_text") if not body.strip() else text("error.text_too_long", max=MAX_TEXT)) from None
    check_placeholders(body)
    try:
        async with site.db.write() as session:
            if answer_id is None:
                answer = CannedAnswer(site_id=site.id, shortcut=shortcut, title=title, text=body, updated_at=site.now())
            else:
                found = (
                    await session.exec(select(CannedAnswer).where(col(CannedAnswer.id) == answer_id, CannedAnswer.site_id == site.id))
                ).first()
                if found is None:
                    raise NotFound(f"canned answer {answer_id} not found")
                answer = found
                answer.shortcut, answer.title, answer.text, answer.updated_at = shortcut, title, body, site.now()
            session.add(answer)
            await session.flush()
            await session.refresh(answer)
    except IntegrityError:
        raise ValueError(text("admin.shortcut_taken", shortcut=shortcut)) from None
    return answer


async def remove(site: Site, answer_id: int) -> bool:
    async with site.db.write() as session:
        result = await session.exec(delete(CannedAnswer).where(col(CannedAnswer.id) == answer_id, CannedAnswer.site_id == site.id))
    return bool(result.rowcount)
