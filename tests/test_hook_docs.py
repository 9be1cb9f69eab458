"""Every hook is specified, documented with its exact signature, and tested."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from canales.core import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "plugin-hooks.md").read_text("utf-8")
TESTS = "\n".join(p.read_text("utf-8") for p in (ROOT / "tests").rglob("test_*.py"))


def specs() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and hasattr(fn, "canales_spec")
    }


def documented() -> dict[str, str]:
    return dict(re.findall(r"^### `(\w+)\(([^)]*)\)`$", DOC, flags=re.M))


def test_there_are_hooks() -> None:
    assert len(specs()) >= 15


@pytest.mark.parametrize("name", sorted(specs()))
def test_hook_is_documented_with_its_signature(name: str) -> None:
    docs = documented()
    assert name in docs, f"docs/plugin-hooks.md has no '### `{name}(…)`' section"
    assert docs[name] == ", ".join(specs()[name].parameters), f"the documented signature of {name} differs"


@pytest.mark.parametrize("name", sorted(specs()))
def test_hook_has_a_docstring(name: str) -> None:
    assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"


@pytest.mark.parametrize("name", sorted(specs()))
def test_hook_has_a_test(name: str) -> None:
    assert re.search(rf"def test_hook_{name}\b", TESTS), f"no test named test_hook_{name}"


def test_no_documented_hook_is_unknown() -> None:
    assert set(documented()) <= set(specs())
