"""The whole course, headless: every solution notebook, one at a time and several at once.

Usage (from the checkout, the package installed with its ``course`` extra)::

    python benchmarks/bench_course.py [--cache cold|warm] [--jobs 1,auto] [NN ...]

``--cache cold`` (default) runs in a new, empty data folder with ``ARTIPHYS_OFFLINE=1``: what a
first run on a machine without the network does (simulated data, the shipped course models).
``--cache warm`` runs with the data folder as it is (``ARTIPHYS_DATA_DIR`` or the default):
cached data and weights, real where they were fetched. Each ``--jobs`` value is one full run
(``auto``: :func:`~artiphys_course.course.execution.default_n_jobs`), through the same
:func:`~artiphys_course.course.execution.run_notebooks` that ``artiphys run`` uses. Prints a
Markdown table: per notebook its seconds and its kernel's peak memory (MiB) for each run, and per
run the wall time. ``--jobs 1`` is what one participant sees; the wall time of the default is what
an instructor's ``artiphys run`` (or a CI job) waits.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from artiphys_course.course.execution import (
    checked_n_jobs,
    find_notebooks,
    run_notebooks,
)

REPO = Path(__file__).resolve().parents[1]


def _jobs(text: str, n_notebooks: int) -> list[int]:
    return [checked_n_jobs(None if v == "auto" else int(v), n_notebooks) for v in text.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="names or number prefixes (default: all)")
    parser.add_argument("--cache", choices=["cold", "warm"], default="cold")
    parser.add_argument("--jobs", default="1,auto", help="comma-separated runs (default 1,auto)")
    args = parser.parse_args()
    paths = find_notebooks(REPO / "solutions", args.notebooks)
    runs = []
    for n_jobs in _jobs(args.jobs, len(paths)):
        with tempfile.TemporaryDirectory(prefix="artiphys-bench-course-") as empty:
            if args.cache == "cold":  # every run starts from a new, empty folder
                os.environ["ARTIPHYS_DATA_DIR"] = empty
                os.environ["ARTIPHYS_OFFLINE"] = "1"
            start = time.perf_counter()
            results = run_notebooks(paths, n_jobs=n_jobs)
            runs.append((n_jobs, results, time.perf_counter() - start))
        if any(not r.ok for r in results):
            print("\n".join(f"{r.notebook}: {r.error}" for r in results if not r.ok))
            return 1
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{args.cache} cache; {os.cpu_count()} CPUs, load {load:.1f} after the runs; "
        f"torch {torch.__version__}; python {platform.python_version()}\n"
    )
    header = " | ".join(f"s, {j} at once | MiB, {j} at once" for j, _, _ in runs)
    print(f"| notebook | {header} |")
    print("|---|" + "---|" * (2 * len(runs)))
    for i, path in enumerate(paths):
        cells = []
        for _, results, _ in runs:
            peak = results[i].peak_mb
            cells += [f"{results[i].seconds:.0f}", "-" if peak is None else f"{peak:.0f}"]
        print(f"| {path.stem} | " + " | ".join(cells) + " |")
    totals = []
    for _, results, wall in runs:
        totals += [f"{sum(r.seconds for r in results):.0f} summed, {wall:.0f} wall", ""]
    print("| all | " + " | ".join(totals) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
