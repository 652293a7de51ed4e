"""PCA and t-SNE helpers: PCA equals the SVD up to sign; t-SNE keeps orientation neighbours."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from artiphys_course.embedding import pca, tsne
from artiphys_course.tuning import orientation_difference, von_mises_tuning


@pytest.fixture
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(50, 20)) @ np.diag(np.linspace(3, 0.1, 20)) + 5.0


def test_pca_equals_numpy_svd_up_to_sign(data):
    res = pca(data, 3)
    centred = data - data.mean(0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    for k in range(3):
        sign = np.sign(vt[k] @ res.components[k])
        assert abs(sign) == 1
        np.testing.assert_allclose(res.components[k], sign * vt[k], atol=1e-8)
        np.testing.assert_allclose(res.coordinates[:, k], sign * u[:, k] * s[k], atol=1e-8)
    np.testing.assert_allclose(res.explained_variance_ratio, s[:3] ** 2 / np.sum(s**2), rtol=1e-8)
    np.testing.assert_allclose(res.mean, data.mean(0))


def test_pca_matches_sklearn_and_has_fixed_sign(data):
    res = pca(torch.tensor(data), 2)
    theirs = PCA(2).fit(data)
    np.testing.assert_allclose(np.abs(res.coordinates), np.abs(theirs.transform(data)), atol=1e-8)
    largest = res.components[np.arange(2), np.abs(res.components).argmax(1)]
    assert np.all(largest > 0)


def test_pca_errors(data):
    with pytest.raises(ValueError, match="n_components"):
        pca(data, 21)
    with pytest.raises(ValueError):
        pca(np.ones(5))


def test_tsne_keeps_orientation_neighbours_and_is_seeded():
    theta = np.arange(-90, 90, 3.0)  # 60 stimuli
    pref = np.linspace(-90, 90, 80, endpoint=False)
    rng = np.random.default_rng(1)
    resp = von_mises_tuning(theta[:, None], pref, 2.0) + 0.05 * rng.normal(size=(60, 80))
    coords = tsne(resp, perplexity=10, seed=0)
    assert coords.shape == (60, 2)
    np.testing.assert_array_equal(coords, tsne(resp, perplexity=10, seed=0))
    dist = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    neighbour = dist.argmin(1)
    gap = np.abs(orientation_difference(theta, theta[neighbour]))
    assert np.mean(gap <= 6.0) > 0.9  # nearest point in the map is a neighbouring orientation


def test_tsne_needs_a_few_points():
    with pytest.raises(ValueError, match="at least 4"):
        tsne(np.ones((3, 5)))
