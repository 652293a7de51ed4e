"""Figures for static data sets: what a batch holds, and how much responses vary across repeats."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from artiphys_course.data.static import Batch, Normalizer, StaticDataset, test_repeats
from artiphys_course.plotting._axes import axes_grid

__all__ = ["plot_batch", "plot_test_repeats"]


def _numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def plot_batch(
    batch: Batch | tuple,
    *,
    normalizer: Normalizer | None = None,
    n_images: int = 8,
    n_neurons: int = 40,
    figsize: tuple[float, float] | None = None,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """The first images of a batch above the responses they evoked.

    Parameters
    ----------
    batch : Batch or (images, responses, ...)
        Images ``(B, C, H, W)`` (the first channel is shown) and responses ``(B, n)``.
    normalizer : Normalizer, optional
        Undo the loader's normalisation before plotting, so images show grey levels and
        responses their recorded units (``loaders["train"].normalizer``).
    n_images : int
        How many trials to show (at most the batch size).
    n_neurons : int
        How many neurons (the first ones) the response panel shows.
    figsize : (float, float), optional
        Size of a new figure.
    axes : array-like of Axes, optional
        ``min(n_images, B) + 1`` axes to draw into: one per image, then the heat map
        (default: a new figure with the images in a row above the heat map).

    Returns
    -------
    matplotlib.figure.Figure
        Image axes above one response heat map (trials x neurons) with a colour bar.
    """
    images, responses = _numpy(batch[0]), _numpy(batch[1])
    if normalizer is not None:
        images, responses = (
            normalizer.inverse_images(images),
            normalizer.inverse_responses(responses),
        )
    n = min(n_images, len(images))
    if n < 1:
        raise ValueError("The batch is empty.")
    responses = responses[:n, :n_neurons]
    if axes is None:
        fig = plt.figure(figsize=figsize or (1.4 * n + 1.5, 4.2), layout="constrained")
        grid = fig.add_gridspec(2, n, height_ratios=[1, 1.3])
        panels = [fig.add_subplot(grid[0, i]) for i in range(n)] + [fig.add_subplot(grid[1, :])]
    else:
        fig, given = axes_grid(axes, 1, n + 1, (0.0, 0.0))
        panels = list(given[0])
    low, high = float(images[:n, 0].min()), float(images[:n, 0].max())
    unit = "grey level" if normalizer is not None else "image value"
    for i, ax in enumerate(panels[:n]):
        shown = ax.imshow(images[i, 0], cmap="gray", vmin=low, vmax=high)
        ax.set_title(f"trial {i}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=panels[:n], shrink=0.8, label=unit)
    ax = panels[n]
    heat = ax.imshow(responses.T, aspect="auto", cmap="magma", interpolation="nearest")
    ax.set_xlabel("trial in batch")
    ax.set_ylabel("neuron")
    ax.set_xticks(range(n))
    ax.set_title("responses (each column: the trial pictured above)")
    fig.colorbar(heat, ax=ax, label="response" + (" (recorded units)" if normalizer else ""))
    return fig


def plot_test_repeats(
    dataset: StaticDataset,
    *,
    neurons: Sequence[int] = (0, 1, 2),
    n_images: int = 25,
    figsize: tuple[float, float] | None = None,
    axes: Sequence[Axes] | np.ndarray | None = None,
) -> Figure:
    """Single-trial responses to repeated test images: signal (the mean) versus noise (the spread).

    For each neuron, test images are sorted by the neuron's mean response; dots are single
    trials, the line is the mean over repeats. How far the dots scatter around the line is the
    trial-to-trial variability that no model of the image can predict.

    Parameters
    ----------
    dataset : StaticDataset
        With repeated test images (see :func:`~artiphys_course.data.static.test_repeats`).
    neurons : sequence of int
        Neuron indices, one panel each.
    n_images : int
        Test images shown (evenly spaced through the sorted order).
    figsize : (float, float), optional
        Size of a new figure.
    axes : array-like of Axes, optional
        One axes per neuron to draw into (default: a new figure, one row).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _, grouped = test_repeats(dataset)
    for neuron in neurons:
        if not 0 <= neuron < dataset.n_neurons:
            raise IndexError(f"neuron {neuron} out of range: the data set has {dataset.n_neurons}.")
    fig, grid = axes_grid(axes, 1, len(neurons), figsize or (3.2 * len(neurons), 3.0))
    axes = grid[0]
    for ax, neuron in zip(axes, neurons, strict=True):
        means = np.array([g[:, neuron].mean() for g in grouped])
        order = np.argsort(means)
        shown = order[np.linspace(0, len(order) - 1, min(n_images, len(order))).astype(int)]
        for x, k in enumerate(shown):
            trials = grouped[k][:, neuron]
            label = "single trials" if x == 0 else None
            ax.plot(np.full(len(trials), x), trials, ".", color="0.6", ms=4, label=label)
        ax.plot(range(len(shown)), means[shown], "-", color="C3", label="mean over repeats")
        ax.set_xlabel("test image (sorted by mean response)")
        ax.set_ylabel("response")
        ax.set_title(f"neuron {neuron}")
    axes[0].legend(loc="upper left", fontsize=8)
    return fig
