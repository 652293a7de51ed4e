"""Where a plotting function draws: the caller's ``ax``/``axes`` or a new figure."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def single_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure and axes to draw a one-panel plot into.

    Parameters
    ----------
    ax : Axes or None
        The caller's axes, or None for a new ``figsize`` figure with constrained layout.
    figsize : (float, float)
        Size (inches) of a new figure.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax.figure, ax


def axes_grid(
    axes: Any, nrows: int, ncols: int, figsize: tuple[float, float], **subplots: Any
) -> tuple[Figure, np.ndarray]:
    """The figure and ``(nrows, ncols)`` array of axes to draw a multi-panel plot into.

    Parameters
    ----------
    axes : array-like of Axes or None
        The caller's axes (any shape holding exactly ``nrows * ncols`` of them, filled row by
        row), or None for a new ``figsize`` figure with constrained layout.
    nrows, ncols : int
        Panel grid.
    figsize : (float, float)
        Size (inches) of a new figure.
    **subplots
        Passed to ``plt.subplots`` for a new figure (``sharex``, ``subplot_kw``, ...).

    Raises
    ------
    ValueError
        When ``axes`` does not hold ``nrows * ncols`` axes.
    """
    if axes is None:
        fig, grid = plt.subplots(
            nrows, ncols, figsize=figsize, squeeze=False, layout="constrained", **subplots
        )
        return fig, grid
    flat = np.asarray(axes, dtype=object).ravel()
    if flat.size != nrows * ncols or not all(isinstance(a, Axes) for a in flat):
        raise ValueError(
            f"axes must hold {nrows * ncols} matplotlib Axes ({nrows} x {ncols} panels), "
            f"got {flat.size} objects"
        )
    return flat[0].figure, flat.reshape(nrows, ncols)


def panel_axes(
    axes: Any,
    n: int,
    ncols: int,
    panel_size: tuple[float, float],
    margin: tuple[float, float] = (0.0, 0.0),
    **subplots: Any,
) -> tuple[Figure, np.ndarray]:
    """The figure and ``n`` axes (flat) for ``n`` similar panels laid out ``ncols`` per row.

    Parameters
    ----------
    axes : array-like of Axes or None
        The caller's axes (at least ``n``; unused ones are switched off), or None for a new
        figure of ``ceil(n / ncols)`` rows.
    n : int
        Number of panels.
    ncols : int
        Panels per row of a new figure (at most ``n``).
    panel_size : (float, float)
        Width and height (inches) of one panel of a new figure.
    margin : (float, float)
        Inches added to the width and height of a new figure (titles, colour bars).
    **subplots
        Passed to ``plt.subplots`` for a new figure.

    Raises
    ------
    ValueError
        When ``axes`` holds fewer than ``n`` axes.
    """
    if axes is None:
        ncols = max(1, min(ncols, n))
        nrows = int(np.ceil(n / ncols))
        figsize = (panel_size[0] * ncols + margin[0], panel_size[1] * nrows + margin[1])
        fig, grid = axes_grid(None, nrows, ncols, figsize, **subplots)
        flat = grid.ravel()
    else:
        flat = np.asarray(axes, dtype=object).ravel()
        if flat.size < n or not all(isinstance(a, Axes) for a in flat):
            raise ValueError(
                f"axes must hold at least {n} matplotlib Axes, got {flat.size} objects"
            )
        fig = flat[0].figure
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]
