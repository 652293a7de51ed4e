"""Test configuration for the whole repository: tests/ and nbval on solutions/.

Exercise checks are strict here: a wrong answer raises instead of showing a hint, so a broken
solution or reference fails the run (the kernels nbval starts inherit the setting). Fixtures for
real data copies and an empty offline cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent

os.environ["ARTIPHYS_STRICT_CHECKS"] = "1"

# pytest-xdist workers share the cores: each worker (and every notebook kernel it starts, which
# inherits this environment) gets its share of threads, as `artiphys run` gives its kernels.
# Oversubscribed OpenMP threads spin and wait on each other: one notebook cell took 296 s instead
# of 33 s with 2 workers x 2 threads.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    from artiphys_course.course.execution import kernel_env

    os.environ["OMP_NUM_THREADS"] = kernel_env(_WORKERS)["OMP_NUM_THREADS"]


def shared_data_dir() -> Path | None:
    """The real data copies (``ARTIPHYS_SHARED_DATA`` or ``../shared/data``), if present."""
    env = os.environ.get("ARTIPHYS_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    """Path to the real data copies; the test is skipped when they are absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("real data copies (../shared/data) are not present")
    return path


@pytest.fixture
def lenient(monkeypatch) -> None:
    """Exercise checks report wrong answers instead of raising (the repository runs them strict)."""
    from artiphys_course.checks import STRICT_ENV

    monkeypatch.delenv(STRICT_ENV, raising=False)


@pytest.fixture
def tmp_data_dir(tmp_path, monkeypatch) -> Path:
    """An empty ARTIPHYS_DATA_DIR, offline, for tests that touch the cache."""
    monkeypatch.setenv("ARTIPHYS_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ARTIPHYS_OFFLINE", "1")
    return tmp_path / "cache"
