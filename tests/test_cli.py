"""The `artiphys` command and headless notebook execution."""

from __future__ import annotations

import nbformat
import pytest

from artiphys_course.cli import main
from artiphys_course.execution import NotebookRun, find_notebooks, format_runs, run_notebook


def _write(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def test_run_notebook_ok_and_failure(tmp_path):
    good = _write(tmp_path / "01_good.ipynb", "x = 21 * 2", "print(x)")
    bad = _write(tmp_path / "02_bad.ipynb", "raise ValueError('boom')")
    run = run_notebook(good, save=True)
    assert run.ok
    assert nbformat.read(good, as_version=4).cells[1].outputs[0]["text"] == "42\n"
    failed = run_notebook(bad)
    assert not failed.ok and "boom" in failed.error
    assert not nbformat.read(bad, as_version=4).cells[0].outputs, "failed run must not save"
    table = format_runs([run, failed])
    assert "01_good.ipynb" in table and "failed" in table and "1 failed" in table


def test_find_notebooks_by_prefix_stem_and_error(tmp_path):
    for name in ("00_start.ipynb", "01_bars.ipynb"):
        _write(tmp_path / name, "1")
    assert [p.name for p in find_notebooks(tmp_path)] == ["00_start.ipynb", "01_bars.ipynb"]
    assert [p.name for p in find_notebooks(tmp_path, ["01"])] == ["01_bars.ipynb"]
    assert [p.name for p in find_notebooks(tmp_path, ["00_start"])] == ["00_start.ipynb"]
    with pytest.raises(FileNotFoundError, match="available"):
        find_notebooks(tmp_path, ["07"])


def test_cli_run_reports_table_and_exit_code(tmp_path, monkeypatch, capsys):
    (tmp_path / "solutions").mkdir()
    _write(tmp_path / "solutions" / "00_ok.ipynb", "print('fine')")
    _write(tmp_path / "solutions" / "01_fail.ipynb", "1 / 0")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "00"]) == 0
    assert main(["run"]) == 1
    out = capsys.readouterr().out
    assert "ZeroDivisionError" in out and "2 notebooks, 1 failed" in out
    assert main(["run", "nope"]) == 2


def test_cli_build_check(tmp_path, monkeypatch):
    (tmp_path / "solutions").mkdir()
    _write(
        tmp_path / "solutions" / "00_demo.ipynb",
        "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION",
    )
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--check"]) == 1
    assert main(["build"]) == 0
    assert main(["build", "--check"]) == 0
    assert "Exercise: f" in (tmp_path / "notebooks" / "00_demo.ipynb").read_text()


def test_notebook_run_dataclass():
    assert NotebookRun("a", "ok", 1.0).ok and not NotebookRun("a", "failed", 1.0, "x").ok
