"""The knowledge file: our YAML format, the Rasa 3.1 import, and errors that name
the file and the line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from canales.plugins.chatbot.knowledge import KnowledgeError, load_knowledge, parse_payload, read_training
from canales.plugins.chatbot.templates import Templates

DEMO = Path(__file__).resolve().parent.parent / "sites" / "demo" / "chatbot.yml"


def write(tmp_path: Path, text: str, name: str = "chatbot.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), "utf-8")
    return path


def problems(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(KnowledgeError) as exc:
        load_knowledge(path, **kwargs)  # type: ignore[arg-type]
    return exc.value.problems


def test_demo_knowledge_loads() -> None:
    knowledge = load_knowledge(DEMO, allowed_hosts=["servicios.ejemplo.gub.uy"])
    assert {"cedula_tramite", "pasaporte_tramite", "out_of_scope", "turno_agendar"} <= set(knowledge.intents)
    assert len(knowledge.training.examples) >= 200
    assert knowledge.title("cedula_tramite") == "Cédula de identidad"
    assert knowledge.answer_for("cedula_tramite") == "cedula_tramite"


def test_malformed_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, """
        version: 1
        intents:
          saludo:
            examples:
              - hola
              - [sin cerrar
        """)
    (message,) = problems(path)
    assert message.startswith(f"{path}:") and "not valid YAML" in message
    assert "began at line 6" in message


def test_schema_errors_name_the_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, """
        version: 1
        intents:
          saludo:
            exampels:
              - hola
        answers:
          saludo:
            text: Hola
            buttons:
              - title: Ver
        """)
    found = problems(path)
    assert any(p.startswith(f"{path}:4: intents.saludo.exampels: unknown key") for p in found), found
    assert any(p.startswith(f"{path}:10: answers.saludo.buttons.0.payload") for p in found), found


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, """
        version: 1
        answers:
          hola: {text: uno}
          hola: {text: dos}
        """)
    (message,) = problems(path)
    assert message.startswith(f"{path}:4: answers.hola: duplicate key")


def test_cross_references_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, """
        version: 1
        intents:
          saludo:
            examples: [hola]
            answer: no_existe
          consulta:
            examples: [una consulta]
          turno:
            examples: [quiero hora]
            flow: agendar
        answers:
          menu:
            text: Elegí
            buttons:
              - title: Otra
                payload: /intent_que_no_existe
        flows:
          agendar:
            steps:
              - ask: cedula
                text: ¿Tu cédula?
              - goto: fin
        """)
    found = "\n".join(problems(path))
    assert f"{path}:5: intents.saludo.answer: no answer called 'no_existe'" in found
    assert f"{path}:6: intents.consulta: the intent has nothing to do" in found
    assert f"{path}:16: answers.menu.buttons.0.payload: the payload names an unknown intent" in found
    assert f"{path}:20: flows.agendar.steps.0.ask: no entity called 'cedula'" in found
    assert f"{path}:22: flows.agendar.steps.1.goto: no step with id 'fin'" in found


def test_template_errors_point_at_the_template_line(tmp_path: Path) -> None:
    path = write(tmp_path, """
        version: 1
        answers:
          saludo:
            text: |
              Hola {{ slots.nombre }}.
              Esto está {% if mal %} sin cerrar.
        intents:
          saludo:
            examples: [hola]
        """)
    (message,) = problems(path)
    assert message.startswith(f"{path}:6: answers.saludo.text: template error")


def test_actions_hosts_secrets_and_retries(tmp_path: Path) -> None:
    path = write(tmp_path, """
        version: 1
        intents:
          estado:
            examples: [estado de mi trámite]
            action: consultar
        answers:
          listo:
            text: "Token {{ secrets.token }}"
        actions:
          consultar:
            url: https://otro.example.org/api/{{ slots.numero }}
            headers:
              Authorization: "Bearer {{ secrets.clave }}"
            answer: listo
          templada:
            url: "{{ slots.host }}/api"
        """)
    found = "\n".join(problems(path, allowed_hosts=["api.example.gub.uy"], secret_names=["token"]))
    assert f"{path}:8: answers.listo.text: secrets can only be used in an action's headers" in found
    assert "actions.consultar.url: the host 'otro.example.org' is not allowed" in found
    assert "actions.consultar.headers.Authorization: the secret 'clave' is not declared" in found
    assert "actions.templada.url: the URL must start with http:// or https:// and a literal host" in found
    retrying_post = write(tmp_path, """
        version: 1
        actions:
          reservar:
            method: POST
            url: https://api.example.gub.uy/reservas
            retries: 2
        """, "post.yml")
    (message,) = problems(retrying_post, allowed_hosts=["api.example.gub.uy"])
    assert message.startswith(f"{retrying_post}:3: actions.reservar: retries are only allowed for idempotent methods")


def test_rasa_nlu_and_domain_import(tmp_path: Path) -> None:
    write(tmp_path, """
        version: "3.1"
        nlu:
        - intent: consultar_requisitos
          examples: |
            - ¿qué necesito para renovar la [cédula](tramite)?
            - requisitos del [pasaporte]{"entity": "tramite", "value": "pasaporte"}
            - requisitos de la [CI](tramite:cédula)
        - intent: faq/horario_atencion
          examples: |
            - ¿a qué hora atienden?
            - horario de atención
        - intent: out_of_scope
          examples: |
            - ¿quién ganó el clásico?
        - synonym: cédula
          examples: |
            - cédula de identidad
        - regex: numero_ci
          examples: |
            - \\d\\.?\\d{3}\\.?\\d{3}-?\\d
        - lookup: departamento
          examples: |
            - Montevideo
            - Canelones
        """, "nlu.yml")
    write(tmp_path, """
        version: "3.1"
        intents: [consultar_requisitos, faq]
        responses:
          utter_consultar_requisitos:
          - text: "Para {tramite} necesitás tu documento. {literal}"
            buttons:
            - title: "Agendar hora"
              payload: '/consultar_requisitos{{"tramite":"pasaporte"}}'
          - text: "Otra variante"
          utter_faq/horario_atencion:
          - text: "Atendemos de 9 a 17 {% raw %}"
        """, "domain.yml")
    path = write(tmp_path, """
        version: 1
        import:
          rasa_nlu: [nlu.yml]
          rasa_domain: [domain.yml]
        """)
    knowledge = load_knowledge(path)
    texts = {e.text: e for e in knowledge.training.examples}
    assert "¿qué necesito para renovar la cédula?" in texts
    assert texts["requisitos de la CI"].annotations[0].value == "cédula"
    assert {"consultar_requisitos", "faq/horario_atencion", "out_of_scope"} <= set(knowledge.intents)
    assert knowledge.answer_for("faq/horario_atencion") == "utter_faq/horario_atencion"
    answer = knowledge.answers["utter_consultar_requisitos"]
    assert answer.buttons[0].payload == '/consultar_requisitos{"tramite":"pasaporte"}'
    rendered = knowledge.templates.render(answer.text, {"slots": {"tramite": "pasaporte"}})
    # {tramite} is a slot; {literal} is not a slot we know but is interpolated the
    # same way (empty when unset); Jinja syntax in a Rasa text stays literal.
    assert rendered.startswith("Para pasaporte necesitás tu documento.")
    assert knowledge.templates.render(knowledge.answers["utter_faq/horario_atencion"].text, {}) == "Atendemos de 9 a 17 {% raw %}"
    found = knowledge.entities.extract("soy de canelones, ci 1.234.567-2, quiero la CI", __import__("canales.plugins.chatbot.nlu.validators", fromlist=["Context"]).Context(__import__("datetime").date(2026, 1, 1)))
    assert found.values["departamento"].value == "Canelones"
    assert found.values["numero_ci"].value == "1.234.567-2"
    assert found.values["tramite"].value == "cédula"


def test_rasa_files_with_errors_name_their_line(tmp_path: Path) -> None:
    nlu = write(tmp_path, """
        version: "3.1"
        nlu:
        - intent: saludo
          examples: |
            - hola
            sin guion
        - regex: malo
          examples: |
            - ([a-z]
        """, "nlu.yml")
    with pytest.raises(KnowledgeError) as exc:
        read_training(nlu)
    text = "\n".join(exc.value.problems)
    assert f"{nlu}:6: nlu.0.examples: line 2 of the examples does not start with '- '" in text
    assert f"{nlu}:9: nlu.1.examples: invalid regular expression" in text


def test_read_training_accepts_both_formats() -> None:
    test_set = DEMO.with_name("chatbot-test.yml")
    data = read_training(test_set)
    assert len(data.examples) > 100 and any(e.intent == "out_of_scope" for e in data.examples)


def test_payloads() -> None:
    assert parse_payload("/saludo") == ("saludo", {})
    assert parse_payload('/turno{"tramite": "pasaporte"}') == ("turno", {"tramite": "pasaporte"})
    assert parse_payload("pasaporte") is None
    with pytest.raises(ValueError):
        parse_payload("/turno{no json}")


def test_templates_are_sandboxed_and_data_is_never_evaluated() -> None:
    templates = Templates()
    assert templates.render("Dijiste: {{ slots.x }}", {"slots": {"x": "{{ 7*7 }}"}}) == "Dijiste: {{ 7*7 }}"
    from canales.plugins.chatbot.templates import RenderError

    with pytest.raises(RenderError):
        templates.render("{{ ''.__class__.__mro__ }}", {})
    with pytest.raises(RenderError):
        templates.render("{% for i in range(10**9) %}x{% endfor %}", {})
    with pytest.raises(RenderError):
        templates.render("{{ slots.update({'a': 1}) }}", {"slots": {}})
    url = templates.render("https://h/api/{{ slots.n }}", {"slots": {"n": "../admin?x=1"}}, "url")
    assert url == "https://h/api/..%2Fadmin%3Fx%3D1"


def test_canales_check_reports_knowledge_problems_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from canales.core.cli import main

    (tmp_path / "kb.yml").write_text("version: 1\nintents:\n  - name: x\n    examples: [hola\n", "utf-8")
    site = tmp_path / "k.toml"
    site.write_text('id = "k"\nname = "K"\n[plugins.chatbot]\nknowledge = "kb.yml"\n', "utf-8")
    assert main(["check", str(site)]) == 1
    err = capsys.readouterr().err
    assert f"{site}: plugins.chatbot: the knowledge file has problems:" in err
    assert f"{tmp_path / 'kb.yml'}:5:1: not valid YAML" in err
