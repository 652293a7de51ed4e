"""The ``artiphys`` command for instructors and students.

::

    artiphys doctor                 # versions, device, cached data; non-zero exit if broken
    artiphys fetch [NAME ...]       # pre-download data and weights, verify md5
    artiphys fetch --from DIR       # import local copies (USB stick, shared folder) into the cache
    artiphys build [--check] [--prune] [--root DIR]   # regenerate notebooks/ from solutions/
    artiphys build --format nbgrader --out DIR        # nbgrader source notebooks (instructors)
    artiphys run [--student] [--save] [--jobs N] [--root DIR] [NOTEBOOK ...]   # run headless
    artiphys grade DIR --notebook NN [--out CSV] [--jobs N]   # grade students' notebooks
    artiphys zoo [KIND ...]         # maintainers: retrain the shipped notebook models
    artiphys atlas --model alexnet --layers conv1,conv2 --units 16 --out DIR   # HTML atlas

``build``, ``run`` and ``grade`` work on the course checkout in the current folder (or ``--root
DIR``) and need the ``course`` extra (``pip install 'artiphys-course[course]'``). Errors are
printed as ``artiphys: <message>`` with a non-zero exit status, without a traceback.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
from pathlib import Path

__all__ = ["main"]


def _course_root(root: str | None) -> Path:
    """The course checkout to work on: ``root`` or the current folder; it must hold solutions/."""
    folder = Path(root) if root else Path.cwd()
    if not (folder / "solutions").is_dir():
        raise FileNotFoundError(
            f"{folder.resolve()} has no 'solutions/' folder: run this command in a clone of the "
            "course repository, or pass --root DIR"
        )
    return folder


def _doctor(_: argparse.Namespace) -> int:
    """Versions, device, cache, data and weights; environment problems are reported, not raised."""
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
    try:
        device = runtime.get_device()
        detail = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
        print(f"device        {device}{detail}")
    except (RuntimeError, ValueError) as err:
        print(f"device        BROKEN: {err}")
        problems.append(f"ARTIPHYS_DEVICE: {err}")
    print(f"torch threads {torch.get_num_threads()}")
    try:
        print(f"data dir      {runtime.data_dir()}  (ARTIPHYS_DATA_DIR)")
    except OSError as err:
        print(f"data dir      BROKEN: {err}")
        problems.append(
            f"ARTIPHYS_DATA_DIR cannot be used as the cache folder ({err}): point it at a "
            "writable folder, or unset it"
        )
        print("\nPROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    print(f"offline       {runtime.offline()}  (ARTIPHYS_OFFLINE)")
    from artiphys_course.data import registry
    from artiphys_course.models import pretrained

    print(f"mirror        {registry.mirror() or '-'}  (ARTIPHYS_MIRROR)")
    print("\ncached data and weights:")
    for row in registry.cache_report():
        state = "cached" if row.cached else "missing"
        summary = row.description.split(". ")[0]
        summary = summary if len(summary) <= 60 else summary[:57] + "..."
        print(f"  {row.name:<24} {state:<8} {summary}")
    print("\npretrained networks (what a notebook gets now):")
    for row in pretrained.weights_status():
        weights = row.weights if row.weights == "imagenet" else row.weights.upper()
        where = "downloads ImageNet weights on first use" if row.downloads else (row.path or "")
        print(f"  {row.network:<10} {weights:<10} {where}")
        if row.advice and not row.downloads:
            print(f"             {row.advice}")
    print(
        "\nMissing files are downloaded on first use when online; offline the course uses its "
        "simulated data and says so. UNTRAINED or PARTIAL networks make the notebooks' "
        "statements about learned features false: `artiphys fetch` before a workshop."
    )
    if problems:
        print("\nPROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    print("\nall good")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from artiphys_course import runtime
    from artiphys_course.data import registry
    from artiphys_course.models import pretrained

    if args.source:
        imported = {**registry.import_folder(args.source), **pretrained.import_weights(args.source)}
        for name, path in imported.items():
            print(f"imported {name:<28} {path}")
        print(f"{len(imported)} files imported into {runtime.data_dir()}")
        if not imported:
            print(f"artiphys: no usable copy found in {args.source}", file=sys.stderr)
            return 1
        return 0
    known = set(registry.REGISTRY) | set(pretrained.NETWORKS)
    # The notebooks load AlexNet; VGG16 (528 MB) and ResNet18 are fetched when named.
    names = args.names or [n for n in registry.REGISTRY if registry.source_urls(n)] + ["alexnet"]
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"unknown names {unknown}; available: {sorted(known)}", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        try:
            if name in pretrained.NETWORKS:
                path = pretrained.fetch_weights([name], progress=True)[name]
            else:
                path = registry.fetch(name, progress=True)
            print(f"{name}: {path}")
        except (OSError, ConnectionError) as err:
            failed += 1
            print(f"{name}: FAILED: {err}", file=sys.stderr)
    return 1 if failed else 0


_BUILD_NOTES = {
    "kept": "not generated by `artiphys build` or edited since: left alone",
    "orphan": "generated, but its solution is gone: `artiphys build --prune` removes it",
    "removed": "generated, its solution is gone: removed",
}


def _usage(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def _build(args: argparse.Namespace) -> int:
    from artiphys_course.course.authoring import build_notebooks

    root = _course_root(args.root)
    if args.format == "nbgrader":
        return _build_nbgrader(root, args)
    if args.out:
        return _usage(
            "artiphys: --out is for --format nbgrader (the self-study build writes notebooks/)"
        )
    reports = build_notebooks(
        root / "solutions", root / "notebooks", check=args.check, prune=args.prune
    )
    for r in reports:
        note = _BUILD_NOTES.get(r.status, f"{r.exercises} exercises")
        print(f"{r.student.name:<40} {r.status:<10} {note}")
    if args.check and not all(r.status == "up to date" for r in reports):
        print("\nnotebooks/ is out of date: run `artiphys build`", file=sys.stderr)
        return 1
    kept = [r.student.name for r in reports if r.status == "kept"]
    if kept:
        print(
            f"\n{len(kept)} notebook(s) not regenerated because they are not the build's own: "
            f"{kept}; move them away and build again",
            file=sys.stderr,
        )
        return 1
    return 0


def _build_nbgrader(root: Path, args: argparse.Namespace) -> int:
    from artiphys_course.course.nbgrader import build_nbgrader

    if not args.out:
        return _usage("artiphys: --format nbgrader needs --out DIR (the nbgrader course root)")
    if args.check or args.prune:
        return _usage("artiphys: --check and --prune are for the self-study build only")
    for path in build_nbgrader(root / "solutions", args.out):
        print(f"{path}")
    print(
        f"\nnbgrader course root: {Path(args.out).resolve()}\n"
        "next: cd there and run `nbgrader generate_assignment <notebook stem>`",
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    import time

    from artiphys_course.course.execution import (
        checked_n_jobs,
        find_notebooks,
        format_runs,
        run_notebooks,
    )

    root = _course_root(args.root)
    folder = root / ("notebooks" if args.student else "solutions")
    paths = find_notebooks(folder, args.notebooks)
    jobs = checked_n_jobs(args.jobs, len(paths))
    if jobs > 1:
        print(f"running {len(paths)} notebooks, {jobs} at a time (--jobs 1: one at a time)")
    done = 0

    def report(run) -> None:
        nonlocal done
        done += 1
        peak = "" if run.peak_mb is None else f", peak {run.peak_mb:.0f} MiB"
        print(f"[{done}/{len(paths)}] {run.notebook}: {run.status} in {run.seconds:.1f} s{peak}")

    start = time.perf_counter()
    runs = run_notebooks(paths, n_jobs=jobs, save=args.save, timeout=args.timeout, on_done=report)
    wall = time.perf_counter() - start
    print()
    print(format_runs(runs, wall=wall if jobs > 1 else None))
    return 0 if all(r.ok for r in runs) else 1


def _atlas(args: argparse.Namespace) -> int:
    """Map units of a pretrained network and write the static HTML atlas (see ``atlas``)."""
    from artiphys_course.atlas import build_atlas

    options = None if args.positions is None else {"n_positions": args.positions}
    try:
        index = build_atlas(
            args.out,
            model=args.model,
            layers=[name.strip() for name in args.layers.split(",") if name.strip()],
            units=args.units,
            weights=args.weights,
            bar_options=options,
            color_options=options,
        )
    except (KeyError, ValueError, NotADirectoryError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"artiphys: {message}", file=sys.stderr)
        return 2
    print(f"atlas written: open {index}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    """Grade every notebook of a folder; the exit status is 0 whatever the students scored."""
    from artiphys_course.course.execution import find_notebooks
    from artiphys_course.course.grading import format_grades, grade_folder, write_grades

    root = _course_root(args.root)
    (solution,) = find_notebooks(root / "solutions", [args.notebook])
    grades = grade_folder(args.submissions, solution, timeout=args.timeout, n_jobs=args.jobs)
    out = write_grades(grades, args.out or Path(args.submissions) / "grades.csv")
    print()
    print(format_grades(grades))
    print(f"\nper-exercise points and messages: {out}")
    return 0


def _zoo(args: argparse.Namespace) -> int:
    """Train (or load) the notebooks' models and store them in the checkout's package data."""
    from artiphys_course.models import zoo

    root = _course_root(args.root)
    folder = root / "artiphys_course" / "models" / zoo.SHIPPED_DIR.name
    if not folder.parent.is_dir():
        raise FileNotFoundError(f"{root.resolve()} holds no artiphys_course/models/ package")
    kinds = args.kinds or list(zoo.SHIPPED_KINDS)
    unknown = [k for k in kinds if k not in zoo.KINDS]
    if unknown:
        print(f"unknown kinds {unknown}; available: {list(zoo.KINDS)}", file=sys.stderr)
        return 2
    folder.mkdir(exist_ok=True)
    for kind in kinds:
        _, info = zoo.trained_model(kind, progress=True)
        target = folder / info.path.name
        if info.path.resolve() != target.resolve():
            partial = target.with_suffix(".tmp")
            shutil.copyfile(info.path, partial)
            partial.replace(target)
        for old in folder.glob(f"{kind}-*.pt"):
            if old != target:
                old.unlink()
                print(f"removed {old.name} (another recipe or code)")
        history = info.history
        print(
            f"{kind:<10} {target.name:<22} best epoch {history.best_epoch:>2}, validation "
            f"{history.score} {history.best_validation_score:.3f} "
            f"({'already trained' if info.loaded else f'trained in {history.seconds:.0f} s'})"
        )
    return 0


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more; got {text!r}")
    return jobs


def _add_jobs(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--jobs",
        type=_jobs,
        metavar="N",
        help=f"{what}, each kernel with its share of the cores (default: one per core, as "
        "memory allows at 2 GB a kernel; 1: one at a time)",
    )


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
    p.add_argument(
        "--prune",
        action="store_true",
        help="remove generated notebooks whose solution is gone (never any other file)",
    )
    p.add_argument(
        "--format",
        choices=["student", "nbgrader"],
        default="student",
        help="student: self-study notebooks in notebooks/ (default); "
        "nbgrader: nbgrader source notebooks under --out",
    )
    p.add_argument("--out", metavar="DIR", help="nbgrader course root (with --format nbgrader)")
    p.add_argument("--root", metavar="DIR", help="course checkout (default: current folder)")
    p.set_defaults(func=_build)

    p = sub.add_parser("run", help="execute notebooks headless and print a table")
    p.add_argument("notebooks", nargs="*", help="names, stems or number prefixes (default: all)")
    p.add_argument("--student", action="store_true", help="run notebooks/ instead of solutions/")
    p.add_argument("--save", action="store_true", help="store the outputs in the notebook files")
    p.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    _add_jobs(p, "notebooks run at once")
    p.add_argument("--root", metavar="DIR", help="course checkout (default: current folder)")
    p.set_defaults(func=_run)

    p = sub.add_parser("grade", help="run and score students' notebooks, write a CSV")
    p.add_argument("submissions", metavar="SUBMISSIONS_DIR", help="one .ipynb per student")
    p.add_argument("--notebook", required=True, metavar="NN", help="the solution graded against")
    p.add_argument("--out", metavar="CSV", help="default: SUBMISSIONS_DIR/grades.csv")
    p.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    _add_jobs(p, "submissions graded at once")
    p.add_argument("--root", metavar="DIR", help="course checkout (default: current folder)")
    p.set_defaults(func=_grade)

    p = sub.add_parser(
        "zoo", help="train the notebooks' models and ship them with the package (maintainers)"
    )
    p.add_argument("kinds", nargs="*", help="model kinds (default: the shipped ones)")
    p.add_argument("--root", metavar="DIR", help="course checkout (default: current folder)")
    p.set_defaults(func=_zoo)

    p = sub.add_parser("atlas", help="map units of a pretrained CNN; write a static HTML atlas")
    p.add_argument(
        "--model", default="alexnet", help="alexnet (default), vgg16, resnet18 or digital-v1"
    )
    p.add_argument("--layers", default="conv1,conv2", help="comma-separated (default conv1,conv2)")
    p.add_argument("--units", type=int, default=16, help="channels per layer (default 16)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (DIR/index.html)")
    p.add_argument("--weights", default="auto", help="auto (default), imagenet, partial, untrained")
    p.add_argument(
        "--positions",
        type=int,
        metavar="N",
        help="bar positions per side (default 13 grey, 9 colour)",
    )
    p.set_defaults(func=_atlas)

    args = parser.parse_args(argv)
    from artiphys_course.course.authoring import AuthoringError

    try:
        return args.func(args)
    except FileNotFoundError as err:
        print(f"artiphys: {err}", file=sys.stderr)
        return 2
    except (AuthoringError, ImportError) as err:
        print(f"artiphys: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
