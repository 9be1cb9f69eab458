"""The chatbot's understanding, without an app: Spanish normalisation, validators
(cédula check digit, dates, expedientes), entities and synonyms, the classifier and
the answer / clarify / reject decision."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from canales.plugins.chatbot.knowledge import load_knowledge
from canales.plugins.chatbot.nlu.classifier import IntentClassifier, Ranked
from canales.plugins.chatbot.nlu.decision import Thresholds, decide
from canales.plugins.chatbot.nlu.entities import EntityExtractor, Synonyms
from canales.plugins.chatbot.nlu.normalize import foreign_language, has_words, normalize, phonetic
from canales.plugins.chatbot.nlu.validators import (
    Context,
    InvalidValue,
    cedula,
    cedula_check_digit,
    expediente,
    future_date,
    parse_date,
)

DEMO = Path(__file__).resolve().parent.parent / "sites" / "demo" / "chatbot.yml"
TODAY = Context(dt.date(2026, 3, 10))  # a Tuesday


def test_normalize_folds_case_accents_punctuation_abbreviations_and_voseo() -> None:
    assert normalize("¿Q nesecito p/ sacar la CÉDULA???") == "que necesito para sacar la cedula"
    assert normalize("Holaaaa!!") == "hola"
    assert normalize("¿Puedes ayudarme?") == normalize("¿Podés ayudarme?") == "podes ayudame"
    assert normalize("tienes") == normalize("tenés")


def test_phonetic_view_makes_common_misspellings_meet() -> None:
    assert phonetic("sédula") == phonetic("cedula")
    assert phonetic("vaca") == phonetic("baca")
    assert phonetic("llave") == phonetic("yave")
    assert phonetic("hora") == phonetic("ora")
    assert phonetic("chico") != phonetic("sico")


def test_words_and_language_checks() -> None:
    assert not has_words("😀😀 🙏 !!!")
    assert has_words("ok 👍")
    assert foreign_language("How do I renew my passport please") == "en"
    assert foreign_language("Olá, preciso renovar minha carteira de identidade") == "pt"
    assert foreign_language("hola, como saco el pasaporte") is None
    assert foreign_language("ok") is None


@pytest.mark.parametrize("body, digit", [("1234567", 2), ("1111111", 1), ("4567890", 5), ("3456789", 4), ("123456", 2)])
def test_cedula_check_digit(body: str, digit: int) -> None:
    # 123456 is an old six-digit number: padded to 0123456.
    if body == "123456":
        digit = cedula_check_digit("0123456")
    assert cedula_check_digit(body) == digit


def test_cedula_validator_accepts_usual_spellings_and_refuses_a_wrong_digit() -> None:
    for written in ("1.234.567-2", "12345672", "1234567-2", "1 234 567 2"):
        assert cedula(written, TODAY) == "1.234.567-2"
    with pytest.raises(InvalidValue) as exc:
        cedula("1.234.567-3", TODAY)
    assert exc.value.reason == "invalid.cedula_check"
    with pytest.raises(InvalidValue) as exc:
        cedula("12345", TODAY)
    assert exc.value.reason == "invalid.cedula_format"


def test_dates_as_citizens_write_them() -> None:
    assert parse_date("15/3", TODAY) == dt.date(2026, 3, 15)
    assert parse_date("1/3", TODAY) == dt.date(2027, 3, 1)  # already passed this year
    assert parse_date("15-03-26", TODAY) == dt.date(2026, 3, 15)
    assert parse_date("3 de enero de 2027", TODAY) == dt.date(2027, 1, 3)
    assert parse_date("manana", TODAY) == dt.date(2026, 3, 11)
    assert parse_date("el lunes", TODAY) == dt.date(2026, 3, 16)
    assert parse_date("martes", TODAY) == dt.date(2026, 3, 17)  # today is Tuesday: the next one
    for bad in ("31/02", "30 de febrero", "15/13"):
        with pytest.raises(InvalidValue):
            parse_date(bad, TODAY)
    with pytest.raises(InvalidValue) as exc:
        future_date("01/01/2026", TODAY)
    assert exc.value.reason == "invalid.date_past"


def test_expediente_numbers() -> None:
    assert expediente("2024-11-1-1234", TODAY) == "2024-11-0001-01234"
    with pytest.raises(InvalidValue):
        expediente("2099-11-0001-01234", TODAY)


def test_entities_regex_builtin_values_and_synonyms() -> None:
    synonyms = Synonyms({"cédula": ["ci", "documento de identidad"], "libreta de conducir": ["libreta", "licencia de conducir"]})
    extractor = EntityExtractor(
        {"matricula": (r"\b[A-Z]{3}\s?\d{4}\b", None)},
        {"cedula": "cedula", "fecha": "future_date"},
        {"tramite": ["cédula", "pasaporte", "libreta de conducir"]},
        synonyms,
    )
    found = extractor.extract("Quiero hora para la CI el 15/4; mi cédula es 1.234.567-2 y la matrícula SBA 1234", TODAY)
    assert found.values["tramite"].value == "cédula"
    assert found.values["cedula"].value == "1.234.567-2"
    assert found.values["fecha"].value == "2026-04-15"
    assert found.values["matricula"].value == "SBA 1234"
    assert extractor.extract("renovar la licencia de conducir", TODAY).values["tramite"].value == "libreta de conducir"
    wrong = extractor.extract("mi cédula es 1.234.567-9", TODAY)
    assert "cedula" not in wrong.values and wrong.invalid["cedula"] == "invalid.cedula_check"
    assert synonyms.fold(normalize("la CI vencida")) == "la cedula vencida"


@pytest.fixture(scope="module")
def demo_classifier() -> IntentClassifier:
    knowledge = load_knowledge(DEMO, allowed_hosts=["servicios.ejemplo.gub.uy"])
    examples = knowledge.training.examples
    return IntentClassifier(knowledge.synonyms).fit([e.text for e in examples], [e.intent for e in examples])


def test_classifier_understands_paraphrases_with_typos_and_voseo(demo_classifier: IntentClassifier) -> None:
    assert demo_classifier.rank("q nesecito pa la sedula")[0].intent == "cedula_tramite"
    assert demo_classifier.rank("me afanaron la billetera con la ci")[0].intent == "cedula_extravio"
    assert demo_classifier.rank("podés pasarme con alguien de carne y hueso")[0].intent == "hablar_con_persona"
    top = demo_classifier.rank("quién ganó el partido de ayer")[0]
    assert top.intent == "out_of_scope" or top.confidence < 0.5


def test_fast_scoring_equals_scikit_learn(demo_classifier: IntentClassifier) -> None:
    assert demo_classifier.fast is not None
    assert demo_classifier.model is not None
    for text in ("hola", "perdí la cédula ayer", "zzzz qqqq", "{{ 7*7 }}", "pasaporte para mi hija menor de edad"):
        fast = demo_classifier.fast.proba(text)
        slow = demo_classifier.model.predict_proba(demo_classifier.features.transform([text]))[0]
        assert np.allclose(fast, slow, atol=1e-9)
        assert abs(fast.sum() - 1) < 1e-9


def test_classifier_with_tiny_intents_and_two_classes() -> None:
    two = IntentClassifier().fit(["hola", "buenas", "chau", "adiós"], ["saludo", "saludo", "despedida", "despedida"])
    ranking = two.rank("hola buenas")
    assert ranking[0].intent == "saludo" and abs(sum(r.confidence for r in ranking) - 1) < 1e-9
    one_example = IntentClassifier().fit(["hola", "buenas", "quiero el pasaporte"], ["saludo", "saludo", "pasaporte"])
    assert one_example.rank("pasaporte por favor")[0].intent == "pasaporte"


def test_decision_answers_clarifies_or_rejects() -> None:
    limits = Thresholds(threshold=0.5, margin=0.1, floor=0.25)
    assert decide([Ranked("a", 0.8), Ranked("b", 0.1)], limits).kind == "answer"
    close = decide([Ranked("a", 0.52), Ranked("b", 0.46)], limits)
    assert close.kind == "clarify" and [c.intent for c in close.candidates] == ["a", "b"]
    unsure = decide([Ranked("a", 0.4), Ranked("b", 0.1)], limits)
    assert unsure.kind == "clarify" and [c.intent for c in unsure.candidates] == ["a"]
    assert decide([Ranked("a", 0.2), Ranked("b", 0.19)], limits).kind == "reject"
    assert decide([Ranked("out_of_scope", 0.3), Ranked("a", 0.29)], limits).kind == "reject"
    assert decide([], limits).kind == "reject"
