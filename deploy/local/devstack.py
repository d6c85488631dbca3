"""Runs Parley's services and the marketplace sandbox as local processes.

``python deploy/local/devstack.py run`` is what ``make run`` calls once the stack is
up: it starts the sandbox, activates demo connections for its operator instances,
starts the five services, waits until each answers its health check, prints the
gateway URL and keeps everything running until Ctrl-C, which stops all of it.

The end-to-end tests import :class:`ServiceGroup` to start the same processes the
same way, on free ports and a throw-away database.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_API_KEY = "sandbox-shop-key"  # the sandbox's public demo key, not a secret
DEMO_INSTANCES = ("carrefour", "empik", "decathlon")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Ports:
    gateway: int = 8000
    ingest: int = 8100
    invoicer: int = 8300
    sandbox: int = 8900
    normalizer: int = 6066
    responder: int = 6067
    ingest_smtp: int = 2525  # inbound mail from the email relays (Amazon, CDON)
    sandbox_smtp: int = 2526  # the sandbox's SMTP sink, standing in for the outbound relay

    @classmethod
    def free(cls) -> Ports:
        return cls(*(free_port() for _ in range(8)))


@dataclass
class ServiceGroup:
    """The sandbox and the five services, sharing one environment."""

    env: Mapping[str, str]
    ports: Ports = field(default_factory=Ports)
    log_dir: Path = ROOT / ".run" / "logs"
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _env(self) -> dict[str, str]:
        p = self.ports
        return {
            **os.environ,
            **self.env,
            "SANDBOX_PORT": str(p.sandbox),
            "GATEWAY_PORT": str(p.gateway),
            "INGEST_PORT": str(p.ingest),
            "INVOICER_PORT": str(p.invoicer),
            "NORMALIZER_WEB_PORT": str(p.normalizer),
            "RESPONDER_WEB_PORT": str(p.responder),
            "INGEST_SMTP_PORT": str(p.ingest_smtp),
            "SANDBOX_PARLEY_SMTP_PORT": str(p.ingest_smtp),
            "SANDBOX_SMTP_PORT": str(p.sandbox_smtp),
            "RESPONDER_SMTP_PORT": str(p.sandbox_smtp),
            "PYTHONUNBUFFERED": "1",
        }

    def health_urls(self) -> dict[str, str]:
        p = self.ports
        return {
            "sandbox": f"http://127.0.0.1:{p.sandbox}/health",
            "invoicer": f"http://127.0.0.1:{p.invoicer}/health",
            "normalizer": f"http://127.0.0.1:{p.normalizer}/health",
            "responder": f"http://127.0.0.1:{p.responder}/health",
            "ingest": f"http://127.0.0.1:{p.ingest}/health",
            "gateway": f"http://127.0.0.1:{p.gateway}/health",
        }

    def start(self, name: str, module: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(  # noqa: S603 - fixed argv of our own modules
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_sandbox(self) -> None:
        self.start("sandbox", "parley_sandbox")
        self.wait_healthy(["sandbox"])

    def start_services(self) -> None:
        for name in ("invoicer", "normalizer", "responder", "ingest", "gateway"):
            self.start(name, f"parley_{name}")
        self.wait_healthy(["invoicer", "normalizer", "responder", "ingest", "gateway"])

    def wait_healthy(self, names: list[str], timeout: float = 120.0) -> None:
        urls = self.health_urls()
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            name = pending[0]
            proc = self.processes[name]
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}; see {self.log_path(name)}"
                )
            try:
                with urllib.request.urlopen(urls[name], timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        pending.pop(0)
                        continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{name} not healthy after {timeout:.0f} s; see {self.log_path(name)}"
                )
            time.sleep(0.3)

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)

    def activate(
        self,
        connection_id: str,
        store_id: str,
        instance: str,
        *,
        since: datetime,
        interval_seconds: int,
    ) -> None:
        """Activates messaging for a store on a sandbox Mirakl instance, via the ingest CLI."""
        env = {**self._env(), "PARLEY_SANDBOX_API_KEY": SANDBOX_API_KEY}
        subprocess.run(  # noqa: S603 - fixed argv of our own CLI
            [
                sys.executable,
                "-m",
                "parley_ingest.cli",
                "add-connection",
                "--id",
                connection_id,
                "--store",
                store_id,
                "--family",
                "mirakl",
                "--marketplace",
                instance,
                "--base-url",
                f"http://127.0.0.1:{self.ports.sandbox}/mirakl/{instance}",
                "--api-key-env",
                "PARLEY_SANDBOX_API_KEY",
                "--activated-at",
                since.isoformat(),
                "--interval",
                str(interval_seconds),
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )

    def activate_demo_connections(self, store_id: str = "demo-store") -> None:
        """Back-dated activation, so the sandbox's seeded threads are pulled on first sync."""
        since = datetime.now(UTC) - timedelta(days=30)
        interval = int(os.environ.get("DEMO_SYNC_INTERVAL_SECONDS", "30"))
        for instance in DEMO_INSTANCES:
            self.activate(
                f"{store_id}-{instance}", store_id, instance, since=since, interval_seconds=interval
            )


def run() -> None:
    group = ServiceGroup(env={})
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        print("starting the marketplace sandbox…", flush=True)
        group.start_sandbox()
        group.activate_demo_connections()
        print("starting ingest, normalizer, responder, invoicer, gateway…", flush=True)
        group.start_services()
        print(
            "\nParley is running.\n"
            f"  gateway (REST API):  http://127.0.0.1:{group.ports.gateway}/discussions\n"
            f"  API docs (OpenAPI):  http://127.0.0.1:{group.ports.gateway}/docs\n"
            f"  invoicer:            http://127.0.0.1:{group.ports.invoicer}/docs\n"
            f"  marketplace sandbox: http://127.0.0.1:{group.ports.sandbox}/docs\n"
            f"  logs:                {group.log_dir}\n"
            "Press Ctrl-C to stop everything.",
            flush=True,
        )
        while not stopping.wait(2):
            for name, proc in list(group.processes.items()):
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see {group.log_path(name)}")
                    group.processes.pop(name)
    finally:
        print("\nstopping…", flush=True)
        group.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run"])
    parser.parse_args()
    run()


if __name__ == "__main__":
    main()
