"""Student notebooks (exercises unsolved) run top to bottom, proven without executing them again.

A student notebook is its solution notebook (executed by nbval on ``solutions/``) with each
exercise body replaced by ``raise NotImplementedError`` (``test_authoring`` proves that
``notebooks/`` is exactly what ``artiphys build`` makes of ``solutions/``). So it runs to the end
when (1) no cell after an exercise calls the student's function except through its check (or in
a branch that runs only once the check has passed: ``if passed:`` with ``passed = check_f(f)``), and
(2) every check reports an unsolved exercise instead of raising. Both are tested here, which is
what a second, minutes-long execution of every notebook would have shown.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import nbformat
import pytest

import artiphys_course.checks

REPO = Path(__file__).resolve().parents[1]
STUDENT = sorted((REPO / "notebooks").glob("*.ipynb"))
STUB = 'raise NotImplementedError("Exercise:'


def _code_cells(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def _exercises(cells: list[str]) -> dict[str, int]:
    """Exercise function name -> index of the cell defining it (a stub in the student version)."""
    found = {}
    for i, source in enumerate(cells):
        if STUB not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and STUB in ast.get_source_segment(source, node):
                found[node.name] = i
    return found


def _check_name(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name if name and name.startswith("check_") else None


def _check_function(name: str):
    for info in pkgutil.iter_modules(artiphys_course.checks.__path__):
        module = importlib.import_module(f"artiphys_course.checks.{info.name}")
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(f"no check named {name} in artiphys_course.checks")


def _check_results(cells: list[str]) -> set[str]:
    """Names bound to the result of a check call (``passed = checks.check_f(f)``)."""
    names = set()
    for source in cells:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                if _check_name(node.value):
                    names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _passed_branches(tree: ast.AST, results: set[str]) -> set[int]:
    """Nodes that run only when a check passed: ``if check(f):`` / ``if passed:`` bodies."""
    inside = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.If, ast.IfExp)):
            continue
        test = node.test
        passed = (isinstance(test, ast.Call) and _check_name(test)) or (
            isinstance(test, ast.Name) and test.id in results
        )
        if passed:
            body = node.body if isinstance(node, ast.If) else [node.body]
            inside |= {id(sub) for part in body for sub in ast.walk(part)}
    return inside


@pytest.mark.parametrize("path", STUDENT, ids=[p.stem for p in STUDENT])
def test_student_functions_are_only_called_through_their_checks(path):
    cells = _code_cells(path)
    exercises = _exercises(cells)
    results = _check_results(cells)
    for i, source in enumerate(cells):
        tree = ast.parse(source)
        # the exercise passed to its check, or used where its check has passed
        allowed = _passed_branches(tree, results)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _check_name(node):
                allowed |= {id(arg) for arg in node.args if isinstance(arg, ast.Name)}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Name)
                and node.id in exercises
                and isinstance(node.ctx, ast.Load)
                and id(node) not in allowed
            ):
                pytest.fail(
                    f"{path.name}, code cell {i}: uses the exercise {node.id!r} outside its "
                    "check or a branch its passed check guards; an unsolved notebook would "
                    "stop here (use the package's reference)"
                )


@pytest.mark.parametrize("path", STUDENT, ids=[p.stem for p in STUDENT])
def test_every_check_reports_an_unsolved_exercise_without_raising(path):
    cells = _code_cells(path)
    exercises = _exercises(cells)
    calls = [
        node
        for source in cells
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and _check_name(node)
    ]
    checked = set()
    for call in calls:
        args = [arg.id for arg in call.args if isinstance(arg, ast.Name) and arg.id in exercises]
        assert args, f"{path.name}: {_check_name(call)} is not given an exercise function"

        def stub(*_args, _name=args[0], **_kwargs):
            raise NotImplementedError(f"Exercise: {_name}")

        stub.__name__ = args[0]
        result = _check_function(_check_name(call))(stub)
        assert not result, f"{_check_name(call)} passed an unsolved exercise"
        assert "not implemented yet" in result.message
        checked.add(args[0])
    assert checked == set(exercises), f"exercises without a check: {set(exercises) - checked}"
