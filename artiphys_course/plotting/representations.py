"""Figures for representations: tuning curves, population heatmaps, decoders, RDMs, RSA, embeddings.

Every function draws into a given Matplotlib ``ax`` (or a new figure when ``ax`` is None) and
returns the axes (or the figure for multi-panel plots), so figures compose. Orientation colours use
the cyclic ``"twilight"`` colour map: -90 and +90 degrees are the same orientation and get the same
colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from artiphys_course.decoding import DecoderResult
from artiphys_course.plotting._axes import axes_grid, panel_axes, single_axes
from artiphys_course.rsa import RSAResult
from artiphys_course.tuning import TuningCurves, VonMisesFit, sort_by_preference, von_mises_tuning

__all__ = [
    "plot_decoder",
    "plot_embedding",
    "plot_conv_filters",
    "plot_population_heatmap",
    "plot_rdm",
    "plot_rdms",
    "plot_rsa",
    "plot_tuning_curves",
]

ORIENTATION_CMAP = "twilight"


def plot_tuning_curves(
    curves: TuningCurves,
    units: Sequence[int] | None = None,
    *,
    fit: VonMisesFit | None = None,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
    xlabel: str = "stimulus orientation (deg)",
    ylabel: str = "response",
    title: str | None = "Tuning curves",
) -> Figure:
    """Mean response (+- s.e.m. band) against orientation for a few units, with optional fits.

    Parameters
    ----------
    curves : TuningCurves
    units : sequence of int, optional
        Columns to draw (default: the first 5).
    fit : VonMisesFit, optional
        Fitted von Mises curves of *all* units, drawn dashed for the selected ones.
    ax : Axes, optional
        Where to draw (default: a new figure).
    labels : sequence of str, optional
        Legend entries (default ``"unit i"``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = single_axes(ax, (4.5, 3.5))
    units = list(range(min(5, curves.n_units))) if units is None else list(units)
    bad = [u for u in units if not 0 <= u < curves.n_units]
    if bad:
        raise IndexError(f"units {bad} out of range: there are {curves.n_units} units")
    theta = curves.orientation_deg
    fine = np.linspace(theta.min(), theta.max(), 200)
    for k, u in enumerate(units):
        label = labels[k] if labels is not None else f"unit {u}"
        (line,) = ax.plot(theta, curves.mean[:, u], "o-", ms=3, label=label)
        ax.fill_between(
            theta,
            curves.mean[:, u] - curves.sem[:, u],
            curves.mean[:, u] + curves.sem[:, u],
            color=line.get_color(),
            alpha=0.2,
            lw=0,
        )
        if fit is not None:
            y = von_mises_tuning(
                fine,
                fit.preferred_deg[u],
                fit.concentration[u],
                fit.amplitude[u],
                fit.baseline[u],
                fit.period,
            )
            ax.plot(fine, y, "--", color=line.get_color(), lw=1)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize="small", frameon=False)
    return fig


