"""Running the browser scenarios of the web inbox (tests/browser) from pytest.

The scenarios are JavaScript: tests/browser/run.mjs runs one of tests/browser/
scenarios.mjs per node process in Debian's headless Chromium (playwright-core) with
axe-core injected in every page, and prints a JSON report as its last line. These
helpers install what it needs, run it and turn its report into a failure message that
says which step failed, what axe found and where the screenshots are.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from support.secret_scan import SecretLedger

ROOT = Path(__file__).resolve().parents[2]
BROWSER_DIR = ROOT / "tests" / "browser"
# Screenshots and reports of the inbox scenarios: <OUT_DIR>/<scenario>/.
OUT_DIR = ROOT / ".run" / "browser"
# One scenario's process: its own waits are bounded (timeout_ms each); this is the backstop.
SCENARIO_TIMEOUT = 120.0


def install_browser_tools() -> None:
    """Chromium and the pinned node packages (tests/browser/install.sh, which `make
    test` runs too): once per machine, a no-op after, so a bare pytest gets them."""
    done = subprocess.run(
        ["bash", str(BROWSER_DIR / "install.sh")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"tests/browser/install.sh failed:\n{done.stderr}"


def run_scenario(
    name: str, context: dict[str, Any], ledger: SecretLedger | None = None
) -> dict[str, Any]:
    """Runs one scenario in a node process; answers its JSON report (also written to
    <out_dir>/<name>/report.json). The API key travels in the environment only; the
    session tokens the browser was given go to ``ledger`` (the e2e secret scan), never
    to the report."""
    node = shutil.which("node") or "/usr/bin/node"
    done = subprocess.run(
        [node, str(BROWSER_DIR / "run.mjs"), name],
        cwd=BROWSER_DIR,
        env={**os.environ, "PARLEY_BROWSER_CONTEXT": json.dumps(context)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"{name}: no report (exit {done.returncode}):\n{done.stderr[-4000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    for token in report.pop("secrets", []):
        if ledger is not None:
            ledger.add("session cookie", token)
    (Path(context["out_dir"]) / name / "report.json").write_text(json.dumps(report, indent=2))
    assert done.returncode == (0 if report["ok"] else 1), done.stderr[-4000:]
    return report


def verdict(report: dict[str, Any]) -> str:
    """What failed, in a few lines: the error, axe's blocking findings, page errors."""
    parts = [f"scenario {report['scenario']} failed after: {' → '.join(report['steps'])}"]
    if report["error"]:
        parts.append(f"error: {report['error']}")
    for v in report["axe"]:
        parts.append(f"axe {v['impact']} on {v['page']}: {v['id']} ({v['help']}) {v['targets']}")
    parts += [f"page error: {e}" for e in report["page_errors"]]
    parts += [f"console: {e}" for e in report["console_errors"][:10]]
    parts.append(f"screenshots and report: {report['out_dir']}")
    return "\n".join(parts)
