"""Tests of the Allen natural-scenes loader (real files from ../shared/data when present)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from artiphys_course.data.allen import load_allen_natural_scenes
from artiphys_course.data.registry import DataUnavailableError, import_file, import_folder

FOLDER = "allen_natural_scenes_31px"


def test_missing_files_raise_with_instructions(tmp_data_dir):
    with pytest.raises(DataUnavailableError, match="allen_all_input_scenes"):
        load_allen_natural_scenes(download=False)
    with pytest.raises(DataUnavailableError, match="offline"):
        load_allen_natural_scenes(download=True, progress=False)


def test_loads_real_files_with_the_documented_layout(shared_data, tmp_data_dir):
    src = shared_data / FOLDER
    imported = import_folder(src)
    assert "allen_split_indices" in imported
    data = load_allen_natural_scenes(download=False)
    assert data.images.shape == (118, 1, 31, 31) and data.images.dtype == np.float32
    assert data.train_responses.shape == (100, 212) and data.test_responses.shape == (18, 212)
    assert data.n_neurons == 212
    # the split indexes the 118 scenes once each, and reproduces the source's input files
    both = np.concatenate([data.train_image_ids, data.test_image_ids])
    assert np.array_equal(np.sort(both), np.arange(118))
    train_in = np.load(src / "Allen_train_input.npy").reshape(-1, 1, 31, 31)
    test_in = np.load(src / "Allen_test_input.npy").reshape(-1, 1, 31, 31)
    np.testing.assert_array_equal(data.images[data.train_image_ids], train_in.astype(np.float32))
    np.testing.assert_array_equal(data.images[data.test_image_ids], test_in.astype(np.float32))
    # units caveat: dF/F-like responses, some negative
    assert data.train_responses.min() < 0 < data.train_responses.max()


def test_split_recovered_without_the_json(shared_data, tmp_data_dir):
    src = shared_data / FOLDER
    for path in src.glob("*.npy"):
        import_file(path)
    data = load_allen_natural_scenes(download=False)
    split = json.loads((src / "split_indices_into_all_input_scenes.json").read_text())
    assert data.train_image_ids.tolist() == split["train"]
    assert data.test_image_ids.tolist() == split["test"]


def test_images_and_responses_share_the_source_scripts_split(shared_data, tmp_data_dir):
    # The source script (psailamul/Allen_Brain_Observatory) puts scene template k in image row k
    # and the mean response to frame k in response row k, then splits both with one permutation
    # drawn after np.random.seed(31): the stored split is exactly that permutation, so image and
    # response rows are paired as the script made them.
    import_folder(shared_data / FOLDER)
    data = load_allen_natural_scenes(download=False)
    permutation = np.random.RandomState(31).permutation(118)
    assert data.train_image_ids.tolist() == permutation[:100].tolist()
    assert data.test_image_ids.tolist() == permutation[100:].tolist()


def test_allen_data_feed_the_layer_grid(shared_data, tmp_data_dir):
    from artiphys_course.layer_grid import AreaData, run_layer_grid

    import_folder(shared_data / FOLDER)
    data = load_allen_natural_scenes(download=False)
    area = AreaData.from_allen(data)
    assert area.name == "Allen V1" and area.n_neurons == 212 and not area.has_repeats
    grid = run_layer_grid({"pixels": {"pixels": data.images}}, area, progress=False)
    (row,) = grid.rows
    assert np.isfinite(row.correlation) and -1 < row.correlation < 1
    assert np.isnan(row.ceiling) and np.isnan(row.fraction_of_ceiling)
    assert row.n_features == 31 * 31
