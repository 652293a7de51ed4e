"""``artiphys build --format nbgrader``: nbgrader source notebooks that nbgrader itself grades.

The end-to-end test runs nbgrader's own ``generate_assignment`` and ``autograde`` on notebook 02's
exercise section with a correct and a wrong submission, and gets the same points per exercise as
``artiphys grade`` on the same two notebooks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from artiphys_course.course.cli import main
from artiphys_course.course.grading import find_exercises, grade_folder
from artiphys_course.course.nbgrader import nbgrader_notebook

REPO = Path(__file__).resolve().parents[1]
NAME = "02_receptive_field_math"


def _exercise_section(path: Path) -> nbformat.NotebookNode:
    """The notebook up to (and with) its last cell that calls a check."""
    nb = nbformat.read(path, as_version=4)
    last = max(i for i, c in enumerate(nb.cells) if "check_" in c.source and c.cell_type == "code")
    nb.cells = nb.cells[: last + 1]
    return nb


def _graded_cells(nb: nbformat.NotebookNode) -> dict[str, dict]:
    return {
        c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]
        for c in nb.cells
        if "nbgrader" in c.metadata
    }


def test_answer_and_test_cells_carry_nbgrader_metadata():
    solution = _exercise_section(REPO / "solutions" / f"{NAME}.ipynb")
    exercises = find_exercises(REPO / "solutions" / f"{NAME}.ipynb")
    nb = nbgrader_notebook(solution, "a1")
    graded = _graded_cells(nb)
    tests = {k: v for k, v in graded.items() if v["grade"]}
    answers = {k: v for k, v in graded.items() if v["solution"]}
    assert set(tests) == {f"a1-test-{e}" for e in exercises if f"a1-test-{e}" in tests}
    assert len(tests) == len([e for e in exercises if f"a1-test-{e}" in tests]) >= 3
    assert all(v["locked"] and v["points"] > 0 and v["schema_version"] == 3 for v in tests.values())
    assert answers and all(not v["locked"] and not v["grade"] for v in answers.values())
    # every answer cell holds solution markers, every other code cell none
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            is_answer = cell.metadata.get("nbgrader", {}).get("solution", False)
            assert is_answer == ("# BEGIN SOLUTION" in cell.source)
    # a test cell follows the cell that checks its exercise, and ends with the points
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            exercise = meta["grade_id"].removeprefix("a1-test-")
            assert f"({exercise}" in nb.cells[i - 1].source
            assert cell.source.rstrip().endswith("_result.points")
    assert solution.cells[0].source == nb.cells[0].source  # the text stays the solution's


def test_usage_errors(tmp_path, capsys):
    assert main(["build", "--format", "nbgrader", "--root", str(REPO)]) == 2
    assert "needs --out" in capsys.readouterr().err
    assert main(["build", "--out", str(tmp_path), "--root", str(REPO)]) == 2
    assert "--out is for --format nbgrader" in capsys.readouterr().err


def _nbgrader(root: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARTIPHYS_STRICT_CHECKS"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    config = [
        f"--CourseDirectory.root={root}",
        f"--CourseDirectory.db_url=sqlite:///{root / 'gradebook.db'}",
        "--Execute.timeout=120",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, *config],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow
def test_nbgrader_autograde_gives_the_points_of_artiphys_grade(tmp_path, monkeypatch):
    pytest.importorskip("nbgrader")
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    solution = _exercise_section(REPO / "solutions" / f"{NAME}.ipynb")
    nbformat.write(solution, course / "solutions" / f"{NAME}.ipynb")
    root = tmp_path / "nbgrader"
    assert main(["build", "--format", "nbgrader", "--out", str(root), "--root", str(course)]) == 0
    _nbgrader(root, "generate_assignment", NAME, "--force")
    released = root / "release" / NAME / f"{NAME}.ipynb"
    assert "raise NotImplementedError()" in released.read_text(encoding="utf-8")

    source = nbformat.read(root / "source" / NAME / f"{NAME}.ipynb", as_version=4)
    correct = nbformat.from_dict(source)
    wrong = nbformat.from_dict(source)  # forgets the dilation in output_size; rf_step crashes
    for cell in wrong.cells:
        if "def output_size" in cell.source:
            assert "2 * padding - k_eff" in cell.source
            cell.source = cell.source.replace("2 * padding - k_eff", "2 * padding - kernel_size")
        if "def rf_step" in cell.source:
            cell.source = cell.source.replace("# BEGIN SOLUTION", "# BEGIN SOLUTION\n    1 / 0", 1)
    folder = tmp_path / "submissions"
    folder.mkdir()
    for student, nb in {"correct": correct, "wrong": wrong}.items():
        target = root / "submitted" / student / NAME / f"{NAME}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
        nbformat.write(nb, folder / f"{student}.ipynb")
    _nbgrader(root, "autograde", NAME, "--create", "--force")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        nbgrader_points = {
            (student, grade.name.removeprefix(f"{NAME}-test-")): grade.score
            for student in ("correct", "wrong")
            for grade in gradebook.find_submission_notebook(NAME, NAME, student).grades
            if grade.name.startswith(f"{NAME}-test-")
        }
    monkeypatch.delenv("ARTIPHYS_STRICT_CHECKS", raising=False)
    ours = {
        (g.student, g.exercise): g.points
        for g in grade_folder(folder, course / "solutions" / f"{NAME}.ipynb", timeout=60)
    }
    assert nbgrader_points == pytest.approx(ours)
    assert ours["correct", "output_size"] > 0 and ours["wrong", "rf_step"] == 0
    # rf_of_stack is right; only the rf_step it calls is wrong: the blame goes there, in both
    assert ours["wrong", "rf_of_stack"] == ours["correct", "rf_of_stack"] > 0
    assert 0 < ours["wrong", "output_size"] < ours["correct", "output_size"]
