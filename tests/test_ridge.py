"""fit_ridge: the closed-form leave-one-out ridge agrees with scikit-learn (RidgeCV, Ridge), finds
the Bayes-optimal penalty and rejects bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge, RidgeCV

from artiphys_course.ridge import _centred_gram, fit_ridge


def _linear_data(n, p, m, *, seed=0, noise=1.0, offset=3.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, size=p) + offset
    w = rng.normal(size=(p, m))
    y = x @ w * 0.3 + noise * rng.normal(size=(n, m)) + rng.normal(size=m)
    return x, y


@pytest.mark.parametrize(("n", "p"), [(60, 150), (150, 20)])  # dual and primal solver
def test_ridge_equals_sklearn_at_the_chosen_alpha(n, p):
    x, y = _linear_data(n, p, 6, noise=3.0)
    alphas = np.logspace(-2, 4, 13)
    fit = fit_ridge(x, y, alphas)
    reference = RidgeCV(alphas=alphas, alpha_per_target=True, store_cv_results=True).fit(x, y)
    np.testing.assert_allclose(fit.alpha, reference.alpha_)
    # exact leave-one-out errors, the same as scikit-learn's efficient LOO
    np.testing.assert_allclose(fit.loo_mse, reference.cv_results_.mean(0).T, rtol=1e-8)
    for j in range(y.shape[1]):
        ridge = Ridge(alpha=fit.alpha[j]).fit(x, y[:, j])
        np.testing.assert_allclose(fit.coef[:, j], ridge.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fit.intercept[j], ridge.intercept_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.predict(x[:5]), reference.predict(x[:5]), rtol=1e-8)


def test_dual_fit_of_float32_features_with_large_means_matches_sklearn_in_float64():
    # the Gram matrix is centred block by block (no copy of the features): blocks of 7 columns
    # give the direct product, and float32 features 1000 s.d. off zero keep their accuracy
    x, y = _linear_data(40, 90, 3, offset=1000.0)
    mean = x.mean(0)
    np.testing.assert_allclose(_centred_gram(x, mean, block=7), (x - mean) @ (x - mean).T)
    fit = fit_ridge(x.astype(np.float32), y, [10.0])
    ridge = Ridge(alpha=10.0).fit(x, y)
    np.testing.assert_allclose(fit.coef, ridge.coef_.T, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(fit.predict(x), ridge.predict(x), rtol=1e-4)


def test_ridge_shared_alpha_and_tensor_inputs():
    x, y = _linear_data(50, 30, 4)
    fit = fit_ridge(torch.as_tensor(x).view(50, 3, 10), torch.as_tensor(y), alpha_per_neuron=False)
    assert np.unique(fit.alpha).size == 1
    assert fit.alpha[0] == fit.alphas[np.argmin(fit.loo_mse.mean(1))]
    ridge = Ridge(alpha=fit.alpha[0]).fit(x, y)
    np.testing.assert_allclose(fit.coef.T, ridge.coef_, rtol=1e-7, atol=1e-9)


def test_cross_validation_finds_the_bayes_optimal_penalty():
    # w ~ N(0, tau^2 I), noise ~ N(0, sigma^2): the posterior mean is ridge with
    # alpha = sigma^2 / tau^2, the penalty with the lowest expected prediction error.
    rng = np.random.default_rng(1)
    n, p, m, tau, sigma = 300, 100, 40, 0.2, 2.0
    x = rng.normal(size=(n, p))
    y = x @ (tau * rng.normal(size=(p, m))) + sigma * rng.normal(size=(n, m))
    alphas = np.logspace(-1, 4, 21)
    fit = fit_ridge(x, y, alphas)
    optimal = sigma**2 / tau**2
    assert abs(np.log10(np.median(fit.alpha)) - np.log10(optimal)) < 0.3
    # and the scale-free default grid reaches the same region
    default = fit_ridge(x, y)
    assert abs(np.log10(np.median(default.alpha)) - np.log10(optimal)) < 0.4


def test_ridge_rejects_bad_inputs():
    x, y = _linear_data(20, 5, 2)
    with pytest.raises(ValueError, match="n_samples = 20"):
        fit_ridge(x, y[:10])
    with pytest.raises(ValueError, match="positive"):
        fit_ridge(x, y, [0.0, 1.0])
    with pytest.raises(ValueError, match="constant"):
        fit_ridge(np.ones((20, 5)), y)
    with pytest.raises(ValueError, match="fitted on 5"):
        fit_ridge(x, y).predict(x[:, :3])
