"""Encoding-model figures: they draw what they say (axes, correlations in titles, colour bars)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from artiphys_course.plotting import encoding as eplot  # noqa: E402

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_histograms_and_fraction_bars():
    corr = {"LN": RNG.uniform(0, 0.5, 50), "CNN": RNG.uniform(0.2, 0.7, 50)}
    fig = eplot.plot_correlation_histograms(corr, ceiling=RNG.uniform(0.5, 0.9, 50))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0].startswith("noise ceiling") and f"({corr['LN'].mean():.2f})" in labels[1]
    fig = eplot.plot_correlation_histograms({"m": np.array([0.1, 0.2, 0.9])}, statistic="median")
    assert "(0.20)" in fig.axes[0].get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="statistic"):
        eplot.plot_correlation_histograms(corr, statistic="mode")
    fig = eplot.plot_fraction_of_ceiling({"LN": 0.5, "CNN": 0.7}, target=0.9)
    assert [p.get_height() for p in fig.axes[0].patches] == [0.5, 0.7]


def test_model_comparison_counts_neurons_above_the_diagonal():
    a = np.array([0.1, 0.2, 0.3, 0.4])
    b = np.array([0.2, 0.1, 0.5, 0.6])
    fig = eplot.plot_model_comparison(a, b, labels=("A", "B"))
    assert fig.axes[0].get_title() == "B better for\n75%"
    assert fig.axes[0].get_legend() is None


def test_model_comparison_colours_and_counts_each_group_inside_the_frame():
    a = np.array([0.1, 0.2, 0.3, -0.4])
    b = np.array([0.2, 0.1, 0.5, 0.9])
    second = np.array([False, True, False, True])
    fig = eplot.plot_model_comparison(a, b, groups={"simple": ~second, "complex": second})
    ax = fig.axes[0]
    assert len(fig.axes) == 1  # a legend, no colour bar
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["simple", "complex"]
    assert ax.get_title() == "model B better for\n100% simple, 50% complex"
    first, other = ax.collections
    assert first.get_facecolor()[0].tolist() != other.get_facecolor()[0].tolist()
    np.testing.assert_array_equal(other.get_offsets(), [[0.2, 0.1], [-0.4, 0.9]])
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < -0.4 and x1 > 0.9 and y0 < -0.4 and y1 > 0.9  # no point on the frame
    with pytest.raises(ValueError, match="groups\\['simple'\\]"):
        eplot.plot_model_comparison(a, b, groups={"simple": np.array([0, 1, 0, 1])})


def test_positions_shifts_and_retinotopy_report_correlations():
    true = np.stack([RNG.uniform(0, 35, 40), RNG.uniform(0, 63, 40)], 1)
    fig = eplot.plot_positions(true + 0.0, true, (36, 64))
    assert fig.axes[1].get_title() == "row: r = 1.000"
    shift = RNG.normal(size=(100, 2))
    fig = eplot.plot_shifts(shift, -shift)
    assert fig.axes[1].get_title() == "column: r = -1.000"
    fig = eplot.plot_retinotopic_map(RNG.uniform(0, 800, (40, 3)), true, true_positions=true)
    assert len(fig.axes) == 8  # 2 x 2 maps + their colour bars


def test_filters_grid():
    fig = eplot.plot_filters(
        {"true": RNG.normal(size=(6, 8, 8)), "model": RNG.normal(size=(6, 1, 8, 8))},
        neurons=[0, 2, 5],
    )
    assert len(fig.axes) == 2 * 3 + 1
