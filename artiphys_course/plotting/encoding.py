"""Figures for encoding models: how well they predict, and what they learned about the neurons.

Training curves are drawn by :func:`artiphys_course.plotting.training.plot_training_history`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from artiphys_course.plotting._axes import axes_grid, single_axes

__all__ = [
    "plot_correlation_histograms",
    "plot_model_comparison",
    "plot_fraction_of_ceiling",
    "plot_positions",
    "plot_retinotopic_map",
    "plot_shifts",
    "plot_filters",
]


def _numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def plot_correlation_histograms(
    correlations: Mapping[str, np.ndarray],
    *,
    ceiling: np.ndarray | None = None,
    statistic: str = "mean",
    xlabel: str = "single-trial test correlation (per neuron)",
    title: str | None = None,
    bins: int = 30,
    figsize: tuple[float, float] = (6.0, 3.5),
    ax: Axes | None = None,
) -> Figure:
    """Histograms of per-neuron correlations of several models (and the noise ceiling).

    Parameters
    ----------
    correlations : dict of str to array (n_neurons,)
        Label -> one correlation per neuron (test correlation, match with a true filter, ...).
    ceiling : array (n_neurons,), optional
        The noise ceiling per neuron, drawn as a grey outline.
    statistic : {"mean", "median"}
        The summary marked by a dashed line and given in the legend.
    xlabel, title : str
        Axis label and title (default title names the statistic).
    bins : int
    figsize : (float, float)
        Size of a new figure.
    ax : Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    Figure
        One axis; dashed lines mark each set's mean or median.
    """
    summaries = {"mean": np.mean, "median": np.median}
    if statistic not in summaries:
        raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")
    summary = summaries[statistic]
    fig, ax = single_axes(ax, figsize)
    values = [_numpy(v) for v in correlations.values()]
    if ceiling is not None:
        values.append(_numpy(ceiling))
    lo = min(0.0, min(float(v.min()) for v in values))
    edges = np.linspace(lo, 1.0, bins + 1)
    if ceiling is not None:
        c = _numpy(ceiling)
        label = f"noise ceiling ({summary(c):.2f})"
        ax.hist(c, edges, histtype="step", color="0.4", lw=2, label=label)
    for i, (name, corr) in enumerate(correlations.items()):
        corr = _numpy(corr).ravel()
        ax.hist(corr, edges, alpha=0.45, color=f"C{i}", label=f"{name} ({summary(corr):.2f})")
        ax.axvline(summary(corr), color=f"C{i}", ls="--", lw=1.5)
    ax.set(
        xlabel=xlabel,
        ylabel="number of neurons",
        title=title or f"Per-neuron correlations ({statistic} in brackets)",
    )
    ax.legend(frameon=False, fontsize="small")
    return fig


def plot_model_comparison(
    corr_a: np.ndarray | torch.Tensor,
    corr_b: np.ndarray | torch.Tensor,
    *,
    labels: tuple[str, str] = ("model A", "model B"),
    groups: Mapping[str, np.ndarray] | None = None,
    figsize: tuple[float, float] = (4.4, 4.2),
    ax: Axes | None = None,
) -> Figure:
    """Per-neuron scatter of two models' test correlations with the identity line.

    Points above the diagonal are neurons the second model predicts better.

    Parameters
    ----------
    corr_a, corr_b : array (n_neurons,)
        Each neuron's test correlation under the first (x axis) and second (y axis) model.
    labels : (str, str)
        Names of the two models.
    groups : dict of str to bool array (n_neurons,), optional
        Label -> which neurons belong to the group (e.g. ``{"simple cells": ~is_complex,
        "complex cells": is_complex}``): each group gets its own colour and a legend entry, and
        the title gives each group's share of neurons above the diagonal. Default: one colour.
    figsize : (float, float)
        Size of a new figure.
    ax : Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    Figure
        One axis, with limits that keep every point inside the frame.
    """
    a, b = _numpy(corr_a), _numpy(corr_b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"corr_a and corr_b must be two arrays (n_neurons,) of equal length; got shapes "
            f"{a.shape} and {b.shape}"
        )
    masks = {"neurons": np.ones(len(a), dtype=bool)} if groups is None else {}
    for name, mask in (groups or {}).items():
        mask = _numpy(mask)
        if mask.dtype != bool or mask.shape != a.shape:
            raise ValueError(
                f"groups[{name!r}] must be a bool array of shape {a.shape}, got dtype "
                f"{mask.dtype} and shape {mask.shape}"
            )
        masks[name] = mask
    fig, ax = single_axes(ax, figsize)
    lo, hi = min(a.min(), b.min(), 0.0), max(a.max(), b.max())
    margin = 0.03 * (hi - lo) + 1e-3
    lo, hi = lo - margin, hi + margin
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=1)
    above = []
    for k, (name, mask) in enumerate(masks.items()):
        ax.scatter(a[mask], b[mask], s=8, color=f"C{k}", alpha=0.7, label=name)
        above.append(f"{np.mean(b[mask] > a[mask]):.0%}" + ("" if groups is None else f" {name}"))
    if groups is not None:
        ax.legend(frameon=False, loc="upper left", markerscale=2)
    ax.set(
        xlabel=f"{labels[0]}: test correlation",
        ylabel=f"{labels[1]}: test correlation",
        xlim=(lo, hi),
        ylim=(lo, hi),
        aspect="equal",
    )
    ax.set_title(f"{labels[1]} better for\n" + ", ".join(above), fontsize="medium")
    return fig


def plot_fraction_of_ceiling(
    fractions: Mapping[str, float],
    *,
    target: float | None = None,
    figsize: tuple[float, float] = (5.0, 3.2),
    ax: Axes | None = None,
) -> Figure:
    """Bar chart: each model's mean test correlation as a fraction of the noise ceiling.

    ``ax``: where to draw (default: a new ``figsize`` figure). Returns the figure.
    """
    fig, ax = single_axes(ax, figsize)
    names = list(fractions)
    values = [float(fractions[n]) for n in names]
    bars = ax.bar(names, values, color=[f"C{i}" for i in range(len(names))])
    ax.bar_label(bars, fmt="%.2f")
    if target is not None:
        ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:.2f}")
        ax.legend(frameon=False, loc="lower right")
    ax.axhline(1.0, color="0.5", lw=1)
    ax.set(
        ylabel="mean test correlation / mean noise ceiling",
        ylim=(0, 1.08),
        title="How much of the predictable signal each model captures",
    )
    return fig


def plot_positions(
    learned: np.ndarray | torch.Tensor,
    true: np.ndarray | torch.Tensor,
    image_shape: Sequence[int],
    *,
    max_neurons: int = 200,
    figsize: tuple[float, float] = (10.0, 3.4),
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Learned read-out positions against the true RF centres (pixel ``(row, col)``).

    Left: both on the image frame, a line from each true centre (dot) to its learned position.
    Middle and right: learned against true row and column, with their correlation. ``axes``:
    the three axes to draw into (default: a new ``figsize`` figure). Returns the figure.
    """
    lp, tp = _numpy(learned), _numpy(true)
    h, w = image_shape[-2:]
    fig, grid = axes_grid(axes, 1, 3, figsize, gridspec_kw={"width_ratios": [1.8, 1, 1]})
    axes = grid[0]
    ax = axes[0]
    idx = np.arange(len(tp))[:max_neurons]
    for i in idx:
        ax.plot([tp[i, 1], lp[i, 1]], [tp[i, 0], lp[i, 0]], color="0.6", lw=0.7)
    ax.scatter(tp[idx, 1], tp[idx, 0], s=6, color="k", label="true RF centre")
    ax.scatter(lp[idx, 1], lp[idx, 0], s=6, color="C3", label="learned position")
    ax.set(xlim=(-0.5, w - 0.5), ylim=(h - 0.5, -0.5), aspect="equal", xlabel="column (pixels)")
    ax.set(ylabel="row (pixels)", title="On the image")
    ax.legend(frameon=False, fontsize="small", loc="upper right")
    for ax, k, name in ((axes[1], 0, "row"), (axes[2], 1, "column")):
        r = np.corrcoef(tp[:, k], lp[:, k])[0, 1]
        ax.scatter(tp[:, k], lp[:, k], s=5, alpha=0.6)
        lim = (-0.5, (h if k == 0 else w) - 0.5)
        ax.plot(lim, lim, color="0.5", lw=1)
        ax.set(
            xlabel=f"true {name} (pixels)",
            ylabel=f"learned {name} (pixels)",
            title=f"{name}: r = {r:.3f}",
            xlim=lim,
            ylim=lim,
            aspect="equal",
        )
    return fig


