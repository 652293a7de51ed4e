"""Learning-curve figure: one run or several, best epoch and learning-rate decays marked."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from artiphys_course.plotting.training import plot_training_history  # noqa: E402
from artiphys_course.training import TrainHistory  # noqa: E402


def _history(loss: str, scale: float) -> TrainHistory:
    return TrainHistory(
        train_loss=list(scale * np.array([3.0, 2.0, 1.5, 1.4, 1.3])),
        regularizer=[0.0] * 5,
        validation_score=[0.1, 0.2, 0.25, 0.24, 0.26],
        lr=[1e-2, 1e-2, 1e-2, 3e-3, 3e-3],
        epoch_seconds=[1.0] * 5,
        best_epoch=5,
        best_validation_score=0.26,
        loss=loss,
        score="correlation",
    )


def test_single_history_plots_curves_best_epoch_and_decay():
    fig = plot_training_history(_history("poisson", 1.0))
    ax_loss, ax_corr = fig.axes
    np.testing.assert_allclose(ax_loss.lines[0].get_ydata(), [3.0, 2.0, 1.5, 1.4, 1.3])
    best = [line for line in ax_corr.lines if line.get_marker() == "*"]
    assert best and best[0].get_xdata()[0] == 5
    decays = [line for line in ax_corr.lines if line.get_linestyle() == ":"]
    assert len(decays) == 1 and decays[0].get_xdata()[0] == 3.5  # between epochs 3 and 4
    assert "poisson" in ax_loss.get_ylabel()
    assert ax_corr.get_ylabel() == "validation correlation"
    plt.close(fig)


def test_several_losses_are_shown_relative_to_their_first_epoch():
    fig = plot_training_history({"Poisson": _history("poisson", 1.0), "MSE": _history("mse", 50)})
    ax_loss, ax_corr = fig.axes
    curves = [line for line in ax_loss.lines if line.get_marker() == "o"]
    assert len(curves) == 2
    for line in curves:
        assert line.get_ydata()[0] == pytest.approx(1.0)
    assert [t.get_text() for t in ax_corr.get_legend().get_texts()] == ["Poisson", "MSE"]
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        plot_training_history({})
