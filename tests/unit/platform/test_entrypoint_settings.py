"""Every service's real entrypoint refuses bad settings at start-up: exit 2, one line
per bad variable on stderr naming it, never its value, and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SHORT_LINK_KEY = "tiny-link-key"  # 13 bytes: under the 16 a link signing key needs
BAD_FERNET = "not-a-fernet-key-at-all"
PEPPER = "pepper-that-must-never-be-printed"

# module -> (bad environment, variables stderr must name, values it must not show)
CASES: dict[str, tuple[dict[str, str], list[str], list[str]]] = {
    "parley_gateway": (
        {"GATEWAY_PORT": "notaport", "LINK_SIGNING_KEY": SHORT_LINK_KEY, "API_KEY_PEPPER": PEPPER},
        ["GATEWAY_PORT", "LINK_SIGNING_KEY"],
        ["notaport", SHORT_LINK_KEY, PEPPER],
    ),
    "parley_ingest": (
        {"INGEST_PORT": "99999", "CREDENTIALS_KEY": BAD_FERNET},
        ["INGEST_PORT", "CREDENTIALS_KEY"],
        ["99999", BAD_FERNET],
    ),
    "parley_normalizer": (
        {"NORMALIZER_WEB_PORT": "web", "RETENTION_DEFAULT_DAYS": "-3"},
        ["NORMALIZER_WEB_PORT", "RETENTION_DEFAULT_DAYS"],
        ["web", "-3"],
    ),
    "parley_responder": (
        {"LINK_SIGNING_KEY": SHORT_LINK_KEY},  # and no CREDENTIALS_KEY at all
        ["LINK_SIGNING_KEY", "CREDENTIALS_KEY"],
        [SHORT_LINK_KEY],
    ),
    "parley_invoicer": (
        {"INVOICER_PORT": "0", "LOG_LEVEL": "chatty"},
        ["INVOICER_PORT", "LOG_LEVEL"],
        ["chatty"],
    ),
}


def environment(bad: dict[str, str]) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"CREDENTIALS_KEY", "API_KEY_PEPPER", "LINK_SIGNING_KEY", "LOG_LEVEL"}
    }
    # Nothing is reachable: a service that got past its settings would not get far.
    env.update(
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
        MONGODB_URI="mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500",
        MONGODB_DATABASE="parley_test_entrypoints",
        PYTHONUNBUFFERED="1",
    )
    env.update(bad)
    return env


@pytest.mark.parametrize("module", sorted(CASES))
def test_a_bad_setting_stops_the_service_with_one_line_each(module: str) -> None:
    bad, variables, values = CASES[module]
    done = subprocess.run(
        [sys.executable, "-m", module],
        env=environment(bad),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    service = module.removeprefix("parley_")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(variables), done.stderr
    for variable in variables:
        assert any(line.startswith(f"{service}: invalid setting {variable}: ") for line in lines)
    for value in values:
        assert value not in done.stderr
