"""Run course notebooks headless (for ``artiphys run`` and the tests)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = ["NotebookRun", "find_notebooks", "format_runs", "run_notebook"]


@dataclass(frozen=True)
class NotebookRun:
    """The outcome of one headless notebook run."""

    notebook: str
    status: str  # "ok" or "failed"
    seconds: float
    error: str = ""

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
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    kwargs = {"kernel_name": kernel_name} if kernel_name else {}
    client = NotebookClient(
        nb, timeout=timeout, resources={"metadata": {"path": str(path.parent.resolve())}}, **kwargs
    )
    start = time.perf_counter()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        message = str(err).strip().splitlines()
        short = next((m for m in reversed(message) if m.strip()), type(err).__name__)
        return NotebookRun(path.name, "failed", time.perf_counter() - start, short[:300])
    seconds = time.perf_counter() - start
    if save:
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return NotebookRun(path.name, "ok", seconds)


def format_runs(runs: list[NotebookRun]) -> str:
    """A plain-text table: notebook, status, seconds (and the error of failed runs)."""
    width = max([len("notebook")] + [len(r.notebook) for r in runs])
    lines = [f"{'notebook':<{width}}  status  seconds", f"{'-' * width}  ------  -------"]
    for r in runs:
        lines.append(f"{r.notebook:<{width}}  {r.status:<6}  {r.seconds:7.1f}")
        if r.error:
            lines.append(f"{'':<{width}}    {r.error}")
    total = sum(r.seconds for r in runs)
    failed = sum(not r.ok for r in runs)
    lines.append(f"{len(runs)} notebooks, {failed} failed, {total:.0f} s in all")
    return "\n".join(lines)
