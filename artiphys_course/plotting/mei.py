"""Figures for gradient receptive fields and most exciting inputs (notebooks 05 and 06)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from artiphys_course.mei import MEIResult
from artiphys_course.plotting._axes import axes_grid, panel_axes, single_axes

__all__ = [
    "plot_cross_activation",
    "plot_image_grid",
    "plot_mei_traces",
    "plot_quadrature_phases",
    "plot_rf_comparison",
]


_OWN_SCALE_NOTE = (
    "colour: each panel scaled to its own largest |value|; red above, blue below zero (or grey)"
)


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _displayable(image: np.ndarray) -> tuple[np.ndarray, float]:
    """(H, W) grey or (H, W, 3) RGB min-max scaled to [0, 1]; returns the image and its limit."""
    if image.ndim == 2:
        return image, float(np.abs(image).max()) or 1.0
    if image.shape[0] == 1:
        return image[0], float(np.abs(image[0]).max()) or 1.0
    rgb = np.moveaxis(image[:3], 0, -1)
    low, high = rgb.min(), rgb.max()
    return (rgb - low) / (high - low if high > low else 1.0), 1.0


def plot_image_grid(
    images,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    center: float = 0.0,
    cmap: str = "RdBu_r",
    shared_scale: bool = False,
    suptitle: str | None = None,
    colorbar_label: str | None = None,
    panel_size: float = 1.4,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Show images ``(n, C, H, W)`` (or ``(n, H, W)``) as a grid.

    Grey images are drawn with a diverging colour map centred on ``center`` (the grey level):
    red brighter, blue darker than grey, so positive and negative weights or contrasts read
    at a glance. RGB images (C = 3) are min-max scaled per image.

    Parameters
    ----------
    images : array or Tensor
        ``(n, C, H, W)`` or ``(n, H, W)``.
    titles : sequence of str, optional
        One per image.
    ncols : int
        Panels per row.
    center : float
        Value shown as white (e.g. 127.5 for grey levels 0..255).
    cmap : str
        Diverging colour map for grey images.
    shared_scale : bool
        One colour scale for all panels (then one colour bar) instead of one per image.
    suptitle, colorbar_label : str, optional
        Figure title; label of the colour bar (shown with ``shared_scale``).
    panel_size : float
        Inches per panel (height; width follows the aspect ratio).
    axes : array-like of Axes, optional
        At least ``n`` axes to draw into (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    arr = _numpy(images).astype(np.float64)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or len(arr) == 0:
        raise ValueError(f"images must be (n, C, H, W) or (n, H, W), got shape {arr.shape}")
    n = len(arr)
    h, w = arr.shape[-2:]
    fig, axes = panel_axes(axes, n, ncols, (panel_size * w / h, panel_size), (0.6, 0.5))
    limit = float(np.abs(arr - center).max()) or 1.0
    shown = None
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        img, own = _displayable(arr[k] - center)
        if img.ndim == 3:
            ax.imshow(img)
        else:
            lim = limit if shared_scale else own
            shown = ax.imshow(img + center, cmap=cmap, vmin=center - lim, vmax=center + lim)
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    if shared_scale and shown is not None:
        fig.colorbar(shown, ax=axes, shrink=0.8, label=colorbar_label)
    elif shown is not None:
        fig.supxlabel(_OWN_SCALE_NOTE, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_rf_comparison(
    estimates,
    truth,
    *,
    correlations=None,
    labels: tuple[str, str] = ("gradient RF", "true filter"),
    ncols: int = 8,
    suptitle: str | None = None,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Estimated receptive fields (top row) above the true filters (bottom row), per neuron.

    Each panel has its own symmetric colour scale (only the pattern matters: gradient RFs are
    defined up to scale); ``correlations`` (n,) are printed above the estimates. ``axes``:
    2 x ``min(n, ncols)`` axes to draw into (default: a new figure). Returns the figure.
    """
    est, tru = _numpy(estimates), _numpy(truth)
    if est.ndim == 3:
        est = est[:, None]
    if tru.ndim == 3:
        tru = tru[:, None]
    n = min(len(est), ncols)
    if len(tru) < n:
        raise ValueError(f"need as many true filters as estimates, got {len(tru)} and {len(est)}")
    h, w = est.shape[-2:]
    fig, axes = axes_grid(axes, 2, n, (1.5 * n * w / h + 0.8, 3.4))
    for k in range(n):
        for row, (arr, label) in enumerate(((est, labels[0]), (tru, labels[1]))):
            ax = axes[row, k]
            img, lim = _displayable(arr[k])
            ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_ylabel(label)
        if correlations is not None:
            axes[0, k].set_title(f"r = {float(_numpy(correlations)[k]):.2f}", fontsize=9)
    fig.supxlabel(_OWN_SCALE_NOTE, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_mei_traces(
    result: MEIResult | Mapping[str, MEIResult],
    *,
    max_neurons: int = 10,
    relative: bool = False,
    ylabel: str = "activation (model units)",
    title: str | None = "Activation during gradient ascent",
    ax: Axes | None = None,
) -> Figure:
    """Each neuron's activation per gradient step (one line per neuron; colours per run).

    With ``relative`` each line is divided by its final value, so runs of very different
    activations share an axis. ``ax``: where to draw (default: a new figure). Returns the figure.
    """
    runs = {"": result} if isinstance(result, MEIResult) else dict(result)
    fig, ax = single_axes(ax, (6, 3.2))
    for i, (label, run) in enumerate(runs.items()):
        trace = _numpy(run.activations)[:, :max_neurons]
        if relative:
            trace = trace / np.abs(trace[-1:]).clip(1e-12)
        steps = np.arange(1, len(trace) + 1)
        lines = ax.plot(steps, trace, color=f"C{i}", lw=1, alpha=0.8)
        if label:
            lines[0].set_label(label)
    ax.set(xlabel="gradient step", ylabel=ylabel, title=title)
    if len(runs) > 1:
        ax.legend(fontsize=8)
    return fig


def plot_cross_activation(
    matrix,
    *,
    labels: Sequence[str] | None = None,
    title: str = "Cross-activation (row: neuron, column: MEI)",
    cbar_label: str = "response / response to own MEI",
    ax: Axes | None = None,
) -> Figure:
    """Heat map of neurons' responses to every MEI (``cross_activation``), with a colour bar.

    ``ax``: where to draw (default: a new figure). Returns the figure.
    """
    m = _numpy(matrix)
    fig, ax = single_axes(ax, (4.8, 4.2))
    shown = ax.imshow(m, cmap="viridis", vmin=min(0.0, float(m.min())), vmax=float(m.max()))
    ax.set(xlabel="MEI of neuron", ylabel="neuron", title=title)
    if labels is not None:
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
    fig.colorbar(shown, ax=ax, label=cbar_label)
    return fig


_RUN_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def plot_quadrature_phases(
    projections: Mapping[str, np.ndarray | torch.Tensor],
    *,
    neuron_labels: Sequence[str] | None = None,
    title: str = "Each image's place in its neuron's quadrature pair",
    figsize: tuple[float, float] = (5.2, 4.2),
    ax: Axes | None = None,
) -> Figure:
    """Images of complex cells as points in the plane of each cell's quadrature pair.

    A complex cell responds equally to every image ``cos(phi) w1 + sin(phi) w2`` of its pair
    ``(w1, w2)``: its optimum is a circle of images. Each image ``x`` is drawn at
    ``(x . w1, x . w2) / (|x| |w|)`` (unit-norm filters): its angle is the image's phase
    ``phi`` within the pair, and its distance from the centre the share of the image that lies
    in the pair's plane (1 on the drawn unit circle).

    Parameters
    ----------
    projections : dict of str to array (n_neurons, 2)
        Run label (e.g. one random start) -> each neuron's normalised projections on its even
        and odd filter. Every run holds the same neurons in the same order.
    neuron_labels : sequence of str, optional
        One label per neuron (default ``"neuron k"``); each neuron has its own colour, each
        run its own marker.
    title : str
    figsize : (float, float)
        Size of a new figure.
    ax : Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    Figure
        One square axis with the unit circle and both legends.
    """
    runs = {label: _numpy(values) for label, values in projections.items()}
    if not runs:
        raise ValueError("projections is empty; give at least one run")
    if len(runs) > len(_RUN_MARKERS):
        raise ValueError(
            f"projections holds {len(runs)} runs; at most {len(_RUN_MARKERS)} can be told apart"
        )
    n_neurons = next(iter(runs.values())).shape[0]
    for label, values in runs.items():
        if values.shape != (n_neurons, 2):
            raise ValueError(
                f"projections[{label!r}] must have shape ({n_neurons}, 2), got {values.shape}"
            )
    labels = [f"neuron {k}" for k in range(n_neurons)] if neuron_labels is None else neuron_labels
    if len(labels) != n_neurons:
        raise ValueError(f"neuron_labels must hold {n_neurons} labels, got {len(labels)}")
    fig, ax = single_axes(ax, figsize)
    angle = np.linspace(0, 2 * np.pi, 361)
    ax.plot(np.cos(angle), np.sin(angle), color="0.6", lw=1)
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    for marker, (label, values) in zip(_RUN_MARKERS, runs.items(), strict=False):
        for k, (x, y) in enumerate(values):
            ax.plot([0, x], [0, y], color=f"C{k}", lw=0.6, alpha=0.5)
            ax.plot(x, y, marker, color=f"C{k}", ms=7, mfc="none" if marker != "o" else f"C{k}")
        ax.plot([], [], marker, color="k", mfc="none", ls="none", label=label)
    for k, label in enumerate(labels):
        ax.plot([], [], "-", color=f"C{k}", lw=3, label=label)
    ax.set(
        xlim=(-1.15, 1.15),
        ylim=(-1.15, 1.15),
        aspect="equal",
        xlabel="projection on the even filter $w_1$",
        ylabel="projection on the odd filter $w_2$",
    )
    ax.set_title(title, fontsize="medium")
    ax.legend(frameon=False, fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig
