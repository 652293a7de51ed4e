"""The `artiphys` command and headless notebook execution."""

from __future__ import annotations

import sys

import nbformat
import pytest

from artiphys_course.course.cli import main
from artiphys_course.course.execution import NotebookRun, find_notebooks, format_runs, run_notebook


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
    assert run.peak_mb is not None and 20 < run.peak_mb < 100_000, "kernel peak RSS in MiB"
    table = format_runs([run, failed])
    assert "01_good.ipynb" in table and "failed" in table and "1 failed" in table
    assert "peak MiB" in table and f"{run.peak_mb:.0f}" in table


def test_run_hides_the_tcp_warning_but_passes_other_kernel_stderr(tmp_path, capfd):
    nb = _write(
        tmp_path / "00_log.ipynb",
        "import os\nos.write(2, b'kernel says hello\\n')",
    )
    assert run_notebook(nb).ok
    err = capfd.readouterr().err
    assert "kernel says hello" in err
    assert "without encryption" not in err


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
    assert "[1/2] 00_ok.ipynb: ok in" in out and "[2/2] 01_fail.ipynb: failed in" in out
    assert main(["run", "nope"]) == 2


def test_cli_refuses_a_folder_without_solutions(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) != 0
    assert main(["run"]) != 0
    err = capsys.readouterr().err
    assert err.count("artiphys: ") == 2 and "has no 'solutions/' folder" in err
    assert list(tmp_path.iterdir()) == [], "nothing may be written outside a course checkout"


def test_cli_build_root_prune_and_a_students_copy(tmp_path, monkeypatch, capsys):
    root = tmp_path / "course"
    (root / "solutions").mkdir(parents=True)
    _write(root / "solutions" / "01_bar_mapping.ipynb", "x = 1")
    _write(root / "solutions" / "02_old.ipynb", "y = 2")
    monkeypatch.chdir(tmp_path)  # not a checkout: --root says where
    assert main(["build", "--root", str(root)]) == 0
    notebooks = root / "notebooks"
    copy = notebooks / "01_bar_mapping-Copy1.ipynb"
    copy.write_bytes((notebooks / "01_bar_mapping.ipynb").read_bytes())
    (root / "solutions" / "02_old.ipynb").unlink()
    capsys.readouterr()
    assert main(["build", "--root", str(root)]) == 0
    assert "02_old.ipynb" in capsys.readouterr().out and (notebooks / "02_old.ipynb").exists()
    assert main(["build", "--prune", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "02_old.ipynb" in out and "removed" in out
    assert sorted(p.name for p in notebooks.iterdir()) == [
        "01_bar_mapping-Copy1.ipynb",
        "01_bar_mapping.ipynb",
    ]


def test_cli_authoring_error_names_notebook_and_cell_without_traceback(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "solutions").mkdir()
    _write(tmp_path / "solutions" / "00_fine.ipynb", "x = 1")
    _write(tmp_path / "solutions" / "01_bad.ipynb", "x = 1", "def f():\n    # END SOLUTION")
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("artiphys: ") and "01_bad.ipynb: cell 1, line 2" in err
    assert "Traceback" not in err
    assert not (tmp_path / "notebooks").exists()


def test_course_tools_say_how_to_install_the_extra(tmp_path, monkeypatch, capsys):
    (tmp_path / "solutions").mkdir()
    _write(tmp_path / "solutions" / "00_demo.ipynb", "x = 1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "nbformat", None)  # as if not installed
    assert main(["build"]) == 1
    assert "pip install 'artiphys-course[course]'" in capsys.readouterr().err


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


def test_doctor_reports_a_bad_environment_instead_of_crashing(tmp_data_dir, monkeypatch, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    monkeypatch.setenv("ARTIPHYS_DEVICE", "cuda")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "device        BROKEN" in out and "ARTIPHYS_DEVICE" in out.split("PROBLEMS:")[1]
    monkeypatch.delenv("ARTIPHYS_DEVICE")
    a_file = tmp_data_dir.parent / "not-a-folder"
    a_file.write_text("x")
    monkeypatch.setenv("ARTIPHYS_DATA_DIR", str(a_file))
    assert main(["doctor"]) == 1
    assert "ARTIPHYS_DATA_DIR cannot be used" in capsys.readouterr().out


def test_doctor_says_per_network_which_weights_a_notebook_gets(tmp_data_dir, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_data_dir.parent / "torch"))
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    rows = out.split("pretrained networks")[1]
    for network in ("alexnet", "vgg16", "resnet18"):
        assert network in rows
    assert "UNTRAINED" in rows  # offline, nothing cached: said loudly


def test_fetch_from_a_folder_without_usable_copies_fails(tmp_data_dir, tmp_path, capsys):
    empty = tmp_path / "usb"
    empty.mkdir()
    (empty / "alexnet_conv1-3_torchvision_imagenet.pth").write_bytes(b"not the file")
    with pytest.warns(UserWarning):
        assert main(["fetch", "--from", str(empty)]) == 1
    assert "no usable copy" in capsys.readouterr().err
