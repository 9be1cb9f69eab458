"""Real Chromium for end-to-end tests (driven by Playwright), and axe-core for
accessibility checks.

Chromium is Debian's (``/usr/bin/chromium``): Playwright's own download cannot work
here. axe-core is installed by npm at test time into ``tests/.node`` (git-ignored,
never committed) and injected into the page under test. Without Chromium, Playwright
or npm the tests are skipped (in CI, failed) through conftest's ``unavailable()``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from conftest import unavailable

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_DIR = Path(__file__).resolve().parent / ".node"
AXE_FILE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium browser."""
    if not Path(CHROMIUM).exists():
        unavailable("Chromium (/usr/bin/chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover - playwright is in the test extra
        unavailable("Playwright")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def axe_source() -> str:
    """axe-core's script, installed with npm on first use."""
    if not AXE_FILE.exists():
        npm = shutil.which("npm")
        if npm is None:
            unavailable("npm (to install axe-core)")
        try:
            subprocess.run(
                [npm, "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund", "--silent", "axe-core@4"],
                check=True,
                timeout=300,
                capture_output=True,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            unavailable(f"axe-core (npm install failed: {exc})")
    return AXE_FILE.read_text("utf-8")


async def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.0/2.1 A and AA rules) on the page, shadow roots included;
    return the violations of the given impacts, each with the offending nodes."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(axe_source())
    result = await page.evaluate(
        """async () => {
            const r = await axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
                resultTypes: ['violations'],
            });
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary}))}));
        }"""
    )
    return [v for v in result if v["impact"] in impacts]
