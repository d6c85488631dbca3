"""What the images assume, proven without a Docker engine: every service starts and gets
ready as uid 10001 (the images' user, which owns nothing) in a read-only working
directory, with HOME unset and only TMPDIR writable, and writes nowhere else.

Each of ingest, normalizer, responder, invoicer and gateway runs as a process of the
project's virtual environment against the REAL Kafka broker and MongoDB-compatible
server, on free ports, with topics and a database of the test's own (a normalizer or
responder on the shared ``test.`` topics would process, and deliver, other tests'
records). Then, after they stopped, no file owned by uid 10001 may exist outside TMPDIR.

Switching to uid 10001 needs root, which `make test` has in CI. The project's venv is
used as is when uid 10001 can run its interpreter; when that interpreter lives where
uid 10001 cannot reach it (pyenv under /root, mode 0700, as on the CI machine), the
test hard-links the very same interpreter build (binary, libpython, standard library)
into a temporary directory and points a minimal venv at the project venv's
site-packages: same interpreter, same packages, a readable path. Either way the test
checks that uid 10001 runs this interpreter's exact version with the project's packages.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from parley_platform.crypto import CredentialCipher

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
UID = GID = 10001
SERVICES = ("ingest", "normalizer", "responder", "invoicer", "gateway")
READY_WITHIN = 180.0
INVOICE = {
    "settings": {
        "seller": {
            "legal_name": "Sklep Żagiel sp. z o.o.",
            "vat_id": "PL5260250995",
            "address": {
                "lines": ["ul. Marszałkowska 10"],
                "postal_code": "00-590",
                "city": "Warszawa",
                "country_code": "PL",
            },
        },
        "numbering_prefix": "FV",
        "time_zone": "Europe/Warsaw",
    },
    "order": {
        "store_id": "store-pl",
        "marketplace": "allegro",
        "order_id": "ALG-1",
        "order_date": "2026-03-10",
        "currency": "PLN",
        "buyer": {
            "name": "Łukasz Wróbel",
            "language": "pl-PL",
            "billing_address": {
                "lines": ["ul. Świętokrzyska 12"],
                "postal_code": "90-001",
                "city": "Łódź",
                "country_code": "PL",
            },
        },
        "lines": [
            {
                "sku": "MUG",
                "label": "Kubek",
                "quantity": 1,
                "unit_price_excl_vat": 10,
                "vat_rate": 23,
            }
        ],
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_uid(
    argv: list[str], env: dict[str, str], cwd: Path, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        user=UID,
        group=GID,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


@dataclass(frozen=True)
class Interpreter:
    """The python uid 10001 runs, and what its environment needs (LD_LIBRARY_PATH)."""

    python: Path
    env: dict[str, str]
    scratch: Path | None = None  # the hard-linked copy, removed at the end


PROBE = "import sys, parley_platform, parley_ingest, faust, weasyprint; print(sys.version)"


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _overlay(directory: Path) -> Interpreter:
    """This interpreter's build, hard-linked under ``directory``, and a venv on top whose
    site-packages add the project venv's (its .pth files included: the editable
    workspace packages)."""
    base = Path(sys.base_prefix)
    executable = Path(os.path.realpath(sys.executable))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    home = directory / "python"
    (home / "bin").mkdir(parents=True)
    _link_or_copy(str(executable), str(home / "bin" / version))
    libdir = Path(sysconfig.get_config_var("LIBDIR") or base / "lib")
    (home / "lib").mkdir()
    for shared in libdir.glob("libpython3*.so*"):
        _link_or_copy(str(shared), str(home / "lib" / shared.name))
    shutil.copytree(
        base / "lib" / version,
        home / "lib" / version,
        copy_function=_link_or_copy,
        ignore=shutil.ignore_patterns("site-packages", "test", "__pycache__"),
        symlinks=True,
    )
    venv = directory / "venv"
    site = venv / "lib" / version / "site-packages"
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "bin" / "python").symlink_to(home / "bin" / version)
    (venv / "pyvenv.cfg").write_text(
        f"home = {home / 'bin'}\ninclude-system-site-packages = false\n"
        f"version = {sys.version_info.major}.{sys.version_info.minor}."
        f"{sys.version_info.micro}\n"
    )
    project_site = Path(sysconfig.get_paths()["purelib"])
    (site / "parley_project_venv.pth").write_text(
        f"import site; site.addsitedir({str(project_site)!r})\n"
    )
    for path in (directory, *directory.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    return Interpreter(
        venv / "bin" / "python", {"LD_LIBRARY_PATH": str(home / "lib")}, scratch=directory
    )


def closed_to_others(roots: list[Path]) -> list[str]:
    """Directories others cannot enter and files they cannot read under ``roots``, and
    the roots' ancestors others cannot enter: what uid 10001 would trip over."""
    closed: list[str] = []
    for root in roots:
        for ancestor in root.parents:
            if not ancestor.stat().st_mode & 0o001:
                closed.append(f"{ancestor} (not enterable)")
        for directory, dirs, files in os.walk(root):
            if os.stat(directory).st_mode & 0o005 != 0o005:
                closed.append(directory)
            closed += [
                os.path.join(directory, f)
                for f in files
                if not os.lstat(os.path.join(directory, f)).st_mode & 0o004
                and not os.path.islink(os.path.join(directory, f))
            ]
            dirs[:] = [d for d in dirs if d != "__pycache__"]
    return closed


