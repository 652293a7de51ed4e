"""Exercise checks of notebook 07 pass the reference, catch mistakes; plots draw what they say."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from artiphys_course.checks import representations as checks  # noqa: E402
from artiphys_course.decoding import circular_error, train_decoder  # noqa: E402
from artiphys_course.plotting import representations as plots  # noqa: E402
from artiphys_course.rsa import compare_rdms, rdm, rsa  # noqa: E402
from artiphys_course.tuning import (  # noqa: E402
    fit_von_mises,
    preferred_orientation,
    tuning_curves,
    von_mises_tuning,
)


def _unsolved(*args, **kwargs):
    raise NotImplementedError("Exercise")


@pytest.mark.parametrize(
    "check,reference,wrong",
    [
        (
            checks.check_preferred_orientation,
            preferred_orientation,
            lambda r, t: t[np.argmax(r, axis=0)] + 30.0,
        ),
        (checks.check_circular_error, circular_error, lambda p, t: np.abs(p - t)),
        (checks.check_correlation_rdm, rdm, lambda x: 1 - np.corrcoef(x.T)),
        (
            checks.check_compare_rdms,
            compare_rdms,
            lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1]),
        ),
    ],
)
def test_checks(check, reference, wrong, lenient):
    right = check(reference)
    assert right and "\u2705" in right.message
    unsolved = check(_unsolved)
    assert not unsolved and "not implemented yet" in unsolved.message
    mistaken = check(wrong)
    assert not mistaken and "\u274c" in mistaken.message


def test_preferred_orientation_check_accepts_any_output_range():
    assert checks.check_preferred_orientation(lambda r, t: preferred_orientation(r, t, lower=0.0))


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
