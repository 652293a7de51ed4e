"""Exercise checks of notebook 07 pass the reference, catch mistakes; plots draw what they say."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from functools import partial  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from scipy.spatial.distance import pdist, squareform  # noqa: E402
from scipy.stats import kendalltau, rankdata, spearmanr  # noqa: E402

from artiphys_course import decoding  # noqa: E402
from artiphys_course import rsa as rsa_module  # noqa: E402
from artiphys_course import tuning as tuning_module  # noqa: E402
from artiphys_course.checks import representations as checks  # noqa: E402
from artiphys_course.decoding import train_decoder  # noqa: E402
from artiphys_course.plotting import representations as plots  # noqa: E402
from artiphys_course.rsa import compare_rdms, rdm, rsa  # noqa: E402
from artiphys_course.runtime import seeded  # noqa: E402
from artiphys_course.tuning import (  # noqa: E402
    fit_von_mises,
    tuning_curves,
    von_mises_tuning,
)


def _unsolved(*args, **kwargs):
    raise NotImplementedError("Exercise")


def _wrong(result, mistake: str | None = None) -> None:
    """A wrong verdict; ``mistake``: the words the message must name (else the general hint)."""
    assert not result and result.status == "wrong" and "\u274c" in result.message
    if mistake is None:
        assert "Hint:" in result.message and "looks like" not in result.message
    else:
        assert f"This looks like {mistake}" in result.message


def _calls(check, function: str, student) -> None:
    """The check says the student called the package's ``function``; unsolved is not wrong."""
    result = check(student)
    assert not result and f"calls the package's `{function}`" in result.message
    assert "not implemented yet" in check(_unsolved).message


# -- preferred orientation -----------------------------------------------------------------------


def _pref_vector(responses, orientation_deg):
    weights = responses - responses.min(axis=0, keepdims=True)
    return np.rad2deg(np.angle(np.exp(2j * np.deg2rad(orientation_deg)) @ weights)) / 2


def _pref_loop(responses, orientation_deg):
    """Cosines and sines, one unit at a time, answer in [0, 180)."""
    out = []
    for unit in responses.T:
        w = unit - unit.min()
        theta = np.radians(2 * orientation_deg)
        out.append(np.degrees(np.arctan2((w * np.sin(theta)).sum(), (w * np.cos(theta)).sum())))
    return (np.array(out) / 2) % 180


@pytest.mark.parametrize("correct", [_pref_vector, _pref_loop])
def test_preferred_orientation_check_accepts_correct_answers(correct):
    result = checks.check_preferred_orientation(correct)
    assert result and result.passed == result.total == 4


def _pref_with(weights, doubling=2.0, halve=True, radians=True):
    def answer(responses, orientation_deg):
        theta = doubling * (np.deg2rad(orientation_deg) if radians else orientation_deg)
        angle = np.rad2deg(np.angle(np.exp(1j * theta) @ weights(responses)))
        return angle / doubling if halve else angle

    return answer


@pytest.mark.parametrize(
    "wrong,mistake",
    [
        (_pref_with(lambda r: r - r.min(0), doubling=1.0), "a circular mean of the angles"),
        (_pref_with(lambda r: r - r.min(0), halve=False), "the doubled angle, not brought back"),
        (_pref_with(lambda r: r - r.min(0), radians=False), "degrees given to the complex"),
        (_pref_with(lambda r: r), "the raw responses as weights"),
        (_pref_with(lambda r: r - r.min(1, keepdims=True)), "the minimum taken per stimulus"),
        (lambda r, t: t[np.argmax(r, axis=0)], "the orientation of the peak response"),
        (lambda r, t: _pref_vector(r, t) + 30.0, None),
    ],
)
def test_preferred_orientation_check_names_the_mistakes(wrong, mistake, lenient):
    _wrong(checks.check_preferred_orientation(wrong), mistake)


def test_preferred_orientation_check_catches_the_reference(lenient):
    namespace = {"tuning": tuning_module}  # the notebook imported the module
    exec("def pref(r, t):\n    return tuning.preferred_orientation(r, t)\n", namespace)
    _calls(checks.check_preferred_orientation, "preferred_orientation", namespace["pref"])


# -- circular error ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "correct",
    [
        lambda p, t: np.abs((p - t + 90.0) % 180.0 - 90.0),
        lambda p, t: np.minimum(np.abs(p - t) % 180.0, 180.0 - np.abs(p - t) % 180.0),
    ],
)
def test_circular_error_check_accepts_correct_answers(correct):
    result = checks.check_circular_error(correct)
    assert result and result.passed == result.total == 3


@pytest.mark.parametrize(
    "wrong,mistake",
    [
        (lambda p, t: np.abs(p - t), "a plain absolute difference"),
        (lambda p, t: (p - t + 90.0) % 180.0 - 90.0, "the signed difference"),
        (lambda p, t: (p - t) % 180.0, "the difference wrapped into [0, 180)"),
        (lambda p, t: np.abs(p - t) / 2, None),
    ],
)
def test_circular_error_check_names_the_mistakes(wrong, mistake, lenient):
    _wrong(checks.check_circular_error(wrong), mistake)


def test_circular_error_check_catches_the_reference(lenient):
    _calls(
        checks.check_circular_error, "circular_error", lambda p, t: decoding.circular_error(p, t)
    )


# -- the linear decoder and its training loop ---------------------------------------------------


def _decoder_nn(responses, orientation_deg, n_epochs=50, lr=0.2, seed=0, degrees=False):
    """The notebook's solution; ``degrees=True``: degrees given to cos and sin (a mistake)."""
    mean, std = responses.mean(0), responses.std(0)
    angle = 2 * orientation_deg if degrees else torch.deg2rad(2 * orientation_deg)
    target = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    with seeded(seed):
        linear = torch.nn.Linear(responses.shape[1], 2)
    optimizer = torch.optim.Adam(linear.parameters(), lr=lr)
    losses = []
    for _ in range(n_epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(linear((responses - mean) / std), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    def decode(x):
        out = linear((x - mean) / std)
        return torch.rad2deg(torch.atan2(out[:, 1], out[:, 0])) / 2

    return decode, losses


def _decoder_tensors(responses, orientation_deg, n_epochs=50, lr=0.2, seed=0, mistake=None):
    """Hand-made weights from zero, summed loss, population s.d.; ``mistake`` breaks one step."""
    mean, std = responses.mean(0), responses.std(0, unbiased=False)
    theta = orientation_deg * np.pi / 90.0
    weights = torch.zeros(responses.shape[1], 2, requires_grad=True)
    bias = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.Adam([weights, bias], lr=lr)
    losses = []
    for _ in range(n_epochs):
        out = (responses - mean) / std @ weights + bias
        loss = ((out[:, 0] - torch.cos(theta)) ** 2 + (out[:, 1] - torch.sin(theta)) ** 2).sum()
        if mistake != "no zero_grad":
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))

    def decode(x):
        out = (x - mean) / std @ weights + bias
        angle = torch.atan2(out[:, 1], out[:, 0]) * 180.0 / np.pi
        return angle if mistake == "not halved" else angle / 2

    return decode, losses


@pytest.mark.parametrize("correct", [_decoder_nn, _decoder_tensors])
def test_decoder_check_accepts_correct_training_loops(correct):
    result = checks.check_train_linear_decoder(correct)
    assert result and result.passed == result.total == 3


