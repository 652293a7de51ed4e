"""Figures for in-silico experiments: recovered vs true parameters, population distributions,
size-tuning curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from artiphys_course.in_silico import GratingTuning, SizeTuning
from artiphys_course.plotting._axes import axes_grid, single_axes

__all__ = ["plot_recovery", "plot_size_tuning", "plot_tuning_distributions"]


def plot_recovery(
    true: np.ndarray,
    recovered: np.ndarray,
    *,
    quantity: str,
    unit: str = "",
    log: bool = False,
    ax: Axes | None = None,
) -> Figure:
    """Scatter of recovered against true values, one dot per neuron, with the identity line.

    Parameters
    ----------
    true, recovered : array, shape (n,)
        Ground truth and in-silico estimate of one parameter.
    quantity : str
        What is plotted (axis labels and title), e.g. ``"preferred orientation"``.
    unit : str
        Unit shown in the axis labels.
    log : bool
        Logarithmic axes (for spatial frequency).
    ax : Axes, optional
    """
    fig, ax = single_axes(ax, (3.6, 3.4))
    true, recovered = np.asarray(true, float), np.asarray(recovered, float)
    ax.scatter(true, recovered, s=6, alpha=0.6, color="tab:blue")
    both = np.concatenate([true, recovered])
    lo, hi = np.nanmin(both), np.nanmax(both)
    ax.plot([lo, hi], [lo, hi], color="k", lw=1, ls="--", label="identity")
    suffix = f" ({unit})" if unit else ""
    ax.set(xlabel=f"true{suffix}", ylabel=f"in silico{suffix}", title=quantity)
    if log:
        ax.set(xscale="log", yscale="log")
    ax.legend(frameon=False, loc="upper left")
    return fig


def plot_tuning_distributions(
    tunings: Mapping[str, GratingTuning],
    sizes: Mapping[str, SizeTuning] | None = None,
    *,
    rf_sigma: Mapping[str, np.ndarray] | None = None,
    frequency_unit: str = "cycles/pixel",
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Histograms over neurons: preferred orientation, preferred frequency, selectivity, and
    (with ``sizes``) surround suppression and (with ``rf_sigma``) RF size, one colour per model.

    Parameters
    ----------
    tunings : mapping of str to GratingTuning
        Model name -> its grating tuning.
    sizes : mapping of str to SizeTuning, optional
        Model name -> its size tuning (a panel of suppression indices).
    rf_sigma : mapping of str to array, optional
        Model name -> RF sizes (e.g. s.d. of Gaussian fits to sparse-noise maps), pixels (a panel).
    frequency_unit : {"cycles/pixel", "cycles/degree"}
        Which preferred frequency to show (cycles/degree needs ``degrees_per_pixel``).
    axes : 3 to 5 Axes, optional
        One per panel.
    """
    panels = 3 + (sizes is not None) + (rf_sigma is not None)
    fig, grid = axes_grid(axes, 1, panels, (3.2 * panels, 3.0))
    grid = list(grid.reshape(-1))
    for name, t in tunings.items():
        freq = (
            t.preferred_frequency if frequency_unit == "cycles/pixel" else t.preferred_frequency_cpd
        )
        if freq is None:
            raise ValueError(f"{name}: cycles/degree needs grating_tuning(degrees_per_pixel=...)")
        grid[0].hist(t.preferred_orientation_deg, bins=18, range=(0, 180), alpha=0.5, label=name)
        grid[1].hist(np.log2(freq), bins=20, alpha=0.5, label=name)
        grid[2].hist(t.selectivity, bins=20, range=(0, 1), alpha=0.5, label=name)
    extra = grid[3:]
    if sizes is not None:
        ax = extra.pop(0)
        for name, s in sizes.items():
            si = s.suppression_index[np.isfinite(s.suppression_index)]
            ax.hist(np.clip(si, 0, 1.5), bins=20, range=(0, 1.5), alpha=0.5, label=name)
        ax.set(xlabel="surround suppression index", title="Surround suppression")
    if rf_sigma is not None:
        ax = extra.pop(0)
        for name, sigma in rf_sigma.items():
            ax.hist(np.asarray(sigma, float), bins=20, alpha=0.5, label=name)
        ax.set(xlabel="RF size, Gaussian s.d. (pixels)", title="RF size")
    grid[0].set(xlabel="preferred orientation (deg)", ylabel="neurons", title="Orientation")
    grid[1].set(xlabel=f"log2 preferred frequency ({frequency_unit})", title="Spatial frequency")
    grid[2].set(xlabel="orientation selectivity (1 - circ. variance)", title="Selectivity")
    grid[0].legend(frameon=False)
    return fig


def plot_size_tuning(
    sizes: SizeTuning,
    examples: Sequence[int] | None = None,
    *,
    ax: Axes | None = None,
) -> Figure:
    """Size-tuning curves (response above the blank against aperture diameter) of a few neurons.

    Parameters
    ----------
    sizes : SizeTuning
    examples : sequence of int, optional
        Columns of ``sizes.responses`` to draw (default the first 6).
    ax : Axes, optional
    """
    fig, ax = single_axes(ax, (4.2, 3.2))
    examples = list(range(min(6, len(sizes)))) if examples is None else list(examples)
    for k in examples:
        ax.plot(
            sizes.diameter,
            sizes.responses[:, k],
            marker="o",
            ms=3,
            label=f"neuron {sizes.neurons[k]} (SI {sizes.suppression_index[k]:.2f})",
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.set(
        xscale="log",
        xlabel="aperture diameter (pixels)",
        ylabel="response - blank",
        title="Size tuning",
    )
    ax.legend(frameon=False, fontsize=7)
    return fig
