"""Finding personal data and sensitive topics in text, for every channel.

A public answer must never expose a citizen's personal data (Ley 18.331), and
anything about health, religion, politics and the like is *sensitive data* that goes
private. :func:`find` looks for Uruguayan identifiers and contact data:

* ``cedula``: a cédula de identidad whose check digit is right (``1.234.567-2``);
* ``rut``: a RUT, validated by python-stdnum (``21-100342-001-7``);
* ``phone``: a Uruguayan phone number, validated by ``phonenumbers`` (toll-free and
  premium-rate numbers are an organisation's, not a person's, and are skipped);
* ``email``, ``address`` (street and number, "esq.", "apto"), ``plate`` (vehicle
  plate, "padrón");
* ``topic``: a word of a sensitive topic (``finding.topic`` names it), from the
  defaults below plus the site's ``[privacy] sensitive_topics``.

Each :class:`Finding` carries its kind and its span in the text, so that a channel
can explain what it found and :func:`mask` can hide it in logs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import phonenumbers
from stdnum.uy import rut as uy_rut

if TYPE_CHECKING:  # pragma: no cover
    from canales.core.site import Site

# Words (accents and case do not matter) that make a message sensitive data under
# Ley 18.331 art. 18. Sites add their own with ``[privacy] sensitive_topics``.
DEFAULT_TOPICS: dict[str, tuple[str, ...]] = {
    "salud": (
        "enfermedad", "enfermo", "enferma", "diagnostico", "diagnosticaron",
        "tratamiento medico", "medicacion", "medicamento", "medicamentos", "vih",
        "sida", "cancer", "tumor", "embarazo", "embarazada", "aborto", "psiquiatra",
        "psiquiatrico", "psicologo", "depresion", "discapacidad", "internado",
        "internada", "internacion", "historia clinica", "certificado medico",
        "licencia medica", "diabetes", "covid positivo", "operacion", "cirugia",
    ),
    "religion": ("religion", "iglesia", "culto religioso"),
    "politica": ("afiliacion politica", "afiliado al partido", "militante", "voto por"),
    "sindical": ("sindicato", "afiliacion sindical"),
    "sexualidad": ("orientacion sexual", "homosexual", "transexual", "vida sexual"),
    "origen": ("origen etnico", "afrodescendiente", "raza"),
    "violencia": ("violencia domestica", "violencia de genero", "abuso sexual", "me golpea"),
    "antecedentes": ("antecedentes penales", "privado de libertad", "procesado"),
}

# Kinds of personal data (``topic`` is sensitive data, the rest identify a person).
KINDS = ("cedula", "rut", "phone", "email", "address", "plate", "topic")

LABELS = {
    "cedula": "cédula de identidad",
    "rut": "RUT",
    "phone": "teléfono",
    "email": "correo electrónico",
    "address": "dirección",
    "plate": "matrícula o padrón",
    "topic": "tema sensible",
}

_CI_WEIGHTS = (2, 9, 8, 7, 6, 3, 4)
# 1.234.567-2 · 1234567-2 · 1234567 2 · 12345672 · 123.456-7 (six-digit old numbers).
_CEDULA = re.compile(r"(?<![\d.,-])(\d{1,2}\.?\d{3}\.?\d{3})\s?[-/ ]?\s?(\d)(?!\d|[.,]\d)")
_CI_CONTEXT = re.compile(r"(?:c\.?\s?i\.?|c[eé]dula|documento|doc\.)\s*(?:n[°º.o]*\s*)?:?\s*$", re.I)
_RUT = re.compile(r"(?<!\d)(\d{2}[-. ]?\d{6}[-. ]?\d{3}[-. ]?\d)(?!\d)")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+", re.UNICODE)
_STREET = (
    r"(?:avenida|avda\.?|av\.?|bulevar|bulevard|boulevard|bv\.?|blvr\.?|calle|camino|cno\.?|"
    r"rambla|pasaje|psje\.?|ruta|callej[oó]n)"
)
_ADDRESS = re.compile(
    rf"\b{_STREET}\s+\w[\w .'-]{{1,40}}?\s+(?:n[°º.o]*\s*|nro\.?\s*|n[uú]mero\s+)?\d{{1,5}}\b"
    r"|\b(?:apto|apartamento|apt\.?|ap\.)\s*(?:n[°º.o]*\s*)?\d{1,4}\b"
    r"|\besq(?:\.|uina)\s+[^\W\d_][\w'-]{2,}(?:\s+[^\W\d_][\w'-]{2,}){0,2}"
    r"|\b[^\W\d_][\w'-]{2,}(?:\s+[^\W\d_][\w'-]{2,}){0,2}\s+\d{3,5}\s+(?:esq|apto|ap)\b",
    re.I,
)
_PLATE = re.compile(r"\b[A-Z]{3}\s?-?\s?\d{4}\b")
_PLATE_ANY_CASE = re.compile(r"\b(?:matr[ií]cula|placa|chapa)\s*(?:n[°º.o]*\s*)?:?\s*([A-Za-z]{3}\s?-?\s?\d{4})\b", re.I)
_PADRON = re.compile(r"\bpadr[oó]n\s*(?:n[°º.o]*\s*)?:?\s*\d{3,8}\b", re.I)
_SKIPPED_PHONE_TYPES = {
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST,
}


@dataclass(frozen=True)
class Finding:
    """One piece of personal data or sensitive topic found in a text: its kind,
    where it is (``text[start:end]``), and for ``topic`` findings, which topic."""

    kind: str
    start: int
    end: int
    value: str
    topic: str | None = None

    @property
    def sensitive(self) -> bool:
        """Sensitive data (a topic) rather than an identifier."""
        return self.kind == "topic"

    @property
    def label(self) -> str:
        """A Spanish description for agents ("cédula de identidad", "tema sensible: salud")."""
        if self.topic:
            return f"{LABELS['topic']}: {self.topic}"
        return LABELS[self.kind]


def cedula_check_digit(number: str) -> int:
    """The check digit of a cédula's first digits (six or seven; six are padded
    with a leading zero): ``dv = (10 - Σ dᵢ·wᵢ mod 10) mod 10`` with weights
    2, 9, 8, 7, 6, 3, 4."""
    digits = re.sub(r"\D", "", number)
    if not 6 <= len(digits) <= 7:
        raise ValueError("a cédula has six or seven digits before its check digit")
    digits = digits.zfill(7)
    total = sum(int(d) * w for d, w in zip(digits, _CI_WEIGHTS))
    return (10 - total % 10) % 10


def is_valid_cedula(value: str) -> bool:
    """True for a well-formed cédula (``1.234.567-2``, ``12345672``) whose check
    digit is right."""
    digits = re.sub(r"[\s.\-/]", "", value)
    if not digits.isdigit() or not 7 <= len(digits) <= 8:
        return False
    return cedula_check_digit(digits[:-1]) == int(digits[-1])


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents, keeping one character per character
    so that positions in the folded text are positions in the original."""
    out = []
    for char in text:
        base = unicodedata.normalize("NFD", char)[:1] or char
        out.append(base.lower() if len(base.lower()) == 1 else char)
    return "".join(out)


class Detector:
    """Finds personal data and sensitive topics. Build one per site (see
    :func:`for_site`) so that the topic patterns are compiled once."""

    def __init__(self, topics: Mapping[str, Iterable[str]] | None = None) -> None:
        self.topics = {name: tuple(words) for name, words in (topics if topics is not None else DEFAULT_TOPICS).items()}
        self._topic_patterns = [
            (name, re.compile(r"\b(?:" + "|".join(re.escape(fold(w)) for w in sorted(words, key=len, reverse=True)) + r")\b"))
            for name, words in self.topics.items()
            if words
        ]

    def find(self, text: str, *, ignore: Iterable[str] = ()) -> list[Finding]:
        """Every finding in ``text``, in order, without overlaps. Values in
        ``ignore`` (the site's own phone or e-mail, which it may well write in an
        answer) are not personal data."""
        ignored = {_digits_or_text(v) for v in ignore if v}
        found: list[Finding] = []
        found += self._emails(text)
        found += self._ruts(text)
        found += self._cedulas(text)
        found += self._phones(text)
        found += self._addresses(text)
        found += self._plates(text)
        found += self._topics(text)
        found = [f for f in found if _digits_or_text(f.value) not in ignored]
        return _without_overlaps(found)

    def _emails(self, text: str) -> list[Finding]:
        return [Finding("email", m.start(), m.end(), m.group()) for m in _EMAIL.finditer(text)]

    def _ruts(self, text: str) -> list[Finding]:
        return [
            Finding("rut", m.start(), m.end(), m.group())
            for m in _RUT.finditer(text)
            if uy_rut.is_valid(re.sub(r"\D", "", m.group()))
        ]

    def _cedulas(self, text: str) -> list[Finding]:
        found = []
        for m in _CEDULA.finditer(text):
            if not is_valid_cedula(m.group()):
                continue
            formatted = any(c in m.group() for c in ".-/ ")
            in_context = bool(_CI_CONTEXT.search(text[max(0, m.start() - 20) : m.start()]))
            # Eight bare digits are also a landline's length: call it a cédula only
            # when it is written like one or named as one (else the phone check
            # below sees it).
            if formatted or in_context or not _is_phone(m.group()):
                found.append(Finding("cedula", m.start(), m.end(), m.group()))
        return found

    def _phones(self, text: str) -> list[Finding]:
        found = []
        for match in phonenumbers.PhoneNumberMatcher(text, "UY", leniency=phonenumbers.Leniency.VALID):
            if phonenumbers.number_type(match.number) in _SKIPPED_PHONE_TYPES:
                continue
            found.append(Finding("phone", match.start, match.end, match.raw_string))
        return found

    def _addresses(self, text: str) -> list[Finding]:
        return [Finding("address", m.start(), m.end(), m.group()) for m in _ADDRESS.finditer(text)]

    def _plates(self, text: str) -> list[Finding]:
        found = [Finding("plate", m.start(), m.end(), m.group()) for m in _PLATE.finditer(text)]
        found += [Finding("plate", m.start(1), m.end(1), m.group(1)) for m in _PLATE_ANY_CASE.finditer(text)]
        found += [Finding("plate", m.start(), m.end(), m.group()) for m in _PADRON.finditer(text)]
        return found

    def _topics(self, text: str) -> list[Finding]:
        folded = fold(text)
        return [
            Finding("topic", m.start(), m.end(), text[m.start() : m.end()], topic=name)
            for name, pattern in self._topic_patterns
            for m in pattern.finditer(folded)
        ]


