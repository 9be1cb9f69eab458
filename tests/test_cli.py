"""The command line: check, plugins, db upgrade, agent add, and serve (the demo with
no arguments, and several workers)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from canales.core import migrate
from canales.core.cli import main
from canales.core.db import Database
from canales.core.models import Agent, Membership
from canales.core.passwords import verify_password
from helpers import free_port

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


def test_check_accepts_the_shipped_sites(demo_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ROOT / "sites" / "demo.toml"), str(ROOT / "sites" / "minimal.toml")]) == 0
    out = capsys.readouterr().out
    assert "site 'demo' (Organismo de Ejemplo) — OK" in out
    assert "mon: 08:00-13:00, 14:00-20:00" in out and "sun: closed" in out
    assert "plugins: api, chat_human, chatbot, facebook, publisher" in out


def test_check_shows_config_with_secrets_redacted(demo_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--show", str(ROOT / "sites" / "demo.toml")]) == 0
    out = capsys.readouterr().out
    assert "<redacted: env:CANALES_DEMO_FB_APP_SECRET>" in out
    for value in DEMO_ENV.values():
        assert value not in out


def test_check_refuses_a_bad_file_and_says_why(site_file: Any, capsys: pytest.CaptureFixture[str]) -> None:
    bad = site_file('id = "uno"\nname = "Uno"\n[plugins.chat_human]\nmax_chats_per_agent = 0\n')
    good = site_file('id = "dos"\nname = "Dos"\n[plugins.chatbot]\n', id="dos")
    assert main(["check", str(bad), str(good)]) == 1
    captured = capsys.readouterr()
    assert f"{bad}: plugins.chat_human.max_chats_per_agent: Input should be greater than or equal to 1 (got 0)" in captured.err
    assert "site 'dos'" in captured.out


def test_check_resolves_site_ids(demo_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CANALES_SITES_DIR", str(ROOT / "sites"))
    assert main(["check", "minimal"]) == 0
    assert main(["check", "no-such-site"]) == 2
    assert "no site file 'no-such-site'" in capsys.readouterr().err


def test_plugins_lists_versions_and_hooks(demo_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json", "--site", str(ROOT / "sites" / "demo.toml")]) == 0
    report = json.loads(capsys.readouterr().out)
    names = {p["name"] for p in report["installed"]}
    assert {"api", "chat_human", "chatbot", "facebook", "publisher"} <= names
    api = next(p for p in report["sites"]["demo"] if p["name"] == "api")
    assert api["version"] == "0.1.0"
    assert {"deliver_message", "register_routes", "settings_model", "startup", "shutdown"} <= set(api["hooks"])


def test_db_upgrade_is_repeatable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert "is at the newest schema" in capsys.readouterr().out
    assert asyncio.run(migrate.current(url)) == migrate.heads()


def test_agent_add(site_file: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/agents.db"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    site = site_file('id = "uno"\nname = "Uno"\n[plugins.chatbot]\n')
    other = site_file('id = "dos"\nname = "Dos"\n[plugins.chatbot]\n', id="dos")
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("una clave bastante larga\n"))
    assert main(["agent", "add", "--site", str(site), "--email", "Ana@Organismo.gub.uy", "--name", "Ana", "--role", "supervisor", "--password-stdin", "--database-url", url]) == 0
    # Without --password-stdin a password is generated and printed once.
    assert main(["agent", "add", "--site", str(other), "--email", "ana@organismo.gub.uy", "--name", "Ana", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "agent Ana@Organismo.gub.uy is supervisor of site uno" in out and "password:" in out
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("corta\n"))
    assert main(["agent", "add", "--site", str(site), "--email", "beto@organismo.gub.uy", "--name", "Beto", "--password-stdin", "--database-url", url]) == 1
    assert "at least 12 characters" in capsys.readouterr().err

    async def stored() -> tuple[Any, list[Any]]:
        db = Database(url)
        try:
            async with db.read() as session:
                agents = (await session.exec(select(Agent))).all()
                memberships = (await session.exec(select(Membership).order_by(Membership.site_id))).all()
        finally:
            await db.close()
        return agents, memberships

    agents, memberships = asyncio.run(stored())
    assert [a.email for a in agents] == ["ana@organismo.gub.uy"]
    assert verify_password(agents[0].password_hash, "una clave bastante larga")
    assert [(m.site_id, m.role) for m in memberships] == [("dos", "agent"), ("uno", "supervisor")]


def _serve(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "canales.core.cli", "serve", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_healthy(port: int, proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not become healthy")


def _stop(proc: subprocess.Popen[str]) -> str:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return out


def test_serve_with_no_arguments_runs_the_demo(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANALES_DEMO_") and k != "DATABASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "canales.core.cli", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        health = _wait_healthy(port, proc)
        assert health["sites"] == ["demo"] and health["database"] == {"kind": "sqlite", "ok": True}
        assert (tmp_path / "canales.db").exists()
        openapi = httpx.get(f"http://127.0.0.1:{port}/s/demo/api/openapi.json", timeout=5)
        assert openapi.status_code == 200
    finally:
        out = _stop(proc)
    assert "demo agent: demo@ejemplo.gub.uy  password: " in out
    assert "API channel secret: " in out


def test_serve_with_several_workers(site_file: Any, tmp_path: Path) -> None:
    port = free_port()
    site = site_file('id = "uno"\nname = "Uno"\n[plugins.api]\nsecret = { env = "TEST_API_SECRET" }\n')
    proc = _serve(["--site", str(site), "--port", str(port), "--workers", "2", "--database-url", f"sqlite:///{tmp_path}/w.db"], tmp_path)
    try:
        assert _wait_healthy(port, proc)["sites"] == ["uno"]
        statuses = {httpx.get(f"http://127.0.0.1:{port}/s/uno/api/openapi.json", timeout=5).status_code for _ in range(10)}
        assert statuses == {200}
        # Metrics of both workers, whichever answers: 10 requests above were timed.
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        counted = [line for line in metrics.splitlines() if line.startswith("canales_http_request_seconds_count") and "/s/{site}/api/openapi.json" in line]
        assert sum(float(line.rsplit(" ", 1)[1]) for line in counted) >= 10
    finally:
        out = _stop(proc)
    assert out.count("Started server process") == 2
    # Off a terminal, logs are one JSON object a line.
    logged = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(entry["message"].startswith("Started server process") for entry in logged)


def test_serve_refuses_a_bad_site_before_starting(site_file: Any, tmp_path: Path) -> None:
    site = site_file('id = "uno"\nname = "Uno"\ntimezone = "Marte/Olympus"\n')
    result = subprocess.run(
        [sys.executable, "-m", "canales.core.cli", "serve", "--site", str(site)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert f"{site}: timezone: unknown time zone 'Marte/Olympus'" in result.stderr


def test_privacy_export_and_forget(site_file: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from canales import Inbound
    from canales.core.intake import receive
    from canales.core.runtime import Canales

    url = f"sqlite:///{tmp_path}/privacy.db"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    site = site_file('id = "uno"\nname = "Uno"\n[plugins.api]\nsecret = { env = "TEST_API_SECRET" }\n')

    async def store() -> int:
        canales = Canales([site], database_url=url, background=False)
        async with canales:
            received = await receive(canales.sites["uno"], Inbound(channel="api", external_id="m1", sender_id="u1", sender_name="Ana", text="mi teléfono es 099 123 456"))
        return received.contact.id or 0

    contact = asyncio.run(store())
    out = tmp_path / "ana.json"
    assert main(["privacy", "export", "--site", str(site), "--contact", str(contact), "--out", str(out), "--database-url", url]) == 0
    exported = json.loads(out.read_text("utf-8"))
    assert exported["contact"]["name"] == "Ana"
    assert exported["conversations"][0]["messages"][0]["text"] == "mi teléfono es 099 123 456"
    assert main(["privacy", "forget", "--site", str(site), "--contact", str(contact), "--database-url", url]) == 1
    assert "add --yes" in capsys.readouterr().err
    assert main(["privacy", "forget", "--site", str(site), "--contact", str(contact), "--yes", "--database-url", url]) == 0
    assert "erased, with 1 conversations" in capsys.readouterr().out
    assert main(["privacy", "export", "--site", str(site), "--contact", str(contact), "--database-url", url]) == 1
    assert f"no contact {contact}" in capsys.readouterr().err
