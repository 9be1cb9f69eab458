"""The README starts with the two commands, and CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)


def test_the_first_command_installs_and_runs_the_demo() -> None:
    first = blocks()[0]
    assert "pip install -e ." in first and first.rstrip().endswith("canales serve")


def test_the_second_command_installs_the_test_extras_and_runs_pytest() -> None:
    marked = re.search(r"<!-- test-command -->\n```sh\n(.*?)\n```\n<!-- /test-command -->", README, flags=re.S)
    assert marked is not None, "the test command must sit between the test-command markers (.ci/run reads it)"
    assert marked.group(1) == blocks()[1]
    assert "pip install -e '.[test]'" in marked.group(1) and "pytest" in marked.group(1)


def test_ci_runs_the_readme_test_command_with_services_required() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "<!-- test-command -->" in ci and 'bash -c "$test_command"' in ci
    assert "export CANALES_REQUIRE_SERVICES=1" in ci
