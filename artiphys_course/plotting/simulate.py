"""Figures for the digital V1 (notebook 00): images, true filters, retinotopy, noise, ceilings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from artiphys_course.plotting._axes import axes_grid, panel_axes, single_axes
from artiphys_course.simulate import DigitalV1, NeuronParams

__all__ = [
    "plot_example_images",
    "plot_eye_tracking",
    "plot_mean_variance",
    "plot_noise_ceilings",
    "plot_retinotopy",
    "plot_true_filters",
]


def plot_example_images(
    images: np.ndarray,
    *,
    n: int = 12,
    ncols: int = 6,
    title: str | None = None,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """A grid of grey images on the common 0..255 scale.

    Parameters
    ----------
    images : np.ndarray
        ``(N, 1, H, W)`` grey levels 0..255 (e.g. ``DigitalV1.images``).
    n, ncols : int
        How many images (the first ``n``) and columns.
    title : str, optional
    axes : array-like of Axes, optional
        At least ``n`` axes to draw into (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be (N, 1, H, W); got shape {images.shape}")
    n = min(n, len(images))
    h, w = images.shape[2:]
    fig, axes = panel_axes(axes, n, ncols, (1.9 * w / 64, 1.15 * h / 36), (1.0, 0.6))
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        shown = ax.imshow(images[i, 0], cmap="gray", vmin=0, vmax=255)
    fig.colorbar(shown, ax=axes, shrink=0.8, label="grey level")
    fig.suptitle(title or f"{n} example images ({h} x {w} pixels)")
    return fig


def plot_true_filters(
    filters: np.ndarray,
    neurons: NeuronParams | None = None,
    *,
    index: Sequence[int] | None = None,
    ncols: int = 8,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """The true linear filters of some neurons, each on its own symmetric colour scale.

    Parameters
    ----------
    filters : np.ndarray
        ``(n, H, W)`` (``DigitalV1.filters``).
    neurons : NeuronParams, optional
        Adds cell type and preferred orientation to the titles and marks RF centres.
    index : sequence of int, optional
        Neurons to show (default the first 16).
    ncols : int
    axes : array-like of Axes, optional
        At least ``len(index)`` axes to draw into (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    filters = np.asarray(filters)
    index = list(range(min(16, len(filters)))) if index is None else list(index)
    for i in index:
        if not 0 <= i < len(filters):
            raise IndexError(f"neuron {i} out of range: there are {len(filters)} filters")
    fig, axes = panel_axes(axes, len(index), ncols, (1.9, 1.3), (0.0, 0.5))
    for ax, i in zip(axes, index, strict=True):
        ax.set_axis_off()
        limit = np.abs(filters[i]).max() or 1.0
        shown = ax.imshow(filters[i], cmap="RdBu_r", vmin=-limit, vmax=limit)
        label = f"#{i}"
        if neurons is not None:
            label += f" {neurons.cell_type[i]} {neurons.orientation_deg[i]:.0f}\u00b0"
            row, col = neurons.rf_center[i]
            ax.plot(col, row, "+", color="k", ms=6)
        ax.set_title(label, fontsize=8)
    cbar = fig.colorbar(shown, ax=axes, shrink=0.8, ticks=[])
    cbar.set_label("weight (red +, blue -), per-panel scale")
    fig.suptitle("true filters (+ = RF centre; complex cells: even Gabor of the pair)")
    return fig


def plot_retinotopy(dv1: DigitalV1, *, axes: Sequence[Axes] | np.ndarray | None = None) -> Figure:
    """Retinotopy: cortical position coloured by RF centre, and RF centres on the screen.

    Three panels: neurons at their cortical ``(x, y)`` (micrometres) coloured by RF column
    (azimuth) and by RF row (elevation); RF centres in the image coloured by cortical ``x``.
    Smooth colour gradients across cortex are the retinotopic map. ``axes``: the three axes to
    draw into (default: a new figure). Returns the figure.
    """
    xy = dv1.cell_motor_coordinates[:, :2]
    rf = dv1.neurons.rf_center
    h, w = dv1.image_shape
    fig, grid = axes_grid(axes, 1, 3, (13, 3.4))
    axes = grid[0]
    for ax, k, name in (
        (axes[0], 1, "RF column (azimuth), px"),
        (axes[1], 0, "RF row (elevation), px"),
    ):
        dots = ax.scatter(xy[:, 0], xy[:, 1], c=rf[:, k], cmap="viridis", s=10)
        ax.set_xlabel("cortical x (\u00b5m)")
        ax.set_ylabel("cortical y (\u00b5m)")
        ax.set_aspect("equal")
        ax.set_title(f"cortex coloured by {name.split(',')[0]}")
        fig.colorbar(dots, ax=ax, label=name, shrink=0.8)
    ax = axes[2]
    dots = ax.scatter(rf[:, 1], rf[:, 0], c=xy[:, 0], cmap="plasma", s=10)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("image column (px)")
    ax.set_ylabel("image row (px)")
    ax.set_title("RF centres on the screen")
    fig.colorbar(dots, ax=ax, label="cortical x (\u00b5m)", shrink=0.8)
    return fig


def plot_mean_variance(
    responses_by_image: np.ndarray,
    *,
    gain_cv: float | None = None,
    max_points: int = 5000,
    ax: Axes | None = None,
) -> Figure:
    """Variance against mean over repeats, for every (image, neuron) pair, on log axes.

    Lines: Poisson (variance = mean) and, when ``gain_cv`` is given, the digital V1's noise
    model ``mean + gain_cv**2 mean**2``. Points above the lines show extra variability (here:
    eye movements change the true rate from repeat to repeat).

    Parameters
    ----------
    responses_by_image : np.ndarray
        ``(n_images, n_repeats, n_neurons)``.
    gain_cv : float, optional
    max_points : int
        Random subset plotted (fixed seed) to keep the figure light.
    ax : Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = np.asarray(responses_by_image, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"responses_by_image must be (images, repeats, neurons); got {x.shape}")
    mean = x.mean(axis=1).ravel()
    var = x.var(axis=1, ddof=1).ravel()
    keep = (mean > 0) & (var > 0)
    mean, var = mean[keep], var[keep]
    if len(mean) > max_points:
        pick = np.random.default_rng(0).choice(len(mean), max_points, replace=False)
        mean, var = mean[pick], var[pick]
    fig, ax = single_axes(ax, (4.8, 4.2))
    ax.scatter(mean, var, s=4, alpha=0.3, color="0.3", label="(image, neuron) pairs")
    grid = np.geomspace(mean.min(), mean.max(), 100)
    ax.plot(grid, grid, color="C0", label="Poisson: var = mean")
    if gain_cv is not None:
        ax.plot(grid, grid + gain_cv**2 * grid**2, color="C3", label="+ shared gain noise")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mean over repeats (counts)")
    ax.set_ylabel("variance over repeats (counts\u00b2)")
    ax.set_title("trial-to-trial variability")
    ax.legend(fontsize=8)
    return fig


def plot_noise_ceilings(
    ceilings: dict[str, np.ndarray], *, bins: int = 30, ax: Axes | None = None
) -> Figure:
    """Overlaid outline histograms of per-neuron ceilings / correlations, medians dashed.

    Parameters
    ----------
    ceilings : dict
        ``{label: (n_neurons,) values}``, e.g. the exact ceiling and an oracle estimate.
    bins : int
    ax : Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not ceilings:
        raise ValueError("ceilings is empty: pass {label: values}")
    fig, ax = single_axes(ax, (5.5, 3.6))
    edges = np.linspace(0, 1, bins + 1)
    for k, (label, values) in enumerate(ceilings.items()):
        values = np.asarray(values, dtype=float)
        median = np.nanmedian(values)
        ax.hist(
            values,
            bins=edges,
            histtype="step",
            lw=2,
            color=f"C{k}",
            label=f"{label} (median {median:.2f})",
        )
        ax.axvline(median, color=f"C{k}", ls="--")
    ax.set_xlabel("correlation with single-trial responses")
    ax.set_ylabel("neurons")
    ax.set_title("how well could a perfect model do?")
    ax.legend(fontsize=8)
    return fig


def plot_eye_tracking(
    dv1: DigitalV1, *, max_points: int = 2000, axes: Sequence[Axes] | np.ndarray | None = None
) -> Figure:
    """The eye camera's pupil centre against the true RF shift, per coordinate.

    A straight-line relation (here an affine map plus tracking noise) is what lets a shifter
    network learn the RF shift from the pupil position. ``axes``: the row and the column axes to
    draw into (default: a new figure). Returns the figure.
    """
    n = min(max_points, dv1.n_trials)
    fig, grid = axes_grid(axes, 1, 2, (8, 3.3))
    axes = grid[0]
    for ax, k, name in ((axes[0], 0, "row"), (axes[1], 1, "column")):
        for j, pupil in enumerate(("row", "column")):
            ax.scatter(
                dv1.eye_shift[:n, k],
                dv1.pupil_center[:n, j],
                s=3,
                alpha=0.4,
                color=f"C{j}",
                label=f"pupil {pupil}",
            )
        ax.set_xlabel(f"true RF shift, {name} (image px)")
        ax.set_ylabel("pupil centre (camera px)")
        ax.set_title(f"eye tracking vs RF {name} shift")
        ax.legend(fontsize=8, markerscale=3)
    return fig
