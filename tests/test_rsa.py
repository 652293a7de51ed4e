"""RDMs and RSA: agree with scipy (and rsatoolbox), never NaN, honest statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr, spearmanr

from artiphys_course.rsa import compare_rdms, rdm, rsa, upper_triangle
from artiphys_course.runtime import ArtiphysWarning
from artiphys_course.tuning import von_mises_tuning


@pytest.fixture
def patterns() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(12, 40))


@pytest.mark.parametrize("metric", ["correlation", "euclidean"])
def test_rdm_equals_scipy_pdist(patterns, metric):
    expected = squareform(pdist(patterns, metric))
    np.testing.assert_allclose(rdm(patterns, metric), expected, atol=1e-10)
    np.testing.assert_allclose(
        upper_triangle(rdm(patterns, metric)), pdist(patterns, metric), atol=1e-10
    )


def test_rdm_flattens_layer_activations_and_accepts_tensors():
    x = torch.randn(6, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    expected = squareform(pdist(x.reshape(6, -1).numpy().astype(float), "correlation"))
    np.testing.assert_allclose(rdm(x), expected, atol=1e-6)


def test_constant_patterns_have_documented_distances(patterns):
    x = patterns.copy()
    x[2] = 0.0
    x[5] = 7.0  # another constant pattern at a different level
    with pytest.warns(ArtiphysWarning, match="2 of 12 response patterns are constant"):
        d = rdm(x)
    assert not np.isnan(d).any()
    assert d[2, 5] == 0.0 and d[5, 2] == 0.0
    others = [i for i in range(len(x)) if i not in (2, 5)]
    np.testing.assert_allclose(d[2, others], 1.0)
    np.testing.assert_allclose(d[5, others], 1.0)
    # the other entries are untouched
    sub = np.ix_(others, others)
    np.testing.assert_allclose(d[sub], squareform(pdist(x[others], "correlation")), atol=1e-10)
    assert np.isnan(pdist(x, "correlation")).any()  # what scipy would have given


def test_constant_units_are_harmless(patterns):
    x = np.concatenate([patterns, np.full((len(patterns), 3), 2.5)], axis=1)
    np.testing.assert_allclose(rdm(x), squareform(pdist(x, "correlation")), atol=1e-10)


def test_rdm_of_orientation_population_grows_with_orientation_difference():
    theta = np.arange(-90, 90, 10.0)
    pref = np.linspace(-90, 90, 60, endpoint=False)
    d = rdm(von_mises_tuning(theta[:, None], pref, 2.0))
    # distance depends on the circular orientation difference only, growing up to 90 degrees
    row = d[9]  # stimulus at 0 deg
    assert np.all(np.diff(row[9:]) > 0) and np.all(np.diff(row[:10]) < 0)
    np.testing.assert_allclose(d[0, 1], d[-1, 0], atol=1e-9)  # -90 and 80 deg are neighbours


@pytest.mark.parametrize("method,reference", [("spearman", spearmanr), ("pearson", pearsonr)])
def test_compare_rdms_equals_scipy_on_upper_triangles(patterns, method, reference):
    rng = np.random.default_rng(1)
    a = rdm(patterns)
    b = rdm(patterns + rng.normal(size=patterns.shape), "euclidean")
    iu = np.triu_indices(len(a), k=1)
    assert compare_rdms(a, b, method) == pytest.approx(reference(a[iu], b[iu])[0], abs=1e-12)


def test_compare_constant_rdm_is_nan_with_a_warning(patterns):
    a = rdm(patterns)
    flat = np.ones_like(a) - np.eye(len(a))
    with pytest.warns(ArtiphysWarning, match="compare_rdms is NaN"):
        assert np.isnan(compare_rdms(a, flat))
    with pytest.warns(ArtiphysWarning, match="compare_rdms is NaN"):
        assert np.isnan(compare_rdms(flat, flat, "pearson"))
    with pytest.warns(ArtiphysWarning, match="compare_rdms is NaN"):
        result = rsa(a, flat, n_bootstrap=5, n_permutations=5)
    assert np.isnan(result.similarity) and np.isnan(result.p_value)


def test_rsa_identical_rdms():
    a = rdm(np.random.default_rng(2).normal(size=(15, 30)))
    res = rsa(a, a, n_bootstrap=100, n_permutations=199, seed=0)
    assert res.similarity == pytest.approx(1.0)
    assert res.ci_low == pytest.approx(1.0) and res.ci_high == pytest.approx(1.0)
    assert res.p_value == pytest.approx(1 / 200)  # the smallest possible with 199 permutations


def test_rsa_unrelated_rdms_are_not_significant_and_ci_covers_zero():
    rng = np.random.default_rng(3)
    a = rdm(rng.normal(size=(20, 30)))
    b = rdm(rng.normal(size=(20, 30)))
    res = rsa(a, b, n_bootstrap=300, n_permutations=300, seed=1)
    assert res.p_value > 0.05
    assert res.ci_low < 0 < res.ci_high
    assert np.all(np.isfinite(res.bootstrap)) and np.all(np.abs(res.null) <= 1)


def test_rsa_related_rdms_significant_with_ci_around_estimate():
    rng = np.random.default_rng(4)
    theta = np.arange(-90, 90, 7.5)
    pref = rng.uniform(-90, 90, 80)
    v1 = von_mises_tuning(theta[:, None], pref, 2.0) + 0.2 * rng.normal(size=(len(theta), 80))
    model = von_mises_tuning(theta[:, None], rng.uniform(-90, 90, 50), 1.0)
    res = rsa(rdm(v1), rdm(model), n_bootstrap=300, n_permutations=300, seed=0)
    assert res.similarity > 0.5
    assert res.p_value < 0.01
    assert res.ci_low < res.similarity < res.ci_high
    assert res.ci_high - res.ci_low < 0.5


def test_rsa_is_seeded():
    rng = np.random.default_rng(5)
    a, b = rdm(rng.normal(size=(10, 8))), rdm(rng.normal(size=(10, 8)))
    r1, r2 = (
        rsa(a, b, seed=3, n_bootstrap=50, n_permutations=50),
        rsa(a, b, seed=3, n_bootstrap=50, n_permutations=50),
    )
    np.testing.assert_array_equal(r1.bootstrap, r2.bootstrap)
    np.testing.assert_array_equal(r1.null, r2.null)
    r3 = rsa(a, b, seed=4, n_bootstrap=50, n_permutations=50)
    assert not np.array_equal(r1.null, r3.null)


@pytest.mark.parametrize(
    "call,error",
    [
        (lambda: rdm(np.ones(5)), ValueError),
        (lambda: rdm(np.ones((4, 3)), "cosine"), ValueError),
        (lambda: rdm(np.full((4, 3), np.nan)), ValueError),
        (lambda: compare_rdms(np.zeros((4, 4)), np.zeros((5, 5))), ValueError),
        (lambda: compare_rdms(np.zeros((4, 4)), np.zeros((4, 4)), "kendall"), ValueError),
        (lambda: compare_rdms(np.zeros((4, 3)), np.zeros((4, 3))), ValueError),
        (lambda: rsa(np.zeros((4, 4)), np.zeros((4, 4)), confidence=1.5), ValueError),
    ],
)
def test_clear_errors(call, error):
    with pytest.raises(error):
        call()


def test_agrees_with_rsatoolbox(patterns):
    rsatoolbox = pytest.importorskip("rsatoolbox")
    data = rsatoolbox.data.Dataset(patterns)
    for metric, method in (("correlation", "correlation"), ("euclidean", "euclidean")):
        theirs = rsatoolbox.rdm.calc_rdm(data, method=method).get_matrices()[0]
        ours = rdm(patterns, metric)
        if metric == "euclidean":  # rsatoolbox: squared distance divided by the number of units
            ours = ours**2 / patterns.shape[1]
        np.testing.assert_allclose(ours, theirs, atol=1e-8)
    rng = np.random.default_rng(6)
    other = patterns + rng.normal(size=patterns.shape)
    a = rsatoolbox.rdm.calc_rdm(data, method="correlation")
    b = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(other), method="correlation")
    theirs = rsatoolbox.rdm.compare(a, b, method="spearman")[0, 0]
    assert compare_rdms(rdm(patterns), rdm(other)) == pytest.approx(theirs, abs=1e-8)
