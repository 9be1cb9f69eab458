"""The personal-data and sensitive-topic detector (core/privacy.py)."""

from __future__ import annotations

from typing import Any

import pytest

from canales.core import privacy
from canales.core.privacy import Detector, cedula_check_digit, find, is_valid_cedula, mask


def kinds(text: str, **kw: Any) -> list[str]:
    return [f.kind for f in find(text, **kw)]


@pytest.mark.parametrize(
    "number, digit",
    [("1234567", 2), ("1111111", 1), ("4567890", 5), ("3456789", 4), ("123456", 1)],
)
def test_cedula_check_digit(number: str, digit: int) -> None:
    assert cedula_check_digit(number) == digit


def test_cedula_check_digit_refuses_wrong_lengths() -> None:
    with pytest.raises(ValueError):
        cedula_check_digit("12345")


@pytest.mark.parametrize("value", ["1.234.567-2", "1234567-2", "12345672", "1.111.111-1", "123.456-1"])
def test_valid_cedulas(value: str) -> None:
    assert is_valid_cedula(value)


@pytest.mark.parametrize("value", ["1.234.567-3", "12345671", "1234", "abc"])
def test_invalid_cedulas(value: str) -> None:
    assert not is_valid_cedula(value)


def test_cedula_found_with_its_span() -> None:
    text = "Mi cédula es 1.234.567-2, gracias"
    (finding,) = find(text)
    assert finding.kind == "cedula"
    assert text[finding.start : finding.end] == "1.234.567-2"


def test_a_cedula_with_a_wrong_check_digit_is_not_reported() -> None:
    assert "cedula" not in kinds("el expediente 1.234.567-3 sigue abierto")


def test_bare_eight_digits_named_as_ci_is_a_cedula() -> None:
    assert kinds("CI 12345672") == ["cedula"]


def test_rut_through_stdnum() -> None:
    assert kinds("RUT 21-100342-001-7 de la empresa") == ["rut"]
    assert "rut" not in kinds("RUT 21-100342-001-8")


@pytest.mark.parametrize("text", ["llamame al 099 123 456", "mi celular +598 94 123 456", "tel 2901 2345"])
def test_phones(text: str) -> None:
    assert kinds(text) == ["phone"]


def test_toll_free_and_short_codes_are_not_personal() -> None:
    assert kinds("llamá al 0800 4636 o al *463") == []


def test_the_sites_own_contacts_are_ignored() -> None:
    text = "Escribinos a consultas@ejemplo.gub.uy o llamá al 2901 2345"
    assert kinds(text, ignore=["consultas@ejemplo.gub.uy", "+598 2901 2345"]) == []
    assert kinds(text) == ["email", "phone"]


def test_email() -> None:
    assert kinds("mi correo es ana.perez+tramite@correo.com.uy") == ["email"]


@pytest.mark.parametrize(
    "text",
    ["vivo en Av. 18 de Julio 1234", "calle Colonia 1500", "Rivera 2345 esq. Soca", "en el apto 501", "bv. Artigas 1020"],
)
def test_addresses(text: str) -> None:
    assert "address" in kinds(text)


def test_plates_and_padron() -> None:
    assert kinds("la camioneta SBC 1234 fue multada") == ["plate"]
    assert kinds("matrícula sbc1234") == ["plate"]
    assert kinds("padrón 123456") == ["plate"]
    assert kinds("en el año 2024 del 2023") == []


def test_sensitive_topics_ignore_case_and_accents() -> None:
    (finding,) = find("Tengo DIAGNÓSTICO de diabetes?")[:1]
    assert finding.kind == "topic" and finding.topic == "salud" and finding.sensitive
    assert finding.label == "tema sensible: salud"


def test_site_topics_extend_the_defaults() -> None:
    detector = Detector({"tributario": ["deuda con la DGI"]})
    assert [f.topic for f in detector.find("tengo una deuda con la dgi")] == ["tributario"]
    assert detector.find("estoy embarazada") == []  # replaced, not extended


def test_plain_questions_have_no_findings() -> None:
    assert find("¿Cuál es el horario de atención del martes? Gracias") == []


def test_mask_hides_every_finding() -> None:
    text = "Soy Ana, CI 1.234.567-2, cel 099 123 456, correo ana@correo.com"
    masked = mask(text)
    assert masked == "Soy Ana, CI [cedula], cel [phone], correo [email]"
    assert "1.234.567" not in masked


def test_describe_lists_kinds_once() -> None:
    assert privacy.describe(find("099 123 456 y 098 765 432, ana@x.com")) == "teléfono, correo electrónico"


async def test_site_privacy_config(run_app: Any, site_file: Any) -> None:
    path = site_file(
        """
        id = "uno"
        name = "Uno"
        [privacy]
        sensitive_topics = { tributario = ["deuda con la DGI"] }
        [plugins.api]
        secret = { env = "TEST_API_SECRET" }
        """
    )
    async with run_app(path, background=False) as app:
        detector = privacy.for_site(app.site())
        assert [f.topic for f in detector.find("tengo una deuda con la DGI y estoy embarazada")] == [
            "tributario",
            "salud",
        ]
        assert privacy.for_site(app.site()) is detector
