"""Deployment files stay coherent: every service runnable everywhere it is declared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
SERVICES = {"gateway", "ingest", "normalizer", "responder", "invoicer"}


def k8s_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    kustomization = yaml.safe_load((ROOT / "deploy/k8s/kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((ROOT / "deploy/k8s" / name).read_text()) if d]
    return docs


def test_every_service_has_a_deployment_with_probes_resources_and_no_inline_secret() -> None:
    deployments = {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == "Deployment"}
    assert set(deployments) == {f"parley-{s}" for s in SERVICES}
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] in {"/health", "/ready"}, name
        assert container["livenessProbe"]["httpGet"]["path"] == "/health", name
        assert container["resources"]["requests"] and container["resources"]["limits"], name
        for env in container.get("env", []):
            if env["name"] in {"MONGODB_URI", "CREDENTIALS_KEY"}:
                assert "secretKeyRef" in env["valueFrom"], f"{name}: {env['name']} inline"


def secret_settings(service: str) -> set[str]:
    """The environment variables of the service's settings that hold a secret."""
    from pydantic import SecretStr

    from parley_gateway.config import GatewaySettings
    from parley_ingest.config import IngestSettings
    from parley_invoicer.config import InvoicerSettings
    from parley_normalizer.config import NormalizerSettings
    from parley_responder.config import ResponderSettings

    settings = {
        "gateway": GatewaySettings,
        "ingest": IngestSettings,
        "invoicer": InvoicerSettings,
        "normalizer": NormalizerSettings,
        "responder": ResponderSettings,
    }[service]
    return {
        name.upper()
        for name, field in settings.model_fields.items()
        if field.annotation is SecretStr
    }


def test_every_secret_setting_comes_from_the_secret_and_never_from_the_config_map() -> None:
    """A secret added to a service's settings but forgotten here would run with its empty
    default in the cluster: no API key pepper, links nobody can check."""
    docs = k8s_documents()
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap"]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for service in SERVICES:
        secrets = secret_settings(service)
        assert not secrets & set(config_map["data"]), service
        (container,) = deployments[f"parley-{service}"]["spec"]["template"]["spec"]["containers"]
        from_secret = {
            env["name"]
            for env in container.get("env", [])
            if "secretKeyRef" in env.get("valueFrom", {})
        }
        assert secrets <= from_secret, f"{service}: {sorted(secrets - from_secret)} not fed"


def test_every_deployment_has_a_service_a_budget_and_an_autoscaler() -> None:
    docs = k8s_documents()
    for kind in ("Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        names = {d["metadata"]["name"] for d in docs if d["kind"] == kind}
        assert names == {f"parley-{s}" for s in SERVICES}, kind
    assert any(d["kind"] == "Job" and "topics" in d["metadata"]["name"] for d in docs)


def test_stream_processors_never_scale_past_the_partition_count() -> None:
    from parley_schemas import CONVERSATION_COMMANDS, MARKETPLACE_RAW

    hpas = {
        d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == "HorizontalPodAutoscaler"
    }
    assert hpas["parley-normalizer"]["spec"]["maxReplicas"] <= MARKETPLACE_RAW.partitions
    assert hpas["parley-responder"]["spec"]["maxReplicas"] <= CONVERSATION_COMMANDS.partitions


def test_compose_runs_every_service_and_the_sandbox() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert SERVICES | {"sandbox", "kafka", "mongo", "topics"} <= set(compose["services"])
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert compose["services"]["mongo"]["image"].startswith("mongo:")
