"""Stringer orientation loader: real file in the cache (md5-checked), simulated stand-in."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from scipy import stats

from artiphys_course.data import registry
from artiphys_course.data.registry import REGISTRY, DataUnavailableError, local_path, md5sum
from artiphys_course.data.stringer import (
    OrientationData,
    bin_orientations,
    load_stringer_orientations,
    zscore,
)
from artiphys_course.runtime import ArtiphysWarning

NAME = "stringer_orientations"


def synthetic_stringer_file(path, n_neurons=40, seed=0):
    """A small file like Neuromatch's: 1-degree bins over 0..359 degrees, tuned neurons."""
    rng = np.random.default_rng(seed)
    stimuli = np.arange(360, dtype=np.float64) + rng.uniform(0, 1, 360)
    preferred = rng.uniform(0, 180, n_neurons)
    delta = np.deg2rad(stimuli[:, None] - preferred)
    resp = np.exp(2 * (np.cos(2 * delta) - 1)) + 0.1 * rng.normal(size=(360, n_neurons))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, resp=stats.zscore(resp, axis=0).astype(np.float32), stimuli=stimuli)
    return resp.astype(np.float32), stimuli, preferred


@pytest.fixture
def real_file(tmp_data_dir, monkeypatch):
    """A synthetic file in the cache under the real name, registered with its md5."""
    path = local_path(NAME)
    resp, stimuli, preferred = synthetic_stringer_file(path)
    entry = dataclasses.replace(REGISTRY[NAME], md5=md5sum(path))
    monkeypatch.setitem(REGISTRY, NAME, entry)
    with np.load(path) as archive:
        return path, archive["resp"], archive["stimuli"], preferred


def test_bin_orientations_matches_scipy_binned_statistic():
    rng = np.random.default_rng(1)
    stimuli = rng.uniform(0, 360, 500)
    resp = rng.normal(size=(500, 3))
    binned, angles = bin_orientations(resp, stimuli, 7.5)
    edges = np.arange(0, 360 + 7.5, 7.5)
    for j in range(3):
        expected = stats.binned_statistic(stimuli, resp[:, j], "mean", bins=edges).statistic
        np.testing.assert_allclose(binned[:, j], expected[~np.isnan(expected)])
    expected = stats.binned_statistic(stimuli, stimuli, "mean", bins=edges).statistic
    np.testing.assert_allclose(angles, expected[~np.isnan(expected)])
    with pytest.raises(ValueError, match="bin_deg"):
        bin_orientations(resp, stimuli, 0)
    with pytest.raises(ValueError, match="n_stimuli = 500"):
        bin_orientations(resp[:10], stimuli, 1.0)


def test_zscore_matches_scipy_and_handles_constant_neurons():
    x = np.random.default_rng(2).normal(size=(50, 4))
    x[:, 2] = 3.0
    z = zscore(x)
    np.testing.assert_allclose(z[:, [0, 1, 3]], stats.zscore(x[:, [0, 1, 3]], axis=0))
    assert (z[:, 2] == 0).all()


def test_real_file_in_cache_is_loaded_like_neuromatch(real_file):
    _, resp, stimuli, _ = real_file
    data = load_stringer_orientations(source="real", progress=False)
    assert isinstance(data, OrientationData) and data.source == "real" and data.truth is None
    keep = stimuli <= 180  # each 1-degree bin holds one stimulus here: binning changes nothing
    np.testing.assert_allclose(data.stimuli, stimuli[keep] - 90, rtol=1e-6)
    np.testing.assert_allclose(data.resp, stats.zscore(resp[keep], axis=0), atol=1e-5)
    assert data.stimuli.min() >= -90 and data.stimuli.max() <= 90
    assert data.resp.dtype == np.float32 and data.stimuli.dtype == np.float32
    # "auto" prefers the cached real data and prints nothing
    assert load_stringer_orientations(progress=False).source == "real"


def test_real_binning_recovers_preferred_orientations(real_file):
    *_, preferred = real_file
    data = load_stringer_orientations(source="real", bin_deg=5.0, progress=False)
    assert data.n_stimuli == 36  # 0..180 degrees in 5-degree bins
    peak = data.stimuli[data.resp.argmax(axis=0)] + 90  # back to the file's 0..180 angles
    error = np.abs((peak - preferred + 90) % 180 - 90)
    assert np.median(error) < 5


def test_corrupted_file_is_refused(real_file):
    path, *_ = real_file
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    with (
        pytest.warns(ArtiphysWarning, match="removed"),
        pytest.raises(DataUnavailableError, match="corrupt or partial"),
    ):
        load_stringer_orientations(source="real", progress=False)
    assert not path.exists()  # offline: the damaged copy is gone, the error says how to get it
    with pytest.warns(ArtiphysWarning, match="SIMULATED"):
        data = load_stringer_orientations(source="auto", progress=False)
    assert data.source == "simulated"


def test_corrupted_file_is_fetched_again(real_file, monkeypatch):
    path, resp, *_ = real_file
    good = path.read_bytes()
    path.write_bytes(good[:1000])
    monkeypatch.delenv("ARTIPHYS_OFFLINE")

    def fake_download(entry, target, urls, *, progress, note):  # stands in for the network
        assert "corrupt" in note and urls == [entry.url]
        target.write_bytes(good)
        return target

    monkeypatch.setattr(registry, "_download", fake_download)
    with pytest.warns(ArtiphysWarning, match="corrupt"):
        data = load_stringer_orientations(source="real", progress=False)
    assert data.source == "real" and data.n_neurons == resp.shape[1]


def test_offline_real_says_how_to_fetch(tmp_data_dir):
    with pytest.raises(FileNotFoundError) as info:
        load_stringer_orientations(source="real")
    assert "artiphys fetch stringer_orientations" in str(info.value)


def test_simulated_stand_in_has_the_same_outputs_and_truth(tmp_data_dir):
    with pytest.warns(ArtiphysWarning, match="SIMULATED"):
        data = load_stringer_orientations(source="auto", simulation={"n_neurons": 300})
    assert data.source == "simulated" and data.truth is not None
    assert data.resp.shape == (180, 300) and data.stimuli.shape == (180,)
    np.testing.assert_allclose(data.resp.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.resp.std(axis=0), 1, atol=1e-4)
    assert -90 <= data.stimuli.min() and data.stimuli.max() <= 90
    np.testing.assert_allclose(data.resp, data.truth.resp, atol=1e-5)  # 1-degree bins: as is

    with warnings.catch_warnings():
        warnings.simplefilter("error", ArtiphysWarning)  # simulated data asked for: no notice
        coarse = load_stringer_orientations(source="simulated", bin_deg=10, seed=0)
    np.testing.assert_allclose(coarse.stimuli, np.arange(-85, 90, 10), atol=1e-4)
    truth = coarse.truth
    tuned = truth.tuned & (truth.concentration > 1.0)
    peak = coarse.stimuli[coarse.resp.argmax(axis=0)]
    error = np.abs((peak - truth.preferred_deg + 90) % 180 - 90)[tuned]
    assert np.median(error) < 10  # the loader keeps the simulator's angle convention


def test_bad_arguments():
    with pytest.raises(ValueError, match="auto"):
        load_stringer_orientations(source="internet")
    with pytest.raises(ValueError, match="bin_deg"):
        load_stringer_orientations(source="simulated", bin_deg=-1)
