"""Static folder format: exact write -> read round trips (folder and zip), read never writes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from artiphys_course.data.folder import read_static_folder, write_static_folder
from artiphys_course.data.static import StaticDataset


def small_dataset(seed: int = 0) -> StaticDataset:
    """2-channel images with non-trivial image identifiers; 8 test trials repeat 2 images."""
    rng = np.random.default_rng(seed)
    n_images, n_neurons = 12, 5
    ids = np.concatenate([rng.permutation(10), np.repeat([10, 11], 4)])
    return StaticDataset(
        rng.uniform(0, 255, size=(n_images, 2, 3, 4)).astype(np.float32),
        rng.gamma(2.0, size=(len(ids), n_neurons)).astype(np.float32),
        ids,
        np.array(["train"] * 7 + ["validation"] * 3 + ["test"] * 8),
        pupil_center=rng.normal(size=(len(ids), 2)),
        cell_motor_coordinates=rng.uniform(0, 400, size=(n_neurons, 3)),
        unit_ids=np.arange(100, 100 + n_neurons),
        image_ids=np.arange(5000, 5000 + 7 * n_images, 7),
    )


def assert_same(a: StaticDataset, b: StaticDataset) -> None:
    for key in (
        "images",
        "responses",
        "trial_image_ids",
        "tiers",
        "pupil_center",
        "cell_motor_coordinates",
        "unit_ids",
        "image_ids",
    ):
        x, y = getattr(a, key), getattr(b, key)
        assert x.dtype == y.dtype, key
        np.testing.assert_array_equal(x, y, err_msg=key)
    assert a.statistics.keys() == b.statistics.keys()
    for array, stats in a.statistics.items():
        for stat, value in stats.items():
            np.testing.assert_array_equal(value, b.statistics[array][stat], err_msg=array + stat)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def test_folder_round_trip_is_exact(tmp_path):
    ds = small_dataset()
    path = write_static_folder(ds, tmp_path / "static-toy", progress=False)
    assert_same(read_static_folder(path, progress=False), ds)
    assert [p.name for p in tmp_path.iterdir()] == ["static-toy"]  # no temporary left


def test_layout_is_the_neuralpredictors_one(tmp_path):
    ds = small_dataset()
    root = write_static_folder(ds, tmp_path / "d", progress=False)
    assert json.loads((root / "config.json").read_text()) == {"links": {}}
    assert len(list((root / "data" / "images").iterdir())) == ds.n_trials
    np.testing.assert_array_equal(np.load(root / "data/images/14.npy"), ds.images[11])
    assert np.load(root / "data/responses/0.npy").shape == (5,)
    assert np.load(root / "data/pupil_center/0.npy").shape == (2,)
    frame_ids = np.load(root / "meta/trials/frame_image_id.npy")
    np.testing.assert_array_equal(frame_ids, ds.image_ids[ds.trial_image_ids])
    np.testing.assert_array_equal(np.load(root / "meta/trials/tiers.npy"), ds.tiers)
    mean = np.load(root / "meta/statistics/responses/all/mean.npy")
    np.testing.assert_allclose(mean, ds.responses[ds.tiers == "train"].mean(0), rtol=1e-6)
    for name in ("mean", "std", "min", "max", "median"):
        assert np.load(root / f"meta/statistics/images/all/{name}.npy").shape == ()


def test_stored_statistics_can_be_used(tmp_path):
    ds = small_dataset()
    custom = {k: {s: v * 2 for s, v in stats.items()} for k, stats in ds.statistics.items()}
    ds.statistics = custom
    path = write_static_folder(ds, tmp_path / "d", progress=False)
    assert_same(read_static_folder(path, statistics="file", progress=False), ds)
    recomputed = read_static_folder(path, progress=False).statistics
    np.testing.assert_allclose(recomputed["images"]["mean"], custom["images"]["mean"] / 2)
    with pytest.raises(ValueError, match="'train' or 'file'"):
        read_static_folder(path, statistics="all")


def test_zip_round_trip_and_top_level_zip(tmp_path):
    ds = small_dataset(seed=1)
    archive = write_static_folder(ds, tmp_path / "static-toy.zip", progress=False)
    with zipfile.ZipFile(archive) as zf:
        assert "static-toy/meta/trials/tiers.npy" in zf.namelist()
    assert_same(read_static_folder(archive, progress=False), ds)

    # the same tree at the top level of an archive
    folder = write_static_folder(ds, tmp_path / "flat", progress=False)
    flat = tmp_path / "flat.zip"
    with zipfile.ZipFile(flat, "w") as zf:
        for path in folder.rglob("*"):
            zf.write(path, path.relative_to(folder).as_posix())
    assert_same(read_static_folder(flat, progress=False), ds)


def test_reading_never_writes(tmp_path):
    ds = small_dataset()
    folder = write_static_folder(ds, tmp_path / "data" / "static-a", progress=False)
    (folder / "config.json").unlink()  # neuralpredictors would create it on read
    write_static_folder(ds, tmp_path / "data" / "static-b.zip", progress=False)
    before = snapshot(tmp_path)
    read_static_folder(folder, progress=False)
    read_static_folder(tmp_path / "data" / "static-b.zip", progress=False)
    assert snapshot(tmp_path) == before


def test_overwrite_rules(tmp_path):
    ds = small_dataset()
    path = write_static_folder(ds, tmp_path / "d", progress=False)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_static_folder(ds, path, progress=False)
    smaller = StaticDataset(ds.images, ds.responses[:10], ds.trial_image_ids[:10], ds.tiers[:10])
    write_static_folder(smaller, path, overwrite=True, progress=False)
    back = read_static_folder(path, progress=False)  # no stale trial files from the larger set
    assert back.n_trials == 10 and back.pupil_center is None
    assert not (path / "data" / "pupil_center").exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a static data set"):
        write_static_folder(ds, other, overwrite=True, progress=False)
    assert (other / "notes.txt").read_text() == "keep me"


def test_minimal_folder_without_image_ids(tmp_path):
    """Grey (H, W) images, no frame_image_id: every trial is its own image."""
    root = tmp_path / "minimal"
    rng = np.random.default_rng(0)
    images, responses = rng.uniform(size=(6, 3, 4)), rng.poisson(2.0, size=(6, 3))
    for sub in ("data/images", "data/responses", "meta/trials"):
        (root / sub).mkdir(parents=True)
    for i in range(6):
        np.save(root / f"data/images/{i}.npy", images[i])
        np.save(root / f"data/responses/{i}.npy", responses[i])
    np.save(root / "meta/trials/tiers.npy", np.array(["train"] * 4 + ["test"] * 2))
    ds = read_static_folder(root, progress=False)
    assert ds.images.shape == (6, 1, 3, 4) and ds.pupil_center is None
    np.testing.assert_array_equal(ds.trial_image_ids, np.arange(6))
    np.testing.assert_allclose(ds.images[:, 0], images.astype(np.float32))
    np.testing.assert_array_equal(ds.unit_ids, np.arange(3))


def test_clear_errors_for_broken_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="No folder or zip"):
        read_static_folder(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="meta/trials/tiers.npy"):
        read_static_folder(tmp_path / "empty")
    not_zip = tmp_path / "x.zip"
    not_zip.write_text("hello")
    with pytest.raises(ValueError, match="neither a folder nor a zip"):
        read_static_folder(not_zip)
    path = write_static_folder(small_dataset(), tmp_path / "d", progress=False)
    (path / "data/responses/3.npy").unlink()
    with pytest.raises(ValueError, match="17 trial files"):
        read_static_folder(path, progress=False)


def test_reader_on_a_folder_the_simulator_wrote(tmp_path):
    from artiphys_course.simulate import make_digital_v1

    dv1 = make_digital_v1(
        n_neurons=20, image_shape=(12, 20), n_train=30, n_validation=6, n_test_images=4,
        n_repeats=3, seed=1,
    )  # fmt: skip
    ds = StaticDataset.from_digital_v1(dv1)
    path = write_static_folder(ds, tmp_path / "dv1", progress=False)
    back = read_static_folder(path, progress=False)
    assert_same(back, ds)
    assert back.truth is None  # ground truth is not part of the format
    np.testing.assert_array_equal(back.responses, dv1.responses)
