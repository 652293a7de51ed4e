"""Tests of the simulated visual hierarchy (V1, V2, V4 on the same images)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artiphys_course.metrics import oracle_correlation
from artiphys_course.simulate import SubunitArea, gabor, make_visual_hierarchy


@pytest.fixture(scope="module")
def hierarchy():
    return make_visual_hierarchy(n_neurons=30, n_train=200, n_test_images=40, n_repeats=20)


def test_layout_and_determinism(hierarchy):
    h = hierarchy
    assert list(h.areas) == ["V1", "V2", "V4"]
    assert h.images.shape == (240, 1, 36, 64) and h.images.dtype == np.float32
    for area in h.areas.values():
        assert area.train_responses.shape == (200, 30)
        assert area.test_responses.shape == (40, 20, 30)
        assert area.true_rates.shape == (240, 30) and np.all(area.true_rates > 0)
        np.testing.assert_array_equal(area.train_image_ids, h.train_image_ids)
    again = make_visual_hierarchy(
        n_neurons=30, n_train=200, n_test_images=40, n_repeats=20, areas=("V4",)
    )
    np.testing.assert_array_equal(again["V4"].train_responses, h["V4"].train_responses)
    other = make_visual_hierarchy(n_neurons=30, n_train=200, n_test_images=40, seed=1)
    assert not np.allclose(other["V1"].true_rates, h["V1"].true_rates[:, :30])
    with pytest.raises(KeyError, match="V1"):
        h["IT"]
    with pytest.raises(ValueError, match="unknown areas"):
        make_visual_hierarchy(areas=("V1", "MT"))
    with pytest.raises(TypeError, match="seed"):
        make_visual_hierarchy(seed=None)


def test_models_reproduce_the_stored_rates(hierarchy):
    images = torch.from_numpy(hierarchy.images[:50])
    for area in hierarchy.areas.values():
        with torch.no_grad():
            rates = area.model(images).numpy()
        np.testing.assert_allclose(rates, area.true_rates[:50], rtol=1e-4, atol=1e-5)


def test_oracle_correlation_estimates_the_exact_ceiling(hierarchy):
    for area in hierarchy.areas.values():
        exact = area.noise_ceiling()
        oracle = oracle_correlation(area.test_responses)
        assert 0.3 < np.median(exact) < 1.0
        # the leave-one-out oracle slightly underestimates the ceiling, by about
        # a factor sqrt(1 - 1/repeats) at these noise levels
        assert abs(np.median(oracle) - np.median(exact)) < 0.08


def test_higher_areas_have_larger_receptive_fields(hierarchy):
    r = {name: np.median(area.rf_radius) for name, area in hierarchy.areas.items()}
    assert r["V1"] < r["V2"] and r["V1"] < r["V4"]


def _preferred_patches(area: SubunitArea, neuron: int, which: list[int]) -> torch.Tensor:
    """An image with the even Gabor of the chosen subunits of one neuron painted in."""
    sub = area.subunits
    idx = np.flatnonzero(area.pool[neuron].numpy() > 0)[which]
    patches = gabor(
        (36, 64),
        sub.orientation_deg[idx],
        sub.spatial_frequency[idx],
        sub.phase_deg[idx],
        sub.sigma[idx],
        sub.rf_center[idx],
        aspect_ratio=sub.aspect_ratio[idx],
        normalize=False,
    ).sum(0)
    return (127.5 + 100.0 * patches.clamp(-1, 1))[None, None]


def test_v4_is_a_conjunction_and_v2_a_pool(hierarchy):
    # one subunit alone drives a V2 neuron (mean, an OR) much more than a V4 neuron
    # (geometric mean, an AND); all subunits together drive both
    ratios = {}
    for name in ("V2", "V4"):
        model = hierarchy[name].model
        values = []
        for n in range(10):
            with torch.no_grad():
                k = int((model.pool[n] > 0).sum())
                one = model.combined(_preferred_patches(model, n, [0]))[0, n]
                full = model.combined(_preferred_patches(model, n, list(range(k))))[0, n]
            values.append(float(one / full))
        ratios[name] = np.median(values)
    assert ratios["V4"] < 0.5 * ratios["V2"], ratios
    assert ratios["V2"] > 0.2  # about 1/4 (one of 4 pooled subunits) plus background
