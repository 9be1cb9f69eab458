"""Site files: what is accepted, and what start-up refuses with a message naming
file, key and expectation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from canales.core.bus import Bus
from canales.core.db import Database
from canales.core.plugins import installed
from canales.core.runtime import Canales, load_configs
from canales.core.site import build_site
from canales.core.siteconfig import ConfigError, Secret, SecretRef, load_site_file, redacted

ROOT = Path(__file__).resolve().parent.parent
DEMO_ENV = {
    "CANALES_DEMO_API_SECRET": "api-secret-value",
    "CANALES_DEMO_FB_APP_SECRET": "fb-app-secret-value",
    "CANALES_DEMO_FB_PAGE_TOKEN": "fb-page-token-value",
    "CANALES_DEMO_FB_VERIFY_TOKEN": "fb-verify-token-value",
}


@pytest.fixture
def demo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DEMO_ENV.items():
        monkeypatch.setenv(name, value)


def build(path: Path) -> Any:
    return build_site(load_site_file(path), installed(), Database("sqlite://"), Bus())


def refused(path: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        build(path)
    return str(exc.value)


def test_shipped_sites_are_valid(demo_env: None) -> None:
    demo = build(ROOT / "sites" / "demo.toml")
    assert demo.id == "demo" and demo.config.timezone == "America/Montevideo"
    assert set(demo.plugins) >= {"api", "chat_human", "chatbot", "facebook", "publisher"}
    minimal = build(ROOT / "sites" / "minimal.toml")
    assert "chatbot" in minimal.plugins and "facebook" not in minimal.plugins


def test_secrets_come_from_the_environment_and_stay_hidden(demo_env: None) -> None:
    site = build(ROOT / "sites" / "demo.toml")
    secret = site.settings("facebook").app_secret
    assert isinstance(secret, Secret)
    assert secret.reveal() == "fb-app-secret-value"
    assert "fb-app-secret-value" not in repr(secret) and "fb-app-secret-value" not in str(secret)
    assert "fb-app-secret-value" not in repr(site.settings("facebook"))
    shown = json.dumps(redacted(site.config.plugins))
    assert "<redacted: env:CANALES_DEMO_FB_APP_SECRET>" in shown
    for value in DEMO_ENV.values():
        assert value not in shown


def test_malformed_toml_names_the_file_and_line(site_file: Any) -> None:
    path = site_file('id = "uno"\nname = "Uno\n')
    message = refused(path)
    assert str(path) in message and "not valid TOML" in message and "line 2" in message


def test_unknown_plugin_is_named_with_the_installed_ones(site_file: Any) -> None:
    path = site_file('id = "uno"\nname = "Uno"\n[plugins.whatsap]\n')
    message = refused(path)
    assert f"{path}: plugins.whatsap: no installed plugin is called 'whatsap'" in message
    assert "chat_human" in message


def test_missing_secret_names_key_and_variable(site_file: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    path = site_file('id = "uno"\nname = "Uno"\n[plugins.api]\nsecret = { env = "NOPE_SECRET" }\n')
    assert refused(path) == f"{path}: plugins.api.secret: the environment variable NOPE_SECRET is not set (this secret is read from it)"


def test_secret_written_in_the_file_is_refused(site_file: Any) -> None:
    path = site_file('id = "uno"\nname = "Uno"\n[plugins.api]\nsecret = "hunter2hunter2"\n')
    message = refused(path)
    assert f"{path}: plugins.api.secret: secrets are not written in site files" in message
    assert "hunter2" not in message


def test_secret_from_a_file(site_file: Any, tmp_path: Path) -> None:
    (tmp_path / "api.secret").write_text("from-a-file\n")
    path = site_file('id = "uno"\nname = "Uno"\n[plugins.api]\nsecret = { file = "api.secret" }\n')
    assert build(path).settings("api").secret.reveal() == "from-a-file"
    missing = site_file('id = "dos"\nname = "Dos"\n[plugins.api]\nsecret = { file = "nope.secret" }\n', id="dos")
    assert "plugins.api.secret: cannot read the secret file" in refused(missing)


def test_plugin_setting_of_the_wrong_type(site_file: Any) -> None:
    path = site_file('id = "uno"\nname = "Uno"\n[plugins.chat_human]\nmax_chats_per_agent = "tres"\n')
    message = refused(path)
    assert f"{path}: plugins.chat_human.max_chats_per_agent:" in message
    assert "valid integer" in message and "'tres'" in message


def test_unknown_plugin_setting(site_file: Any) -> None:
    path = site_file('id = "uno"\nname = "Uno"\n[plugins.chat_human]\nmax_chat = 3\n')
    assert f"{path}: plugins.chat_human.max_chat: unknown key; check its spelling" in refused(path)


def test_settings_for_a_plugin_without_settings(site_file: Any) -> None:
    from canales.core.plugins import from_module
    from fixture_plugins import recorder

    path = site_file('id = "uno"\nname = "Uno"\n[plugins.rec]\ncolor = "red"\n')
    with pytest.raises(ConfigError, match=r"plugins.rec: this plugin takes no settings \(found color\)"):
        build_site(load_site_file(path), {"rec": from_module("rec", recorder)}, Database("sqlite://"), Bus())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('name = "Sin id"', ": id: Field required"),
        ('id = "Con Espacios"\nname = "x"', ": id: String should match pattern"),
        ('id = "uno"\nname = "x"\ntimezone = "America/Montevidio"', "timezone: unknown time zone 'America/Montevidio'"),
        ('id = "uno"\nname = "x"\n[hours]\nmon = ["8-12"]', 'hours.mon: expected a shift like "08:00-12:00"'),
        ('id = "uno"\nname = "x"\n[hours]\nmon = ["20:00-02:00"]', "ends before it starts; a shift past midnight is written as two"),
        ('id = "uno"\nname = "x"\n[hours]\nmon = ["08:00-13:00", "12:00-18:00"]', "hours.mon: shifts overlap"),
        ('id = "uno"\nname = "x"\n[hours]\nlunes = ["08:00-12:00"]', "hours.lunes: unknown key"),
        ('id = "uno"\nname = "x"\n[holidays]\ncategories = ["feriados"]', "holidays.categories.0: Input should be"),
        ('id = "uno"\nname = "x"\n[holidays]\nclosures = ["24/12/2026"]', "holidays.closures.0:"),
        ('id = "uno"\nname = "x"\ncolour = "azul"', "colour: unknown key"),
        ('id = "uno"\nname = "x"\n[plugins.api]\nenabled = "no"', "plugins.api.enabled must be true or false"),
        ('id = "uno"\nname = "x"\nplugins = ["api"]', "plugins: expected tables such as [plugins.chatbot]"),
    ],
)
def test_invalid_core_keys(site_file: Any, body: str, expected: str) -> None:
    path = site_file(body)
    message = refused(path)
    assert message.startswith(str(path)) and expected in message


def test_a_plugin_can_be_disabled_but_keep_its_settings(site_file: Any) -> None:
    path = site_file('id = "uno"\nname = "Uno"\n[plugins.chatbot]\nenabled = false\nthreshold = 0.7\n[plugins.chat_human]\n')
    site = build(path)
    assert site.plugins == ["chat_human"]
    assert not site.has_plugin("chatbot")
    with pytest.raises(KeyError):
        site.settings("chatbot")


def test_two_files_with_one_site_id_are_refused(site_file: Any) -> None:
    one = site_file('id = "uno"\nname = "Uno"', name="a")
    two = site_file('id = "uno"\nname = "Otro"', name="b")
    with pytest.raises(ConfigError, match=r"id: site 'uno' is already defined in"):
        load_configs([one, two])


def test_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('id = "uno"\nname = "Organismo Público"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_site_file(path)


def test_a_broken_plugin_import_is_reported(site_file: Any, sqlite_url: str) -> None:
    from canales.core.plugins import from_module

    path = site_file('id = "uno"\nname = "Uno"\n[plugins.broken]\n')
    with pytest.raises(ConfigError, match=r'error importing plugin "broken" \(no_such_module_xyz\): ModuleNotFoundError'):
        Canales([path], database_url=sqlite_url, plugins={"broken": from_module("broken", "no_such_module_xyz")})


def test_a_misspelled_hook_fails_at_startup(site_file: Any, sqlite_url: str) -> None:
    from canales import hookimpl
    from canales.core.plugins import from_module

    class Typo:
        @hookimpl
        def route_conversations(self, site: Any) -> None:  # not a hook
            return None

    path = site_file('id = "uno"\nname = "Uno"\n[plugins.typo]\n')
    with pytest.raises(ConfigError, match="implements a hook that does not exist.*route_conversations"):
        Canales([path], database_url=sqlite_url, plugins={"typo": from_module("typo", Typo())})


def test_secret_ref_is_not_shown_in_validation_errors() -> None:
    ref = SecretRef("env:X", "very-secret")
    assert "very-secret" not in repr(Secret(ref))
