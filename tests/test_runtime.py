"""Device choice, seeding and the cache folder."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch

from artiphys_course import runtime


def test_seed_everything_reproduces_numpy_and_torch():
    g = runtime.seed_everything(123)
    a = (np.random.rand(3), torch.rand(3), torch.rand(3, generator=g))  # noqa: NPY002
    g = runtime.seed_everything(123)
    b = (np.random.rand(3), torch.rand(3), torch.rand(3, generator=g))  # noqa: NPY002
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])
    runtime.seed_everything(124)
    assert not torch.equal(torch.rand(3), b[1])


def test_get_device_defaults_and_errors(monkeypatch):
    monkeypatch.delenv("ARTIPHYS_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    device = runtime.get_device()
    if expected:
        assert device.type == expected
    assert runtime.get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("ARTIPHYS_DEVICE", "cpu")
    assert runtime.get_device() == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="not available"):
            runtime.get_device("cuda")


def test_data_dir_and_offline_follow_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIPHYS_DATA_DIR", str(tmp_path / "x"))
    assert runtime.data_dir() == tmp_path / "x" and (tmp_path / "x").is_dir()
    for value, expected in [("1", True), ("yes", True), ("0", False), ("", False)]:
        monkeypatch.setenv("ARTIPHYS_OFFLINE", value)
        assert runtime.offline() is expected


def test_progress_bar_can_be_turned_off(capsys):
    assert list(runtime.progress_bar(range(3), progress=False)) == [0, 1, 2]
    assert list(runtime.progress_bar(range(3), progress=True)) == [0, 1, 2]
    assert capsys.readouterr().out == ""


def test_seeded_block_is_reproducible_and_leaves_caller_rng_untouched():
    runtime.seed_everything(5)
    expected = (random.random(), np.random.rand(), torch.rand(2))  # noqa: NPY002
    runtime.seed_everything(5)
    with runtime.seeded(11) as g:
        inside = (random.random(), np.random.rand(), torch.rand(2), torch.rand(2, generator=g))  # noqa: NPY002
    after = (random.random(), np.random.rand(), torch.rand(2))  # noqa: NPY002
    assert after[0] == expected[0] and after[1] == expected[1]
    assert torch.equal(after[2], expected[2])
    with runtime.seeded(11) as g:
        again = (random.random(), np.random.rand(), torch.rand(2), torch.rand(2, generator=g))  # noqa: NPY002
    assert inside[:2] == again[:2]
    assert torch.equal(inside[2], again[2]) and torch.equal(inside[3], again[3])


@pytest.mark.parametrize("bad", [None, 1.5, "3", True])
def test_seeded_rejects_non_integer_seeds(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        with runtime.seeded(bad):
            pass


def test_notice_is_a_filterable_course_warning():
    with pytest.warns(runtime.ArtiphysWarning, match="stand-in"):
        runtime.notice("simulated stand-in used")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", runtime.ArtiphysWarning)
        runtime.notice("silenced")
