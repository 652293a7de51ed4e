"""Trial noise: Poisson draws, exact noise ceilings, Fano factors and their notebook checks."""

from __future__ import annotations

import numpy as np
import pytest

from artiphys_course.simulate import fano_factor, noise_ceiling_from_rates, sample_responses


def test_poisson_ceiling_and_fano_factor_formulas():
    rng = np.random.default_rng(0)
    rates = rng.gamma(2.0, 0.5, size=(200, 5))
    var, mean = rates.var(0), rates.mean(0)
    np.testing.assert_allclose(noise_ceiling_from_rates(rates), np.sqrt(var / (var + mean)))
    constant = np.full((1, 4), [0.5, 1.0, 2.0, 4.0])
    repeats, _ = sample_responses(np.repeat(constant, 40000, axis=0), gain_cv=0.3, seed=2)
    ff = fano_factor(repeats.reshape(1, 40000, 4))
    np.testing.assert_allclose(ff, 1 + 0.3**2 * constant[0], rtol=0.04)
    assert noise_ceiling_from_rates(constant)[0] == 0.0


def test_poisson_draws_match_scipy_and_are_robust_to_last_bit_changes():
    from scipy import stats

    rates = np.repeat([[0.1, 1.0, 4.0, 30.0]], 50000, axis=0)
    counts, gain = sample_responses(rates, gain_cv=0.0, seed=0)
    assert np.all(gain == 1)
    for j, mu in enumerate(rates[0]):
        ks = np.arange(int(mu + 6 * np.sqrt(mu) + 3))
        expected = stats.poisson.pmf(ks, mu) * len(counts)
        observed = np.bincount(counts[:, j].astype(int), minlength=len(ks))[: len(ks)]
        ok = expected > 20
        chi2 = ((observed[ok] - expected[ok]) ** 2 / expected[ok]).sum()
        assert stats.chi2.sf(chi2, ok.sum() - 1) > 1e-3, mu
    # one uniform per draw: perturbing the rates in their last bits changes almost nothing
    # (rejection samplers would reshuffle every later draw)
    other, _ = sample_responses(rates * (1 + 1e-7), gain_cv=0.0, seed=0)
    assert np.mean(other != counts) < 1e-4


def test_start_here_checks_pass_correct_and_reject_wrong_answers(lenient):
    from artiphys_course.checks import start_here as checks

    def fano(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nanmean(x.var(axis=1, ddof=1) / x.mean(axis=1), axis=0)

    def ceiling(rates):
        return np.sqrt(rates.var(0) / (rates.var(0) + rates.mean(0)))

    def corr(x, y):
        x, y = x - x.mean(0), y - y.mean(0)
        return (x * y).sum(0) / np.sqrt((x**2).sum(0) * (y**2).sum(0))

    assert checks.check_fano_factor(fano)
    assert checks.check_poisson_noise_ceiling(ceiling)
    assert checks.check_response_correlation(corr)

    # including the images without a response is wrong, and is caught
    def fano_zeros_counted(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(x.var(axis=1, ddof=1) / x.mean(axis=1)).mean(axis=0)

    assert not checks.check_fano_factor(fano_zeros_counted)
    assert not checks.check_poisson_noise_ceiling(lambda r: np.sqrt(r.var(0) / r.mean(0)))
    assert not checks.check_response_correlation(lambda x, y: (x * y).mean(0))

    def unsolved(*args):
        raise NotImplementedError("Exercise")

    assert "not implemented yet" in checks.check_fano_factor(unsolved).message


def test_sample_responses_takes_an_int_seed_or_a_generator():
    rates = np.full((5, 3), 2.0)
    a, _ = sample_responses(rates, seed=4)
    b, _ = sample_responses(rates, seed=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="seed"):
        sample_responses(rates, seed=None)
