"""Run course notebooks headless (for ``artiphys run`` and the tests).

Each notebook runs in a fresh Jupyter kernel in its own folder. The run records the wall time and
the kernel's peak memory (its resident-set high-water mark, ``VmHWM`` in ``/proc/<pid>/status``
on Linux; elsewhere the largest resident size seen after a cell, via ``psutil``). The kernel's
own log lines on stderr are passed through, except Jupyter's "Kernel is running over TCP without
encryption" warning: the kernel only listens on localhost, so the warning is noise here.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from artiphys_course.course import require

__all__ = ["NotebookRun", "find_notebooks", "format_runs", "run_notebook"]

_NOISE = ("Kernel is running over TCP without encryption",)


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


def _peak_rss_mb(pid: int) -> float | None:
    """Peak (Linux) or current resident memory of process ``pid`` in MiB; None if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
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
    path: str | Path, *, save: bool = False, timeout: int = 900, kernel_name: str | None = None
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
                client.execute(stderr=stderr)
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


def format_runs(runs: list[NotebookRun]) -> str:
    """A plain-text table: notebook, status, seconds, peak MiB (and the error of failed runs)."""
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
    lines.append(f"{len(runs)} notebooks, {failed} failed, {total:.0f} s in all")
    return "\n".join(lines)
