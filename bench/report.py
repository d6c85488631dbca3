"""The suite's results as JSON, a Markdown report and PNG plots.

The results document (``latest.json``)::

    {"meta": {...}, "phases": {"P1": {"title": ..., "baseline": ..., "figures": [Figure],
                                      "notes": [str], "error": str | None}}}

A figure is one measured value next to its baseline from the same run::

    {"name": "first page, status", "unit": "s", "value": 0.21, "baseline": 0.19,
     "ratio": 1.1, "group": "10k", "target": {"max": 1.5, "of": "ratio"}, "met": true}

``value``/``baseline`` may be None (not measured: timed out, skipped); ``ratio`` is
value / baseline. :func:`render_markdown` and :func:`figure` are pure; :func:`plot`
writes PNGs with matplotlib (kept small: they are committed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.stats import ratio as ratio_of

PHASE_ORDER = ("P1", "P2", "P3", "P4", "P5", "P6")
TIMES = "\u00d7"  # the ratio sign


def figure(
    name: str,
    value: float | None,
    baseline: float | None,
    unit: str,
    *,
    group: str = "",
    target_max: float | None = None,
    target_min: float | None = None,
    target_of: str = "ratio",
    **extra: Any,
) -> dict[str, Any]:
    """One figure, its ratio to the baseline and, with a target, whether it is met.

    ``target_of`` says what the target bounds: ``"ratio"`` or ``"value"``."""
    r = ratio_of(value, baseline) if value is not None and baseline is not None else None
    fig: dict[str, Any] = {
        "name": name,
        "group": group,
        "unit": unit,
        "value": value,
        "baseline": baseline,
        "ratio": r,
        **extra,
    }
    if target_max is not None or target_min is not None:
        subject = r if target_of == "ratio" else value
        target: dict[str, Any] = {"of": target_of}
        if target_max is not None:
            target["max"] = target_max
        if target_min is not None:
            target["min"] = target_min
        fig["target"] = target
        fig["met"] = (
            None
            if subject is None
            else (target_max is None or subject <= target_max)
            and (target_min is None or subject >= target_min)
        )
    return fig


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        magnitude = abs(value)
        if magnitude >= 100:
            text = f"{value:,.0f}"
        elif magnitude >= 1:
            text = f"{value:.2f}"
        else:
            text = f"{value:.3f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _target(fig: Mapping[str, Any]) -> str:
    target = fig.get("target")
    if not target:
        return ""
    bounds = []
    if "max" in target:
        bounds.append(f"≤ {target['max']:g}")
    if "min" in target:
        bounds.append(f"≥ {target['min']:g}")
    what = TIMES if target["of"] == "ratio" else f" {fig.get('unit', '')}".rstrip()
    verdict = {True: "met", False: "**not met**", None: "not measured"}[fig.get("met")]
    return f"{' and '.join(bounds)}{what}: {verdict}"


def render_markdown(results: Mapping[str, Any], plots: Mapping[str, str] | None = None) -> str:
    """The report: run facts, then per phase what it measures, its baseline, a table of
    figures (value, baseline, ratio, target) and its plot."""
    meta = results.get("meta", {})
    lines = ["# Parley benchmark report", ""]
    facts = [
        ("run", meta.get("started")),
        ("duration", _num(meta.get("duration_s"), "s")),
        ("mode", "quick" if meta.get("quick") else "full"),
        ("machine", f"{meta.get('cpus', '?')} CPUs, {meta.get('platform', '?')}"),
        ("database server", meta.get("server")),
        ("sizes", json.dumps(meta.get("sizes", {}), sort_keys=True)),
        ("commit", meta.get("commit")),
    ]
    lines += [f"- {name}: {value}" for name, value in facts if value not in (None, "")]
    lines += [
        "",
        "Every figure is next to a baseline measured in the same run; the ratio is "
        "value / baseline, so it compares across machines (absolute values are context).",
        "",
    ]
    phases = results.get("phases", {})
    for key in [k for k in PHASE_ORDER if k in phases] + sorted(set(phases) - set(PHASE_ORDER)):
        phase = phases[key]
        lines += [f"## {key}: {phase.get('title', '')}", ""]
        if phase.get("measures"):
            lines += [f"Measures: {phase['measures']}", ""]
        if phase.get("baseline"):
            lines += [f"Baseline: {phase['baseline']}", ""]
        if phase.get("error"):
            lines += [f"**Failed:** `{phase['error']}`", ""]
        figures: Sequence[Mapping[str, Any]] = phase.get("figures", [])
        if figures:
            lines += [
                "| group | figure | value | baseline | ratio | target |",
                "|---|---|---|---|---|---|",
            ]
            for fig in figures:
                unit = fig.get("unit", "")
                r = fig.get("ratio")
                lines.append(
                    f"| {fig.get('group', '')} | {fig['name']} | {_num(fig.get('value'), unit)}"
                    f" | {_num(fig.get('baseline'), unit)}"
                    f" | {'—' if r is None else f'{r:.2f}{TIMES}'} | {_target(fig)} |"
                )
            lines.append("")
        for note in phase.get("notes", []):
            lines.append(f"- {note}")
        if phase.get("notes"):
            lines.append("")
        if plots and key in plots:
            lines += [f"![{key}]({plots[key]})", ""]
    return "\n".join(lines).rstrip() + "\n"


def plottable(phase: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The figures of a phase that have both a value and a baseline."""
    return [
        f
        for f in phase.get("figures", [])
        if isinstance(f.get("value"), int | float) and isinstance(f.get("baseline"), int | float)
    ]


def plot(results: Mapping[str, Any], outdir: Path) -> dict[str, str]:
    """One small PNG per phase: value next to baseline per figure (log scale when they
    span more than two decades). Answers phase → file name (relative to ``outdir``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: dict[str, str] = {}
    for key, phase in results.get("phases", {}).items():
        figures = plottable(phase)
        if not figures:
            continue
        labels = [f"{f.get('group', '')} {f['name']}".strip() for f in figures]
        values = [float(f["value"]) for f in figures]
        baselines = [float(f["baseline"]) for f in figures]
        height = max(2.2, 0.28 * len(figures) + 1.0)
        fig, ax = plt.subplots(figsize=(7.5, height), dpi=72)
        ys = range(len(figures))
        ax.barh([y + 0.2 for y in ys], values, height=0.4, label="measured", color="#3b6ea8")
        ax.barh([y - 0.2 for y in ys], baselines, height=0.4, label="baseline", color="#bbbbbb")
        ax.set_yticks(list(ys))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        positive = [v for v in values + baselines if v > 0]
        if positive and max(positive) / min(positive) > 100:
            ax.set_xscale("log")
        units = sorted({f.get("unit", "") for f in figures})
        ax.set_xlabel(", ".join(u for u in units if u) or "value", fontsize=8)
        ax.set_title(f"{key}: {phase.get('title', '')}", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        name = f"{key.lower()}.png"
        fig.savefig(outdir / name, dpi=72)
        plt.close(fig)
        written[key] = name
    return written


def write(results: Mapping[str, Any], outdir: Path, *, plots: bool = True) -> dict[str, Path]:
    """latest.json, report.md and the plots under ``outdir``."""
    outdir.mkdir(parents=True, exist_ok=True)
    json_path = outdir / "latest.json"
    json_path.write_text(json.dumps(results, indent=1, sort_keys=True, default=str) + "\n")
    images = plot(results, outdir) if plots else {}
    md_path = outdir / "report.md"
    md_path.write_text(render_markdown(results, images))
    return {"json": json_path, "report": md_path, **{k: outdir / v for k, v in images.items()}}
