"""Figures for bar mapping: stimuli, weighted bar maps with their Gaussian fits, tuning curves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

from artiphys_course.barmap import BarMapResult, GaussianFit
from artiphys_course.plotting._axes import panel_axes, single_axes

__all__ = ["draw_gaussian_fit", "plot_bar_maps", "plot_bars", "plot_tuning"]


def plot_bars(
    images: torch.Tensor | np.ndarray,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.4,
    vmin: float | None = None,
    vmax: float | None = None,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Show stimuli ``(B, C, H, W)`` (grey for C = 1, RGB clipped to [0, 1] for C = 3).

    Parameters
    ----------
    images : tensor or array
        ``(B, C, H, W)``.
    titles : sequence of str, optional
        One per image.
    ncols, size : int, float
        Grid columns and panel size (inches).
    vmin, vmax : float, optional
        Grey-level range (default: the range of all images).
    axes : array-like of Axes, optional
        At least ``B`` axes to draw into (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if x.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {x.shape}")
    fig, axes = panel_axes(axes, len(x), ncols, (size, size), (0.0, 0.3))
    lo = x.min() if vmin is None else vmin
    hi = x.max() if vmax is None else vmax
    for i, ax in enumerate(axes):
        if x.shape[1] == 3:
            ax.imshow(np.clip(x[i].transpose(1, 2, 0), 0, 1))
        else:
            ax.imshow(x[i, 0], cmap="gray", vmin=lo, vmax=hi)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    return fig


def draw_gaussian_fit(
    ax: Axes, fit: GaussianFit, i: int = 0, *, color: str = "tab:red", n_sd: float = 2.0
) -> Figure:
    """Draw fit ``i`` into ``ax`` as an ellipse at ``n_sd`` s.d. and a cross at its centre.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax`` (nothing is drawn for a failed, non-finite fit).
    """
    (row, col), (s1, s2) = fit.center[i], fit.sigma[i]
    if not np.isfinite([row, col, s1, s2]).all():
        return ax.figure
    # matplotlib angles run counter-clockwise in data coordinates; with rows growing downwards
    # (imshow) that is clockwise on screen, hence the minus sign
    ax.add_patch(
        Ellipse(
            (col, row),
            2 * n_sd * s1,
            2 * n_sd * s2,
            angle=-float(fit.orientation_deg[i]),
            fill=False,
            color=color,
            lw=1.2,
        )
    )
    ax.plot(col, row, "+", color=color, ms=7, mew=1.5)
    return ax.figure


def plot_bar_maps(
    result: BarMapResult,
    units: Sequence[int] | None = None,
    *,
    which: str = "top",
    fit: bool = True,
    ncols: int = 6,
    size: float = 1.9,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Weighted bar maps of several units, each with its 2-D Gaussian fit (2 s.d. ellipse).

    Parameters
    ----------
    result : BarMapResult
    units : sequence of int, optional
        Rows of ``result`` (default: the first 12).
    which : {"top", "bottom"}
        Maps of the most or least effective bars.
    fit : bool
        Overlay the Gaussian fit.
    ncols, size : int, float
        Grid columns and panel size (inches).
    axes : array-like of Axes, optional
        At least ``len(units)`` axes to draw into (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if which not in ("top", "bottom"):
        raise ValueError(f"which must be 'top' or 'bottom', got {which!r}")
    units = list(range(min(12, len(result)))) if units is None else list(units)
    maps = result.top_maps if which == "top" else result.bottom_maps
    gauss = result.top_fit if which == "top" else result.bottom_fit
    fig, axes = panel_axes(axes, len(units), ncols, (size, size), (0.0, 0.3))
    for ax, i in zip(axes, units, strict=True):
        im = ax.imshow(maps[i], cmap="magma" if which == "top" else "viridis")
        if fit:
            draw_gaussian_fit(ax, gauss, i, color="cyan" if which == "top" else "red")
        ax.set_title(f"ch {result.channels[i]}  r²={gauss.r2[i]:.2f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, shrink=0.7, label="summed weight" if ax is axes[0] else None)
    fig.suptitle(
        f"{which}-{result.top_n} weighted bar maps ({result.weighting} weights) of "
        f"{result.layer or 'model outputs'}; pixels (row, col)",
        fontsize=9,
    )
    return fig


def plot_tuning(
    result: BarMapResult,
    units: Sequence[int] | None = None,
    *,
    ax: Axes | None = None,
    normalize: bool = True,
) -> Figure:
    """Orientation tuning curves (best response per bar orientation) of several units.

    Parameters
    ----------
    result : BarMapResult
    units : sequence of int, optional
        Indices of mapped units, columns of ``result.tuning`` (default: the first 6).
    ax : Axes, optional
        Where to draw (default: a new figure).
    normalize : bool
        Scale each curve to its maximum (shapes are easier to compare).

    Returns
    -------
    matplotlib.figure.Figure
    """
    units = list(range(min(6, len(result)))) if units is None else list(units)
    fig, ax = single_axes(ax, (4.5, 3.2))
    oris = np.append(result.orientations_deg, result.orientations_deg[0] + 180.0)
    for k, i in enumerate(units):
        curve = np.append(result.tuning[:, i], result.tuning[0, i])
        if normalize:
            curve = curve / np.abs(curve).max()
        ax.plot(oris, curve, "o-", ms=3, color=f"C{k % 10}", label=f"ch {result.channels[i]}")
        ax.axvline(result.preferred_orientation_deg[i], color=f"C{k % 10}", ls=":", lw=1)
    ax.set_xlabel("bar orientation (deg, 0 = horizontal, 90 = vertical)")
    ax.set_ylabel("best response" + (" (normalised)" if normalize else ""))
    ax.set_xticks(np.arange(0, 181, 45))
    ax.set_title("orientation tuning (dotted: preferred orientation)", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    return fig
