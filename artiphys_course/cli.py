"""The ``artiphys`` command for instructors and students.

::

    artiphys doctor                 # versions, device, cached data; non-zero exit if broken
    artiphys fetch [NAME ...]       # pre-download data and weights, verify md5
    artiphys fetch --from DIR       # import local copies (USB stick, shared folder) into the cache
    artiphys build [--check]        # regenerate notebooks/ from solutions/
    artiphys run [--student] [--save] [NOTEBOOK ...]   # execute notebooks headless, print a table
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

__all__ = ["main"]


def _repo_root() -> Path:
    """The course checkout: the current folder or the one holding the installed package."""
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (candidate / "solutions").is_dir():
            return candidate
    raise FileNotFoundError(
        "no 'solutions/' folder found: run this command inside a clone of the course repository"
    )


def _doctor(_: argparse.Namespace) -> int:
    problems = []
    print(f"python        {platform.python_version()} ({sys.executable})")
    try:
        import torch

        print(f"torch         {torch.__version__}")
    except Exception as err:  # noqa: BLE001 - report any import failure
        print(f"torch         BROKEN: {err}")
        return 1
    try:
        import torchvision

        print(f"torchvision   {torchvision.__version__}")
    except Exception as err:  # noqa: BLE001
        print(f"torchvision   BROKEN: {err}")
        problems.append("torchvision does not import: reinstall torch and torchvision together")
    import numpy

    from artiphys_course import runtime

    print(f"numpy         {numpy.__version__}")
    device = runtime.get_device()
    detail = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    print(f"device        {device}{detail}")
    print(f"torch threads {torch.get_num_threads()}")
    print(f"data dir      {runtime.data_dir()}  (ARTIPHYS_DATA_DIR)")
    print(f"offline       {runtime.offline()}  (ARTIPHYS_OFFLINE)")
    from artiphys_course.data import registry

    print("\ncached data and weights:")
    for row in registry.cache_report():
        state = "cached" if row.cached else "missing"
        summary = row.description.split(". ")[0]
        summary = summary if len(summary) <= 60 else summary[:57] + "..."
        print(f"  {row.name:<24} {state:<8} {summary}")
    print(
        "\nMissing files are downloaded on first use when online; offline the course uses its "
        "simulated data and says so."
    )
    if problems:
        print("\nPROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    print("\nall good")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from artiphys_course import runtime
    from artiphys_course.data import registry

    if args.source:
        imported = registry.import_folder(args.source)
        for name, path in imported.items():
            print(f"imported {name:<28} {path}")
        print(f"{len(imported)} files imported into {runtime.data_dir()}")
        return 0
    names = args.names or [name for name, f in registry.REGISTRY.items() if f.url]
    unknown = [n for n in names if n not in registry.REGISTRY]
    if unknown:
        print(f"unknown names {unknown}; available: {sorted(registry.REGISTRY)}", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        try:
            print(f"{name}: {registry.fetch(name, progress=True)}")
        except (OSError, ConnectionError) as err:
            failed += 1
            print(f"{name}: FAILED: {err}", file=sys.stderr)
    return 1 if failed else 0


def _build(args: argparse.Namespace) -> int:
    from artiphys_course.authoring import build_notebooks

    root = _repo_root()
    reports = build_notebooks(root / "solutions", root / "notebooks", check=args.check)
    stale = [r for r in reports if r.changed]
    for r in reports:
        state = ("stale" if args.check else "written") if r.changed else "up to date"
        extra = "removed (no solution)" if r.exercises < 0 else f"{r.exercises} exercises"
        print(f"{r.student.name:<40} {state:<10} {extra}")
    if args.check and stale:
        print("\nnotebooks/ is out of date: run `artiphys build`", file=sys.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    from artiphys_course.execution import find_notebooks, format_runs, run_notebook

    root = _repo_root()
    folder = root / ("notebooks" if args.student else "solutions")
    paths = find_notebooks(folder, args.notebooks)
    runs = []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        runs.append(run_notebook(path, save=args.save, timeout=args.timeout))
    print()
    print(format_runs(runs))
    return 0 if all(r.ok for r in runs) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``artiphys`` console script."""
    parser = argparse.ArgumentParser(prog="artiphys", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="check the environment and the data cache")
    p.set_defaults(func=_doctor)

    p = sub.add_parser("fetch", help="download (or import) data sets and weights, verify md5")
    p.add_argument("names", nargs="*", help="registry names (default: every downloadable file)")
    p.add_argument("--from", dest="source", metavar="DIR", help="import local copies from DIR")
    p.set_defaults(func=_fetch)

    p = sub.add_parser("build", help="regenerate student notebooks from solutions")
    p.add_argument("--check", action="store_true", help="only check, exit 1 when stale")
    p.set_defaults(func=_build)

    p = sub.add_parser("run", help="execute notebooks headless and print a table")
    p.add_argument("notebooks", nargs="*", help="names, stems or number prefixes (default: all)")
    p.add_argument("--student", action="store_true", help="run notebooks/ instead of solutions/")
    p.add_argument("--save", action="store_true", help="store the outputs in the notebook files")
    p.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    p.set_defaults(func=_run)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except FileNotFoundError as err:
        print(f"artiphys: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
