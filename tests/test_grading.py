"""``artiphys grade``: a class's submissions of notebook 02's exercises, graded end to end.

The folder holds a correct, a partly wrong, a crashing, a looping, an empty (student version) and
a cheating (calls the package's reference) submission. To keep the run short, every notebook is
cut after notebook 02's exercise section (its imports and three exercises with their checks).
"""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import nbformat
import pytest

from artiphys_course.course.cli import main
from artiphys_course.course.grading import find_exercises, references

REPO = Path(__file__).resolve().parents[1]
NAME = "02_receptive_field_math.ipynb"
EXERCISES = ["rf_step", "output_size", "rf_of_stack"]
TIMEOUT = 20  # the imports of notebook 02 take a few seconds on a busy 2-core machine


def _exercise_section(path: Path) -> nbformat.NotebookNode:
    """The notebook up to (and with) its ``check_rf_of_stack`` cell."""
    nb = nbformat.read(path, as_version=4)
    last = next(i for i, c in enumerate(nb.cells) if "check_rf_of_stack" in c.source)
    nb.cells = nb.cells[: last + 1]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _index(nb: nbformat.NotebookNode, text: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and text in c.source)


def _edit(nb: nbformat.NotebookNode, text: str, old: str, new: str) -> None:
    cell = nb.cells[_index(nb, text)]
    assert old in cell.source, f"{old!r} not in the cell defining {text!r}"
    cell.source = cell.source.replace(old, new)


def _insert_after(nb: nbformat.NotebookNode, text: str, source: str) -> None:
    nb.cells.insert(_index(nb, text) + 1, nbformat.v4.new_code_cell(source))


def _submissions(root: Path) -> Path:
    solution = _exercise_section(REPO / "solutions" / NAME)
    (root / "course" / "solutions").mkdir(parents=True)
    nbformat.write(solution, root / "course" / "solutions" / NAME)
    folder = root / "submissions"
    folder.mkdir()
    nbformat.write(solution, folder / "correct.ipynb")
    nbformat.write(_exercise_section(REPO / "notebooks" / NAME), folder / "empty.ipynb")

    wrong = nbformat.from_dict(solution)  # forgets the dilation, and prints 10 MB
    _edit(wrong, "def output_size", "2 * padding - k_eff", "2 * padding - kernel_size")
    _insert_after(wrong, "def output_size", "print('x' * 10_000_000)")
    nbformat.write(wrong, folder / "partly_wrong.ipynb")

    crashing = nbformat.from_dict(solution)
    _insert_after(crashing, "def rf_step", "raise RuntimeError('a crash at top level')")
    _edit(crashing, "def output_size", "k_eff = ", "raise ValueError('oops')\n    k_eff = ")
    _edit(crashing, "def rf_of_stack", "def rf_of_stack", "undefined_name\n\n\ndef rf_of_stack")
    nbformat.write(crashing, folder / "crashing.ipynb")

    looping = nbformat.from_dict(solution)  # also writes to ~ and to its working folder
    _insert_after(looping, "def rf_step", "while True:\n    pass")
    _insert_after(
        looping,
        "def output_size",
        "from pathlib import Path\n"
        "Path('~/escaped.txt').expanduser().write_text('x')\n"
        "Path('written.txt').write_text('x')",
    )
    nbformat.write(looping, folder / "looping.ipynb")

    cheating = nbformat.from_dict(solution)
    _edit(
        cheating,
        "def output_size",
        "k_eff = ",
        "from artiphys_course.receptive_fields import conv_output_size\n\n"
        "    return conv_output_size(n, kernel_size, stride, padding, dilation)\n    k_eff = ",
    )
    nbformat.write(cheating, folder / "cheating.ipynb")
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[dict[tuple[str, str], dict[str, str]], str, Path]:
    """Run ``artiphys grade`` once: (student, exercise) -> CSV row, the terminal output, home."""
    root = tmp_path_factory.mktemp("grading")
    folder = _submissions(root)
    home = root / "instructor-home"
    home.mkdir()
    out = root / "grades.csv"
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout):
        mp.setenv("HOME", str(home))
        argv = ["grade", str(folder), "--notebook", "02", "--out", str(out)]
        status = main([*argv, "--timeout", str(TIMEOUT), "--root", str(root / "course")])
    assert status == 0, stdout.getvalue()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{s}.ipynb"
        for s in ("correct", "empty", "partly_wrong", "crashing", "looping", "cheating")
    ), "the submissions folder holds only the submissions"
    with out.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["student", "exercise", "points", "max_points", "message"]
        rows = {(r["student"], r["exercise"]): r for r in reader}
    return rows, stdout.getvalue(), home


