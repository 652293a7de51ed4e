"""Tuning curves, preferred orientation and width: recover known ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artiphys_course.simulate import simulate_orientation_population
from artiphys_course.tuning import (
    fit_von_mises,
    orientation_difference,
    orientation_selectivity,
    preferred_orientation,
    sort_by_preference,
    tuning_curves,
    von_mises_hwhm,
    von_mises_tuning,
    wrap_orientation,
)

GRID = -90.0 + (np.arange(36) + 0.5) * 5.0  # even grid, Stringer convention


def _population(seed: int = 0, n: int = 40):
    rng = np.random.default_rng(seed)
    pref = rng.uniform(-90, 90, n)
    kappa = rng.uniform(0.3, 8.0, n)
    amp = rng.uniform(0.5, 3.0, n)
    base = rng.uniform(-1.0, 1.0, n)
    return pref, kappa, amp, base


def test_orientation_difference_wraps_at_half_period():
    assert orientation_difference(89.0, -89.0) == pytest.approx(-2.0)
    assert orientation_difference(-89.0, 89.0) == pytest.approx(2.0)
    assert orientation_difference(10.0, 190.0) == pytest.approx(0.0)
    np.testing.assert_allclose(wrap_orientation([-91.0, 180.0, 90.0], lower=-90.0), [89, 0, -90])


def test_preferred_orientation_exact_on_even_grid():
    pref, kappa, amp, base = _population()
    resp = von_mises_tuning(GRID[:, None], pref, kappa, amp, base)
    got = preferred_orientation(resp, GRID)
    assert got.min() >= -90 and got.max() < 90  # negative input angles -> [-90, 90)
    np.testing.assert_allclose(orientation_difference(got, pref), 0.0, atol=1e-9)
    got_0_180 = preferred_orientation(resp, GRID + 90.0)  # same data in the [0, 180) convention
    np.testing.assert_allclose(orientation_difference(got_0_180, pref + 90.0), 0.0, atol=1e-9)
    assert got_0_180.min() >= 0


def test_preferred_orientation_peak_method():
    resp = np.stack([np.cos(np.deg2rad(2 * (GRID - t))) for t in (-37.5, 12.5, 82.5)], axis=1)
    peak = preferred_orientation(resp, GRID, method="peak")
    np.testing.assert_allclose(peak, [-37.5, 12.5, 82.5])
    np.testing.assert_allclose(
        preferred_orientation(resp, GRID, method="peak", lower=0.0), [142.5, 12.5, 82.5]
    )
    with pytest.raises(ValueError, match="method must be"):
        preferred_orientation(resp, GRID, method="mean")


def test_preferred_orientation_is_circular_not_arithmetic():
    # a unit tuned to 88 deg responds at both ends of [-90, 90): the arithmetic mean would be ~0
    resp = von_mises_tuning(GRID[:, None], np.array([88.0]), 4.0)
    assert abs(orientation_difference(preferred_orientation(resp, GRID)[0], 88.0)) < 1e-9


def test_preferred_orientation_recovers_simulated_population():
    pop = simulate_orientation_population(n_neurons=400, n_stimuli=180, seed=1)
    got = preferred_orientation(pop.resp, pop.stimuli)
    err = np.abs(orientation_difference(got[pop.tuned], pop.preferred_deg[pop.tuned]))
    assert np.median(err) < 5.0
    # untuned neurons have much lower selectivity than tuned ones
    osi = orientation_selectivity(pop.resp, pop.stimuli)
    assert np.median(osi[pop.tuned]) > 2 * np.median(osi[~pop.tuned])


def test_selectivity_limits():
    flat = np.ones((36, 1))
    one_hot = np.zeros((36, 1))
    one_hot[7] = 3.0
    assert orientation_selectivity(flat, GRID)[0] == 0.0
    assert orientation_selectivity(one_hot, GRID)[0] == pytest.approx(1.0)
    assert preferred_orientation(flat, GRID)[0] == -90.0  # documented: no preference -> lower


def test_fit_von_mises_recovers_parameters_and_width():
    pref, kappa, amp, base = _population(2, n=15)
    resp = von_mises_tuning(GRID[:, None], pref, kappa, amp, base)
    fit = fit_von_mises(resp, GRID)
    np.testing.assert_allclose(orientation_difference(fit.preferred_deg, pref), 0, atol=1e-3)
    np.testing.assert_allclose(fit.concentration, kappa, rtol=1e-3)
    np.testing.assert_allclose(fit.amplitude, amp, rtol=1e-3)
    np.testing.assert_allclose(fit.baseline, base, atol=1e-3)
    assert np.all(fit.r2 > 0.999)
    # the analytic half width at half maximum matches a numerical one on a fine grid
    fine = np.linspace(-90, 90, 180001)
    for k in (1.0, 3.0):
        curve = von_mises_tuning(fine, 0.0, k)
        numerical = fine[curve >= 0.5].max()
        assert von_mises_hwhm(k) == pytest.approx(numerical, abs=1e-2)
    assert von_mises_hwhm(0.1) == 90.0  # never falls to half: untuned
    np.testing.assert_allclose(fit.hwhm_deg, von_mises_hwhm(fit.concentration))


def test_fit_von_mises_on_noisy_tuning_curves_object():
    pop = simulate_orientation_population(n_neurons=60, n_stimuli=180, seed=3)
    tc = tuning_curves(pop.resp, pop.stimuli, bin_deg=10.0)
    fit = fit_von_mises(tc)
    tuned = pop.tuned & (pop.concentration > 1.0)
    err = np.abs(orientation_difference(fit.preferred_deg[tuned], pop.preferred_deg[tuned]))
    assert np.median(err) < 5.0
    assert np.all(np.isfinite(fit.hwhm_deg)) and np.all(fit.hwhm_deg <= 90)
    # narrower true tuning -> narrower fitted width (rank correlation)
    from scipy.stats import spearmanr

    assert spearmanr(fit.hwhm_deg[tuned], -pop.concentration[tuned])[0] > 0.6


def test_tuning_curves_binning_matches_manual_average():
    rng = np.random.default_rng(0)
    theta = rng.uniform(-90, 90, 500)
    resp = rng.normal(size=(500, 3))
    tc = tuning_curves(resp, theta, bin_deg=30.0)
    np.testing.assert_allclose(tc.orientation_deg, [-75, -45, -15, 15, 45, 75])
    for k, lo in enumerate(range(-90, 90, 30)):
        sel = (theta >= lo) & (theta < lo + 30)
        assert tc.count[k] == sel.sum()
        np.testing.assert_allclose(tc.mean[k], resp[sel].mean(0))
        np.testing.assert_allclose(tc.sem[k], resp[sel].std(0, ddof=1) / np.sqrt(sel.sum()))


def test_tuning_curves_distinct_values_and_empty_bins():
    theta = np.array([0.0, 0.0, 45.0, 180.0])  # 180 wraps to 0
    resp = torch.tensor([[1.0], [3.0], [5.0], [2.0]])
    tc = tuning_curves(resp, theta)
    np.testing.assert_allclose(tc.orientation_deg, [0, 45])
    np.testing.assert_allclose(tc.mean[:, 0], [2.0, 5.0])
    np.testing.assert_array_equal(tc.count, [3, 1])
    assert tc.sem[1, 0] == 0.0
    tc2 = tuning_curves(resp, theta, bin_deg=10.0)  # 16 empty bins are dropped: no NaN
    assert len(tc2.orientation_deg) == 2 and np.all(np.isfinite(tc2.mean))


def test_sort_by_preference_gives_diagonal():
    pref, kappa, amp, base = _population(4, n=30)
    rng = np.random.default_rng(1)
    shuffled = rng.permutation(len(GRID))
    resp = von_mises_tuning(GRID[shuffled, None], pref, kappa + 2, amp, 0.0)
    out, theta, p = sort_by_preference(resp, GRID[shuffled])
    np.testing.assert_allclose(theta, GRID)
    assert np.all(np.diff(p) >= 0)
    np.testing.assert_allclose(np.sort(wrap_orientation(pref, lower=-90)), p, atol=0.01)
    # the strongest stimulus of each unit moves along the diagonal
    peak = theta[out.argmax(axis=0)]
    assert np.all(np.abs(orientation_difference(peak, p)) <= 2.5 + 1e-9)


@pytest.mark.parametrize(
    "call",
    [
        lambda: preferred_orientation(np.ones((10, 3)), np.arange(9)),
        lambda: tuning_curves(np.ones((10, 3)), np.arange(10), bin_deg=7.0),
        lambda: preferred_orientation(np.full((3, 2), np.nan), np.arange(3)),
        lambda: sort_by_preference(np.ones((4, 3)), np.arange(4), np.zeros(2)),
        lambda: fit_von_mises(np.ones((4, 2))),
    ],
)
def test_clear_errors(call):
    with pytest.raises(ValueError):
        call()


def test_select_subset_of_units():
    resp = np.arange(12.0).reshape(4, 3)
    tc = tuning_curves(resp, np.array([0.0, 45.0, 90.0, 135.0]))
    sub = tc.select([2, 0])
    np.testing.assert_array_equal(sub.mean, resp[:, [2, 0]])
    assert sub.n_units == 2 and sub.period == tc.period
    with pytest.raises(IndexError, match="3 units"):
        tc.select([3])