def plot_population_heatmap(
    responses: np.ndarray,
    orientation_deg: np.ndarray,
    preferred_deg: np.ndarray | None = None,
    *,
    ax: Axes | None = None,
    max_units: int = 2000,
    cbar_label: str = "response (z-score)",
    title: str | None = "Population response, sorted",
) -> Figure:
    """Stimuli (rows, by orientation) x units (columns, by preferred orientation) heat map.

    A diagonal band means each orientation drives its own group of neurons. At most ``max_units``
    evenly spaced (in preference order) units are drawn. ``ax``: where to draw (default: a new
    figure). Returns the figure.
    """
    fig, ax = single_axes(ax, (5.5, 4))
    resp, theta, pref = sort_by_preference(responses, orientation_deg, preferred_deg)
    if resp.shape[1] > max_units:
        keep = np.linspace(0, resp.shape[1] - 1, max_units).round().astype(int)
        resp, pref = resp[:, keep], pref[keep]
    lim = float(np.percentile(np.abs(resp), 99)) or 1.0
    im = ax.imshow(resp, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    fig.colorbar(im, ax=ax, label=cbar_label)
    rows = np.linspace(0, len(theta) - 1, 5).round().astype(int)
    cols = np.linspace(0, len(pref) - 1, 5).round().astype(int)
    ax.set_yticks(rows, [f"{theta[i]:.0f}" for i in rows])
    ax.set_xticks(cols, [f"{pref[i]:.0f}" for i in cols])
    ax.set(
        xlabel="units, sorted by preferred orientation (deg)",
        ylabel="stimulus orientation (deg)",
        title=title,
    )
    return fig


def plot_decoder(
    result: DecoderResult,
    *,
    title: str | None = None,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Two panels: loss per epoch (train, validation) and decoded vs true test orientation.

    ``axes``: the two axes to draw into (default: a new figure). Returns the figure.
    """
    fig, grid = axes_grid(axes, 1, 2, (9, 3.5))
    a, b = grid[0]
    history = result.history
    a.plot(history.epochs, history.train_loss, label="train")
    a.plot(history.epochs, -np.asarray(history.validation_score), label="validation")
    a.plot(history.best_epoch, -history.best_validation_score, "*", ms=12, color="C1", mec="k")
    a.set(
        xlabel="epoch",
        ylabel=f"loss ({result.model.target} target)",
        yscale="log",
        title="Learning curves (\u2605 kept)",
    )
    a.legend(frameon=False)
    lo = result.model.lower
    period = result.model.period
    b.plot([lo, lo + period], [lo, lo + period], color="0.6", lw=1)
    b.scatter(result.true_deg, result.predicted_deg, s=10)
    b.set(
        xlabel="true orientation (deg)",
        ylabel="decoded orientation (deg)",
        aspect="equal",
        title=f"Test error {result.test_error_deg:.1f} deg (chance {result.chance_error_deg:.0f})",
    )
    if title:
        fig.suptitle(title)
    return fig


def plot_rdm(
    rdm_matrix: np.ndarray,
    orientation_deg: np.ndarray | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = "RDM",
    cbar_label: str = "dissimilarity (1 - r)",
    colorbar: bool = True,
) -> Figure:
    """Show an RDM as an image; ticks give the stimulus orientation when ``orientation_deg``.

    ``ax``: where to draw (default: a new figure). Returns the figure.
    """
    fig, ax = single_axes(ax, (4, 3.5))
    im = ax.imshow(rdm_matrix, cmap="viridis", interpolation="nearest")
    if colorbar:
        fig.colorbar(im, ax=ax, label=cbar_label, shrink=0.8)
    if orientation_deg is not None:
        idx = np.linspace(0, len(orientation_deg) - 1, 5).round().astype(int)
        labels = [f"{orientation_deg[i]:.0f}" for i in idx]
        ax.set_xticks(idx, labels)
        ax.set_yticks(idx, labels)
        ax.set(xlabel="stimulus orientation (deg)", ylabel="stimulus orientation (deg)")
    else:
        ax.set(xlabel="stimulus", ylabel="stimulus")
    ax.set_title(title)
    return fig


def plot_rdms(
    rdms: Mapping[str, np.ndarray],
    orientation_deg: np.ndarray | None = None,
    *,
    ncols: int = 4,
    cbar_label: str = "dissimilarity (1 - r)",
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """A grid of RDMs, one panel per entry of ``rdms`` (name -> matrix), each with a colour bar.

    ``axes``: at least ``len(rdms)`` axes to draw into (default: a new figure, ``ncols`` panels
    per row). Returns the figure.
    """
    n = len(rdms)
    if n == 0:
        raise ValueError("rdms is empty")
    ncols = min(ncols, n)
    fig, axes = panel_axes(axes, n, ncols, (3.3, 3.0))
    for k, (name, r) in enumerate(rdms.items()):
        ax = axes[k]
        last_in_row = k % ncols == ncols - 1 or k == n - 1
        plot_rdm(
            r, orientation_deg, ax=ax, title=name, cbar_label=cbar_label if last_in_row else ""
        )
        if k % ncols:  # axis labels only on the outer panels
            ax.set_ylabel("")
        if k + ncols < n:
            ax.set_xlabel("")
    return fig


def plot_rsa(
    results: Mapping[str, RSAResult],
    *,
    ax: Axes | None = None,
    reference: str = "V1",
    title: str | None = None,
    colors: Sequence[str] | str = "tab:blue",
) -> Figure:
    """Bar chart of RDM similarities with bootstrap confidence intervals (one bar per entry).

    ``colors`` is one Matplotlib colour or one per entry (e.g. to set controls apart). ``ax``:
    where to draw (default: a new figure). Returns the figure.
    """
    fig, ax = single_axes(ax, (5, 3.5))
    names = list(results)
    if not names:
        raise ValueError("results is empty")
    sim = np.array([results[k].similarity for k in names])
    low = np.array([results[k].ci_low for k in names])
    high = np.array([results[k].ci_high for k in names])
    x = np.arange(len(names))
    ax.bar(x, sim, color=colors, alpha=0.8)
    ax.errorbar(x, sim, yerr=[sim - low, high - sim], fmt="none", ecolor="k", capsize=4)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xticks(x, names, rotation=30, ha="right")
    first = results[names[0]]
    ax.set(
        ylabel=f"{first.method.capitalize()} correlation with {reference} RDM",
        title=title or f"RSA ({first.confidence:.0%} bootstrap CI over stimuli)",
    )
    return fig


def plot_embedding(
    coordinates: np.ndarray,
    orientation_deg: np.ndarray,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    axis_label: str = "component",
    period: float = 180.0,
    colorbar: bool = True,
) -> Figure:
    """Scatter of 2-D coordinates coloured by stimulus orientation (cyclic colour map).

    ``ax``: where to draw (default: a new figure). Returns the figure.
    """
    coordinates = np.asarray(coordinates)
    orientation_deg = np.asarray(orientation_deg)
    if coordinates.ndim != 2 or coordinates.shape[1] < 2:
        raise ValueError(f"coordinates must be (n_stimuli, >= 2), got {coordinates.shape}")
    if len(orientation_deg) != len(coordinates):
        raise ValueError(
            f"orientation_deg has {len(orientation_deg)} entries for {len(coordinates)} points"
        )
    fig, ax = single_axes(ax, (4.2, 3.5))
    lower = -period / 2 if np.any(orientation_deg < 0) else 0.0
    sc = ax.scatter(
        coordinates[:, 0],
        coordinates[:, 1],
        c=orientation_deg,
        cmap=ORIENTATION_CMAP,
        vmin=lower,
        vmax=lower + period,
        s=14,
    )
    if colorbar:
        fig.colorbar(sc, ax=ax, label="stimulus orientation (deg)")
    ax.set(xlabel=f"{axis_label} 1", ylabel=f"{axis_label} 2", title=title)
    return fig


def plot_conv_filters(
    weights: np.ndarray,
    *,
    titles: Sequence[str] | None = None,
    suptitle: str | None = "Convolution filters",
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Show grey filters ``(n_filters, 1, k, k)`` (or ``(n, k, k)``) side by side, one shared scale.

    Red is positive (the filter prefers light there), blue negative; the colour bar gives weights.
    ``axes``: one axes per filter to draw into (default: a new figure). Returns the figure.
    """
    w = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights)
    if w.ndim == 4:
        if w.shape[1] != 1:
            raise ValueError(f"expected grey filters (n, 1, k, k), got {w.shape}")
        w = w[:, 0]
    if w.ndim != 3:
        raise ValueError(f"expected filters of shape (n, 1, k, k) or (n, k, k), got {w.shape}")
    n = len(w)
    lim = float(np.abs(w).max()) or 1.0
    fig, axes = axes_grid(axes, 1, n, (1.3 * n + 0.8, 1.8))
    for i, ax in enumerate(axes[0]):
        im = ax.imshow(w[i], cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(titles[i] if titles is not None else f"filter {i}", fontsize="small")
    fig.colorbar(im, ax=axes[0].tolist(), label="weight", shrink=0.8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig
