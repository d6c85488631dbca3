"""``python -m parley_sandbox`` serves the sandbox where the environment says."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
import uvicorn

import parley_sandbox.__main__ as entrypoint


def test_host_and_port_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.setenv("SANDBOX_HOST", "0.0.0.0")  # noqa: S104 - only passed to a stub
    monkeypatch.setenv("SANDBOX_PORT", "9123")

    entrypoint.main()

    assert calls[0]["host"] == "0.0.0.0"  # noqa: S104
    assert calls[0]["port"] == 9123


def test_defaults_are_loopback_8900(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.delenv("SANDBOX_HOST", raising=False)
    monkeypatch.delenv("SANDBOX_PORT", raising=False)

    entrypoint.main()

    assert (calls[0]["host"], calls[0]["port"]) == ("127.0.0.1", 8900)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_module_runs_a_real_server_answering_health() -> None:
    port = free_port()
    env = {**os.environ, "SANDBOX_HOST": "127.0.0.1", "SANDBOX_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "parley_sandbox"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer is not None, "the sandbox did not start within 20 s"
        assert answer.json()["status"] == "ok"
        threads = httpx.get(
            f"http://127.0.0.1:{port}/mirakl/empik/api/inbox/threads",
            headers={"Authorization": "sandbox-shop-key"},
            timeout=5,
        )
        assert threads.status_code == 200 and threads.json()["data"]
    finally:
        process.terminate()
        process.wait(timeout=10)
