"""Student notebooks (exercises unsolved) must run top to bottom."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from artiphys_course.course.execution import run_notebook

REPO = Path(__file__).resolve().parents[1]
STUDENT = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", STUDENT, ids=[p.stem for p in STUDENT])
def test_student_notebook_runs_end_to_end(path, tmp_path):
    copy = tmp_path / path.name  # never write outputs into the repository
    copy.write_bytes(path.read_bytes())
    run = run_notebook(copy, save=True)
    assert run.ok, f"{path.name} failed: {run.error}"
    nb = nbformat.read(copy, as_version=4)
    text = "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", []))
    n_exercises = sum(
        cell.source.count('raise NotImplementedError("Exercise:')
        for cell in nb.cells
        if cell.cell_type == "code"
    )
    if n_exercises:
        assert "not implemented yet" in text, "exercise checks must report unsolved exercises"
