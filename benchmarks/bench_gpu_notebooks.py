"""nbval on every solution notebook on a CUDA device, one notebook at a time, as a table.

Usage (on a machine with an NVIDIA GPU, the package installed with its ``dev`` extra)::

    python benchmarks/bench_gpu_notebooks.py [--device cuda] [--out table.md] [NN ...]

Each notebook runs in its own ``pytest --nbval-lax`` process with ``ARTIPHYS_DEVICE`` set, so the
notebooks' own asserts (which must hold on CPU and GPU) decide pass or fail. Prints a Markdown
table (notebook, seconds, result) and exits non-zero if any notebook fails. Run
``artiphys fetch`` first where the network allows, so real data and weights are used.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_one(path: Path, device: str) -> tuple[float, bool, str]:
    """Run nbval on one notebook; return (seconds, passed, last line of pytest's output)."""
    env = {**os.environ, "ARTIPHYS_DEVICE": device, "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return seconds, proc.returncode == 0, lines[-1] if lines else proc.stderr.strip()[-200:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook numbers (default: all)")
    parser.add_argument("--device", default="cuda", help="ARTIPHYS_DEVICE for the kernels")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device here: run this on a machine with an NVIDIA GPU", file=sys.stderr)
        return 2
    paths = sorted((REPO / "solutions").glob("*.ipynb"))
    if args.notebooks:
        paths = [p for p in paths if p.name[:2] in {n.zfill(2) for n in args.notebooks}]
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else args.device
    rows = ["| notebook | seconds | result |", "|---|---|---|"]
    failed = 0
    for path in paths:
        seconds, ok, last = run_one(path, args.device)
        failed += not ok
        rows.append(f"| {path.stem} | {seconds:.0f} | {'pass' if ok else 'FAIL: ' + last} |")
        print(rows[-1], flush=True)
    table = f"nbval on {gpu} (torch {torch.__version__})\n\n" + "\n".join(rows)
    print("\n" + table)
    if args.out:
        args.out.write_text(table + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