def plot_retinotopic_map(
    cortex_xy: np.ndarray | torch.Tensor,
    positions: np.ndarray | torch.Tensor,
    *,
    true_positions: np.ndarray | torch.Tensor | None = None,
    figsize: tuple[float, float] | None = None,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Cortical position of each neuron coloured by its RF row and column (a retinotopic map).

    Parameters
    ----------
    cortex_xy : array (n, >= 2)
        Cortical ``x, y`` (micrometres).
    positions : array (n, 2)
        RF positions ``(row, col)`` in pixels, e.g. predicted by a position network.
    true_positions : array (n, 2), optional
        The true RF centres: a first row of panels for comparison.
    figsize : (float, float), optional
        Size of a new figure.
    axes : array-like of Axes, optional
        2 axes per row (4 with ``true_positions``) to draw into (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    xy = _numpy(cortex_xy)[:, :2]
    maps = {"model": _numpy(positions)}
    if true_positions is not None:
        maps = {"truth": _numpy(true_positions), **maps}
    fig, axes = axes_grid(axes, len(maps), 2, figsize or (8.0, 3.0 * len(maps)))
    for row, (name, pos) in enumerate(maps.items()):
        for k, label, cmap in (
            (0, "RF row (pixels)", "viridis"),
            (1, "RF column (pixels)", "plasma"),
        ):
            ax = axes[row, k]
            points = ax.scatter(xy[:, 0], xy[:, 1], c=pos[:, k], s=10, cmap=cmap)
            fig.colorbar(points, ax=ax, label=label)
            ax.set(
                xlabel="cortical x (\u00b5m)",
                ylabel="cortical y (\u00b5m)",
                title=f"{name}: {label.split(' (')[0]}",
                aspect="equal",
            )
    return fig


def plot_shifts(
    true_shift: np.ndarray | torch.Tensor,
    learned_shift: np.ndarray | torch.Tensor,
    *,
    max_points: int = 2000,
    figsize: tuple[float, float] = (7.0, 3.3),
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Learned RF shift (from the pupil position) against the true eye shift, per axis (pixels).

    ``axes``: the row and the column axes to draw into (default: a new ``figsize`` figure).
    Returns the figure.
    """
    t, s = _numpy(true_shift)[:max_points], _numpy(learned_shift)[:max_points]
    fig, grid = axes_grid(axes, 1, 2, figsize)
    for k, (ax, name) in enumerate(zip(grid[0], ("row", "column"), strict=True)):
        r = np.corrcoef(t[:, k], s[:, k])[0, 1]
        ax.scatter(t[:, k], s[:, k], s=4, alpha=0.4)
        lim = (min(t[:, k].min(), s[:, k].min()), max(t[:, k].max(), s[:, k].max()))
        ax.plot(lim, lim, color="0.5", lw=1)
        ax.set(
            xlabel=f"true eye shift, {name} (pixels)",
            ylabel=f"shifter output, {name} (pixels)",
            title=f"{name}: r = {r:.3f}",
            aspect="equal",
        )
    return fig


def plot_filters(
    filters: Mapping[str, np.ndarray | torch.Tensor],
    *,
    neurons: Sequence[int] = (0, 1, 2, 3, 4, 5),
    figsize: tuple[float, float] | None = None,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Filters ``(n, H, W)`` (or ``(n, 1, H, W)``) of the same neurons from several sources.

    One row per source (e.g. ``{"true": dv1.filters, "LN model": ln_weights}``), one column per
    neuron; each filter is scaled to its own maximum absolute value (red +, blue -). ``axes``:
    sources x neurons axes to draw into (default: a new figure). Returns the figure.
    """
    rows = {k: _numpy(v).reshape(len(_numpy(v)), *_numpy(v).shape[-2:]) for k, v in filters.items()}
    n = len(neurons)
    fig, axes = axes_grid(axes, len(rows), n, figsize or (1.6 * n + 0.6, 1.2 * len(rows) + 0.4))
    for r, (name, maps) in enumerate(rows.items()):
        for c, i in enumerate(neurons):
            ax = axes[r, c]
            m = maps[i]
            lim = float(np.abs(m).max()) or 1.0
            image = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name)
            if r == 0:
                ax.set_title(f"neuron {i}", fontsize="small")
    bar = fig.colorbar(image, ax=axes, shrink=0.8, label="weight (each filter scaled)")
    bar.set_ticks([-lim, 0, lim], labels=["-max", "0", "+max"])
    return fig
