"""Deployment files stay coherent: every service runnable everywhere it is declared.

Kubernetes is described by the Helm chart alone (tests in test_helm_chart.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
SERVICES = {"gateway", "ingest", "normalizer", "responder", "invoicer"}


def test_compose_runs_every_service_and_the_sandbox() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert SERVICES | {"sandbox", "kafka", "mongo", "topics"} <= set(compose["services"])
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert compose["services"]["mongo"]["image"].startswith("mongo:")
