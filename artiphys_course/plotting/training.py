"""Figures for model training: learning curves of :func:`~artiphys_course.training.fit` runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from artiphys_course.plotting._axes import axes_grid
from artiphys_course.training import TrainHistory

__all__ = ["plot_training_history"]


def plot_training_history(
    history: TrainHistory | Mapping[str, TrainHistory],
    *,
    figsize: tuple[float, float] = (9.0, 3.2),
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Training loss and validation score per epoch, for one run or several side by side.

    The left panel shows the training data loss (per trial, summed over neurons, regulariser
    excluded), the right panel the validation score (for encoding models the mean validation
    correlation). A star marks the epoch whose weights were kept; dotted vertical lines mark
    learning-rate decays.

    Parameters
    ----------
    history : TrainHistory or dict of str to TrainHistory
        One run, or several labelled runs (e.g. ``{"Poisson": h1, "MSE": h2}``). Losses of
        different kinds live on different scales, so with several runs the loss panel shows each
        loss relative to its first epoch.
    figsize : (float, float)
        Size (inches) of a new figure.
    axes : pair of Axes, optional
        The loss and the correlation axes to draw into (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        With two axes: loss and validation score.
    """
    runs = {history.loss: history} if isinstance(history, TrainHistory) else dict(history)
    if not runs:
        raise ValueError("Give at least one TrainHistory.")
    relative = len(runs) > 1 and len({h.loss for h in runs.values()}) > 1
    fig, grid = axes_grid(axes, 1, 2, figsize)
    ax_loss, ax_corr = grid[0]
    for i, (label, h) in enumerate(runs.items()):
        color = f"C{i}"
        loss = np.asarray(h.train_loss)
        if relative:
            loss = loss / loss[0]
        ax_loss.plot(h.epochs, loss, "o-", ms=3, color=color, label=label)
        ax_corr.plot(h.epochs, h.validation_score, "o-", ms=3, color=color, label=label)
        if h.best_epoch:
            ax_corr.plot(
                h.best_epoch,
                h.best_validation_score,
                "*",
                ms=12,
                color=color,
                markeredgecolor="k",
                zorder=3,
            )
        lr = np.asarray(h.lr)
        decays = h.epochs[1:][lr[1:] < lr[:-1]]
        for ax in (ax_loss, ax_corr):
            for epoch in decays:
                ax.axvline(epoch - 0.5, color=color, ls=":", lw=1)
    if relative:
        loss_label = "training loss / first epoch"
    else:
        loss_label = f"training loss ({next(iter(runs.values())).loss}, per trial)"
    ax_loss.set(
        xlabel="epoch",
        ylabel=loss_label,
        title="Training loss",
    )
    score = next(iter(runs.values())).score
    ax_corr.set(
        xlabel="epoch",
        ylabel=f"validation {score}",
        title=f"Validation {score} (\u2605 kept, \u2506 lr decay)",
    )
    if len(runs) > 1:
        ax_corr.legend(frameon=False)
    return fig