@pytest.fixture(scope="module")
def interpreter() -> Iterator[Interpreter]:
    """A python uid 10001 can run: the project venv's when it can, else :func:`_overlay`.
    Either way it must be this very interpreter, with the project's packages."""
    if os.geteuid() != 0:
        pytest.fail(
            f"switching to uid {UID} needs root: run it as CI does (make test as root)",
            pytrace=False,
        )
    # The project's code and installed packages must be readable by any user, as in an
    # image (root-owned, world-readable, nobody's to write).
    sources = [d / "src" for group in ("libs", "services") for d in (ROOT / group).iterdir()]
    site = Path(sysconfig.get_paths()["purelib"])
    closed = closed_to_others([site, *[src for src in sources if src.is_dir()]])
    assert not closed, f"not readable by uid {UID}: {closed[:20]}"

    probe_cwd = Path(tempfile.mkdtemp(prefix="parley-uid-probe-"))
    probe_cwd.chmod(0o555)
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    chosen: Interpreter | None = None
    try:
        venv_python = Path(sys.executable)
        with contextlib.suppress(PermissionError):  # behind a directory it cannot enter
            direct = as_uid([str(venv_python), "-c", PROBE], env, probe_cwd)
            if direct.returncode == 0 and direct.stdout.strip() == sys.version:
                chosen = Interpreter(venv_python, {})
        if chosen is None:
            directory = Path(tempfile.mkdtemp(prefix="parley-uid-python-"))
            chosen = _overlay(directory)
            overlaid = as_uid([str(chosen.python), "-c", PROBE], {**env, **chosen.env}, probe_cwd)
            assert overlaid.returncode == 0, overlaid.stderr[-3000:]
            assert overlaid.stdout.strip() == sys.version, (overlaid.stdout, sys.version)
        for tree in (ROOT, site):  # readable, never writable
            assert as_uid(["test", "-w", str(tree)], env, probe_cwd).returncode != 0, tree
        yield chosen
    finally:
        shutil.rmtree(probe_cwd, ignore_errors=True)
        if chosen is not None and chosen.scratch is not None:
            shutil.rmtree(chosen.scratch, ignore_errors=True)


@pytest.fixture
def read_only_cwd() -> Iterator[Path]:
    """The working directory: root's and read-only, like / on a read-only root fs."""
    directory = Path(tempfile.mkdtemp(prefix="parley-uid-cwd-"))
    directory.chmod(0o555)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def uid_tmpdir() -> Iterator[Path]:
    """The one writable place (TMPDIR), uid 10001's: the image's /tmp volume."""
    directory = Path(tempfile.mkdtemp(prefix="parley-uid-tmp-"))
    os.chown(directory, UID, GID)
    directory.chmod(0o700)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Service:
    name: str
    port: int
    ready_path: str
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.ready_path}"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log else ""


def wait_ready(services: list[Service], within: float) -> dict[str, int]:
    """Each service's first 200 on its readiness URL; fails on an exit or the deadline."""
    deadline = time.monotonic() + within
    ready: dict[str, int] = {}
    last: dict[str, str] = {}
    with httpx.Client(timeout=5) as http:
        while len(ready) < len(services):
            for service in services:
                if service.name in ready:
                    continue
                assert service.process is not None
                code = service.process.poll()
                if code is not None:
                    pytest.fail(
                        f"{service.name} exited with {code} as uid {UID}:\n{service.log_tail()}",
                        pytrace=False,
                    )
                try:
                    response = http.get(service.ready_url)
                except httpx.HTTPError as exc:
                    last[service.name] = type(exc).__name__
                    continue
                last[service.name] = f"{response.status_code} {response.text[:300]}"
                if response.status_code == 200:
                    ready[service.name] = 200
            if time.monotonic() > deadline:
                waiting = {s.name: last.get(s.name) for s in services if s.name not in ready}
                logs = "\n".join(
                    f"--- {s.name}\n{s.log_tail()}" for s in services if s.name not in ready
                )
                pytest.fail(f"not ready within {within:.0f} s: {waiting}\n{logs}", pytrace=False)
            time.sleep(0.5)
    return ready


def stop(services: list[Service]) -> None:
    for service in services:
        if service.process is not None and service.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGTERM)
    for service in services:
        if service.process is None:
            continue
        try:
            service.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait(timeout=10)


