"""Run course notebooks headless (for ``artiphys run`` and the tests).

Each notebook runs in a fresh Jupyter kernel in its own folder; ``run_notebooks`` runs several at
once, each kernel with its share of the cores. The run records the wall time and the kernel's peak
memory (its resident-set high-water mark, ``VmHWM`` in ``/proc/<pid>/status``
on Linux; elsewhere the largest resident size seen after a cell, via ``psutil``). The kernel's
own log lines on stderr are passed through, except Jupyter's "Kernel is running over TCP without
encryption" warning: the kernel only listens on localhost, so the warning is noise here.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from artiphys_course.course import require

__all__ = [
    "NotebookRun",
    "at_once",
    "checked_n_jobs",
    "default_n_jobs",
    "find_notebooks",
    "format_runs",
    "kernel_env",
    "run_notebook",
    "run_notebooks",
    "stored_seconds",
]

_NOISE = ("Kernel is running over TCP without encryption",)

T = TypeVar("T")
R = TypeVar("R")

KERNEL_BUDGET_MB = 2048
"""Memory set aside per concurrent kernel (MiB): every course notebook peaks under 1.4 GiB."""


@dataclass(frozen=True)
class NotebookRun:
    """The outcome of one headless notebook run.

    ``peak_mb`` is the kernel process's peak resident memory in MiB (``None`` where it could not
    be measured).
    """

    notebook: str
    status: str  # "ok" or "failed"
    seconds: float
    error: str = ""
    peak_mb: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def find_notebooks(folder: str | Path, names: list[str] | None = None) -> list[Path]:
    """The notebooks in ``folder`` (sorted), or those matching ``names``.

    A name may be a path, a file name, a stem (``01_bar_mapping``) or a number prefix (``01``).

    Raises
    ------
    FileNotFoundError
        When a name matches no notebook; the message lists the available ones.
    """
    folder = Path(folder)
    available = sorted(folder.glob("*.ipynb"))
    if not names:
        return available
    chosen = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            chosen.append(path)
            continue
        matches = [
            p
            for p in available
            if p.name == name or p.stem == name or p.stem.split("_", 1)[0] == name
        ]
        if not matches:
            raise FileNotFoundError(
                f"no notebook {name!r} in {folder}; available: {[p.stem for p in available]}"
            )
        chosen.extend(matches)
    return chosen


def _proc_mb(path: str, field: str) -> float | None:
    """A ``kB`` field of a Linux ``/proc`` file (``VmHWM`` of ``/proc/<pid>/status``) in MiB."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _peak_rss_mb(pid: int) -> float | None:
    """Peak (Linux) or current resident memory of process ``pid`` in MiB; None if unknown."""
    peak = _proc_mb(f"/proc/{pid}/status", "VmHWM")
    if peak is not None:
        return peak
    try:
        import psutil  # a dependency of ipykernel
    except ImportError:
        return None
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return None


def _echo_kernel_stderr(log: Path) -> None:
    """Pass the kernel's stderr on to ours, without the known-harmless warnings."""
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if not any(noise in line for noise in _NOISE):
            print(line, file=sys.stderr)


def run_notebook(
    path: str | Path,
    *,
    save: bool = False,
    timeout: int = 900,
    kernel_name: str | None = None,
    env: Mapping[str, str] | None = None,
) -> NotebookRun:
    """Execute a notebook top to bottom in a fresh kernel, in its own folder.

    Parameters
    ----------
    path : path
        The ``.ipynb`` file.
    save : bool
        Write the executed notebook (with outputs) back to ``path``. Default: leave it untouched.
    timeout : int
        Seconds allowed per cell.
    kernel_name : str, optional
        Jupyter kernel to use; default: the notebook's own (``python3``).
    env : mapping, optional
        The kernel's environment variables; default: this process's.

    Returns
    -------
    NotebookRun
        Status, wall time, the last line of the error of a failed run, and the kernel's peak
        memory.
    """
    nbformat = require("nbformat")
    nbclient = require("nbclient")
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    kwargs = {"kernel_name": kernel_name} if kernel_name else {}
    client = nbclient.NotebookClient(
        nb, timeout=timeout, resources={"metadata": {"path": str(path.parent.resolve())}}, **kwargs
    )
    peaks: list[float] = []

    def record_peak(**_: object) -> None:
        peak = _peak_rss_mb(client.km.provisioner.process.pid)
        if peak is not None:
            peaks.append(peak)

    client.on_cell_executed = record_peak
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "kernel-stderr.log"
        try:
            with log.open("w", encoding="utf-8") as stderr:
                client.execute(stderr=stderr, **({"env": dict(env)} if env is not None else {}))
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            message = str(err).strip().splitlines()
            short = next((m for m in reversed(message) if m.strip()), type(err).__name__)
            seconds = time.perf_counter() - start
            return NotebookRun(path.name, "failed", seconds, short[:300], max(peaks, default=None))
        finally:
            _echo_kernel_stderr(log)
    seconds = time.perf_counter() - start
    if save:
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return NotebookRun(path.name, "ok", seconds, peak_mb=max(peaks, default=None))


