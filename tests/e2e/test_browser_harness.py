"""The browser harness itself (tests/browser/run.mjs): a page axe-core finds clean
passes, a page with a critical violation fails its scenario and the violation is named.

No service is involved: two static pages on a local HTTP server. The inbox's own
scenarios are in test_browser_inbox.py.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import install_browser_tools, run_scenario, verdict

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser_tools() -> None:
    install_browser_tools()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """The test's output is the scenario's report, not an access log."""


@pytest.fixture
def static_pages(tmp_path: Path) -> Iterator[str]:
    """Two pages on a local HTTP server: one axe-clean, one with a critical violation
    (an image without alternative text)."""
    site = tmp_path / "site"
    site.mkdir()
    page = '<!doctype html><html lang="en"><title>{0}</title><main><h1>{0}</h1>{1}</main></html>'
    (site / "clean.html").write_text(page.format("Clean", "<p>Nothing wrong here.</p>"))
    (site / "flawed.html").write_text(page.format("Flawed", '<img src="x.png">'))
    handler = functools.partial(_Quiet, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


def test_the_harness_fails_a_page_axe_finds_critical(
    browser_tools: None, static_pages: str, tmp_path: Path
) -> None:
    """The gate itself: a clean page passes, a critical axe violation fails the scenario
    and is named; both pages are screenshotted."""
    context = {"base_url": static_pages, "out_dir": str(tmp_path / "out")}
    clean = run_scenario("smoke", {**context, "smoke_path": "/clean.html"})
    assert clean["ok"], verdict(clean)
    assert Path(clean["screenshots"][0]).stat().st_size > 0
    flawed = run_scenario("smoke", {**context, "smoke_path": "/flawed.html"})
    assert not flawed["ok"]
    assert [(v["id"], v["impact"]) for v in flawed["axe"]] == [("image-alt", "critical")]
    assert not flawed["error"], flawed["error"]