def files_of_uid_outside(allowed: Path, since: Path) -> list[str]:
    """Files and directories owned by uid 10001 and changed after ``since``, anywhere on
    the root filesystem and the usual separate writable mounts, but under ``allowed``."""
    roots = [p for p in ("/", "/tmp", "/var/tmp", "/dev/shm", "/run") if Path(p).is_dir()]
    result = subprocess.run(
        [
            "find",
            *roots,
            "-xdev",
            "(",
            "-path",
            str(allowed),
            "-o",
            "-path",
            "/proc",
            ")",
            "-prune",
            "-o",
            "-uid",
            str(UID),
            "-newer",
            str(since),
            "-print",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return sorted(set(result.stdout.split("\n")) - {""})


def test_every_service_gets_ready_as_uid_10001_on_a_read_only_tree(
    interpreter: Interpreter,
    kafka_bootstrap: str,
    mongo_uri: str,
    mongo_db: AsyncDatabase[Any],
    topic_prefix: str,
    read_only_cwd: Path,
    uid_tmpdir: Path,
    tmp_path: Path,
) -> None:
    cwd, tmpdir = read_only_cwd, uid_tmpdir
    logs = tmp_path / "logs"  # written by this (root) process through the fds it passes
    logs.mkdir(mode=0o700)

    run = uuid.uuid4().hex[:8]
    services = [
        Service("ingest", free_port(), "/ready"),
        Service("normalizer", free_port(), "/ready"),
        Service("responder", free_port(), "/ready"),
        Service("invoicer", free_port(), "/health"),
        Service("gateway", free_port(), "/ready"),
    ]
    ports = {s.name: s.port for s in services}
    env = {
        # No HOME, no inherited environment: only what a container would be given.
        "PATH": f"{interpreter.python.parent}:/usr/bin:/bin",
        "TMPDIR": str(tmpdir),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        **interpreter.env,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "MONGODB_URI": mongo_uri,
        "MONGODB_DATABASE": mongo_db.name,
        "KAFKA_TOPIC_PREFIX": topic_prefix,
        "NORMALIZER_APP_ID": f"parley-normalizer-uid-{run}",
        "RESPONDER_APP_ID": f"parley-responder-uid-{run}",
        "INGEST_GROUP_ID": f"parley-ingest-uid-{run}",
        "CREDENTIALS_KEY": CredentialCipher.generate_key(),
        "API_KEY_PEPPER": secrets.token_urlsafe(32),
        "LINK_SIGNING_KEY": secrets.token_urlsafe(32),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['gateway']}",
        "INGEST_PORT": str(ports["ingest"]),
        "INGEST_SMTP_PORT": str(free_port()),
        "NORMALIZER_WEB_PORT": str(ports["normalizer"]),
        "RESPONDER_WEB_PORT": str(ports["responder"]),
        "INVOICER_PORT": str(ports["invoicer"]),
        "GATEWAY_PORT": str(ports["gateway"]),
        "RESPONDER_SMTP_PORT": str(free_port()),  # nothing is sent
        "GATEWAY_SMTP_PORT": str(free_port()),
    }
    assert "HOME" not in env
    since = tmp_path / "started"
    since.touch()
    time.sleep(0.01)  # -newer compares modification times
    try:
        for service in services:
            service.log = logs / f"{service.name}.log"
            with service.log.open("wb") as log:
                service.process = subprocess.Popen(
                    [str(interpreter.python), "-m", f"parley_{service.name}"],
                    cwd=cwd,
                    env=env,
                    user=UID,
                    group=GID,
                    extra_groups=[],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        ready = wait_ready(services, READY_WITHIN)
        assert ready == dict.fromkeys(SERVICES, 200)
        with httpx.Client(timeout=60) as http:
            for service in services:  # liveness too, and the PDF libraries as uid 10001
                health = http.get(f"http://127.0.0.1:{service.port}/health")
                assert health.status_code == 200, service.name
            pdf = http.post(f"http://127.0.0.1:{ports['invoicer']}/invoices", json=INVOICE)
            assert pdf.status_code == 201, pdf.text[:2000]
            assert pdf.content.startswith(b"%PDF")
    finally:
        stop(services)

    # The Faust workers kept their data under TMPDIR (PARLEY_DATA_DIR's default).
    for app_id in (env["NORMALIZER_APP_ID"], env["RESPONDER_APP_ID"]):
        assert (tmpdir / f"parley-{UID}" / app_id).is_dir(), sorted(
            str(p.relative_to(tmpdir)) for p in tmpdir.rglob("*")
        )
    assert os.listdir(cwd) == []
    outside = files_of_uid_outside(tmpdir, since)
    assert outside == [], f"uid {UID} wrote outside TMPDIR: {outside[:50]}"
