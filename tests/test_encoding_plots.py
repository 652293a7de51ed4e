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
    fig = eplot.plot_model_comparison(a, b, labels=("A", "B"), color=np.array([0, 1, 0, 1]))
    assert "B better for 75% of neurons" in fig.axes[0].get_title()
    assert len(fig.axes) == 2  # scatter + colour bar


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
