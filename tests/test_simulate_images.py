"""Naturalistic images: 1/f spectrum, grey-level range, determinism, photo crops."""

from __future__ import annotations

import numpy as np
import pytest

from artiphys_course.simulate import make_images


def test_make_images_power_spectrum_is_one_over_f_squared():
    images = make_images(1500, seed=1)[:, 0].astype(np.float64)
    power = np.abs(np.fft.fft2(images - images.mean(axis=(1, 2), keepdims=True))) ** 2
    power = power.mean(0)
    f = np.hypot(np.fft.fftfreq(36)[:, None], np.fft.fftfreq(64)[None, :])
    edges = np.geomspace(0.03, 0.15, 8)
    which = np.digitize(f, edges)
    f_mean = [f[which == i].mean() for i in range(1, len(edges))]
    p_mean = [power[which == i].mean() for i in range(1, len(edges))]
    slope = np.polyfit(np.log(f_mean), np.log(p_mean), 1)[0]
    assert -2.6 < slope < -1.6
    # sanity: the same measure finds a flat spectrum for white noise
    white = np.random.default_rng(0).normal(size=(200, 36, 64))
    p_white = (np.abs(np.fft.fft2(white)) ** 2).mean(0)
    p_white = [p_white[which == i].mean() for i in range(1, len(edges))]
    assert abs(np.polyfit(np.log(f_mean), np.log(p_white), 1)[0]) < 0.2


def test_make_images_range_determinism_and_photos():
    a = make_images(20, (40, 48), seed=0)
    assert a.shape == (20, 1, 40, 48) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 255
    np.testing.assert_array_equal(a, make_images(20, (40, 48), seed=0))
    assert not np.array_equal(a, make_images(20, (40, 48), seed=1))
    mixed = make_images(20, seed=0, photo_fraction=0.5)
    np.testing.assert_array_equal(mixed, make_images(20, seed=0, photo_fraction=0.5))
    assert not np.array_equal(mixed, make_images(20, seed=0))
    with pytest.raises(ValueError, match="image_shape"):
        make_images(2, (36,))
    with pytest.raises(TypeError, match="seed"):
        make_images(2, seed=None)


def test_images_do_not_depend_on_the_chunk_size(monkeypatch):
    from artiphys_course.simulate import images as module

    reference = make_images(40, (36, 64), seed=3, photo_fraction=0.2)
    monkeypatch.setattr(module, "_CHUNK_PIXELS", 7 * 36 * 64)  # 7 images a chunk, a ragged end
    np.testing.assert_array_equal(make_images(40, (36, 64), seed=3, photo_fraction=0.2), reference)