def _points(rows, student: str) -> dict[str, float]:
    return {e: float(rows[student, e]["points"]) for e in EXERCISES}


def _full(rows, student: str, exercise: str) -> bool:
    row = rows[student, exercise]
    return float(row["points"]) == float(row["max_points"]) > 0


@pytest.mark.slow
def test_correct_gets_full_points_and_empty_gets_nothing(graded):
    rows, terminal, _ = graded
    assert all(_full(rows, "correct", e) for e in EXERCISES)
    assert _points(rows, "empty") == dict.fromkeys(EXERCISES, 0.0)
    assert all("not implemented" in rows["empty", e]["message"] for e in EXERCISES)
    assert {s for s, _ in rows} == {
        "correct",
        "empty",
        "partly_wrong",
        "crashing",
        "looping",
        "cheating",
    }
    summary = {line.split()[0]: line.split()[1:] for line in terminal.splitlines() if line}
    assert summary["correct"] == ["3.00", "3"] and summary["empty"] == ["0.00", "3"]
    # one progress line per student as their grading ends (several may be graded at once)
    progress = [line for line in terminal.splitlines() if line.startswith("[")]
    assert sorted(line.split("]")[0] for line in progress) == [f"[{k}/6" for k in range(1, 7)]
    assert any(line.endswith("] correct: 3 of 3 points") for line in progress)


@pytest.mark.slow
def test_a_wrong_or_crashing_exercise_costs_only_itself(graded):
    rows, _, _ = graded
    assert _full(rows, "partly_wrong", "rf_step") and _full(rows, "partly_wrong", "rf_of_stack")
    assert float(rows["partly_wrong", "output_size"]["points"]) < 1
    assert "output_size" in rows["partly_wrong", "output_size"]["message"]
    # a crash at top level costs nothing; a raising exercise and a crashed definition cost theirs
    assert _full(rows, "crashing", "rf_step")
    assert _points(rows, "crashing")["output_size"] == 0
    assert "ValueError: oops" in rows["crashing", "output_size"]["message"]
    assert _points(rows, "crashing")["rf_of_stack"] == 0
    assert "its cell raised NameError" in rows["crashing", "rf_of_stack"]["message"]


@pytest.mark.slow
def test_an_endless_cell_is_interrupted_and_writes_stay_in_the_temporary_folder(graded):
    rows, _, home = graded
    assert all(_full(rows, "looping", e) for e in EXERCISES)
    assert not list(home.rglob("escaped.txt")), "~ of a submission is not the instructor's home"


@pytest.mark.slow
def test_calling_the_reference_scores_zero(graded):
    rows, _, _ = graded
    assert _points(rows, "cheating")["output_size"] == 0
    # the check's own `forbidden` list catches the call before the grader's disabled stub
    assert "calls the package's `conv_output_size`" in rows["cheating", "output_size"]["message"]
    assert _full(rows, "cheating", "rf_step") and _full(rows, "cheating", "rf_of_stack")


def test_exercises_and_the_references_their_checks_use():
    exercises = find_exercises(REPO / "solutions" / NAME)
    assert list(exercises) == [
        *EXERCISES,
        "network_rf_table",
    ]  # the graded section ends before network_rf_table
    from artiphys_course.checks.receptive_fields import check_output_size, check_rf_of_stack

    assert exercises["output_size"] == "artiphys_course.checks.receptive_fields:check_output_size"
    assert references(check_output_size) == ["artiphys_course.receptive_fields:conv_output_size"]
    # found through the check module's helper (_stack_reference) and its fallback
    assert references(check_rf_of_stack) == [
        "artiphys_course.receptive_fields:receptive_field_table"
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grade", "no/such/folder", "--notebook", "02"], "does not exist"),
        (["grade", ".", "--notebook", "99"], "no notebook '99'"),
    ],
)
def test_usage_errors_exit_non_zero_with_a_message(argv, message, capsys):
    assert main([*argv, "--root", str(REPO)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("artiphys: ") and message in err


def test_outputs_are_capped_per_cell():
    import nbclient

    from artiphys_course.course.grading import _capped_client

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("for _ in range(100):\n    print('x' * 10_000, flush=True)"),
        nbformat.v4.new_code_cell("print('small')"),
    ]
    _capped_client(nbclient, 50_000)(nb, timeout=60, kernel_name="python3").execute()
    big = "".join(out.get("text", "") for out in nb.cells[0].outputs)
    assert 0 < len(big) < 60_000 and "output truncated at 50000 chars" in big
    assert nb.cells[1].outputs[0]["text"] == "small\n"
