"""``make bench``: Parley's benchmark suite, P1-P6, each figure against a baseline
measured in the same run. Results: bench/results/latest.json, report.md, p*.png.

    make bench                                  # the full suite (sizes below)
    make bench BENCH_ARGS="--quick"             # small sizes: a smoke check
    make bench BENCH_ARGS="--only P1,P3 --p1-stored 0,10000"

It starts what it needs (the services as processes, like `make run`, on free ports)
against the local stack (`make bench` runs stack-up first), in a database of its own
(``parley_bench``) and ``bench.<run>.``-prefixed topics, and removes all of it at the end.

P1 normalizer throughput · P2 freshness · P3 list · P4 autoresponse · P5 invoices ·
P6 memory: see each module's docstring for what is measured and against what.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tqdm import tqdm  # type: ignore[import-untyped]  # noqa: E402

from bench import report  # noqa: E402
from bench.harness import Context, is_ferretdb, server_kind  # noqa: E402

PHASES = ("P1", "P2", "P3", "P4", "P5", "P6")

FULL = {
    "p1_stored": [0, 10_000, 100_000],
    # 3000 snapshots: a level of 1000 lasted 4-6 s, so its first batches and a few
    # hundred ms of server noise swung the 100k/empty scaling from 0.53 to 1.22.
    "p1_records": 3000,
    "p1_messages": 5,
    "p1_timeout_s": 1800.0,
    "p2_samples": 20,
    "p3_sizes": [1000, 10_000],
    "p3_samples": 20,
    "p3_limit": 50,
    "p4_samples": 20,
    "p5_renders": 40,
    "p5_lines": 10,
    "p6_settle_s": 10.0,
}
QUICK = {
    "p1_stored": [0, 200],
    "p1_records": 20,
    "p1_messages": 5,
    "p1_timeout_s": 300.0,
    "p2_samples": 3,
    "p3_sizes": [200],
    "p3_samples": 3,
    "p3_limit": 10,
    "p4_samples": 2,
    "p5_renders": 4,
    "p5_lines": 10,
    "p6_settle_s": 3.0,
}


def ints(text: str) -> list[int]:
    return [int(x.replace("_", "").replace("k", "000")) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check")
    parser.add_argument("--only", default="", help="comma-separated phases, e.g. P1,P3")
    parser.add_argument(
        "--out",
        type=Path,
        help="where results go (default: bench/results; --quick: .run/bench/quick, "
        "so a smoke check never replaces the committed results)",
    )
    parser.add_argument("--p1-stored", type=ints, help="messages already stored, e.g. 0,10k,100k")
    parser.add_argument("--p1-records", type=int, help="snapshots per P1 level")
    parser.add_argument("--p1-messages", type=int, help="messages per snapshot")
    parser.add_argument(
        "--p1-timeout-s", type=float, help="longest wait for the normalizer, per level"
    )
    parser.add_argument("--p2-samples", type=int, help="messages per family")
    parser.add_argument("--p3-sizes", type=ints, help="discussions in the store, e.g. 1k,10k")
    parser.add_argument("--p3-samples", type=int, help="requests per filter and page")
    parser.add_argument("--p3-limit", type=int, help="page size")
    parser.add_argument("--p4-samples", type=int, help="buyer messages autoresponded")
    parser.add_argument("--p5-renders", type=int, help="invoices rendered (and baseline)")
    parser.add_argument("--p5-lines", type=int, help="lines per invoice")
    parser.add_argument("--p6-settle-s", type=float, help="seconds idle before reading RSS")
    return parser.parse_args(argv)


def sizes_of(args: argparse.Namespace) -> dict[str, Any]:
    sizes = dict(QUICK if args.quick else FULL)
    for name in sizes:
        value = getattr(args, name, None)
        if value is not None:
            sizes[name] = value
    return sizes


def selected(args: argparse.Namespace) -> list[str]:
    if not args.only:
        return list(PHASES)
    wanted = [p.strip().upper() for p in args.only.split(",") if p.strip()]
    unknown = set(wanted) - set(PHASES)
    if unknown:
        raise SystemExit(f"--only: unknown phase(s) {sorted(unknown)}; known: {PHASES}")
    return [p for p in PHASES if p in wanted]


def commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


async def main(args: argparse.Namespace) -> int:
    from bench import p1_normalizer, p3_list, p5_invoices, p6_rss, system_phases

    ctx = Context.from_environment()
    sizes = sizes_of(args)
    if args.out is None:
        args.out = ROOT / ".run" / "bench" / "quick" if args.quick else ROOT / "bench" / "results"
    phases = selected(args)
    results: dict[str, Any] = {
        "meta": {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": args.quick,
            "phases": phases,
            "sizes": sizes,
            "cpus": os.cpu_count(),
            "platform": f"{platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}",
            "database": ctx.database,
            "commit": commit(),
        },
        "phases": {},
    }
    started = time.perf_counter()
    kind = await server_kind(ctx)
    results["meta"]["server"] = kind
    bar = tqdm(total=len(phases), unit="phase", dynamic_ncols=True, file=sys.stderr)

    def progress(text: str) -> None:
        bar.set_description_str(text[:70])

    async def phase(name: str, work: Callable[[], Any]) -> Any:
        progress(f"{name}…")
        try:
            outcome = await work()
        except Exception as exc:  # one failing phase must not lose the others' figures
            traceback.print_exc()
            outcome = {"title": name, "error": f"{type(exc).__name__}: {exc}", "figures": []}
        results["phases"][name] = outcome
        bar.update(1)
        report.write(results, args.out)  # partial results survive a later failure
        return outcome

    template: dict[str, Any] = {}
    rss_after_p1: int | None = None
    try:
        if "P5" in phases:
            await phase(
                "P5",
                lambda: asyncio.to_thread(
                    p5_invoices.run, sizes["p5_renders"], sizes["p5_lines"], progress
                ),
            )
        if "P1" in phases:

            async def p1() -> Any:
                nonlocal template, rss_after_p1
                out = await p1_normalizer.run(
                    ctx,
                    sizes["p1_stored"],
                    sizes["p1_records"],
                    sizes["p1_messages"],
                    sizes["p1_timeout_s"],
                    progress,
                )
                template = out.pop("template", {})
                rss_after_p1 = out.get("rss_after_bytes")
                return out

            await phase("P1", p1)
        if "P3" in phases:

            async def p3() -> Any:
                nonlocal template
                if not template.get("discussions"):
                    template = await p1_normalizer.normalizer_template(ctx, progress)
                return await p3_list.run(
                    ctx,
                    sizes["p3_sizes"],
                    sizes["p3_samples"],
                    sizes["p3_limit"],
                    template["discussions"][0],
                    explain=not is_ferretdb(kind),
                    progress=progress,
                )

            await phase("P3", p3)
        if {"P2", "P4", "P6"} & set(phases):
            async with system_phases.System(ctx, progress) as system:
                if "P6" in phases:
                    await phase(
                        "P6", lambda: p6_rss.run(system.pids(), sizes["p6_settle_s"], rss_after_p1)
                    )
                if "P2" in phases:
                    await phase("P2", lambda: system_phases.freshness(system, sizes["p2_samples"]))
                if "P4" in phases:
                    await phase(
                        "P4", lambda: system_phases.autoresponse(system, sizes["p4_samples"])
                    )
    finally:
        bar.close()
        await ctx.cleanup()
    results["meta"]["duration_s"] = round(time.perf_counter() - started, 1)
    written = report.write(results, args.out)
    print(f"results: {written['json']}  report: {written['report']}")
    failed = [k for k, v in results["phases"].items() if v.get("error")]
    if failed:
        print(f"phases that failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