def _is_phone(value: str) -> bool:
    try:
        number = phonenumbers.parse(value, "UY")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _digits_or_text(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 6:
        return digits[-8:]  # "+598 2901 2345" and "2901 2345" are the same number
    return value.strip().lower()


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    """Keep the earliest (then the longest) of overlapping findings."""
    found.sort(key=lambda f: (f.start, -(f.end - f.start)))
    kept: list[Finding] = []
    for finding in found:
        if kept and finding.start < kept[-1].end:
            continue
        kept.append(finding)
    return kept


_DEFAULT = Detector()


def find(text: str, *, ignore: Iterable[str] = ()) -> list[Finding]:
    """:meth:`Detector.find` with the default topics."""
    return _DEFAULT.find(text, ignore=ignore)


def mask(text: str, findings: Sequence[Finding] | None = None) -> str:
    """``text`` with every finding replaced by ``[kind]`` (``[cedula]``,
    ``[topic:salud]``), for logs and anywhere the data itself is not needed."""
    if findings is None:
        findings = find(text)
    out, last = [], 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < last:
            continue
        out.append(text[last : finding.start])
        out.append(f"[{finding.kind}:{finding.topic}]" if finding.topic else f"[{finding.kind}]")
        last = finding.end
    out.append(text[last:])
    return "".join(out)


def describe(findings: Iterable[Finding]) -> str:
    """The kinds found, in Spanish, for an agent: "cédula de identidad, teléfono"."""
    labels: list[str] = []
    for finding in findings:
        if finding.label not in labels:
            labels.append(finding.label)
    return ", ".join(labels)


def for_site(site: "Site") -> Detector:
    """The site's detector: the default topics plus (or, with
    ``replace_default_topics``, instead of) the site's ``[privacy]`` topics."""
    detector = site.state.get("privacy")
    if detector is None:
        config = site.config.privacy
        topics: dict[str, tuple[str, ...]] = {} if config.replace_default_topics else dict(DEFAULT_TOPICS)
        for name, words in config.sensitive_topics.items():
            topics[name] = (*topics.get(name, ()), *words)
        detector = site.state["privacy"] = Detector(topics)
    return detector


def site_contacts(site: "Site") -> list[str]:
    """The site's own phone, e-mail and web address: never personal data."""
    contact = site.config.contact
    return [v for v in (contact.phone, contact.email, contact.web) if v]
