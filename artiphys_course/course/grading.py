"""Grade a class's submitted notebooks (``artiphys grade``).

Each submission (one ``.ipynb`` per student, named by its file stem) runs top to bottom in its own
fresh Jupyter kernel, in a temporary copy:

- **Isolation.** The kernel's working folder and ``HOME`` are a temporary folder holding a copy of
  the submission, removed afterwards, so relative paths and ``~`` land there. This is *not* a
  sandbox: the kernel runs as the instructor's user, so absolute paths, the data cache
  (``ARTIPHYS_DATA_DIR``, passed on so that the notebooks find their data) and the network remain
  reachable. Grade untrusted code in a container or a separate account.
- **Robustness.** Every cell has a time limit (the kernel is interrupted and the next cell runs);
  errors do not stop the run, so a crashing cell loses only what depends on it; the outputs kept
  per cell are capped (a cell that prints megabytes keeps its first ``max_output`` characters).
  A kernel that ignores interrupts makes each following cell run into its limit.
- **References disabled.** Before the student's first cell, the kernel replaces the package
  functions each check compares with (and names as the notebook's fallback) with stubs that raise
  :class:`ReferenceDisabled`, in every loaded ``artiphys_course`` module. A student function that
  calls one fails its check. The checks themselves still get the real functions: outside a
  student's call a stub forwards to the original it keeps.
- **Scoring.** After the student's cells, each exercise of the matching solution notebook
  (``solutions/NN_*.ipynb``: the functions passed to its ``check_*`` calls) is scored in its own
  cell by calling its check in the same kernel, on the check's own fixed and seeded inputs; the
  result comes back as JSON on the cell's output, tagged with a per-run random token. An exercise
  the submission lacks (or whose cell crashed) gets 0 points with a message.
"""

from __future__ import annotations

import ast
import copy
import csv
import importlib
import inspect
import json
import os
import pkgutil
import secrets
import shutil
import site
import sys
import tempfile
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artiphys_course.course import require
from artiphys_course.course.execution import at_once, checked_n_jobs, kernel_env

__all__ = [
    "Grade",
    "ReferenceDisabled",
    "find_check",
    "find_exercises",
    "format_grades",
    "grade_folder",
    "grade_submission",
    "write_grades",
]

_PACKAGE = "artiphys_course"
_NOT_DISABLED = ("artiphys_course.checks", "artiphys_course.runtime", "artiphys_course.course")
_SETUP_TIMEOUT = 300  # seconds for the grader's own first cell (it imports torch)
_STATE = {"student": False}  # kernel side: True while the student's code runs


class ReferenceDisabled(RuntimeError):
    """Raised by a package reference function called by student code during grading."""


@dataclass(frozen=True)
class Grade:
    """The score of one exercise of one student's submission (one row of the CSV)."""

    student: str
    exercise: str
    points: float
    max_points: float
    message: str


# -- what to grade: exercises, their checks and the references they use -----------------------


