"""docker-compose.yml, read with PyYAML (no Docker engine here): every service from its
own image, hardened like the images expect, secrets from the .env file that
`make compose-env` writes, and ingest's SMTP port published for the marketplaces' relays."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("ingest", "normalizer", "responder", "invoicer", "gateway")
PARLEY = (*SERVICES, "sandbox", "topics", "cli")
SECRETS = ("CREDENTIALS_KEY", "API_KEY_PEPPER", "LINK_SIGNING_KEY")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    spec = compose["services"][name]
    assert isinstance(spec, dict)
    return spec


def test_every_service_is_built_from_its_own_dockerfile(compose: dict[str, Any]) -> None:
    for name in (*SERVICES, "sandbox"):
        spec = service(compose, name)
        assert spec["build"] == {"context": ".", "dockerfile": f"deploy/docker/{name}.Dockerfile"}
        assert spec["image"].split(":")[0] == f"parley-{name}", name
        assert (ROOT / spec["build"]["dockerfile"]).is_file()
    for name in ("topics", "cli"):
        spec = service(compose, name)
        assert spec["build"]["dockerfile"] == "deploy/docker/cli.Dockerfile"
        assert spec["image"].split(":")[0] == "parley-cli"
    assert service(compose, "topics")["entrypoint"] == [
        "python",
        "-m",
        "parley_platform.topics_admin",
    ]
    assert service(compose, "cli")["profiles"] == ["tools"], "never started by `up`"


def test_the_sandbox_image_serves_only_the_sandbox(compose: dict[str, Any]) -> None:
    for name in PARLEY:
        if name != "sandbox":
            assert "sandbox" not in service(compose, name)["image"], name
            assert "sandbox" not in service(compose, name)["build"]["dockerfile"], name


def test_every_parley_container_runs_as_10001_on_a_read_only_root(
    compose: dict[str, Any],
) -> None:
    for name in PARLEY:
        spec = service(compose, name)
        assert spec["user"] == "10001:10001", name
        assert spec["read_only"] is True, name
        assert any(mount.split(":")[0] == "/tmp" for mount in spec["tmpfs"]), name
        assert spec["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in spec["security_opt"], name


def test_secrets_come_from_the_env_file_and_are_required(compose: dict[str, Any]) -> None:
    required = re.compile(r"^\$\{(?P<name>[A-Z_]+):\?.*make compose-env.*\}$")
    for name in (*SERVICES, "cli"):
        env = service(compose, name)["environment"]
        for secret in SECRETS:
            match = required.match(env[secret])
            assert match and match["name"] == secret, f"{name}: {secret}"
    script = (ROOT / "deploy" / "docker" / "secrets.sh").read_text()
    for secret in SECRETS:
        assert f"{secret}=" in script, f"secrets.sh does not write {secret}"
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert "compose-env:" in (ROOT / "Makefile").read_text()


def test_ingest_takes_the_relays_mail_on_a_published_port(compose: dict[str, Any]) -> None:
    ingest = service(compose, "ingest")
    published = [str(p) for p in ingest["ports"]]
    smtp = [p for p in published if p.endswith(":2525")]
    assert smtp, published
    assert not smtp[0].startswith("127.0.0.1:"), "the relays connect from outside"
    assert ingest["environment"]["INGEST_SMTP_HOST"] == "0.0.0.0"  # noqa: S104 - the relays
    assert "127.0.0.1:8000:8000" in service(compose, "gateway")["ports"]
    # The sandbox relays its demo Amazon mail to ingest's SMTP port, like the real relays.
    assert service(compose, "sandbox")["environment"]["SANDBOX_PARLEY_SMTP_HOST"] == "ingest"


def test_services_wait_for_their_topics_and_database(compose: dict[str, Any]) -> None:
    for name in SERVICES:
        depends = service(compose, name)["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully", name
        assert depends["mongo"]["condition"] == "service_healthy", name
        env = service(compose, name)["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["MONGODB_URI"].startswith("mongodb://mongo:")
