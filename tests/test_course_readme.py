"""course.readme: the notebook table rendered from notebook metadata."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from artiphys_course.course.authoring import student_notebook
from artiphys_course.course.readme import (
    format_minutes,
    notebook_entries,
    notebook_table,
    update_readme,
)


def write(folder: Path, name: str, **facts) -> None:
    nb = new_notebook(cells=[new_markdown_cell("# title")])
    nb.metadata["artiphys"] = facts
    nbformat.write(nb, folder / name)


@pytest.mark.parametrize(
    ("minutes", "text"), [(5, "5 min"), (45, "45 min"), (60, "1 h"), (75, "1 h 15 min")]
)
def test_format_minutes(minutes, text):
    assert format_minutes(minutes) == text


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "45"])
def test_format_minutes_rejects_non_positive_integers(bad):
    with pytest.raises(ValueError, match="minutes must be a positive integer"):
        format_minutes(bad)


def test_table_rows_follow_metadata_in_file_order(tmp_path):
    write(tmp_path, "01_b.ipynb", title="B", topic="second", minutes=90)
    write(tmp_path, "00_a.ipynb", title="A", topic="first", minutes=20)
    table = notebook_table(tmp_path)
    lines = table.splitlines()
    assert lines[2].startswith("| 00 | [A](notebooks/00_a.ipynb) | first | 20 min | [![Colab]")
    assert "labpath=notebooks%2F00_a.ipynb" in lines[2]
    assert lines[3].startswith("| 01 | [B](notebooks/01_b.ipynb) | second | 1 h 30 min |")
    assert lines[-1] == "In all about 1 h 50 min of work."
    assert [e.minutes for e in notebook_entries(tmp_path)] == [20, 90]


def test_missing_metadata_names_the_notebook_and_key(tmp_path):
    write(tmp_path, "00_a.ipynb", title="A", minutes=20)
    with pytest.raises(ValueError, match=r"00_a.ipynb.*topic"):
        notebook_table(tmp_path)
    write(tmp_path, "00_a.ipynb", title="A", topic="t", minutes=0)
    with pytest.raises(ValueError, match=r"00_a.ipynb.*minutes"):
        notebook_table(tmp_path)


def test_update_readme_replaces_only_the_table(tmp_path):
    write(tmp_path, "00_a.ipynb", title="A", topic="first", minutes=20)
    old = notebook_table(tmp_path)
    readme = f"# Course\n\n{old}\n\nText after.\n"
    write(tmp_path, "00_a.ipynb", title="A", topic="first", minutes=35)
    updated = update_readme(readme, tmp_path)
    assert updated == f"# Course\n\n{notebook_table(tmp_path)}\n\nText after.\n"
    assert "35 min" in updated and "20 min" not in updated
    assert update_readme(updated, tmp_path) == updated


def test_update_readme_without_a_table_is_an_error(tmp_path):
    write(tmp_path, "00_a.ipynb", title="A", topic="first", minutes=20)
    with pytest.raises(ValueError, match="readme has no notebook table"):
        update_readme("# nothing here\n", tmp_path)


def test_student_notebook_keeps_the_solution_facts():
    nb = new_notebook(cells=[new_markdown_cell("# title")])
    nb.metadata["artiphys"] = {"title": "A", "topic": "t", "minutes": 20}
    student, _ = student_notebook(nb, "notebooks/00_a.ipynb", "solutions/00_a.ipynb")
    assert student.metadata["artiphys"]["minutes"] == 20
    assert student.metadata["artiphys"]["solution"] == "solutions/00_a.ipynb"
