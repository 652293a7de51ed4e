"""The `artiphys` command and headless notebook execution."""

from __future__ import annotations

import sys

import nbformat
import pytest

from artiphys_course.course import execution
from artiphys_course.course.cli import main
from artiphys_course.course.execution import (
    NotebookRun,
    default_n_jobs,
    find_notebooks,
    format_runs,
    run_notebook,
    run_notebooks,
    stored_seconds,
)


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
    assert "[1/1] 00_ok.ipynb: ok in" in out and "[2/2] " in out
    assert "01_fail.ipynb: failed in" in out
    assert main(["run", "nope"]) == 2
    for bad in ("0", "two"):
        with pytest.raises(SystemExit) as exit_:
            main(["run", "--jobs", bad])
        assert exit_.value.code == 2
        assert "--jobs: must be a whole number, 1 or more" in capsys.readouterr().err


def _timed(path, *seconds_per_cell):
    """A notebook whose stored execution timestamps say each cell took the given seconds."""
    nb = nbformat.read(path, as_version=4)
    clock = 0.0
    for cell, seconds in zip(nb.cells, seconds_per_cell, strict=True):
        start, clock = clock, clock + seconds
        cell.metadata["execution"] = {
            "iopub.status.busy": f"2026-12-01T10:00:{start:09.6f}Z",
            "iopub.status.idle": f"2026-12-01T10:00:{clock:09.6f}Z",
        }
    nbformat.write(nb, path)
    return path


def test_stored_seconds_reads_the_cells_timestamps(tmp_path):
    nb = _timed(_write(tmp_path / "a.ipynb", "1", "2", "3"), 1.5, 0.25, 2.0)
    assert stored_seconds(nb) == pytest.approx(3.75)
    assert stored_seconds(_write(tmp_path / "b.ipynb", "1")) == 0.0


def test_run_notebooks_runs_them_at_once_with_a_share_of_the_cores(tmp_path, monkeypatch):
    # Each notebook waits for the other's flag file: they can only both finish if they run at once.
    wait = (
        "import os, pathlib, time\n"
        "pathlib.Path('{me}.flag').touch()\n"
        "deadline = time.time() + 60\n"
        "while not pathlib.Path('{other}.flag').exists():\n"
        "    assert time.time() < deadline, 'ran alone'\n"
        "    time.sleep(0.05)\n"
        "print(os.environ['OMP_NUM_THREADS'])"
    )
    a = _write(tmp_path / "a.ipynb", wait.format(me="a", other="b"))
    b = _write(tmp_path / "b.ipynb", wait.format(me="b", other="a"))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(execution, "_cores", lambda: 4)
    finished = []
    runs = run_notebooks([a, b], n_jobs=2, save=True, on_done=finished.append)
    assert [r.notebook for r in runs] == ["a.ipynb", "b.ipynb"] and all(r.ok for r in runs)
    assert sorted(r.notebook for r in finished) == ["a.ipynb", "b.ipynb"]
    for path in (a, b):
        assert nbformat.read(path, as_version=4).cells[0].outputs[0]["text"] == "2\n"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the caller's setting wins
    c = _write(tmp_path / "c.ipynb", "import os\nprint(os.environ['OMP_NUM_THREADS'])")
    run_notebooks([c], n_jobs=2, save=True)
    assert nbformat.read(c, as_version=4).cells[0].outputs[0]["text"] == "3\n"
    with pytest.raises(ValueError, match="n_jobs must be"):
        run_notebooks([c], n_jobs=0)


def test_run_notebooks_starts_the_longest_first(tmp_path):
    log = tmp_path / "started.txt"
    cell = f"open({str(log)!r}, 'a').write('{{}}\\n')\nimport time\ntime.sleep(1)"
    short = _timed(_write(tmp_path / "short.ipynb", cell.format("short")), 1.0)
    middle = _timed(_write(tmp_path / "middle.ipynb", cell.format("middle")), 5.0)
    long = _timed(_write(tmp_path / "long.ipynb", cell.format("long")), 10.0)
    runs = run_notebooks([short, middle, long], n_jobs=2)
    assert [r.notebook for r in runs] == ["short.ipynb", "middle.ipynb", "long.ipynb"]
    assert log.read_text().split()[-1] == "short", "the shortest starts when a worker is free"


def test_at_once_keeps_the_order_and_stops_starting_work_after_an_error():
    import threading
    import time

    started, lock = [], threading.Lock()

    def work(item):
        with lock:
            started.append(item)
        if item == "bad":
            raise RuntimeError("boom")
        time.sleep(0.2)
        return item.upper()

    assert execution.at_once(work, ["a", "b", "c"], 2) == ["A", "B", "C"]
    started.clear()
    with pytest.raises(RuntimeError, match="boom"):
        execution.at_once(work, ["bad", *"defghij"], 2)
    assert len(started) < 8, "the calls not yet started are dropped"


@pytest.mark.parametrize(
    ("cores", "available_mb", "n_notebooks", "expected"),
    [
        (2, 24_000, 11, 2),  # this course's CI machine
        (2, 1_900, 11, 1),  # a 2 GB Binder session: one kernel at a time
        (16, 24_000, 11, 11),  # memory allows 11 kernels
        (16, 10_000, 11, 4),  # memory allows 4
        (16, None, 3, 3),  # memory unknown: one per core, at most one per notebook
    ],
)
def test_default_jobs_one_per_core_as_memory_allows(
    monkeypatch, cores, available_mb, n_notebooks, expected
):
    monkeypatch.setattr(execution, "_cores", lambda: cores)
    monkeypatch.setattr(execution, "_available_mb", lambda: available_mb)
    assert default_n_jobs(n_notebooks) == expected


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
