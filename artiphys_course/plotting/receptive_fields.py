"""Figures for receptive-field arithmetic: RF growth with depth, analytic vs gradient RFs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from artiphys_course.plotting._axes import single_axes
from artiphys_course.receptive_fields import ReceptiveField

__all__ = ["plot_empirical_rf", "plot_rf_growth"]


def plot_rf_growth(
    tables: Mapping[str, Sequence[ReceptiveField]],
    *,
    kinds: Sequence[str] = ("Conv2d",),
    ax: Axes | None = None,
) -> Figure:
    """RF size of successive layers for several networks (one line each, log scale).

    Parameters
    ----------
    tables : dict of str to list of ReceptiveField
        E.g. ``{"AlexNet": receptive_field_table(alexnet()), ...}``.
    kinds : sequence of str
        Module kinds to plot (default: convolutions only).
    ax : Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = single_axes(ax, (5.5, 3.4))
    for k, (label, rows) in enumerate(tables.items()):
        sizes = [r.size[0] for r in rows if r.kind in kinds]
        ax.plot(np.arange(1, len(sizes) + 1), sizes, "o-", ms=4, color=f"C{k}", label=label)
    ax.set_yscale("log")
    ax.set_xlabel(f"{' / '.join(kinds)} layer number")
    ax.set_ylabel("RF size (input pixels)")
    ax.set_title("receptive fields grow with depth", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig


def plot_empirical_rf(
    gradient: np.ndarray,
    box: Sequence[float] | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    log: bool = True,
) -> Figure:
    """The input gradient of a unit with the analytic RF drawn as a rectangle.

    Parameters
    ----------
    gradient : np.ndarray
        ``(H, W)`` absolute gradient, e.g. from
        :func:`~artiphys_course.receptive_fields.empirical_receptive_field`.
    box : (top, bottom, left, right), optional
        Analytic RF bounds (:func:`~artiphys_course.receptive_fields.rf_box`), inclusive pixels.
    ax : Axes, optional
        Where to draw (default: a new figure).
    title : str, optional
    log : bool
        Show log10 of the gradient (deep units weight the RF centre far more than its edge).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = single_axes(ax, (3.4, 3.0))
    g = np.asarray(gradient, dtype=np.float64)
    shown = np.where(g > 0, np.log10(np.where(g > 0, g, 1.0)), np.nan) if log else g
    im = ax.imshow(shown, cmap="viridis")
    fig.colorbar(im, ax=ax, shrink=0.8, label="log10 |gradient|" if log else "|gradient|")
    if box is not None:
        top, bottom, left, right = box
        ax.add_patch(
            Rectangle(
                (left - 0.5, top - 0.5),
                right - left + 1,
                bottom - top + 1,
                fill=False,
                color="red",
                lw=1.5,
                label="analytic RF",
            )
        )
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
    ax.set_title(title or "gradient of the centre unit", fontsize=9)
    return fig
