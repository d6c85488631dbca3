"""The reliability suite's private stack and its report (see tests/reliability)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.sh"
REPORT = ROOT / ".run" / "reliability" / "report.json"
PREFIX = "rel."


def free_port_with_neighbour() -> int:
    """A free port whose +1000 is free too (FerretDB's debug listener)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 1000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


@dataclass
class PrivateStack:
    """Kafka and the MongoDB-compatible server of this suite only."""

    run_dir: Path
    kafka_port: int
    controller_port: int
    mongo_port: int

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/"

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI")  # those mean "use that"
        }
        env |= {
            "UV": str(ROOT / ".cache" / "uv" / "bin" / "uv"),
            "PARLEY_RUN_DIR": str(self.run_dir),
            "PARLEY_KAFKA_PORT": str(self.kafka_port),
            "PARLEY_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "PARLEY_MONGO_PORT": str(self.mongo_port),
            "KAFKA_TOPIC_PREFIX": PREFIX,
        }
        return env

    def run(self, *args: str) -> None:
        subprocess.run(
            ["bash", str(STACK), *args],
            env=self._env(),
            check=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )

    def stop(self, name: str) -> None:
        self.run("stop", name)

    def start(self, name: str) -> None:
        self.run("start", name)


@dataclass
class Report:
    """The suite's figures: per probe, what was attempted and what went wrong."""

    probes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, probe: str, **figures: Any) -> None:
        self.probes[probe] = figures

    def write(self) -> None:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps(self.probes, indent=2, sort_keys=True, default=str))
