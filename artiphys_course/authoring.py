"""Single-source notebooks: generate student notebooks from the solved ones.

The solution notebooks in ``solutions/`` are the only source. In a solution code cell, the body of
an exercise function sits between two marker lines::

    def preferred_orientation(responses, orientations):
        # BEGIN SOLUTION
        return orientations[np.argmax(responses)]
        # END SOLUTION

:func:`student_notebook` replaces every such block by
``raise NotImplementedError("Exercise: preferred_orientation")`` at the marker's indentation,
clears outputs and execution counts, and adds a Colab badge and a Colab-only install cell.
Markers are whole lines (surrounding spaces aside): a marker text inside a string or after code
is not a marker. :func:`build_notebooks` writes ``notebooks/`` from ``solutions/`` idempotently.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

__all__ = [
    "AuthoringError",
    "BuildReport",
    "GITHUB_REPO",
    "build_notebooks",
    "strip_solutions",
    "student_notebook",
]

GITHUB_REPO = "artiphys-course/artiphys-course"
"""``owner/name`` of the course repository on GitHub (Colab and Binder links point here)."""

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(")

_INSTALL_SOURCE = f"""\
# Colab only: install the course package (does nothing elsewhere).
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q",
         "artiphys-course @ git+https://github.com/{GITHUB_REPO}"],
        check=True,
    )"""


class AuthoringError(ValueError):
    """A solution notebook's exercise markers are malformed."""


@dataclass(frozen=True)
class BuildReport:
    """What :func:`build_notebooks` did for one notebook."""

    solution: Path
    student: Path
    changed: bool
    exercises: int


def strip_solutions(source: str, where: str = "cell") -> tuple[str, list[str]]:
    """Replace each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block by a ``NotImplementedError``.

    Parameters
    ----------
    source : str
        The code of one cell.
    where : str
        Where the code comes from, for error messages.

    Returns
    -------
    (str, list of str)
        The student code and the names of the exercises found, in order.

    Raises
    ------
    AuthoringError
        For an unmatched or nested marker, or a block outside a function definition.
    """
    lines = source.split("\n")
    out: list[str] = []
    names: list[str] = []
    enclosing: list[tuple[int, str]] = []  # (indent, function name) of defs seen so far
    inside: tuple[int, str] | None = None  # (line number, exercise name) of the open block
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if inside is None:
            match = _DEF.match(line)
            if match:
                indent = len(match.group(1))
                enclosing = [(i, n) for i, n in enclosing if i < indent] + [
                    (indent, match.group(2))
                ]
            elif stripped and not stripped.startswith("#"):
                # a statement at or left of a def's indentation ends that def
                indent = len(line) - len(line.lstrip())
                enclosing = [(i, n) for i, n in enclosing if i < indent]
            if stripped == END:
                raise AuthoringError(f"{where}, line {number}: {END!r} without {BEGIN!r}")
            if stripped == BEGIN:
                indent = len(line) - len(line.lstrip())
                owners = [n for i, n in enclosing if i < indent]
                if not owners:
                    raise AuthoringError(
                        f"{where}, line {number}: {BEGIN!r} must be inside a function body "
                        "(exercises are function definitions)"
                    )
                inside = (number, owners[-1])
                names.append(owners[-1])
                out.append(f'{" " * indent}raise NotImplementedError("Exercise: {owners[-1]}")')
                continue
            out.append(line)
        else:
            if stripped == BEGIN:
                raise AuthoringError(
                    f"{where}, line {number}: nested {BEGIN!r} (the block opened on line "
                    f"{inside[0]} is still open)"
                )
            if stripped == END:
                inside = None
    if inside is not None:
        raise AuthoringError(f"{where}, line {inside[0]}: {BEGIN!r} is never closed by {END!r}")
    return "\n".join(out), names


def _badge_cell(relative_path: str) -> NotebookNode:
    url = f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/main/{relative_path}"
    cell = nbformat.v4.new_markdown_cell(
        f'<a href="{url}" target="_parent"><img '
        'src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>'
    )
    cell["id"] = "colab-badge"
    return cell


def _install_cell() -> NotebookNode:
    cell = nbformat.v4.new_code_cell(_INSTALL_SOURCE)
    cell["id"] = "colab-install"
    return cell


def student_notebook(solution: NotebookNode, relative_path: str) -> tuple[NotebookNode, int]:
    """Make the student version of a solution notebook.

    Parameters
    ----------
    solution : NotebookNode
        The solved notebook (not modified).
    relative_path : str
        Path of the student notebook inside the repository (for the Colab link),
        e.g. ``"notebooks/01_bar_mapping.ipynb"``.

    Returns
    -------
    (NotebookNode, int)
        The student notebook and its number of exercises.
    """
    nb = copy.deepcopy(solution)
    n_exercises = 0
    cells = []
    for index, cell in enumerate(nb.cells):
        cell.get("metadata", {}).pop("execution", None)
        if cell.cell_type == "code":
            cell.source, names = strip_solutions(cell.source, where=f"cell {index}")
            n_exercises += len(names)
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    insert_at = 1 if cells and cells[0].cell_type == "markdown" else 0
    nb.cells = [_badge_cell(relative_path)] + cells[:insert_at] + [_install_cell()]
    nb.cells += cells[insert_at:]
    nb.metadata.pop("widgets", None)
    return nb, n_exercises


def build_notebooks(
    solutions_dir: str | Path = "solutions",
    notebooks_dir: str | Path = "notebooks",
    *,
    check: bool = False,
) -> list[BuildReport]:
    """Generate every student notebook from its solution (idempotent).

    Parameters
    ----------
    solutions_dir, notebooks_dir : path
        Source and target folders (relative paths are taken from the current directory).
    check : bool
        Only compare: write nothing, report which student notebooks differ.

    Returns
    -------
    list of BuildReport
        One per solution notebook; ``changed`` says whether the student file was (or, with
        ``check=True``, would be) rewritten. Student notebooks without a solution are reported
        with ``exercises=-1`` (and deleted unless ``check``).
    """
    solutions_dir, notebooks_dir = Path(solutions_dir), Path(notebooks_dir)
    sources = sorted(solutions_dir.glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no solution notebooks (*.ipynb) in {solutions_dir.resolve()}")
    if not check:
        notebooks_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    for source in sources:
        target = notebooks_dir / source.name
        solution = nbformat.read(source, as_version=4)
        student, n = student_notebook(solution, f"{notebooks_dir.name}/{source.name}")
        text = nbformat.writes(student) + "\n"
        old = target.read_text(encoding="utf-8") if target.exists() else None
        changed = old != text
        if changed and not check:
            target.write_text(text, encoding="utf-8")
        reports.append(BuildReport(source, target, changed, n))
    names = {s.name for s in sources}
    for orphan in sorted(notebooks_dir.glob("*.ipynb")) if notebooks_dir.exists() else []:
        if orphan.name not in names:
            if not check:
                orphan.unlink()
            reports.append(BuildReport(solutions_dir / orphan.name, orphan, True, -1))
    return reports
