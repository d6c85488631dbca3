"""P6: resident memory (VmRSS from /proc/<pid>/status) of each service, idle, and of
the normalizer right after P1's largest level, against a bare Python interpreter
started the same way (the floor any Python service pays)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

from bench.harness import SERVICES, rss_bytes
from bench.report import figure

MB = 1024 * 1024


def bare_interpreter_rss() -> int | None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        import time

        time.sleep(1.0)
        return rss_bytes(proc.pid)
    finally:
        proc.kill()
        proc.wait()


async def run(pids: dict[str, int], settle_s: float, rss_after_p1: int | None) -> dict[str, Any]:
    await asyncio.sleep(settle_s)
    bare = await asyncio.to_thread(bare_interpreter_rss)
    figures = []
    idle: dict[str, int | None] = {}
    for name in SERVICES:
        pid = pids.get(name)
        rss = rss_bytes(pid) if pid else None
        idle[name] = rss
        figures.append(
            figure(
                name,
                rss / MB if rss else None,
                bare / MB if bare else None,
                "MB",
                group="idle",
            )
        )
    if rss_after_p1:
        idle_normalizer = idle.get("normalizer")
        figures.append(
            figure(
                "normalizer after P1 (vs idle)",
                rss_after_p1 / MB,
                idle_normalizer / MB if idle_normalizer else None,
                "MB",
                group="after P1",
            )
        )
    return {
        "title": "resident memory per service",
        "measures": f"VmRSS of each service process {settle_s:.0f} s after all are healthy "
        "(idle: no connection activated yet), and the normalizer's right "
        "after P1's largest level",
        "baseline": "a bare Python interpreter (idle rows); the idle normalizer (after P1)",
        "figures": figures,
        "notes": [],
    }
