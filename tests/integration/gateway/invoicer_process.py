"""A real invoicer process (``python -m parley_invoicer``) for gateway tests that call it
over HTTP: on a database of the test's choosing, healthy before it is handed out,
stopped (its whole process group) afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_invoicer(database: str, log_dir: Path) -> Iterator[str]:
    """The invoicer's base URL while the block runs."""
    port = free_port()
    env = {
        **os.environ,
        "MONGODB_DATABASE": database,
        "INVOICER_PORT": str(port),
        "OTEL_TRACES_EXPORTER": "none",
    }
    with (log_dir / "invoicer.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "parley_invoicer"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"invoicer exited; see {log_dir}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"invoicer not healthy; see {log_dir}"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
