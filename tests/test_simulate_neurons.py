"""Gabor filters and the one neuron-sampling routine (draw order is part of a seed's data)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from artiphys_course.simulate import (
    DIGITAL_V1_NEURONS,
    NeuronDistribution,
    gabor,
    sample_neurons,
)


def test_gabor_is_unit_norm_and_follows_the_orientation_convention():
    big = gabor((129, 129), [0.0, 90.0, 45.0], 0.1, [0.0, 90.0, 30.0], 5.0, aspect_ratio=1.4)
    np.testing.assert_allclose((big**2).sum(dim=(1, 2)).numpy(), 1.0, rtol=1e-3)
    # 0 = horizontal stripes: constant sign along the row through the centre, a dark stripe
    # half a period (5 px) above it
    g = gabor((65, 65), 0.0, 0.1, 0.0, 6.0).numpy()[0]
    assert np.all(g[32, 22:43] > 0) and g[27, 32] < 0 and g[37, 32] < 0
    # 45 = rising to the right: bright along up-right, dark half a period away up-left
    sf = 1 / (2 * 3 * math.sqrt(2))
    g = gabor((65, 65), 45.0, sf, 0.0, 6.0).numpy()[0]
    assert g[29, 35] > 0.7 * g[32, 32] and g[29, 29] < -0.7 * g[32, 32]


def test_sample_neurons_draws_in_the_order_of_the_distribution():
    n, centers = 50, np.zeros((50, 2))
    rng = np.random.default_rng(0)
    p = sample_neurons(
        n, DIGITAL_V1_NEURONS, rng, rf_center=centers, fraction_simple=0.3, scale=2.0
    )
    # the same draws written out in the digital V1's order
    ref = np.random.default_rng(0)
    sf = np.exp(ref.uniform(np.log(0.06), np.log(0.16), n)) / 2.0
    sigma = np.clip(ref.uniform(0.3, 0.5, n) / sf, 3.0, 12.0)
    simple = ref.random(n) < 0.3
    expected = {
        "spatial_frequency": sf,
        "sigma": sigma,
        "orientation_deg": ref.uniform(0, 180, n),
        "phase_deg": ref.uniform(0, 360, n),
        "aspect_ratio": ref.uniform(1.0, 1.6, n),
        "exponent": ref.uniform(1.5, 2.5, n),
    }
    for name, value in expected.items():
        np.testing.assert_array_equal(getattr(p, name), value.astype(np.float32), err_msg=name)
    np.testing.assert_array_equal(p.cell_type == "simple", simple)
    assert np.all(p.gain == 1) and np.all(p.baseline == 0)
    assert rng.random() == ref.random()  # nothing more was drawn

    # another order; given cell types and orientations are not drawn, a constant exponent
    # draws nothing
    dist = NeuronDistribution(
        spatial_frequency=(0.1, 0.2),
        cycles=(0.3, 0.4),
        sigma_bounds=(1.0, 5.0),
        aspect_ratio=(1.0, 1.5),
        exponent=(2.0, 2.0),
        draw_order=(
            "cell_type",
            "orientation_deg",
            "phase_deg",
            "spatial_frequency",
            "sigma",
            "aspect_ratio",
            "exponent",
        ),
    )
    rng = np.random.default_rng(1)
    p = sample_neurons(
        20,
        dist,
        rng,
        rf_center=np.zeros((20, 2)),
        cell_type=np.full(20, "complex"),
        orientation_deg=np.full(20, 190.0),
    )
    ref = np.random.default_rng(1)
    phase = ref.uniform(0, 360, 20)
    sf = np.exp(ref.uniform(np.log(0.1), np.log(0.2), 20))
    sigma = np.clip(ref.uniform(0.3, 0.4, 20) / sf, 1.0, 5.0)
    np.testing.assert_array_equal(p.phase_deg, phase.astype(np.float32))
    np.testing.assert_array_equal(p.sigma, sigma.astype(np.float32))
    np.testing.assert_array_equal(p.aspect_ratio, ref.uniform(1.0, 1.5, 20).astype(np.float32))
    assert np.all(p.orientation_deg == 10.0) and np.all(p.exponent == 2.0)
    assert np.all(p.is_complex)
    assert rng.random() == ref.random()


def test_neuron_distribution_rejects_bad_ranges_and_orders():
    ranges = dict(
        spatial_frequency=(0.1, 0.2),
        cycles=(0.3, 0.4),
        sigma_bounds=(1.0, 5.0),
        aspect_ratio=(1.0, 1.5),
        exponent=(2.0, 2.0),
    )
    with pytest.raises(ValueError, match="draw_order"):
        NeuronDistribution(**ranges, draw_order=("sigma", "spatial_frequency"))
    with pytest.raises(ValueError, match="draw_order"):
        order = DIGITAL_V1_NEURONS.draw_order
        NeuronDistribution(**ranges, draw_order=(order[1], order[0], *order[2:]))
    with pytest.raises(ValueError, match="cycles"):
        NeuronDistribution(**{**ranges, "cycles": (0.4, 0.3)})
    with pytest.raises(ValueError, match="fraction_simple"):
        sample_neurons(
            3,
            DIGITAL_V1_NEURONS,
            np.random.default_rng(0),
            rf_center=np.zeros((3, 2)),
            fraction_simple=1.5,
        )
