"""Pure figures of the suite: percentiles, ratios, summaries (no I/O, unit-tested)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks
    (NumPy's default), so p50 of an even count is the mean of the middle two."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0-100")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(measured: float, baseline: float) -> float | None:
    """measured / baseline; None when the baseline is not a positive number."""
    if not baseline or baseline <= 0 or math.isnan(baseline):
        return None
    return measured / baseline


def summary(samples: Sequence[float]) -> dict[str, Any]:
    """Count, p50, p99, min, max and mean of latency samples (seconds)."""
    if not samples:
        return {"n": 0, "p50": None, "p99": None, "min": None, "max": None, "mean": None}
    return {
        "n": len(samples),
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "min": min(samples),
        "max": max(samples),
        "mean": sum(samples) / len(samples),
    }


def throughput(count: int, seconds: float) -> float | None:
    """Items per second; None for a duration that is not positive."""
    return count / seconds if seconds > 0 else None


def parse_vmrss(status: str) -> int | None:
    """VmRSS of a /proc/<pid>/status text, in bytes (psutil is not a dependency)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None
