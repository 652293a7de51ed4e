"""The RF-Mapping ImageNet images: registered single files, packed copy, simulated stand-in."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from artiphys_course.data import registry
from artiphys_course.data.imagenet import RFMAPPING_IMAGE_SHAPE, load_rfmapping_images
from artiphys_course.runtime import ArtiphysWarning

PACKED = "imagenet100_rfmapping_3x227x227.npz"


def test_every_source_image_is_registered_with_url_and_md5():
    names = registry.RFMAPPING_IMAGE_NAMES
    assert len(names) == 100 and len(set(names)) == 100
    for i, name in enumerate(names):
        entry = registry.REGISTRY[name]
        assert entry.filename == f"{i}.npy" and entry.folder == "imagenet100_rfmapping"
        assert entry.url.startswith("https://raw.githubusercontent.com/tonyfu97/RF-Mapping/")
        assert entry.url.endswith(f"/data/imagenet/{i}.npy")
    assert len({registry.REGISTRY[n].md5 for n in names}) == 100


def test_simulated_images_are_rgb_in_unit_range():
    images = load_rfmapping_images(source="simulated", seed=1)
    assert images.shape == (100, 3, *RFMAPPING_IMAGE_SHAPE)
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert float(images.std()) > 0.05
    assert (images[:, 0] == images[:, 2]).all()  # grey


def test_auto_offline_falls_back_with_a_notice(tmp_data_dir):
    with pytest.warns(ArtiphysWarning, match="SIMULATED"):
        images = load_rfmapping_images(source="auto")
    assert images.shape == (100, 3, 227, 227)
    with pytest.raises(registry.DataUnavailableError, match="imagenet100_rfmapping_00"):
        load_rfmapping_images(source="real")
    with pytest.raises(ValueError, match="source must be one of"):
        load_rfmapping_images(source="imagenet")


def test_real_images_from_the_packed_copy_and_from_the_source_files(
    tmp_data_dir, shared_data, tmp_path
):
    packed = shared_data / PACKED
    if not packed.is_file():
        pytest.skip(f"{PACKED} is not in the shared data copies")
    with np.load(packed) as archive:
        raw = archive["images"]
    # the 100 source files, as the RF-Mapping repository publishes them (np.save of each image)
    singles = tmp_path / "singles"
    singles.mkdir()
    for i in range(100):
        np.save(singles / f"{i}.npy", raw[i])
    imported = registry.import_folder(singles)  # checks every registered md5
    assert set(imported) == set(registry.RFMAPPING_IMAGE_NAMES)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ArtiphysWarning)
        from_files = load_rfmapping_images(source="auto")
    registry.import_file(packed)
    from_packed = load_rfmapping_images(source="real")
    assert from_packed.shape == (100, 3, 227, 227)
    assert float(from_packed.min()) == 0.0 and float(from_packed.max()) == 1.0
    assert np.array_equal(from_files.numpy(), from_packed.numpy())
    expected = (raw - raw.min()) / (raw.max() - raw.min())
    np.testing.assert_allclose(from_packed.numpy(), expected, atol=1e-6)


def test_unit_range_map_is_in_place_only_on_an_array_it_may_change():
    from artiphys_course.data.imagenet import _to_unit_range

    rng = np.random.default_rng(0)
    raw = rng.normal(0.1, 0.4, (4, 3, 5, 5)).astype(np.float32)
    expected = (raw - raw.min()) / (raw.max() - raw.min())
    frozen = raw.copy()
    frozen.flags.writeable = False  # e.g. a memory-mapped copy: must be left as it is
    out = _to_unit_range(frozen)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(frozen, raw)
    writable = raw.copy()
    out = _to_unit_range(writable)
    assert out.dtype == torch.float32 and np.shares_memory(out.numpy(), writable), "no copy"
    wide = _to_unit_range(raw.astype(np.float64))
    assert wide.dtype == torch.float32
    np.testing.assert_allclose(wide.numpy(), expected, atol=1e-6)
