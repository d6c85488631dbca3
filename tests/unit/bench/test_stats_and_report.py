"""The benchmark harness's pure parts: percentiles, ratios, figures, the report and
the RSS parser, on synthetic numbers (the suite itself runs with `make bench`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from bench.report import figure, plottable, render_markdown  # noqa: E402
from bench.stats import percentile, ratio, summary, throughput  # noqa: E402


def test_percentiles_interpolate_between_closest_ranks() -> None:
    samples = [4.0, 1.0, 3.0, 2.0]
    assert percentile(samples, 50) == pytest.approx(2.5)
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 100) == 4.0
    assert percentile(list(map(float, range(1, 101))), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_of_samples_and_of_none() -> None:
    got = summary([0.1, 0.2, 0.3])
    assert got["n"] == 3
    assert got["p50"] == pytest.approx(0.2)
    assert got["min"] == 0.1 and got["max"] == 0.3
    assert got["mean"] == pytest.approx(0.2)
    assert summary([])["p99"] is None


def test_ratio_and_throughput_guard_against_zero() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(1.0, 0.0) is None
    assert ratio(1.0, float("nan")) is None
    assert throughput(100, 4.0) == 25.0
    assert throughput(100, 0.0) is None


def test_figure_ratio_and_targets() -> None:
    fast = figure("time", 1.2, 1.0, "s", target_max=1.5)
    assert fast["ratio"] == pytest.approx(1.2)
    assert fast["met"] is True
    slow = figure("time", 3.0, 1.0, "s", target_max=1.5)
    assert slow["met"] is False
    page = figure("p99", 0.45, 0.4, "s", target_max=0.3, target_of="value")
    assert page["met"] is False and page["target"] == {"of": "value", "max": 0.3}
    scaling = figure("100k / empty", 80.0, 100.0, "records/s", target_min=0.8)
    assert scaling["met"] is True
    missing = figure("time", None, 1.0, "s", target_max=1.5)
    assert missing["ratio"] is None and missing["met"] is None


def results() -> dict[str, object]:
    return {
        "meta": {"started": "2026-12-02T14:00:00+00:00", "quick": True, "cpus": 2},
        "phases": {
            "P3": {
                "title": "list",
                "baseline": "raw query",
                "figures": [
                    figure(
                        "none, first page p99",
                        0.5,
                        0.25,
                        "s",
                        group="10k",
                        target_max=0.3,
                        target_of="value",
                    )
                ],
                "notes": ["a note"],
            },
            "P1": {
                "title": "normalizer",
                "figures": [
                    figure(
                        "time to store all records",
                        12.0,
                        10.0,
                        "s",
                        group="0 stored",
                        target_max=1.5,
                    ),
                    figure("time to store all records", None, 10.0, "s", group="100k stored"),
                ],
            },
            "P2": {"title": "freshness", "error": "TimeoutError: boom", "figures": []},
        },
    }


def test_report_lists_phases_in_order_with_ratios_targets_and_failures() -> None:
    text = render_markdown(results(), {"P1": "p1.png"})
    assert text.index("## P1") < text.index("## P2") < text.index("## P3")
    row = "| 0 stored | time to store all records | 12.00 s | 10.00 s | 1.20\u00d7 |"
    assert f"{row} \u2264 1.5\u00d7: met |" in text
    assert "| 100k stored | time to store all records | — | 10.00 s | — |  |" in text
    assert "≤ 0.3 s: **not met**" in text
    assert "**Failed:** `TimeoutError: boom`" in text
    assert "![P1](p1.png)" in text
    assert "- a note" in text
    assert "mode: quick" in text


def test_only_figures_with_both_numbers_are_plotted() -> None:
    phase = results()["phases"]["P1"]  # type: ignore[index]
    assert [f["group"] for f in plottable(phase)] == ["0 stored"]


def test_vmrss_is_read_from_proc_status_text() -> None:
    from bench.stats import parse_vmrss

    status = "Name:\tpython\nVmPeak:\t  300000 kB\nVmRSS:\t   61440 kB\nThreads:\t3\n"
    assert parse_vmrss(status) == 61440 * 1024
    assert parse_vmrss("Name:\tkthreadd\n") is None
