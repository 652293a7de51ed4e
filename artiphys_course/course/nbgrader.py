"""nbgrader source notebooks from the solution notebooks (``artiphys build --format nbgrader``).

For a course that runs `nbgrader <https://nbgrader.readthedocs.io>`_, each solution notebook
becomes one assignment of an nbgrader course folder, ``OUT/source/<notebook>/<notebook>.ipynb``:

- every code cell with ``# BEGIN SOLUTION`` / ``# END SOLUTION`` blocks becomes an *autograded
  answer* cell (``solution: true``); nbgrader's own ``ClearSolutions`` replaces the blocks with
  its stub when it generates the student version, exactly as :mod:`.authoring` does;
- after each cell that calls a ``check_*`` on an exercise, a locked *autograder test* cell
  (``grade: true``, ``points`` = the check's ``max_points``) prints the check's points. nbgrader
  takes a number printed by a test cell as partial credit, so an exercise earns the same points
  under ``nbgrader autograde`` as under ``artiphys grade`` (same check, same seeded inputs; the
  check itself catches a call of the package's reference);
- outputs are cleared; the notebook otherwise stays the solution (text, figures, asserts).

Warnings are silenced inside a test cell, because nbgrader gives no credit to a cell that
writes to stderr.
"""

from __future__ import annotations

import ast
import copy
import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from artiphys_course.course import require
from artiphys_course.course.authoring import AuthoringError, strip_solutions

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["SCHEMA_VERSION", "build_nbgrader", "nbgrader_notebook"]

SCHEMA_VERSION = 3
"""nbgrader's cell-metadata schema version written into every graded cell."""


def _check_calls(source: str) -> list[tuple[str, str]]:
    """``(check name, exercise name)`` for each ``check_*(exercise, ...)`` call in a cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name.startswith("check_") and node.args and isinstance(node.args[0], ast.Name):
            calls.append((name, node.args[0].id))
    return calls


def _max_points(check_name: str) -> tuple[str, float]:
    """The module of a check and its ``max_points`` (asked with an unsolved exercise)."""
    from artiphys_course.course.grading import find_check

    check = find_check(check_name)

    def unsolved(*args, **kwargs):
        raise NotImplementedError

    return check.__module__, float(check(unsolved).max_points)


def _test_source(module: str, check: str, exercise: str, points: float) -> str:
    return (
        f"# Autograded: `{exercise}` (up to {points:g} point{'s' if points != 1 else ''}).\n"
        "import warnings\n\n"
        f"from {module} import {check}\n\n"
        "with warnings.catch_warnings():\n"
        '    warnings.simplefilter("ignore")\n'
        f"    _result = {check}({exercise})\n"
        "print(_result.message)\n"
        "_result.points"
    )


def nbgrader_notebook(solution: NotebookNode, assignment: str) -> NotebookNode:
    """Make the nbgrader source version of a solution notebook.

    Parameters
    ----------
    solution : NotebookNode
        The solved notebook (not modified).
    assignment : str
        Prefix of the nbgrader ``grade_id`` of each graded cell (unique within the notebook).

    Returns
    -------
    NotebookNode
        Answer cells and autograder test cells carry ``metadata["nbgrader"]``; outputs are
        cleared.

    Raises
    ------
    AuthoringError
        For malformed exercise markers (the message names the cell).
    """
    nbformat = require("nbformat")
    nb = copy.deepcopy(solution)
    cells = []
    for index, cell in enumerate(nb.cells):
        cell.get("metadata", {}).pop("execution", None)
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        _, names = strip_solutions(cell.source, where=f"cell {index}")
        if names:
            cell.metadata["nbgrader"] = {
                "grade": False,
                "solution": True,
                "locked": False,
                "grade_id": f"{assignment}-answer-{'-'.join(names)}",
                "schema_version": SCHEMA_VERSION,
            }
        for check, exercise in _check_calls(cell.source):
            module, points = _max_points(check)
            test = nbformat.v4.new_code_cell(_test_source(module, check, exercise, points))
            test.metadata["nbgrader"] = {
                "grade": True,
                "solution": False,
                "locked": True,
                "points": points,
                "grade_id": f"{assignment}-test-{exercise}",
                "schema_version": SCHEMA_VERSION,
            }
            cells.append(test)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb


def build_nbgrader(solutions_dir: str | Path, out: str | Path) -> list[Path]:
    """Write an nbgrader course folder: ``out/source/<stem>/<stem>.ipynb`` per solution.

    Parameters
    ----------
    solutions_dir : path
        The folder of solution notebooks.
    out : path
        The nbgrader course root (created; existing source notebooks are overwritten).

    Returns
    -------
    list of Path
        The notebooks written, in name order.

    Raises
    ------
    FileNotFoundError
        When ``solutions_dir`` holds no ``*.ipynb``.
    AuthoringError
        When a solution's exercise markers are malformed; nothing has been written then.
    """
    nbformat = require("nbformat")
    importlib.import_module("artiphys_course.checks")
    sources = sorted(Path(solutions_dir).glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(
            f"no solution notebooks (*.ipynb) in {Path(solutions_dir).resolve()}"
        )
    planned = []
    for source in sources:
        try:
            planned.append((source, nbgrader_notebook(nbformat.read(source, 4), source.stem)))
        except AuthoringError as err:
            raise AuthoringError(f"{source}: {err}") from None
    written = []
    for source, nb in planned:
        target = Path(out) / "source" / source.stem / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    return written
