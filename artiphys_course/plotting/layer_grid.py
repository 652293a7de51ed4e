"""Figures of the layer x area grid: heat maps and per-area layer profiles."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import CenteredNorm, Normalize
from matplotlib.figure import Figure

from artiphys_course.layer_grid import GridResult
from artiphys_course.plotting._axes import axes_grid, single_axes

__all__ = ["plot_layer_grid", "plot_layer_profiles"]

_LABELS = {
    "correlation": "held-out correlation",
    "fraction_of_ceiling": "fraction of noise ceiling",
    "ceiling": "oracle correlation",
    "alpha": "ridge penalty (median)",
    "seconds": "fit time (s)",
}


def plot_layer_grid(
    result: GridResult,
    value: str = "correlation",
    *,
    networks: Sequence[str] | None = None,
    readout: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    center: float | None = 0.0,
    mark_best: bool = True,
    annotate: bool = True,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Heat maps (layers x areas), one per network, optionally with each area's best layer boxed.

    Parameters
    ----------
    result : GridResult
    value : str
        A numeric :class:`~artiphys_course.layer_grid.GridRow` field.
    networks : sequence of str, optional
        Which networks (default all), one panel each, sharing the colour scale.
    readout : str, optional
        Needed when the grid has several readouts.
    vmin, vmax : float, optional
        Colour limits (default: the range over the panels). With ``center`` the scale is made
        symmetric about it, wide enough for both limits.
    center : float or None
        Value drawn white on a diverging blue-white-red scale (default 0: a correlation of 0,
        what a shuffled control gives, is white, negative values blue), so that noise around
        ``center`` looks like noise. ``None``: a sequential scale from ``vmin`` to ``vmax``
        (for values without a natural centre, e.g. ``"alpha"`` or ``"seconds"``).
    mark_best : bool
        Box the layer with the highest value in each area. Switch it off where the values are
        not distinguishable from chance: a "best" cell of noise is not a finding.
    annotate : bool
        Write the value in every cell.
    axes : array-like of Axes, optional
        One axes per network to draw into (default: a new figure, one row).

    Returns
    -------
    matplotlib.figure.Figure
    """
    networks = list(networks) if networks is not None else result.networks
    mats = [result.matrix(net, value, readout) for net in networks]
    lo = np.nanmin([np.nanmin(m) for m in mats]) if vmin is None else vmin
    hi = np.nanmax([np.nanmax(m) for m in mats]) if vmax is None else vmax
    if center is None:
        cmap, norm = "viridis", Normalize(vmin=lo, vmax=hi)
    else:
        halfrange = max(abs(hi - center), abs(lo - center)) or 1.0
        cmap, norm = "RdBu_r", CenteredNorm(vcenter=center, halfrange=halfrange)
    layers, areas = result.layers, result.areas
    fig, axes = axes_grid(
        axes,
        1,
        len(networks),
        (1.5 + max(1.3 * len(areas), 2.6) * len(networks), 1.0 + 0.45 * len(layers)),
    )
    image = None
    for ax, net, m in zip(axes[0], networks, mats, strict=True):
        image = ax.imshow(m, cmap=cmap, norm=norm, aspect="auto")
        ax.set_xticks(range(len(areas)), areas, rotation=20 if len(areas) < 3 else 0)
        ax.set_yticks(range(len(layers)), layers)
        ax.set_xlabel("area")
        ax.set_title(net)
        for j in range(len(areas)):
            if not mark_best or np.all(np.isnan(m[:, j])):
                continue
            i = int(np.nanargmax(m[:, j]))
            ax.add_patch(
                plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2)
            )
        if annotate:
            for i in range(len(layers)):
                for j in range(len(areas)):
                    if not np.isnan(m[i, j]):
                        shade = norm(m[i, j])  # 0..1 along the colour map
                        pale = abs(shade - 0.5) < 0.3 if center is not None else shade > 0.5
                        color = "black" if pale else "white"
                        ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", color=color)
    axes[0, 0].set_ylabel("layer (input -> output)")
    fig.colorbar(image, ax=axes[0].tolist(), label=_LABELS.get(value, value))
    boxed = "; boxed: best layer of each area" if mark_best else ""
    fig.suptitle(f"Which layer predicts which area? ({_LABELS.get(value, value)}{boxed})")
    return fig


def plot_layer_profiles(
    result: GridResult,
    value: str = "correlation",
    *,
    network: str | None = None,
    readout: str | None = None,
    normalize: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """One line per area: ``value`` against layer depth, peaks marked.

    With ``normalize=True`` each area's profile is divided by its maximum, so areas with
    different noise levels can be compared by *where* they peak.

    Parameters
    ----------
    result : GridResult
    value : str
        A numeric :class:`~artiphys_course.layer_grid.GridRow` field.
    network, readout : str, optional
        Which network and readout (needed when the grid has several).
    normalize : bool
        Divide each area's profile by its maximum.
    ax : Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    m = result.matrix(network, value, readout)
    if normalize:
        m = m / np.nanmax(m, axis=0, keepdims=True)
    fig, ax = single_axes(ax, (5.5, 3.5))
    x = np.arange(len(result.layers))
    for j, area in enumerate(result.areas):
        (line,) = ax.plot(x, m[:, j], "o-", label=area)
        best = int(np.nanargmax(m[:, j]))
        ax.plot(x[best], m[best, j], "*", markersize=16, color=line.get_color())
    ax.set_xticks(x, result.layers)
    ax.set_xlabel("layer (input -> output)")
    label = _LABELS.get(value, value)
    ax.set_ylabel(f"{label} / area maximum" if normalize else label)
    title = network or result.networks[0]
    ax.set_title(f"{title}: layer profile of each area (star = best layer)")
    ax.legend(title="area")
    return fig
