"""The Helm chart deploy/helm/parley, the one description of Parley on Kubernetes.

Rendered with the real helm (built from its Go module by deploy/helm/install-helm.sh,
cached in .cache/helm) for the dev and prod value sets, linted strictly, every
manifest validated against the Kubernetes OpenAPI schemas kubernetes-validate bundles
(the custom resources of KEDA, the Prometheus Operator and Strimzi, which it has no
schema for, are checked structurally here), and held to what a platform team needs:
Pod Security "restricted", drains never blocked, every secret setting of every
service fed from a Secret and no secret value in the output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, get_args

import kubernetes_validate
import pytest
import trustme
import yaml
from cryptography.fernet import Fernet
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from parley_gateway.config import GatewaySettings
from parley_ingest.config import IngestSettings
from parley_invoicer.config import InvoicerSettings
from parley_normalizer.config import NormalizerSettings
from parley_platform.settings import ServiceSettings, load_settings
from parley_platform.topics_admin import parse_topic_specs
from parley_responder.config import ResponderSettings
from parley_schemas import (
    ALL_TOPICS,
    CONVERSATION_COMMANDS,
    CONVERSATION_EVENTS,
    DELIVERY_RESULTS,
    INGEST_COMMANDS,
    MARKETPLACE_RAW,
    ORDER_ALERTS,
    Topic,
)

# A cold helm build (the first run on a machine) takes a few minutes.
pytestmark = pytest.mark.timeout(1800)

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "deploy/helm/parley"
DEV = CHART / "values-dev.yaml"
PROD = CHART / "values-prod.yaml"
VALUE_SETS = {"dev": (DEV,), "prod": (PROD,)}
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest
# kubernetes-validate knows.
KUBE_VERSIONS = ("1.25.0", kubernetes_validate.utils.latest_version())
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what the containers must listen on
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "KafkaTopic"}

SETTINGS: dict[str, type[ServiceSettings]] = {
    "gateway": GatewaySettings,
    "ingest": IngestSettings,
    "invoicer": InvoicerSettings,
    "normalizer": NormalizerSettings,
    "responder": ResponderSettings,
}
SERVICES = set(SETTINGS)
STREAM_PROCESSORS = {"normalizer", "responder"}
# What each consumer group reads: its lag is what KEDA scales on, and a group never
# uses more replicas than these topics have partitions.
CONSUMED: dict[str, tuple[Topic, ...]] = {
    "normalizer": (MARKETPLACE_RAW, DELIVERY_RESULTS, ORDER_ALERTS),
    "responder": (CONVERSATION_COMMANDS, CONVERSATION_EVENTS),
    "ingest": (INGEST_COMMANDS,),
}
CONSUMER_GROUPS = {
    "normalizer": NormalizerSettings().normalizer_app_id,
    "responder": ResponderSettings().responder_app_id,
    "ingest": IngestSettings().ingest_group_id,
}
HTTP_PORTS = {
    "gateway": GatewaySettings().gateway_port,
    "ingest": IngestSettings().ingest_port,
    "invoicer": InvoicerSettings().invoicer_port,
    "normalizer": NormalizerSettings().normalizer_web_port,
    "responder": ResponderSettings().responder_web_port,
}
# Everything optional switched on: the Kafka client certificate and its key password,
# MongoDB's private CA.
FULL_KAFKA = (
    "kafka.tls.clientCertSecret.name=parley-kafka-client",
    "kafka.tls.keyPasswordSecret.name=parley-kafka-client-key-password",
    "mongodb.tls.caSecret.name=parley-mongodb-ca",
)


# ---------------------------------------------------------------- helm
@pytest.fixture(scope="session")
def helm() -> str:
    """The project's helm: built once into .cache by the script `make test` runs too."""
    done = subprocess.run(
        ["bash", str(ROOT / "deploy/helm/install-helm.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    return done.stdout.strip().splitlines()[-1]


@cache
def _render(helm: str, values: tuple[Path, ...], sets: tuple[str, ...]) -> str:
    cmd = [helm, "template", "parley", str(CHART), "--namespace", "parley"]
    for path in values:
        cmd += ["-f", str(path)]
    for item in sets:
        cmd += ["--set", item]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def render(helm: str, values: tuple[Path, ...], *sets: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(_render(helm, values, sets)) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for d in docs:
        if d["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
            yield f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]


def container(docs: list[dict[str, Any]], service: str) -> dict[str, Any]:
    deployment = by_kind(docs, "Deployment")[f"parley-{service}"]
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env_of(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env", [])}


def values(*files: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in (CHART / "values.yaml", *files):
        _merge(merged, yaml.safe_load(path.read_text()))
    return merged


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


# ---------------------------------------------------------------- lint and schemas
@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_the_chart_lints_strictly(helm: str, name: str) -> None:
    cmd = [helm, "lint", "--strict", str(CHART)]
    for path in VALUE_SETS[name]:
        cmd += ["-f", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_rendered_manifest_validates_against_the_kubernetes_schemas(
    helm: str, name: str
) -> None:
    docs = render(helm, VALUE_SETS[name])
    assert docs
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue  # no bundled schema: see the custom-resource tests below
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']} ({version}): {exc}")


def test_the_kafka_client_certificate_and_strimzi_variants_render_and_validate(
    helm: str,
) -> None:
    for sets in (FULL_KAFKA, ("topics.mode=strimzi",), ("topics.mode=none",)):
        for doc in render(helm, (PROD,), *sets):
            if doc["kind"] not in CUSTOM_KINDS:
                kubernetes_validate.validate(doc, KUBE_VERSIONS[-1], strict=True)


@pytest.mark.parametrize(
    "sets",
    [
        ("kafka.securityProtocol=SASL_TLS",),
        ("kafka.securityProtocol=SASL_SSL", "kafka.sasl.passwordSecret.name="),
        ("services.normalizer.autoscaling.enabled=true", "services.normalizer.keda.enabled=true"),
        ("podDisruptionBudget.maxUnavailable=0",),
        ("mongodb.uriSecret.name=",),
        ("services.ingest.smtp.service.type=ExternalName",),
        ("services.gatway.replicas=2",),  # a typo: values.schema.json refuses it
        ("topics.mode=jobs",),
        ("config.dataDir=/app/data",),  # read-only: only /tmp is writable
    ],
)
def test_values_that_cannot_work_are_refused_at_render(helm: str, sets: tuple[str, ...]) -> None:
    cmd = [helm, "template", "parley", str(CHART)]
    for item in sets:
        cmd += ["--set", item]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0, sets


# ---------------------------------------------------------------- workloads
@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_service_has_a_deployment_service_account_budget_and_probes(
    helm: str, name: str
) -> None:
    docs = render(helm, VALUE_SETS[name])
    expected = {f"parley-{s}" for s in SERVICES}
    for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"):
        assert expected <= set(by_kind(docs, kind)), kind
    registry = values(*VALUE_SETS[name])["image"]["registry"]
    for service in SERVICES:
        c = container(docs, service)
        assert re.fullmatch(rf"{re.escape(registry)}/parley-{service}:[\w.-]+", c["image"])
        assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert c["startupProbe"]["httpGet"]["path"] == "/health"
        readiness = c["readinessProbe"]["httpGet"]["path"]
        # Faust's /ready reflects MongoDB, Kafka and the group (parley_platform.readiness).
        assert readiness == ("/health" if service == "invoicer" else "/ready"), service
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
        assert c["resources"]["limits"]["memory"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports["http"] == HTTP_PORTS[service], service
        env = env_of(c)
        # Listening on every interface, on the port the probes and Service use.
        bind = {"normalizer": "NORMALIZER_WEB", "responder": "RESPONDER_WEB"}.get(
            service, service.upper()
        )
        host_var = f"{bind}_BIND" if service in STREAM_PROCESSORS else f"{bind}_HOST"
        assert env[host_var]["value"] == ALL_INTERFACES, service
        assert env[f"{bind}_PORT"]["value"] == str(HTTP_PORTS[service]), service


def _dependencies_are_read_only_and_tmp_is_writable(where: str, spec: dict[str, Any]) -> None:
    volumes = {v["name"]: v for v in spec["volumes"]}
    for c in spec["containers"]:
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]["name"]], where
        for path, mount in mounts.items():
            if path != "/tmp":
                assert mount.get("readOnly") is True, f"{where}: {path}"
        env = env_of(c)
        if "PARLEY_DATA_DIR" in env:
            assert env["PARLEY_DATA_DIR"]["value"].startswith("/tmp/"), where


ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def assert_restricted(where: str, spec: dict[str, Any]) -> None:
    """Pod Security Standards, "restricted" profile (v1.25+), checked as the admission
    controller does: pod-level settings count unless a container overrides them."""
    pod = spec.get("securityContext", {})
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(key), f"{where}: {key}"
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        assert kinds <= ALLOWED_VOLUMES, f"{where}: volume {volume['name']} {kinds}"
    assert pod.get("seccompProfile", {}).get("type") in {"RuntimeDefault", "Localhost"}, where
    for c in spec.get("initContainers", []) + spec["containers"]:
        sc = c.get("securityContext", {})
        name = f"{where}/{c['name']}"
        assert sc.get("privileged") is not True, name
        assert sc.get("allowPrivilegeEscalation") is False, name
        assert sc.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, name
        assert sc.get("runAsUser", pod.get("runAsUser")) == 10001, name
        seccomp = sc.get("seccompProfile", pod.get("seccompProfile", {}))
        assert seccomp.get("type") in {"RuntimeDefault", "Localhost"}, name
        caps = sc.get("capabilities", {})
        assert caps.get("drop") == ["ALL"], name
        assert set(caps.get("add", [])) <= {"NET_BIND_SERVICE"}, name
        assert not any(p.get("hostPort") for p in c.get("ports", [])), name
        # Beyond the profile: the images run on a read-only root, writing only to /tmp.
        assert sc.get("readOnlyRootFilesystem") is True, name


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_pod_passes_pod_security_restricted_hook_jobs_included(helm: str, name: str) -> None:
    docs = render(helm, VALUE_SETS[name])
    seen = dict(pod_specs(docs))
    assert {f"Deployment/parley-{s}" for s in SERVICES} | {"Job/parley-topics"} <= set(seen)
    for where, spec in seen.items():
        assert_restricted(where, spec)
        _dependencies_are_read_only_and_tmp_is_writable(where, spec)


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_the_namespace_renders_enforcing_pod_security_restricted(helm: str, name: str) -> None:
    """For GitOps rendering: the namespace carries the labels that make the API server
    refuse any pod below "restricted", and every pod of the same render meets it."""
    assert "Namespace" not in {d["kind"] for d in render(helm, VALUE_SETS[name])}
    docs = render(helm, VALUE_SETS[name], "namespace.create=true")
    namespace = by_kind(docs, "Namespace")["parley"]
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted", mode
    for version in KUBE_VERSIONS:
        kubernetes_validate.validate(namespace, version, strict=True)
    for where, spec in pod_specs(docs):
        assert_restricted(where, spec)


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_no_pod_gets_a_service_account_token(helm: str, name: str) -> None:
    docs = render(helm, VALUE_SETS[name])
    accounts = by_kind(docs, "ServiceAccount")
    for account in accounts.values():
        assert account["automountServiceAccountToken"] is False
    for where, spec in pod_specs(docs):
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["serviceAccountName"] in accounts, where


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_budgets_let_a_node_drain_evict_a_pod_of_every_service(helm: str, name: str) -> None:
    """A PDB whose allowed disruptions are 0 at the rendered replica count blocks
    `kubectl drain` forever (the invoicer's minAvailable 1 with 1 replica did)."""
    docs = render(helm, VALUE_SETS[name])
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    scaled = by_kind(docs, "ScaledObject")
    deployments = by_kind(docs, "Deployment")
    for pdb in by_kind(docs, "PodDisruptionBudget").values():
        target = pdb["metadata"]["name"]
        assert (
            pdb["spec"]["selector"]["matchLabels"]
            == (deployments[target]["spec"]["selector"]["matchLabels"])
        )
        if target in hpas:
            replicas = [hpas[target]["spec"]["minReplicas"]]
        elif target in scaled:
            replicas = [scaled[target]["spec"]["minReplicaCount"]]
        else:
            replicas = [deployments[target]["spec"]["replicas"]]
        for count in replicas:
            if "maxUnavailable" in pdb["spec"]:
                assert int(pdb["spec"]["maxUnavailable"]) >= 1, target
            else:
                assert count - int(pdb["spec"]["minAvailable"]) >= 1, (target, count)


def test_dev_runs_one_small_replica_of_each_service_over_plaintext_kafka(helm: str) -> None:
    docs = render(helm, (DEV,))
    for service in SERVICES:
        deployment = by_kind(docs, "Deployment")[f"parley-{service}"]
        assert deployment["spec"]["replicas"] == 1
    assert not by_kind(docs, "HorizontalPodAutoscaler") and not by_kind(docs, "ScaledObject")
    (config,) = by_kind(docs, "ConfigMap").values()
    assert config["data"]["KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"


# ---------------------------------------------------------------- secrets
def secret_settings(settings: type[BaseSettings]) -> set[str]:
    """The environment variables of the settings that hold a secret."""
    return {
        name.upper()
        for name, field in settings.model_fields.items()
        if field.annotation is SecretStr or SecretStr in get_args(field.annotation)
    }


def fed_from_a_secret(spec: dict[str, Any], c: dict[str, Any]) -> set[str]:
    """Variables a container gets from a Secret: by secretKeyRef, or as NAME_FILE
    pointing into a mounted Secret (or a projected volume made of Secrets only)."""
    secret_volumes = {
        v["name"]
        for v in spec.get("volumes", [])
        if "secret" in v
        or ("projected" in v and all("secret" in s for s in v["projected"]["sources"]))
    }
    secret_dirs = [
        m["mountPath"].rstrip("/") + "/"
        for m in c.get("volumeMounts", [])
        if m["name"] in secret_volumes
    ]
    fed = set()
    for name, env in env_of(c).items():
        if "secretKeyRef" in env.get("valueFrom", {}):
            fed.add(name)
        elif name.endswith("_FILE") and _under(env.get("value", ""), secret_dirs):
            fed.add(name.removesuffix("_FILE"))
    return fed


def _under(path: str, dirs: list[str]) -> bool:
    return any(path.startswith(d) for d in dirs)


def files_exist_in_the_mounted_secrets(spec: dict[str, Any], c: dict[str, Any]) -> None:
    """Every *_FILE variable names a path the pod's Secret volumes actually provide."""
    provided = set()
    for volume in spec.get("volumes", []):
        sources = volume.get("projected", {}).get("sources", [])
        if "secret" in volume:
            sources = [{"secret": volume["secret"]}]
        for mount in c["volumeMounts"]:
            if mount["name"] == volume["name"]:
                for source in sources:
                    for item in source["secret"].get("items", []):
                        provided.add(f"{mount['mountPath']}/{item['path']}")
    for name, env in env_of(c).items():
        if name.endswith("_FILE"):
            assert env["value"] in provided, name


def kafka_secrets_needed(docs: list[dict[str, Any]]) -> set[str]:
    """The Kafka secret settings the rendered security setup uses."""
    (config,) = by_kind(docs, "ConfigMap").values()
    protocol = config["data"]["KAFKA_SECURITY_PROTOCOL"]
    env = env_of(container(docs, "ingest"))
    needed = set()
    if protocol.startswith("SASL_"):
        needed.add("KAFKA_SASL_PASSWORD")
    if "KAFKA_SSL_KEYFILE" in env:
        needed.add("KAFKA_SSL_KEY_PASSWORD")
    return needed


@pytest.mark.parametrize(
    ("name", "files", "sets"),
    [("dev", (DEV,), ()), ("prod", (PROD,), ()), ("prod, client cert", (PROD,), FULL_KAFKA)],
)
def test_every_secret_setting_of_every_service_is_fed_from_a_secret(
    helm: str, name: str, files: tuple[Path, ...], sets: tuple[str, ...]
) -> None:
    """A secret added to a service's settings but forgotten in the chart would run with
    its empty default in the cluster: no API key pepper, links nobody can check. Kafka's
    are needed only by the security protocol that uses them."""
    docs = render(helm, files, *sets)
    (config,) = by_kind(docs, "ConfigMap").values()
    needed_kafka = kafka_secrets_needed(docs)
    if sets:
        assert needed_kafka == {"KAFKA_SASL_PASSWORD", "KAFKA_SSL_KEY_PASSWORD"}
    for service, settings in SETTINGS.items():
        secrets = secret_settings(settings)
        assert "MONGODB_URI" in secrets
        assert not secrets & set(config["data"]), service
        assert not {f"{s}_FILE" for s in secrets} & set(config["data"]), service
        required = {s for s in secrets if not s.startswith("KAFKA_")} | (secrets & needed_kafka)
        # Any other Kafka secret setting must be handled by the chart: fail, not pass.
        unknown_kafka = {s for s in secrets if s.startswith("KAFKA_")} - {
            "KAFKA_SASL_PASSWORD",
            "KAFKA_SSL_KEY_PASSWORD",
        }
        required |= unknown_kafka
        deployment = by_kind(docs, "Deployment")[f"parley-{service}"]
        spec = deployment["spec"]["template"]["spec"]
        c = container(docs, service)
        fed = fed_from_a_secret(spec, c)
        assert required <= fed, f"{name}: {service}: {sorted(required - fed)} not fed"
        files_exist_in_the_mounted_secrets(spec, c)
    # The topics Job talks to the same Kafka with the same credentials.
    job = by_kind(docs, "Job")["parley-topics"]["spec"]["template"]["spec"]
    (topics,) = job["containers"]
    assert needed_kafka <= fed_from_a_secret(job, topics)
    files_exist_in_the_mounted_secrets(job, topics)


SECRET_LOOKING = [
    re.compile(r"mongodb(\+srv)?://[^/\s\"']*:[^@\s\"']*@"),  # a URI with a password
    re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----"),
    re.compile(r"(?i)\b(password|passwd|pwd|secret|token)\s*[:=]\s*[\"']?[A-Za-z0-9+/_-]{8,}"),
]


@pytest.mark.parametrize(
    ("name", "files", "sets"),
    [("dev", (DEV,), ()), ("prod", (PROD,), ()), ("prod, client cert", (PROD,), FULL_KAFKA)],
)
def test_no_secret_value_is_rendered(
    helm: str, name: str, files: tuple[Path, ...], sets: tuple[str, ...]
) -> None:
    """Secrets are referenced by name and key, never carried by the chart: no Secret
    object, no secret setting with a literal value, nothing that looks like one."""
    text = _render(helm, files, sets)
    docs = render(helm, files, *sets)
    assert not by_kind(docs, "Secret")
    all_secret_names = set().union(*(secret_settings(s) for s in SETTINGS.values()))
    for where, spec in pod_specs(docs):
        for c in spec["containers"]:
            for var, env in env_of(c).items():
                if var in all_secret_names:
                    assert "value" not in env, f"{where}: {var} inline"
    for pattern in SECRET_LOOKING:
        match = pattern.search(text)
        assert match is None, f"{name}: {match.group(0) if match else ''}"


# ---------------------------------------------------------------- inbound mail
@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_ingest_listens_for_inbound_mail_on_all_interfaces_and_its_service_has_the_smtp_port(
    helm: str, name: str
) -> None:
    docs = render(helm, VALUE_SETS[name])
    c = container(docs, "ingest")
    env = env_of(c)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert env["INGEST_SMTP_HOST"]["value"] == ALL_INTERFACES
    assert env["INGEST_SMTP_PORT"]["value"] == str(ports["smtp"]) == "2525"
    service = by_kind(docs, "Service")["parley-ingest"]
    assert service["spec"]["type"] == "ClusterIP"
    smtp = {p["name"]: p for p in service["spec"]["ports"]}["smtp"]
    assert smtp["targetPort"] == "smtp"


def test_prod_exposes_smtp_alone_on_a_load_balancer_with_starttls_from_a_secret(
    helm: str,
) -> None:
    docs = render(helm, (PROD,))
    external = by_kind(docs, "Service")["parley-ingest-smtp"]
    assert external["spec"]["type"] == "LoadBalancer"
    assert [p["name"] for p in external["spec"]["ports"]] == ["smtp"]
    assert external["spec"]["ports"][0]["port"] == 25
    env = env_of(container(docs, "ingest"))
    assert env["INGEST_SMTP_REQUIRE_STARTTLS"]["value"] == "true"
    deployment = by_kind(docs, "Deployment")["parley-ingest"]
    spec = deployment["spec"]["template"]["spec"]
    (secrets,) = [v for v in spec["volumes"] if v["name"] == "secrets"]
    tls = [
        s["secret"]
        for s in secrets["projected"]["sources"]
        if s["secret"]["name"] == "parley-inbound-smtp-tls"
    ]
    assert tls and {i["key"] for i in tls[0]["items"]} == {"tls.crt", "tls.key"}
    assert env["INGEST_SMTP_TLS_CERT_FILE"]["value"].endswith("smtp/tls.crt")
    assert env["INGEST_SMTP_TLS_KEY_FILE"]["value"].endswith("smtp/tls.key")

    node_port = render(
        helm,
        (PROD,),
        "services.ingest.smtp.service.type=NodePort",
        "services.ingest.smtp.service.nodePort=30025",
    )
    smtp = by_kind(node_port, "Service")["parley-ingest-smtp"]
    assert smtp["spec"]["type"] == "NodePort"
    assert smtp["spec"]["ports"][0]["nodePort"] == 30025


# ---------------------------------------------------------------- scaling
def test_prod_autoscales_consumers_on_lag_and_never_past_the_partition_count(helm: str) -> None:
    docs = render(helm, (PROD,))
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    scaled = by_kind(docs, "ScaledObject")
    for service in SERVICES:
        name = f"parley-{service}"
        assert (name in hpas) != (name in scaled), f"{service}: one autoscaler, not two"
    # Invoice numbers come from MongoDB: the invoicer scales on CPU like the gateway.
    assert "parley-invoicer" in hpas
    assert hpas["parley-invoicer"]["spec"]["minReplicas"] >= 2
    for hpa in hpas.values():
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
    for service, topics in CONSUMED.items():
        name = f"parley-{service}"
        partitions = min(t.partitions for t in topics)
        if name in hpas:
            assert hpas[name]["spec"]["maxReplicas"] <= partitions, service
            continue
        so = scaled[name]
        assert so["apiVersion"] == "keda.sh/v1alpha1"
        assert so["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 1 <= so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"] <= partitions
        kafka = [t for t in so["spec"]["triggers"] if t["type"] == "kafka"]
        assert {t["metadata"]["topic"] for t in kafka} == {t.name for t in topics}, service
        for trigger in kafka:
            meta = trigger["metadata"]
            assert meta["consumerGroup"] == CONSUMER_GROUPS[service], service
            assert meta["bootstrapServers"] == "kafka-kafka-bootstrap.kafka.svc:9093"
            assert int(meta["lagThreshold"]) > 0
            assert meta["sasl"] == "scram_sha512" and meta["tls"] == "enable"
            assert trigger["authenticationRef"]["name"] == "parley-kafka"
    auth = by_kind(docs, "TriggerAuthentication")["parley-kafka"]["spec"]
    refs = {r["parameter"]: r for r in auth["secretTargetRef"]}
    assert refs["password"]["name"] == "parley-kafka-user"
    assert refs["ca"]["name"] == "kafka-cluster-ca-cert"
    assert auth["env"] == [{"parameter": "username", "name": "KAFKA_SASL_USERNAME"}]


def test_the_values_keep_every_consumer_within_its_partitions_whatever_the_autoscaler() -> None:
    for name, files in VALUE_SETS.items():
        services = values(*files)["services"]
        for service, topics in CONSUMED.items():
            partitions = min(t.partitions for t in topics)
            svc = services[service]
            assert svc["replicas"] <= partitions, (name, service)
            assert svc["autoscaling"]["maxReplicas"] <= partitions, (name, service)
            assert svc["keda"]["maxReplicas"] <= partitions, (name, service)
            assert svc["keda"]["consumerGroup"] == CONSUMER_GROUPS[service]
            assert set(svc["keda"]["topics"]) == {t.name for t in topics}


def test_a_topic_prefix_reaches_the_lag_triggers_and_the_topics_job(helm: str) -> None:
    docs = render(helm, (PROD,), "kafka.topicPrefix=staging.")
    for so in by_kind(docs, "ScaledObject").values():
        for trigger in so["spec"]["triggers"]:
            if trigger["type"] == "kafka":
                assert trigger["metadata"]["topic"].startswith("staging.")
    (topics,) = by_kind(docs, "Job")["parley-topics"]["spec"]["template"]["spec"]["containers"]
    args = topics["args"]
    assert args[args.index("--prefix") + 1] == "staging."


# ---------------------------------------------------------------- network, metrics
def test_prod_network_policies_admit_only_what_each_service_needs(helm: str) -> None:
    docs = render(helm, (PROD,))
    policies = by_kind(docs, "NetworkPolicy")
    deployments = by_kind(docs, "Deployment")
    for name, deployment in deployments.items():
        policy = policies[name]["spec"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert policy["podSelector"]["matchLabels"].items() <= labels.items()
        assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
        egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
        assert 53 in egress_ports, name  # DNS
        ingress_ports = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
        expected = {"http"} | ({"smtp"} if name == "parley-ingest" else set())
        assert ingress_ports == expected, name
        if name != "parley-invoicer":
            assert {9092, 9093, 27017} <= egress_ports, name

    def egress(name: str) -> set[int | str]:
        return {p["port"] for r in policies[name]["spec"]["egress"] for p in r["ports"]}

    assert 443 in egress("parley-ingest") and 443 in egress("parley-responder")  # marketplaces
    assert 443 not in egress("parley-normalizer")
    job_labels = by_kind(docs, "Job")["parley-topics"]["spec"]["template"]["metadata"]["labels"]
    topics_policy = policies["parley-topics"]["spec"]
    assert topics_policy["podSelector"]["matchLabels"].items() <= job_labels.items()


def test_prod_scrapes_metrics_on_every_service(helm: str) -> None:
    docs = render(helm, (PROD,))
    monitors = by_kind(docs, "ServiceMonitor")
    services = by_kind(docs, "Service")
    assert set(monitors) == {f"parley-{s}" for s in SERVICES}
    for name, monitor in monitors.items():
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics" and endpoint["port"] == "http"
        assert monitor["spec"]["selector"]["matchLabels"].items() <= (
            services[name]["metadata"]["labels"].items()
        )
        assert "http" in {p["name"] for p in services[name]["spec"]["ports"]}
    assert not by_kind(render(helm, (DEV,)), "ServiceMonitor")


# ---------------------------------------------------------------- topics
def _topics_job_args(docs: list[dict[str, Any]]) -> list[str]:
    job = by_kind(docs, "Job")["parley-topics"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    # A new release (a new image) replaces the finished Job instead of failing on it.
    assert job["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation"
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["python", "-m", "parley_platform.topics_admin"]
    assert c["args"][0] == "$(KAFKA_BOOTSTRAP_SERVERS)"
    assert "KAFKA_BOOTSTRAP_SERVERS" in env_of(c)
    return list(c["args"])


@pytest.mark.parametrize(("name", "replication", "min_isr"), [("dev", 1, "1"), ("prod", 3, "2")])
def test_the_topics_job_creates_every_contract_topic_as_the_values_say(
    helm: str, name: str, replication: int, min_isr: str
) -> None:
    args = _topics_job_args(render(helm, VALUE_SETS[name]))
    assert args[1] == str(replication)
    specs = parse_topic_specs(args[args.index("--topics") + 1])
    assert set(specs) == {t.name for t in ALL_TOPICS}
    for topic in ALL_TOPICS:
        spec = specs[topic.name]
        # Co-partitioned topics must keep the contract's counts.
        assert spec.partitions == topic.partitions, topic.name
        # The contract's declaration, min.insync.replicas as the environment allows.
        assert spec.config == topic.config(replication), topic.name
        assert spec.config["min.insync.replicas"] == min_isr


def test_topic_settings_come_from_the_values(helm: str) -> None:
    docs = render(
        helm,
        (PROD,),
        "topics.replicationFactor=5",
        "topics.config.min\\.insync\\.replicas=4",
        "topics.config.segment\\.ms=1000",
        "topics.config.retention\\.ms=1",  # a topic's own config wins over this
    )
    args = _topics_job_args(docs)
    assert args[1] == "5"
    specs = parse_topic_specs(args[args.index("--topics") + 1])
    assert specs["marketplace.raw.v1"].config == {
        "cleanup.policy": "delete",
        "min.insync.replicas": "4",
        "retention.ms": "604800000",
        "segment.ms": "1000",
    }
    assert specs["parley.deadletter.v1"].config["retention.ms"] == "2592000000"


def test_strimzi_mode_declares_kafka_topics_instead_of_a_job(helm: str) -> None:
    docs = render(helm, (PROD,), "topics.mode=strimzi", "kafka.topicPrefix=prod.")
    assert "parley-topics" not in by_kind(docs, "Job")
    topics = {d["spec"]["topicName"]: d for d in docs if d["kind"] == "KafkaTopic"}
    assert set(topics) == {f"prod.{t.name}" for t in ALL_TOPICS}
    for topic in ALL_TOPICS:
        doc = topics[f"prod.{topic.name}"]
        assert doc["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "kafka"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
        assert doc["spec"]["partitions"] == topic.partitions
        assert doc["spec"]["replicas"] == 3
        assert doc["spec"]["config"]["min.insync.replicas"] == "2"
    none = render(helm, (PROD,), "topics.mode=none")
    assert not by_kind(none, "Job") and not [d for d in none if d["kind"] == "KafkaTopic"]


def test_the_values_repeat_the_contract_topic_declarations() -> None:
    """topics.py is the one declaration; the chart's copy (needed by Strimzi) must not
    drift from it. min.insync.replicas is the environment's (topics.config)."""
    items = values()["topics"]["items"]
    assert [i["name"] for i in items] == [t.name for t in ALL_TOPICS]
    assert [i["partitions"] for i in items] == [t.partitions for t in ALL_TOPICS]
    for item, topic in zip(items, ALL_TOPICS, strict=True):
        declared = topic.config(replication_factor=3)
        del declared["min.insync.replicas"]
        assert item["config"] == declared, topic.name
    assert json.loads(json.dumps(items))  # plain data: rendered into the Job's JSON


def test_the_chart_is_the_one_deployment_description() -> None:
    assert not (ROOT / "deploy/k8s").exists(), "deploy/k8s came back: keep one source of truth"


def test_one_service_can_run_another_image_tag_for_a_staged_upgrade(helm: str) -> None:
    docs = render(helm, (PROD,), "image.tag=1.4.0", "services.normalizer.imageTag=1.5.0")
    assert container(docs, "normalizer")["image"] == "registry.example.com/parley-normalizer:1.5.0"
    assert container(docs, "gateway")["image"] == "registry.example.com/parley-gateway:1.4.0"


def test_a_private_mongodb_ca_is_mounted_beside_the_uri(helm: str) -> None:
    docs = render(helm, (PROD,), *FULL_KAFKA)
    for service in SERVICES:
        deployment = by_kind(docs, "Deployment")[f"parley-{service}"]
        (secrets,) = [
            v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "secrets"
        ]
        paths = {i["path"] for s in secrets["projected"]["sources"] for i in s["secret"]["items"]}
        assert {"mongodb/uri", "mongodb/ca.crt", "kafka/client.crt", "kafka/client.key"} <= paths


# ---------------------------------------------------------------- the settings load
SECRETS_DIR = "/var/run/secrets/parley"


def _secret_files(into: Path) -> None:
    """What the chart's Secret volume would hold: real PEMs, a URI, a password."""
    ca = trustme.CA()
    server = ca.issue_cert("inbound.parley.example.com")
    client = ca.issue_cert("parley")
    files = {
        "mongodb/uri": "mongodb://parley:not-a-secret@mongo-0.mongodb.svc:27017/?tls=true",
        "mongodb/ca.crt": ca.cert_pem.bytes().decode(),
        "kafka/sasl-password": "not-a-secret",
        "kafka/ca.crt": ca.cert_pem.bytes().decode(),
        "kafka/client.crt": client.cert_chain_pems[0].bytes().decode(),
        "kafka/client.key": client.private_key_pem.bytes().decode(),
        "kafka/key-password": "not-a-secret",
        "smtp/tls.crt": "".join(p.bytes().decode() for p in server.cert_chain_pems),
        "smtp/tls.key": server.private_key_pem.bytes().decode(),
    }
    for path, text in files.items():
        (into / path).parent.mkdir(parents=True, exist_ok=True)
        (into / path).write_text(text)


SECRET_VALUES = {
    "CREDENTIALS_KEY": Fernet.generate_key().decode(),
    "API_KEY_PEPPER": "a-pepper-for-the-chart-test",
    "LINK_SIGNING_KEY": "a-link-signing-key-of-32-bytes!!",
    "SMTP_PASSWORD": "not-a-secret",
}


@pytest.mark.parametrize(
    ("name", "files", "sets"),
    [
        ("dev", (DEV,), ()),
        ("prod", (PROD,), ()),
        ("prod, client cert", (PROD,), FULL_KAFKA[:1]),
    ],
)
def test_every_service_loads_its_settings_from_the_rendered_environment(
    helm: str,
    name: str,
    files: tuple[Path, ...],
    sets: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The environment the chart gives each container, with its Secret files in place,
    passes the service's own settings checks (load_settings, as at start-up): names the
    settings know, values their rules accept, files they can read."""
    _secret_files(tmp_path / "secrets")
    docs = render(helm, files, *sets)
    (config,) = by_kind(docs, "ConfigMap").values()
    job = by_kind(docs, "Job")["parley-topics"]["spec"]["template"]["spec"]
    # The topics Job reads the shared settings from its inline environment alone.
    processes: list[tuple[str, type[ServiceSettings], dict[str, str], dict[str, Any]]] = [
        (service, settings, dict(config["data"]), container(docs, service))
        for service, settings in SETTINGS.items()
    ]
    processes.append(("topics", ServiceSettings, {}, job["containers"][0]))
    for service, settings, env, c in processes:
        for var, item in env_of(c).items():
            if "value" in item:
                env[var] = item["value"]
            else:
                key = item["valueFrom"]["secretKeyRef"]["key"]
                env[var] = SECRET_VALUES[key]
        for var, value in env.items():
            if value.startswith(SECRETS_DIR + "/"):
                env[var] = str(tmp_path / "secrets") + value.removeprefix(SECRETS_DIR)
        env["PARLEY_DATA_DIR"] = str(tmp_path / "data")
        with monkeypatch.context() as patch:
            for var in list(os.environ):
                if var.startswith(("KAFKA_", "MONGODB_", "INGEST_", "GATEWAY_", "RESPONDER_")):
                    patch.delenv(var)
            for var, value in env.items():
                patch.setenv(var, value)
            try:
                loaded = load_settings(settings, service)
            except SystemExit:
                pytest.fail(f"{name}: {service} refuses the chart's settings (stderr above)")
        assert loaded.mongodb_uri.get_secret_value().startswith("mongodb://parley:")
        assert loaded.kafka_security_protocol == config["data"]["KAFKA_SECURITY_PROTOCOL"]


def test_the_chart_runs_each_service_image_as_its_dockerfile_declares(helm: str) -> None:
    """deploy/docker/<service>.Dockerfile: the same command and the ports it exposes."""
    docs = render(helm, (PROD,))
    for service in SERVICES:
        dockerfile = (ROOT / f"deploy/docker/{service}.Dockerfile").read_text()
        (cmd,) = re.findall(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
        exposed = {
            int(p)
            for line in re.findall(r"^EXPOSE (.+)$", dockerfile, re.MULTILINE)
            for p in line.split()
        }
        c = container(docs, service)
        assert c["command"] == json.loads(cmd), service
        assert {p["containerPort"] for p in c["ports"]} == exposed, service
    (job,) = by_kind(docs, "Job")["parley-topics"]["spec"]["template"]["spec"]["containers"]
    assert job["image"].split("/")[-1].startswith("parley-normalizer:")
