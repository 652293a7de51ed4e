"""Metrics against scipy and against analytic results on Poisson data with known rates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from artiphys_course import metrics
from artiphys_course.runtime import ArtiphysWarning


@pytest.fixture
def poisson_repeats() -> dict[str, np.ndarray]:
    """Poisson responses of 12 neurons to 1500 images x 8 repeats, with the true rates."""
    rng = np.random.default_rng(0)
    n_images, n_repeats, n_neurons = 1500, 8, 12
    gain = np.linspace(0.5, 6.0, n_neurons)
    rates = gain * rng.gamma(2.0, 0.5, size=(n_images, 1, n_neurons))  # mean = gain
    responses = rng.poisson(np.broadcast_to(rates, (n_images, n_repeats, n_neurons)))
    return {"rates": rates[:, 0], "responses": responses.astype(np.float64), "gain": gain}


def _analytic(rates: np.ndarray, n_repeats: int) -> dict[str, np.ndarray]:
    """Population values for Poisson noise: noise variance = mean rate."""
    signal, noise = rates.var(axis=0), rates.mean(axis=0)
    return {
        "ceiling": np.sqrt(signal / (signal + noise)),
        "oracle": signal / np.sqrt((signal + noise) * (signal + noise / (n_repeats - 1))),
        "explainable": signal,
        "fev": signal / (signal + noise),
    }


def test_correlation_matches_scipy_per_column():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(200, 6))
    p = 0.5 * y + rng.normal(size=(200, 6))
    expected = [stats.pearsonr(y[:, i], p[:, i])[0] for i in range(6)]
    np.testing.assert_allclose(metrics.correlation(y, p), expected, rtol=1e-10)
    # torch tensors in, numpy out, same numbers
    out = metrics.correlation(torch.from_numpy(y).float(), torch.from_numpy(p).float())
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(metrics.correlation(y[:, 0], p[:, 0]), expected[0], rtol=1e-10)


def test_correlation_is_nan_with_a_warning_for_constant_columns():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(50, 3))
    p = y.copy()
    p[:, 1] = 0.1  # constant prediction (float rounding would give a spurious value)
    y[:, 2] = 3.0  # constant response
    with pytest.warns(ArtiphysWarning, match=r"correlation is NaN for 2 of 3 neurons"):
        r = metrics.correlation(y, p)
    np.testing.assert_allclose(r, [1.0, np.nan, np.nan], atol=1e-12)
    # the training score counts such a neuron as 0, silently
    assert metrics.correlation_score(y, p) == pytest.approx(1.0 / 3.0)


def test_correlation_errors():
    with pytest.raises(ValueError, match="same shape"):
        metrics.correlation(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 2 trials"):
        metrics.correlation(np.zeros((1, 2)), np.zeros((1, 2)))


def test_oracle_matches_analytic_value_and_is_below_ceiling(poisson_repeats):
    rates, responses = poisson_repeats["rates"], poisson_repeats["responses"]
    truth = _analytic(rates, n_repeats=responses.shape[1])
    oracle = metrics.oracle_correlation(responses)
    np.testing.assert_allclose(oracle, truth["oracle"], atol=0.02)
    assert np.all(oracle < truth["ceiling"])


def test_oracle_converges_to_true_ceiling_with_many_repeats():
    rng = np.random.default_rng(3)
    rates = 3.0 * rng.gamma(2.0, 0.5, size=(300, 1, 5))
    responses = rng.poisson(np.broadcast_to(rates, (300, 300, 5))).astype(float)
    ceiling = _analytic(rates[:, 0], 300)["ceiling"]
    # the ceiling as defined by the simulator: corr(true rate, single-trial response)
    empirical = metrics.correlation(
        responses.reshape(-1, 5), np.broadcast_to(rates, responses.shape).reshape(-1, 5)
    )
    np.testing.assert_allclose(empirical, ceiling, atol=0.01)
    np.testing.assert_allclose(metrics.oracle_correlation(responses), ceiling, atol=0.01)


def test_oracle_accepts_unequal_repeats_and_matches_manual_jackknife():
    rng = np.random.default_rng(4)
    groups = [rng.poisson(3.0 + i, size=(2 + i % 3, 4)).astype(float) for i in range(10)]
    trials, loo = [], []
    for g in groups:
        for j in range(len(g)):
            trials.append(g[j])
            loo.append(np.delete(g, j, axis=0).mean(axis=0))
    trials, loo = np.array(trials), np.array(loo)
    expected = [stats.pearsonr(trials[:, i], loo[:, i])[0] for i in range(4)]
    np.testing.assert_allclose(metrics.oracle_correlation(groups), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="at least 2 repeats"):
        metrics.oracle_correlation([g[:1] for g in groups])


def test_explainable_variance_and_fev_match_analytic_values(poisson_repeats):
    rates, responses = poisson_repeats["rates"], poisson_repeats["responses"]
    truth = _analytic(rates, n_repeats=responses.shape[1])
    np.testing.assert_allclose(
        metrics.explainable_variance(responses), truth["explainable"], rtol=0.1
    )
    np.testing.assert_allclose(metrics.fev(responses), truth["fev"], atol=0.03)


def test_fev_of_noiseless_responses_is_one_and_of_pure_noise_is_zero():
    rng = np.random.default_rng(5)
    clean = np.repeat(rng.normal(size=(40, 1, 3)), 4, axis=1)  # identical repeats
    np.testing.assert_allclose(metrics.fev(clean), 1.0)
    noise = rng.poisson(2.0, size=(400, 10, 3)).astype(float)  # same rate for every image
    np.testing.assert_allclose(metrics.fev(noise), 0.0, atol=0.02)
    with pytest.warns(ArtiphysWarning, match="fev is NaN for 2 of 2 neurons"):
        no_variance = metrics.fev(np.ones((5, 3, 2)))
    assert np.isnan(no_variance).all()  # undefined, not 0 (the worst score)


def test_feve_is_one_for_the_true_rates_and_zero_for_the_mean(poisson_repeats):
    rates, responses = poisson_repeats["rates"], poisson_repeats["responses"]
    np.testing.assert_allclose(metrics.feve(responses, rates), 1.0, atol=0.05)
    constant = np.broadcast_to(responses.mean(axis=(0, 1)), rates.shape)
    np.testing.assert_allclose(metrics.feve(responses, constant), 0.0, atol=0.05)
    # one prediction per repeat gives the same result as one per image
    per_repeat = np.broadcast_to(rates[:, None], responses.shape)
    np.testing.assert_allclose(metrics.feve(responses, per_repeat), metrics.feve(responses, rates))


def test_feve_is_nan_without_explainable_variance():
    responses = np.ones((5, 3, 2))
    assert np.all(np.isnan(metrics.feve(responses, np.ones((5, 2)))))


def test_correlation_to_average_matches_scipy_on_means(poisson_repeats):
    rates, responses = poisson_repeats["rates"], poisson_repeats["responses"]
    means = responses.mean(axis=1)
    expected = [stats.pearsonr(means[:, i], rates[:, i])[0] for i in range(rates.shape[1])]
    np.testing.assert_allclose(
        metrics.correlation_to_average(responses, rates), expected, rtol=1e-10
    )
    # the same with lists: repeats per image, one prediction vector per image
    np.testing.assert_allclose(
        metrics.correlation_to_average(list(responses), list(rates)), expected, rtol=1e-10
    )
    # averaging over 8 repeats beats single trials
    single = metrics.correlation(
        responses.reshape(-1, rates.shape[1]),
        np.broadcast_to(rates[:, None], responses.shape).reshape(-1, rates.shape[1]),
    )
    assert np.all(metrics.correlation_to_average(responses, rates) > single)


def test_group_by_image_groups_trials_in_order_and_keeps_dtype():
    ids = np.array([3, 1, 3, 2, 1, 3])
    values = np.arange(12, dtype=np.float32).reshape(6, 2)
    images, groups = metrics.group_by_image(values, ids)
    np.testing.assert_array_equal(images, [1, 2, 3])
    assert [g.shape for g in groups] == [(2, 2), (1, 2), (3, 2)]
    assert all(g.dtype == np.float32 for g in groups)
    np.testing.assert_array_equal(groups[0], values[[1, 4]])
    np.testing.assert_array_equal(groups[2], values[[0, 2, 5]])
    # trailing axes are kept, torch inputs accepted
    _, by_trial = metrics.group_by_image(torch.arange(6), torch.as_tensor(ids))
    np.testing.assert_array_equal(by_trial[2], [0, 2, 5])
    with pytest.raises(ValueError, match="image_ids"):
        metrics.group_by_image(values, ids[:3])


def test_poisson_log_likelihood_matches_scipy():
    rng = np.random.default_rng(6)
    rates = rng.gamma(2.0, 1.0, size=(100, 4))
    counts = rng.poisson(rates)
    expected = stats.poisson.logpmf(counts, rates).mean(axis=0)
    np.testing.assert_allclose(
        metrics.poisson_log_likelihood(counts, rates, eps=0.0), expected, rtol=1e-10
    )
    # the true rates are more likely than a constant guess
    const = np.full_like(rates, counts.mean())
    assert np.all(
        metrics.poisson_log_likelihood(counts, rates)
        > metrics.poisson_log_likelihood(counts, const)
    )


def test_bits_per_spike_matches_scipy_and_is_zero_for_the_mean():
    rng = np.random.default_rng(7)
    rates = rng.gamma(2.0, 1.0, size=(300, 4))
    counts = rng.poisson(rates).astype(float)
    null = counts.mean(axis=0)
    gain = stats.poisson.logpmf(counts, rates).sum(0) - stats.poisson.logpmf(counts, null).sum(0)
    expected = gain / (counts.sum(0) * np.log(2))
    np.testing.assert_allclose(metrics.bits_per_spike(counts, rates, eps=0.0), expected, rtol=1e-9)
    assert np.all(expected > 0)
    np.testing.assert_allclose(
        metrics.bits_per_spike(counts, np.broadcast_to(null, counts.shape)), 0.0, atol=1e-9
    )
    silent = np.zeros((10, 1))
    assert np.isnan(metrics.bits_per_spike(silent, np.ones((10, 1))))[0]