def _decoder_angle(responses, orientation_deg, n_epochs=50, lr=0.2, seed=0):
    mean, std = responses.mean(0), responses.std(0)
    with seeded(seed):
        linear = torch.nn.Linear(responses.shape[1], 1)
    optimizer = torch.optim.Adam(linear.parameters(), lr=lr)
    losses = []
    for _ in range(n_epochs):
        optimizer.zero_grad()
        loss = ((linear((responses - mean) / std)[:, 0] - orientation_deg / 90.0) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return (lambda x: linear((x - mean) / std)[:, 0] * 90.0), losses


@pytest.mark.parametrize(
    "wrong,mistake",
    [
        (_decoder_angle, "regressing the angle itself"),
        (partial(_decoder_nn, degrees=True), "degrees given to cos and sin"),
        (partial(_decoder_tensors, mistake="not halved"), "a decoded angle that is still doubled"),
        (partial(_decoder_tensors, mistake="no zero_grad"), None),
    ],
)
def test_decoder_check_names_the_mistakes(wrong, mistake, lenient):
    _wrong(checks.check_train_linear_decoder(wrong), mistake)


def test_decoder_check_catches_the_package_decoder(lenient):
    def package(responses, orientation_deg, n_epochs=50, lr=0.2, seed=0):
        result = train_decoder(responses, orientation_deg, hidden=0, progress=False)
        return (lambda x: torch.as_tensor(result.model.predict(x))), [0.0] * n_epochs

    _calls(checks.check_train_linear_decoder, "train_decoder", package)


# -- RDMs and RSA --------------------------------------------------------------------------------


def _rdm_standardised(x):
    z = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    return 1.0 - z @ z.T / x.shape[1]


@pytest.mark.parametrize("correct", [lambda x: 1.0 - np.corrcoef(x), _rdm_standardised])
def test_rdm_check_accepts_correct_answers(correct):
    assert checks.check_correlation_rdm(correct)


@pytest.mark.parametrize(
    "wrong,mistake",
    [
        (lambda x: 1.0 - np.corrcoef(x.T), "correlations between neurons"),
        (lambda x: np.corrcoef(x), "a similarity, not a dissimilarity"),
        (lambda x: 1.0 - np.cov(x), "a covariance instead of a correlation"),
        (lambda x: squareform(pdist(x)), "the Euclidean distance"),
        (lambda x: 1.0 - np.corrcoef(x) ** 2, None),
    ],
)
def test_rdm_check_names_the_mistakes(wrong, mistake, lenient):
    _wrong(checks.check_correlation_rdm(wrong), mistake)


def test_rdm_check_catches_the_reference(lenient):
    _calls(checks.check_correlation_rdm, "rdm", lambda x: rsa_module.rdm(x))


def _upper(a, k=1):
    return a[np.triu_indices(len(a), k=k)]


@pytest.mark.parametrize(
    "correct",
    [
        lambda a, b: spearmanr(_upper(a), _upper(b))[0],
        lambda a, b: np.corrcoef(rankdata(_upper(a)), rankdata(_upper(b)))[0, 1],
    ],
)
def test_compare_rdms_check_accepts_correct_answers(correct):
    assert checks.check_compare_rdms(correct)


@pytest.mark.parametrize(
    "wrong,mistake",
    [
        (lambda a, b: np.corrcoef(_upper(a), _upper(b))[0, 1], "a Pearson correlation"),
        (lambda a, b: spearmanr(a.ravel(), b.ravel())[0], "the whole matrices"),
        (lambda a, b: spearmanr(_upper(a, 0), _upper(b, 0))[0], "the diagonal included"),
        (lambda a, b: kendalltau(_upper(a), _upper(b))[0], None),
    ],
)
def test_compare_rdms_check_names_the_mistakes(wrong, mistake, lenient):
    _wrong(checks.check_compare_rdms(wrong), mistake)


def test_compare_rdms_check_catches_the_reference(lenient):
    _calls(checks.check_compare_rdms, "compare_rdms", lambda a, b: compare_rdms(a, b))


def test_plots_draw_labelled_figures():
    theta = np.arange(-90, 90, 5.0)
    pref = np.linspace(-90, 90, 40, endpoint=False)
    rng = np.random.default_rng(0)
    resp = von_mises_tuning(theta[:, None], pref, 2.0) + 0.1 * rng.normal(size=(36, 40))
    tc = tuning_curves(resp, theta)
    fig = plots.plot_tuning_curves(tc, [0, 10], fit=fit_von_mises(tc))
    assert len(fig.axes[0].lines) == 4 and fig.axes[0].get_xlabel()
    with pytest.raises(IndexError, match="40 units"):
        plots.plot_tuning_curves(tc, [40])
    fig = plots.plot_population_heatmap(resp, theta)
    assert fig.axes[0].images[0].get_array().shape == (36, 40)
    result = train_decoder(resp, theta, max_epochs=2, progress=False)
    fig = plots.plot_decoder(result)
    assert len(fig.axes) == 2
    np.testing.assert_allclose(
        fig.axes[0].lines[1].get_ydata(), -np.array(result.history.validation_score)
    )
    r = rdm(resp)
    fig = plots.plot_rdm(r, theta)
    assert fig.axes[0].images[0].get_array().shape == (36, 36)
    fig = plots.plot_rdms({"a": r, "b": r, "c": r}, theta, ncols=2)
    assert sum(a.get_title() in "abc" and a.get_title() != "" for a in fig.axes) == 3
    res = {"a": rsa(r, r, n_bootstrap=20, n_permutations=20)}
    fig = plots.plot_rsa(res)
    assert "Spearman" in fig.axes[0].get_ylabel()
    fig = plots.plot_embedding(rng.normal(size=(36, 2)), theta)
    assert fig.axes[0].collections[0].get_array().shape == (36,)
    with pytest.raises(ValueError):
        plots.plot_embedding(rng.normal(size=(35, 2)), theta)
    fig = plots.plot_conv_filters(rng.normal(size=(4, 1, 5, 5)))
    assert len(fig.axes) == 5  # four filters and the colour bar
    plt.close("all")