def _cores() -> int:
    """The cores this process may run on (a container's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _available_mb() -> float | None:
    """Memory available to new processes in MiB (``MemAvailable``, or psutil's); None if unknown."""
    available = _proc_mb("/proc/meminfo", "MemAvailable")
    if available is not None:
        return available
    try:
        import psutil
    except ImportError:
        return None
    return psutil.virtual_memory().available / 2**20


def stored_seconds(path: str | Path) -> float:
    """How long the notebook's stored run took, from its cells' execution timestamps.

    ``artiphys run --save`` (nbclient) stores, per code cell, when the kernel began and finished
    it; this is the span from the first cell's start to the last cell's end.

    Parameters
    ----------
    path : path
        The ``.ipynb`` file.

    Returns
    -------
    float
        Seconds; 0.0 for a notebook without stored timings (the generated student versions, a
        notebook never executed).
    """
    from datetime import datetime

    nbformat = require("nbformat")
    nb = nbformat.read(Path(path), as_version=4)
    stamps = [c.metadata.get("execution", {}) for c in nb.cells if c.cell_type == "code"]
    stamps = [s for s in stamps if "iopub.status.busy" in s and "iopub.status.idle" in s]
    if not stamps:
        return 0.0
    try:
        first = datetime.fromisoformat(stamps[0]["iopub.status.busy"].replace("Z", "+00:00"))
        last = datetime.fromisoformat(stamps[-1]["iopub.status.idle"].replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, (last - first).total_seconds())


def default_n_jobs(n_notebooks: int) -> int:
    """How many notebooks to run at once: one per core, as memory allows, at most ``n_notebooks``.

    Each concurrent kernel is given ``KERNEL_BUDGET_MB`` of the available memory, so a 2 GB
    Binder session runs one at a time and a 2-core, 24 GB machine two.
    """
    n_jobs = _cores()
    available = _available_mb()
    if available is not None:
        n_jobs = min(n_jobs, int(available // KERNEL_BUDGET_MB))
    return max(1, min(n_jobs, n_notebooks))


def checked_n_jobs(n_jobs: int | None, n_items: int) -> int:
    """``n_jobs`` validated (a whole number >= 1), or ``default_n_jobs(n_items)`` for None."""
    if n_jobs is None:
        return default_n_jobs(n_items)
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise ValueError(
            f"n_jobs must be a whole number >= 1 (kernels run at once), got {n_jobs!r}"
        )
    return n_jobs


def kernel_env(n_jobs: int, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of one of ``n_jobs`` kernels run at once: each gets its share of the cores.

    ``env`` (default ``os.environ``) with ``OMP_NUM_THREADS = cores // n_jobs`` (at least 1),
    unless the variable is already set: the caller's value is kept. Oversubscribed OpenMP threads
    spin and wait on each other (one notebook cell took 296 s instead of 33 s with two kernels of
    two threads on two cores).
    """
    env = dict(os.environ if env is None else env)
    env.setdefault("OMP_NUM_THREADS", str(max(1, _cores() // n_jobs)))
    return env


def at_once(
    function: Callable[[T], R],
    items: Sequence[T],
    n_jobs: int,
    *,
    first: Callable[[T], float] | None = None,
    on_done: Callable[[R], None] | None = None,
) -> list[R]:
    """``[function(item) for item in items]``, ``n_jobs`` calls at a time (threads).

    For functions that wait on a kernel: each call runs in a thread of this process, the work in
    the kernel's own process.

    Parameters
    ----------
    function : callable
        Called once per item.
    items : sequence
    n_jobs : int
        Calls at a time (1: one after the other, in this thread).
    first : callable, optional
        Ranks the items, largest started first (the longest work first, so no long one is left
        for the end); default: in the order of ``items``.
    on_done : callable, optional
        Called with each result as it comes, in the order they finish, one call at a time.

    Returns
    -------
    list
        The results, in the order of ``items``. An exception in one call is raised here once the
        calls already running have ended; the calls not yet started are dropped.
    """
    reporting = threading.Lock()

    def one(item: T) -> R:
        result = function(item)
        if on_done is not None:
            with reporting:
                on_done(result)
        return result

    if n_jobs == 1:
        return [one(item) for item in items]
    order = range(len(items))
    if first is not None:
        order = sorted(order, key=lambda i: -first(items[i]))
    results: list[R | None] = [None] * len(items)
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        futures = {pool.submit(one, items[index]): index for index in order}
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
        except BaseException:  # an error or Ctrl-C: start nothing more, then re-raise
            for future in futures:
                future.cancel()
            raise
    return results  # type: ignore[return-value]


def run_notebooks(
    paths: Sequence[str | Path],
    *,
    n_jobs: int | None = None,
    save: bool = False,
    timeout: int = 900,
    kernel_name: str | None = None,
    on_done: Callable[[NotebookRun], None] | None = None,
) -> list[NotebookRun]:
    """Execute notebooks, ``n_jobs`` at a time, each in a fresh kernel with its share of the cores.

    Notebooks run independently (each in its own kernel and folder; shared downloads are written
    atomically), so running them at once changes no result. On a 2-core machine two kernels with
    one thread each finish the course sooner than one kernel with two threads: much of a notebook
    (starting the kernel, imports, plotting, Python loops) uses one core whatever the threads.
    The longest notebooks (by ``stored_seconds``) start first, so no long one is left for the end.

    Parameters
    ----------
    paths : sequence of paths
        The ``.ipynb`` files.
    n_jobs : int, optional
        Notebooks run at once (at least 1); default ``default_n_jobs(len(paths))``. Each kernel
        gets its share of the cores (``kernel_env``).
    save, timeout, kernel_name
        As in ``run_notebook``.
    on_done : callable, optional
        Called with each ``NotebookRun`` as it finishes, in the order they finish, one call at a
        time.

    Returns
    -------
    list of NotebookRun
        In the order of ``paths``.
    """
    n_jobs = checked_n_jobs(n_jobs, len(paths))
    env = kernel_env(n_jobs)

    def one(path: str | Path) -> NotebookRun:
        return run_notebook(path, save=save, timeout=timeout, kernel_name=kernel_name, env=env)

    return at_once(one, paths, n_jobs, first=stored_seconds, on_done=on_done)


def format_runs(runs: list[NotebookRun], *, wall: float | None = None) -> str:
    """A plain-text table: notebook, status, seconds, peak MiB (and the error of failed runs).

    ``wall`` is the elapsed time of the whole run, stated beside the sum when notebooks ran at
    once (it is then less than the sum).
    """
    width = max([len("notebook")] + [len(r.notebook) for r in runs])
    lines = [
        f"{'notebook':<{width}}  status  seconds  peak MiB",
        f"{'-' * width}  ------  -------  --------",
    ]
    for r in runs:
        peak = "-" if r.peak_mb is None else f"{r.peak_mb:.0f}"
        lines.append(f"{r.notebook:<{width}}  {r.status:<6}  {r.seconds:7.1f}  {peak:>8}")
        if r.error:
            lines.append(f"{'':<{width}}    {r.error}")
    total = sum(r.seconds for r in runs)
    failed = sum(not r.ok for r in runs)
    summary = f"{len(runs)} notebooks, {failed} failed, {total:.0f} s in all"
    if wall is not None:
        summary += f", {wall:.0f} s wall"
    lines.append(summary)
    return "\n".join(lines)
