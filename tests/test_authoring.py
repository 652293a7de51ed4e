"""Single-source notebooks: solution -> student conversion and the sync of notebooks/."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from artiphys_course.course.authoring import (
    AuthoringError,
    build_notebooks,
    is_generated,
    strip_solutions,
    student_notebook,
)

REPO = Path(__file__).resolve().parents[1]

SOLVED = '''\
import numpy as np


def preferred(responses, angles):
    """Angle of the largest response."""
    # BEGIN SOLUTION
    best = np.argmax(responses)
    return angles[best]
    # END SOLUTION


class Model:
    def forward(self, x):
        # BEGIN SOLUTION
        return 2 * x
        # END SOLUTION
'''


def test_strip_replaces_each_block_at_its_indentation():
    student, names = strip_solutions(SOLVED)
    assert names == ["preferred", "forward"]
    assert "argmax" not in student and "2 * x" not in student
    assert '    raise NotImplementedError("Exercise: preferred")' in student.splitlines()
    assert '        raise NotImplementedError("Exercise: forward")' in student.splitlines()
    ast.parse(student)  # still valid Python
    namespace: dict = {}
    exec(compile(student, "student", "exec"), namespace)  # noqa: S102 - our own test source
    with pytest.raises(NotImplementedError, match="Exercise: preferred"):
        namespace["preferred"]([1, 2], [0, 90])


def test_strip_keeps_code_without_markers_and_marker_text_inside_strings():
    code = 'text = "# BEGIN SOLUTION"\nx = 1  # BEGIN SOLUTION\n'
    assert strip_solutions(code) == (code, [])


def test_nested_def_belongs_to_innermost_function():
    code = (
        "def outer():\n    def inner():\n"
        "        # BEGIN SOLUTION\n        pass\n        # END SOLUTION\n"
    )
    student, names = strip_solutions(code)
    assert names == ["inner"]


def test_def_ended_by_dedented_statement():
    code = (
        "def f():\n    pass\nfor i in range(2):\n"
        "    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n"
    )
    with pytest.raises(AuthoringError, match="inside a function body"):
        strip_solutions(code)


def test_a_signature_over_several_lines_keeps_its_def_open():
    code = (
        "def f(\n    a, b, *, c=1\n) -> int:\n"
        "    # BEGIN SOLUTION\n    return a\n    # END SOLUTION\n"
    )
    student, names = strip_solutions(code)
    assert names == ["f"] and 'raise NotImplementedError("Exercise: f")' in student


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("def f():\n    # BEGIN SOLUTION\n    pass\n", "never closed"),
        ("def f():\n    pass\n    # END SOLUTION\n", "without"),
        ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    # END SOLUTION\n", "nested"),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "inside a function body"),
    ],
)
def test_malformed_markers_raise(code, message):
    with pytest.raises(AuthoringError, match=message):
        strip_solutions(code)


def _solution_nb() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\nObjectives."),
        nbformat.v4.new_code_cell(
            SOLVED, execution_count=3, outputs=[nbformat.v4.new_output("stream", text="hi")]
        ),
    ]
    return nb


def test_student_notebook_clears_outputs_and_adds_colab_cells():
    solution = _solution_nb()
    student, n = student_notebook(solution, "notebooks/x.ipynb")
    assert n == 2
    assert solution.cells[1].outputs, "the solution must not be modified"
    assert [c.get("id") for c in student.cells[:3]][0] == "colab-badge"
    assert "colab.research.google.com/github/" in student.cells[0].source
    assert "notebooks/x.ipynb" in student.cells[0].source
    assert student.cells[1].source.startswith("# Title")  # title stays right after the badge
    assert student.cells[2]["id"] == "colab-install" and "google.colab" in student.cells[2].source
    code = [c for c in student.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    nbformat.validate(student)


def _statuses(reports):
    return {r.student.name: r.status for r in reports}


def test_build_is_idempotent_and_check_detects_stale(tmp_path):
    sol, out = tmp_path / "solutions", tmp_path / "notebooks"
    sol.mkdir()
    nbformat.write(_solution_nb(), sol / "01_demo.ipynb")
    assert _statuses(build_notebooks(sol, out, check=True)) == {"01_demo.ipynb": "stale"}
    assert not out.exists(), "check must not write"
    assert _statuses(build_notebooks(sol, out)) == {"01_demo.ipynb": "written"}
    assert _statuses(build_notebooks(sol, out)) == {"01_demo.ipynb": "up to date"}
    assert _statuses(build_notebooks(sol, out, check=True)) == {"01_demo.ipynb": "up to date"}
    student = nbformat.read(out / "01_demo.ipynb", as_version=4)
    assert is_generated(student)
    assert student.metadata["artiphys"]["solution"] == "solutions/01_demo.ipynb"


def test_build_overwrites_only_its_own_unedited_notebooks(tmp_path):
    sol, out = tmp_path / "solutions", tmp_path / "notebooks"
    sol.mkdir()
    nbformat.write(_solution_nb(), sol / "01_demo.ipynb")
    build_notebooks(sol, out)
    target = out / "01_demo.ipynb"
    # running the generated notebook (outputs, counts) is not an edit: it is regenerated
    ran = nbformat.read(target, as_version=4)
    ran.cells[-1].outputs = [nbformat.v4.new_output("stream", text="ran")]
    ran.cells[-1].execution_count = 1
    nbformat.write(ran, target)
    assert _statuses(build_notebooks(sol, out)) == {"01_demo.ipynb": "written"}
    # a student's edit of an exercise is kept
    edited = nbformat.read(target, as_version=4)
    edited.cells[-1].source += "\n# my answer"
    nbformat.write(edited, target)
    assert not is_generated(edited)
    assert _statuses(build_notebooks(sol, out)) == {"01_demo.ipynb": "kept"}
    assert "# my answer" in target.read_text()
    # so is a file without the marker, or one that is no notebook at all
    target.write_text("{}", encoding="utf-8")
    assert _statuses(build_notebooks(sol, out)) == {"01_demo.ipynb": "kept"}
    assert target.read_text() == "{}"


def test_prune_removes_only_generated_orphans_and_only_when_asked(tmp_path):
    sol, out = tmp_path / "solutions", tmp_path / "notebooks"
    sol.mkdir()
    nbformat.write(_solution_nb(), sol / "01_demo.ipynb")
    nbformat.write(_solution_nb(), sol / "02_gone.ipynb")
    build_notebooks(sol, out)
    (sol / "02_gone.ipynb").unlink()
    copy = out / "01_demo-Copy1.ipynb"  # Jupyter's duplicate: same content, same marker
    copy.write_bytes((out / "01_demo.ipynb").read_bytes())
    mine = out / "scratch.ipynb"
    nbformat.write(_solution_nb(), mine)
    reports = _statuses(build_notebooks(sol, out))
    assert reports == {"01_demo.ipynb": "up to date", "02_gone.ipynb": "orphan"}
    assert (out / "02_gone.ipynb").exists(), "no deletion without prune"
    assert _statuses(build_notebooks(sol, out, prune=True, check=True))["02_gone.ipynb"] == "orphan"
    assert (out / "02_gone.ipynb").exists(), "check deletes nothing"
    reports = _statuses(build_notebooks(sol, out, prune=True))
    assert reports == {"01_demo.ipynb": "up to date", "02_gone.ipynb": "removed"}
    assert not (out / "02_gone.ipynb").exists()
    assert copy.exists() and mine.exists()


def test_malformed_solution_writes_nothing_and_names_notebook_and_cell(tmp_path):
    sol, out = tmp_path / "solutions", tmp_path / "notebooks"
    sol.mkdir()
    nbformat.write(_solution_nb(), sol / "01_good.ipynb")
    bad = _solution_nb()
    bad.cells.append(nbformat.v4.new_code_cell("def f():\n    # BEGIN SOLUTION\n    return 1\n"))
    nbformat.write(bad, sol / "02_bad.ipynb")
    with pytest.raises(AuthoringError, match=r"02_bad\.ipynb: cell 2, line 2: .*never closed"):
        build_notebooks(sol, out)
    assert not out.exists(), "a malformed solution must stop the build before any write"
    (sol / "02_bad.ipynb").write_text("not json", encoding="utf-8")
    with pytest.raises(AuthoringError, match=r"02_bad\.ipynb: not a readable notebook"):
        build_notebooks(sol, out)
    assert not out.exists()


def test_student_notebooks_are_exactly_what_build_produces():
    reports = build_notebooks(REPO / "solutions", REPO / "notebooks", check=True)
    stale = [r.student.name for r in reports if r.status != "up to date"]
    assert not stale, f"notebooks/ is out of date, run `artiphys build`: {stale}"


def test_no_solution_code_leaks_into_student_notebooks():
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert "# BEGIN SOLUTION" not in cell.source, path.name
                assert not cell.outputs, path.name


def test_the_colab_install_cell_pins_the_version_the_notebooks_were_built_with():
    from artiphys_course import __repository__, __version__
    from artiphys_course.course.authoring import _INSTALL_SOURCE

    namespace = {}
    exec(_INSTALL_SOURCE, namespace)  # outside Colab it installs nothing
    assert namespace["REPOSITORY"] == __repository__
    assert namespace["REF"] == f"v{__version__}"
    assert "@{REPOSITORY}" not in _INSTALL_SOURCE and "@{REF}" in _INSTALL_SOURCE