def _check_name(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name if name and name.startswith("check_") else None


def find_check(name: str) -> Callable[..., Any]:
    """The check function ``name`` from the modules of :mod:`artiphys_course.checks`."""
    import artiphys_course.checks

    for info in pkgutil.iter_modules(artiphys_course.checks.__path__):
        module = importlib.import_module(f"artiphys_course.checks.{info.name}")
        if callable(getattr(module, name, None)):
            return getattr(module, name)
    raise LookupError(f"the solution notebook calls {name}, which no artiphys_course.checks has")


def find_exercises(solution: str | Path) -> dict[str, str]:
    """The exercises of a solution notebook and their checks, in notebook order.

    An exercise is the function passed (by name) to a ``check_*`` call.

    Parameters
    ----------
    solution : path
        A notebook of ``solutions/``.

    Returns
    -------
    dict
        Exercise function name -> qualified name of its check (``"module:function"``).
    """
    nbformat = require("nbformat")
    nb = nbformat.read(Path(solution), as_version=4)
    found: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if not (isinstance(node, ast.Call) and _check_name(node)):
                continue
            names = [arg.id for arg in node.args if isinstance(arg, ast.Name)]
            if names:
                check = find_check(_check_name(node))
                found[names[0]] = f"{check.__module__}:{check.__name__}"
    return found


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _fallbacks(check: Callable[..., Any]) -> Iterator[str]:
    """The ``fallback="..."`` strings of a check's source."""
    try:
        tree = ast.parse(inspect.getsource(check))
    except (OSError, TypeError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "fallback":
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                yield node.value.value


def _is_reference(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return (
        inspect.isfunction(obj)
        and module.startswith(_PACKAGE + ".")
        and not module.startswith(_NOT_DISABLED)
    )


def references(check: Callable[..., Any]) -> list[str]:
    """The package functions a check uses (also through its module's helpers) or names as fallback.

    Returns
    -------
    list of str
        ``"module:function"`` of each, sorted; only plain functions of ``artiphys_course`` outside
        ``checks``, ``runtime`` and ``course``.
    """
    module = sys.modules[check.__module__]
    found, seen, todo = set(), set(), [check]
    while todo:
        func = todo.pop()
        for name in _code_names(func.__code__):
            obj = module.__dict__.get(name)
            if _is_reference(obj):
                found.add(obj)
            elif inspect.isfunction(obj) and obj.__module__ == module.__name__ and name not in seen:
                seen.add(name)
                todo.append(obj)
    for fallback in _fallbacks(check):
        owner, _, attr = fallback.rpartition(".")
        try:
            obj = (
                getattr(importlib.import_module(owner), attr)
                if owner
                else module.__dict__.get(attr, getattr(importlib.import_module(_PACKAGE), attr))
            )
        except (ImportError, AttributeError):
            continue
        if _is_reference(obj):
            found.add(obj)
    return sorted(f"{obj.__module__}:{obj.__name__}" for obj in found)


# -- kernel side: disable the references, score the exercises ----------------------------------


def _stub(original: Callable[..., Any], qualified: str) -> Callable[..., Any]:
    def stub(*args: Any, **kwargs: Any) -> Any:
        from artiphys_course.checks.core import trusted

        if _STATE["student"] and not trusted():  # a check's own helper may call it
            raise ReferenceDisabled(
                f"{qualified} is disabled while grading: write the exercise without calling the "
                "package's reference"
            )
        return original(*args, **kwargs)

    stub.__name__ = original.__name__
    stub.__qualname__ = original.__qualname__
    stub.__doc__ = f"Disabled while grading (the reference {qualified})."
    return stub


def kernel_disable(qualified: list[str]) -> None:
    """Kernel side: replace the reference functions with stubs everywhere in the package.

    Imports the package and the references' modules first, then rebinds every attribute of a
    loaded ``artiphys_course`` module that is one of the originals. From here on the student's
    code runs (references raise :class:`ReferenceDisabled`).
    """
    importlib.import_module(_PACKAGE)
    stubs = {}
    for name in qualified:
        module_name, _, attr = name.partition(":")
        original = getattr(importlib.import_module(module_name), attr)
        stubs[id(original)] = (original, _stub(original, f"{module_name}.{attr}"))
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.partition(".")[0] != _PACKAGE:
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in stubs and stubs[id(value)][0] is value:
                setattr(module, attr, stubs[id(value)][1])
    os.environ.pop("ARTIPHYS_STRICT_CHECKS", None)  # a wrong answer is a result, not an error
    _STATE["student"] = True


def kernel_score(token: str, exercise: str, check: str, namespace: dict[str, Any]) -> None:
    """Kernel side: score one exercise and print the result as ``token + JSON``."""
    _STATE["student"] = False
    module_name, _, check_name = check.partition(":")
    check_function = getattr(importlib.import_module(module_name), check_name)
    student = namespace.get(exercise)
    defined = callable(student)

    def as_student(*args: Any, **kwargs: Any) -> Any:
        if not defined:
            raise NotImplementedError(f"Exercise: {exercise}")
        _STATE["student"] = True
        try:
            return student(*args, **kwargs)
        finally:
            _STATE["student"] = False

    as_student.__name__ = exercise
    if defined:  # the checks find the student's globals (their helpers) through it
        as_student.__wrapped__ = student
    try:
        result = check_function(as_student)
        message = result.message
        if result.status == "not implemented":  # not the notebook's "goes on with the reference"
            message = f"{exercise}: not implemented yet."
        row = {
            "points": float(result.points),
            "max_points": float(result.max_points),
            "message": message,
        }
    except Exception as err:  # noqa: BLE001 - a broken check costs the exercise, not the run
        row = {"points": 0.0, "max_points": 1.0, "message": f"the check raised {err!r}"}
    row["defined"] = defined
    sys.stdout.write(token + json.dumps(row) + "\n")
    sys.stdout.flush()


# -- grader side --------------------------------------------------------------------------------


def _capped_client(nbclient: types.ModuleType, max_output: int) -> type:
    """A NotebookClient that keeps at most ``max_output`` characters of output per cell."""

    class CappedClient(nbclient.NotebookClient):
        _sizes: dict[int, int]

        def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001 - nbclient's API
            sizes = self.__dict__.setdefault("_sizes", {})
            if msg["msg_type"] == "error":
                content = msg["content"]
                content["traceback"] = content.get("traceback", [])[-3:]
                content["evalue"] = str(content.get("evalue", ""))[:max_output]
                return super().output(outs, msg, display_id, cell_index)
            used = sizes.get(cell_index, 0)
            size = len(str(msg["content"]))
            sizes[cell_index] = used + size
            if used + size <= max_output:
                return super().output(outs, msg, display_id, cell_index)
            if used <= max_output:
                note = nbclient.client.output_from_msg(
                    {
                        "msg_type": "stream",
                        "content": {
                            "name": "stderr",
                            "text": f"[artiphys grade: output truncated at {max_output} chars]\n",
                        },
                        "header": msg["header"],
                        "parent_header": msg["parent_header"],
                        "metadata": {},
                    }
                )
                outs.append(note)
            return None

    return CappedClient


def _kernel_env(home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    from artiphys_course import runtime

    env = dict(os.environ if base is None else base)
    env.pop("ARTIPHYS_STRICT_CHECKS", None)
    env.update(
        HOME=str(home),
        MPLBACKEND="Agg",
        ARTIPHYS_DATA_DIR=str(runtime.data_dir()),  # the cache, not the temporary HOME's
        PYTHONUSERBASE=site.getuserbase(),  # packages installed with --user stay visible
    )
    if "TORCH_HOME" not in env:
        import torch.hub

        env["TORCH_HOME"] = str(Path(torch.hub.get_dir()).parent)
    return env


def _defining_cell(cells: list[Any], exercise: str) -> Any | None:
    """The last code cell that defines ``exercise`` at top level, or None."""
    found = None
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        if any(
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == exercise
            for node in tree.body
        ):
            found = cell
    return found


def _error_of(cell: Any) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"[:200]
    return None


def grade_submission(
    path: str | Path,
    exercises: dict[str, str],
    *,
    timeout: int = 60,
    max_output: int = 100_000,
    kernel_name: str | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Grade]:
    """Run one submitted notebook and score its exercises.

    Parameters
    ----------
    path : path
        The student's ``.ipynb``; the student is its file stem.
    exercises : dict
        Exercise name -> check, as :func:`find_exercises` returns.
    timeout : int
        Seconds allowed per cell (the student's, and each exercise's scoring); the grader's
        setup cell, which imports the package, gets at least 300 s.
    max_output : int
        Characters of output kept per cell.
    kernel_name : str, optional
        Jupyter kernel; default: the notebook's own (``python3``).
    env : mapping, optional
        The kernel's environment before the grader's own settings (a temporary ``HOME``, the
        Agg backend, the data cache); default: this process's.

    Returns
    -------
    list of Grade
        One per exercise, in the order of ``exercises``.
    """
    nbformat = require("nbformat")
    nbclient = require("nbclient")
    from nbclient.exceptions import DeadKernelError

    if timeout < 1:
        raise ValueError(f"timeout must be at least 1 second, got {timeout}")
    path = Path(path)
    student = path.stem
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - an unreadable file is a student's 0, not a crash
        return [Grade(student, e, 0.0, 1.0, f"unreadable notebook: {err}") for e in exercises]
    student_cells = [c for c in nb.cells if c.cell_type == "code"]
    refs = sorted({r for check in exercises.values() for r in references(_resolve(check))})
    token = f"ARTIPHYS-GRADE-{secrets.token_hex(8)}:"
    new = nbformat.v4.new_code_cell
    setup = new(
        "import artiphys_course.course.grading as _artiphys_grading\n"
        f"_artiphys_grading.kernel_disable({refs!r})"
    )
    scoring = [
        new(
            "__import__('importlib').import_module('artiphys_course.course.grading')"
            f".kernel_score({token!r}, {exercise!r}, {check!r}, globals())"
        )
        for exercise, check in exercises.items()
    ]
    run = copy.deepcopy(nb)
    run.cells = [setup, *copy.deepcopy(student_cells), *scoring]
    if kernel_name is None and not run.metadata.get("kernelspec"):
        kernel_name = "python3"
    kwargs = {"kernel_name": kernel_name} if kernel_name else {}
    with tempfile.TemporaryDirectory(prefix="artiphys-grade-") as folder:
        work, home = Path(folder) / "work", Path(folder) / "home"
        work.mkdir()
        home.mkdir()
        shutil.copyfile(path, work / path.name)
        client = _capped_client(nbclient, max_output)(
            run,
            timeout=timeout,
            timeout_func=lambda cell: (
                max(timeout, _SETUP_TIMEOUT) if cell.source == setup.source else timeout
            ),
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": "CellTimeoutError",
                "evalue": f"the cell ran over {timeout} s and was interrupted",
                "traceback": [],
            },
            resources={"metadata": {"path": str(work)}},
            **kwargs,
        )
        with (Path(folder) / "kernel-stderr.log").open("w") as stderr:
            try:
                client.execute(env=_kernel_env(home, env), cwd=str(work), stderr=stderr)
            except DeadKernelError:
                pass  # the cells not run give no result: their exercises get 0 below
    setup_error = _error_of(run.cells[0])
    grades = []
    for exercise, cell in zip(exercises, run.cells[-len(scoring) :], strict=True):
        row = _result(cell, token)
        if row is None:
            reason = _error_of(cell) or "the kernel died before"
            if setup_error:
                reason = f"grading setup failed ({setup_error})"
            grades.append(Grade(student, exercise, 0.0, 1.0, f"not scored: {reason}"))
            continue
        message = row["message"]
        if not row["defined"]:
            where = _defining_cell(run.cells[1 : 1 + len(student_cells)], exercise)
            error = None if where is None else _error_of(where)
            message = (
                f"{exercise} is not defined: its cell raised {error}"
                if error
                else f"{exercise} is not defined in the submission"
            )
        grades.append(Grade(student, exercise, row["points"], row["max_points"], message))
    return grades


def _resolve(check: str) -> Callable[..., Any]:
    module_name, _, name = check.partition(":")
    return getattr(importlib.import_module(module_name), name)


def _result(cell: Any, token: str) -> dict[str, Any] | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            for line in out.get("text", "").splitlines():
                if line.startswith(token):
                    return json.loads(line[len(token) :])
    return None


def grade_folder(
    submissions: str | Path,
    solution: str | Path,
    *,
    timeout: int = 60,
    max_output: int = 100_000,
    n_jobs: int | None = None,
    progress: bool = True,
) -> list[Grade]:
    """Grade every ``*.ipynb`` of ``submissions`` against the exercises of ``solution``.

    Parameters
    ----------
    submissions : path
        A folder with one notebook per student (the student is the file stem).
    solution : path
        The solution notebook the submissions were made from (``solutions/NN_*.ipynb``).
    timeout, max_output : int
        Seconds per cell and characters of output kept per cell (see :func:`grade_submission`).
    n_jobs : int, optional
        Submissions graded at once, each kernel with its share of the cores; default: one per
        core, as memory allows (:func:`~artiphys_course.course.execution.default_n_jobs`).
    progress : bool
        Print one line per student as their grading ends.

    Returns
    -------
    list of Grade
        Students in file-name order, exercises in notebook order.

    Raises
    ------
    FileNotFoundError
        When ``submissions`` is not a folder or holds no notebook.
    ValueError
        When ``n_jobs`` is not a whole number >= 1.
    """
    folder = Path(submissions)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {str(folder)!r} does not exist")
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no *.ipynb submissions in {folder}")
    n_jobs = checked_n_jobs(n_jobs, len(paths))
    exercises = find_exercises(solution)
    env = kernel_env(n_jobs)
    done = 0

    def grade(path: Path) -> tuple[str, list[Grade]]:
        rows = grade_submission(path, exercises, timeout=timeout, max_output=max_output, env=env)
        return path.stem, rows

    def report(graded: tuple[str, list[Grade]]) -> None:
        nonlocal done
        done += 1
        student, rows = graded
        if progress:
            total = sum(g.points for g in rows)
            print(f"[{done}/{len(paths)}] {student}: {total:g} of {_maximum(rows):g} points")

    per_student = at_once(grade, paths, n_jobs, on_done=report)
    return [g for _, rows in per_student for g in rows]


def _maximum(rows: list[Grade]) -> float:
    return sum(g.max_points for g in rows)


def write_grades(grades: list[Grade], path: str | Path) -> Path:
    """Write the CSV ``student, exercise, points, max_points, message``; return its path."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "exercise", "points", "max_points", "message"])
        for g in grades:
            points, maximum = f"{g.points:g}", f"{g.max_points:g}"
            writer.writerow([g.student, g.exercise, points, maximum, g.message])
    return path


def format_grades(grades: list[Grade]) -> str:
    """A plain-text table: one line per student with the total points of the maximum."""
    students: dict[str, list[Grade]] = {}
    for g in grades:
        students.setdefault(g.student, []).append(g)
    width = max([len("student")] + [len(s) for s in students])
    lines = [f"{'student':<{width}}  points  of", f"{'-' * width}  ------  ---"]
    for name, rows in students.items():
        lines.append(f"{name:<{width}}  {sum(g.points for g in rows):6.2f}  {_maximum(rows):g}")
    return "\n".join(lines)
