"""In-silico experiments: the classic V1 stimulus protocols run on any model of neurons.

A fitted encoding model is a *digital twin*: we can show it any stimulus, as often as we like,
and measure its neurons the way an electrophysiologist measures real ones (Walker et al. 2019,
Nat. Neurosci. 22:2060). Every function here takes a model that maps images ``(B, C, H, W)`` to
responses ``(B, n)`` (an encoding model, the digital V1's generative model, a
:class:`~artiphys_course.units.LayerUnits`, any callable; see
:func:`artiphys_course.units.response_function`) and runs one experiment on many neurons at once:

* :func:`grating_tuning`: full-field drifting-phase gratings over a grid of orientations and
  spatial frequencies -> preferred orientation, preferred spatial frequency, orientation
  selectivity (as in Niell & Stryker 2008, J. Neurosci. 28:7520);
* :func:`grating_trials`: gratings of random orientation and phase, one response table per trial
  (the in-silico version of the Stringer et al. 2021 orientation experiment);
* :func:`size_tuning`: gratings of the neuron's preferred orientation and frequency in growing
  circular apertures at its receptive-field centre -> preferred size and surround suppression
  (Cavanaugh, Bair & Movshon 2002, J. Neurophysiol. 88:2530);
* :func:`sparse_noise_rfs`: light and dark squares on a grey screen at every position ->
  receptive-field maps and centres (the sparse-noise mapping of Niell & Stryker 2008).

Stimulus values are in the model's input units: ``mean`` is the grey level of the blank screen
and ``contrast`` the amplitude around it (for a model of z-scored images, ``mean=0`` and
``contrast`` of about the images' s.d., 1). Every result is a set of numpy tables with stimuli
first, ``(stimuli, neurons)``, and per-neuron summaries ``(neurons,)``. Responses are measured
relative to the response to the blank screen (``blank``), as spontaneous activity is subtracted
in the experiments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from artiphys_course import validation
from artiphys_course.runtime import progress_bar, seeded
from artiphys_course.stimuli import make_gratings
from artiphys_course.tuning import orientation_selectivity, preferred_orientation
from artiphys_course.units import (
    check_responses,
    eval_mode,
    model_device,
    own_response_function,
    response_function,
    select_neurons,
)

__all__ = [
    "GratingTrials",
    "GratingTuning",
    "SizeTuning",
    "SparseNoiseRFs",
    "grating_trials",
    "grating_tuning",
    "size_tuning",
    "sparse_noise_rfs",
]

Pooling = Literal["mean", "max"]
_POOLINGS = ("mean", "max")


# --------------------------------------------------------------------------- shared machinery
def _stimulus_values(mean: float, contrast: float) -> tuple[float, float]:
    validation.finite(mean, "mean")
    return float(mean), validation.positive(contrast, "contrast")


def _grid(values: Any, name: str, *, minimum: int = 1) -> np.ndarray:
    """A finite, strictly increasing 1-D grid of at least ``minimum`` values."""
    validation.finite(values, name)
    grid = np.asarray(values, dtype=np.float64).reshape(-1)
    if grid.size < minimum or np.any(np.diff(grid) <= 0):
        raise ValueError(
            f"{name} must be at least {minimum} strictly increasing values, got {grid.tolist()}"
        )
    return grid


class _Runner:
    """Shows batches of stimuli to the chosen neurons of a model, in eval mode, without grad."""

    def __init__(
        self,
        model: Callable[..., Any],
        neurons: Any,
        image_shape: Any,
        channels: int,
        mean: float,
        forward_kwargs: dict[str, Any],
    ) -> None:
        self.model = model
        self.fn = response_function(model, **forward_kwargs)
        self.device = model_device(model)
        self.image_shape = validation.image_shape(image_shape)
        self.channels = validation.integer(channels, "channels", minimum=1)
        self.mean = mean
        self._neurons = neurons
        self.neurons: Tensor | None = None

    def responses(self, images: Tensor) -> Tensor:
        """``(B, n)`` responses of the chosen neurons (validated against the model's count)."""
        out = check_responses(self.fn(images), len(images))
        if self.neurons is None:
            self.neurons = select_neurons(self._neurons, out.shape[1])
        return out[:, self.neurons.to(out.device)]

    def blank(self) -> np.ndarray:
        """``(n,)`` responses to the blank screen (``mean`` everywhere)."""
        grey = torch.full((1, self.channels, *self.image_shape), self.mean, device=self.device)
        with eval_mode(self.model, notice=False), torch.no_grad():
            return self.responses(grey)[0].double().cpu().numpy()

    def run(
        self,
        n_stimuli: int,
        draw: Callable[[slice], Tensor],
        batch_size: int,
        progress: bool,
        desc: str,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Responses ``(n_stimuli, n)`` to ``draw(slice)`` batches and to the blank, ``(n,)``."""
        blank = self.blank()
        out = []
        with eval_mode(self.model, notice=False), torch.no_grad():
            starts = range(0, n_stimuli, batch_size)
            for start in progress_bar(starts, progress, desc=desc):
                batch = slice(start, min(start + batch_size, n_stimuli))
                out.append(self.responses(draw(batch)).double().cpu())
        return torch.cat(out).numpy(), blank


def _pool(table: np.ndarray, pooling: str) -> np.ndarray:
    """Pool the last-but-one axis of ``(..., n_phases, n)`` by mean or max."""
    return table.mean(axis=-2) if pooling == "mean" else table.max(axis=-2)


def _check_pooling(pooling: str) -> str:
    if pooling not in _POOLINGS:
        raise ValueError(f"phase_pooling must be one of {_POOLINGS}, got {pooling!r}")
    return pooling


def _log_peak(values: np.ndarray, curves: np.ndarray) -> np.ndarray:
    """Peak of each column of ``curves`` over the grid ``values``, refined in log coordinates.

    A parabola through the largest value and its two neighbours (in ``log(values)``) gives the
    peak between grid points; at an edge of the grid the edge value is returned.
    """
    index = np.argmax(curves, axis=0)
    peak = values[index].astype(np.float64)
    inner = (index > 0) & (index < len(values) - 1)
    if len(values) < 3 or not inner.any():
        return peak
    x = np.log(values)
    cols = np.flatnonzero(inner)
    i = index[cols]
    y0, y1, y2 = curves[i - 1, cols], curves[i, cols], curves[i + 1, cols]
    x0, x1, x2 = x[i - 1], x[i], x[i + 1]
    # vertex of the parabola through (x0, y0), (x1, y1), (x2, y2)
    num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = x1 - 0.5 * num / den
    ok = np.isfinite(vertex) & (den != 0)
    vertex = np.clip(np.where(ok, vertex, x1), x0, x2)
    peak[cols] = np.exp(vertex)
    return peak


# --------------------------------------------------------------------------- orientation and SF
@dataclass(eq=False)
class GratingTuning:
    """Responses of neurons to full-field gratings on an orientation x spatial-frequency grid.

    Attributes
    ----------
    neurons : np.ndarray, shape (n,)
        Indices of the model's outputs that were measured.
    orientation_deg : np.ndarray, shape (n_orientations,)
        Orientations of the grid, degrees (stripes, counter-clockwise from horizontal).
    spatial_frequency : np.ndarray, shape (n_frequencies,)
        Spatial frequencies of the grid, cycles per pixel.
    responses : np.ndarray, shape (n_orientations * n_frequencies, n)
        Response to each grating minus the response to the blank screen, pooled over phases;
        row ``i * n_frequencies + j`` is orientation ``i`` and frequency ``j``.
    blank : np.ndarray, shape (n,)
        Response to the blank (mean grey) screen.
    orientation_curves : np.ndarray, shape (n_orientations, n)
        Each neuron's orientation tuning at its best spatial frequency on the grid.
    frequency_curves : np.ndarray, shape (n_frequencies, n)
        Each neuron's frequency tuning at its best orientation on the grid.
    preferred_orientation_deg : np.ndarray, shape (n,)
        Circular mean (doubled angle) of the orientation curve, in [0, 180) degrees.
    preferred_frequency : np.ndarray, shape (n,)
        Peak of the frequency curve, refined between grid points in log frequency, cycles/pixel.
    preferred_frequency_cpd : np.ndarray or None, shape (n,)
        The same in cycles per degree of visual angle, when ``degrees_per_pixel`` was given.
    osi : np.ndarray, shape (n,)
        Orientation selectivity index ``(R_pref - R_orth) / (R_pref + R_orth)`` of the
        orientation curve (Niell & Stryker 2008), responses above the blank clipped at 0; NaN
        (with a notice) for a neuron that no grating drives above the blank.
    selectivity : np.ndarray, shape (n,)
        1 - circular variance of the orientation curve (:func:`tuning.orientation_selectivity`).
    phase_pooling : str
        ``"mean"`` or ``"max"`` over the grating phases.
    """

    neurons: np.ndarray
    orientation_deg: np.ndarray
    spatial_frequency: np.ndarray
    responses: np.ndarray
    blank: np.ndarray
    orientation_curves: np.ndarray
    frequency_curves: np.ndarray
    preferred_orientation_deg: np.ndarray
    preferred_frequency: np.ndarray
    preferred_frequency_cpd: np.ndarray | None
    osi: np.ndarray
    selectivity: np.ndarray
    phase_pooling: str

    def __len__(self) -> int:
        return len(self.neurons)


def _osi(curves: np.ndarray, orientation_deg: np.ndarray, preferred_deg: np.ndarray) -> np.ndarray:
    """``(R_pref - R_orth) / (R_pref + R_orth)`` with responses clipped at 0, interpolated
    circularly on the orientation grid; NaN where nothing drives the neuron."""
    period_grid = np.concatenate([orientation_deg, orientation_deg[:1] + 180.0])
    r = np.clip(curves, 0.0, None)
    r = np.concatenate([r, r[:1]], axis=0)
    cols = np.arange(r.shape[1])

    def at(angle: np.ndarray) -> np.ndarray:
        a = (angle - orientation_deg[0]) % 180.0 + orientation_deg[0]
        hi = np.clip(np.searchsorted(period_grid, a, side="right"), 1, len(period_grid) - 1)
        lo = hi - 1
        t = (a - period_grid[lo]) / (period_grid[hi] - period_grid[lo])
        return (1 - t) * r[lo, cols] + t * r[hi, cols]

    pref, orth = at(preferred_deg), at(preferred_deg + 90.0)
    total = pref + orth
    undefined = total <= 0
    validation.notice_undefined(undefined, "osi", "no grating drives the neuron above the blank")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(undefined, np.nan, (pref - orth) / total)


def grating_tuning(
    model: Callable[..., Any],
    *,
    image_shape: int | Sequence[int],
    orientation_deg: Sequence[float] | np.ndarray | None = None,
    spatial_frequency: Sequence[float] | np.ndarray | None = None,
    n_phases: int = 4,
    phase_pooling: Pooling = "mean",
    neurons: int | Sequence[int] | Tensor | None = None,
    mean: float = 0.0,
    contrast: float = 1.0,
    channels: int = 1,
    degrees_per_pixel: float | None = None,
    batch_size: int = 256,
    progress: bool = True,
    **forward_kwargs: Any,
) -> GratingTuning:
    """Orientation and spatial-frequency tuning of many neurons with full-field gratings.

    Every grating of the grid (orientations x frequencies x ``n_phases`` evenly spaced phases)
    is shown once; all neurons see the same stimuli, so the cost does not grow with the number
    of neurons. A neuron's responses (minus its response to the blank screen) are pooled over
    phases: the mean is the response to a drifting grating averaged over a cycle (F0), the max
    the response at the best phase.

    Parameters
    ----------
    model : callable
        Maps images ``(B, C, H, W)`` to responses ``(B, n_outputs)`` (see
        :func:`artiphys_course.units.response_function`).
    image_shape : int or (height, width)
        The model's input size in pixels.
    orientation_deg : array, shape (n_orientations,), optional
        Increasing orientations in degrees; default 12 steps of 15 degrees from 0. At least 4.
    spatial_frequency : array, shape (n_frequencies,), optional
        Increasing spatial frequencies, cycles per pixel (Nyquist 0.5); default 8 steps on a log
        scale from 0.02 to 0.25.
    n_phases : int
        Phases per grating, evenly spaced over 360 degrees (>= 1).
    phase_pooling : {"mean", "max"}
        How responses are pooled over phases.
    neurons : int, sequence of int, tensor or None
        Which outputs to measure (default all).
    mean, contrast : float
        Grey level of the blank screen and amplitude of the gratings, in the model's input units.
    channels : int
        Image channels; the grating is the same in each.
    degrees_per_pixel : float, optional
        Visual angle of one pixel; when given, the preferred frequency is also returned in
        cycles per degree (``cycles/pixel / degrees_per_pixel``).
    batch_size : int
        Stimuli per forward pass.
    progress : bool
        Show a progress bar over batches.
    **forward_kwargs
        Passed to the model on every call (e.g. ``data_key=...``).

    Returns
    -------
    GratingTuning
    """
    ori = _grid(
        np.arange(0.0, 180.0, 15.0) if orientation_deg is None else orientation_deg,
        "orientation_deg",
        minimum=4,
    )
    if ori[-1] - ori[0] >= 180.0:
        raise ValueError(f"orientation_deg must span less than 180 degrees, got {ori.tolist()}")
    sf = _grid(
        np.geomspace(0.02, 0.25, 8) if spatial_frequency is None else spatial_frequency,
        "spatial_frequency",
    )
    if sf[0] <= 0:
        raise ValueError(f"spatial_frequency must be > 0 (cycles/pixel), got {sf.tolist()}")
    n_phases = validation.integer(n_phases, "n_phases", minimum=1)
    phase_pooling = _check_pooling(phase_pooling)
    mean, contrast = _stimulus_values(mean, contrast)
    batch_size = validation.integer(batch_size, "batch_size", minimum=1)
    cpd_scale = None
    if degrees_per_pixel is not None:
        cpd_scale = validation.positive(degrees_per_pixel, "degrees_per_pixel")
    runner = _Runner(model, neurons, image_shape, channels, mean, forward_kwargs)

    grid_o, grid_f, grid_p = np.meshgrid(
        ori, sf, np.arange(n_phases) * 360.0 / n_phases, indexing="ij"
    )
    params = [torch.as_tensor(g.reshape(-1)) for g in (grid_o, grid_f, grid_p)]

    def draw(batch: slice) -> Tensor:
        o, f, p = (t[batch] for t in params)
        return make_gratings(
            runner.image_shape,
            o,
            f,
            p,
            contrast=contrast,
            mean=mean,
            channels=runner.channels,
            device=runner.device,
        )

    raw, blank = runner.run(len(params[0]), draw, batch_size, progress, "gratings")
    n = raw.shape[1]
    table = _pool((raw - blank).reshape(len(ori), len(sf), n_phases, n), phase_pooling)
    best = table.reshape(len(ori) * len(sf), n).argmax(axis=0)
    best_o, best_f = np.unravel_index(best, (len(ori), len(sf)))
    cols = np.arange(n)
    ori_curves = table[:, best_f, cols]
    sf_curves = table[best_o, :, cols].T
    preferred = preferred_orientation(ori_curves, ori, lower=0.0)
    preferred_sf = _log_peak(sf, sf_curves)
    return GratingTuning(
        neurons=runner.neurons.numpy(),
        orientation_deg=ori,
        spatial_frequency=sf,
        responses=table.reshape(len(ori) * len(sf), n),
        blank=blank,
        orientation_curves=ori_curves,
        frequency_curves=sf_curves,
        preferred_orientation_deg=preferred,
        preferred_frequency=preferred_sf,
        preferred_frequency_cpd=None if cpd_scale is None else preferred_sf / cpd_scale,
        osi=_osi(ori_curves, ori, preferred),
        selectivity=orientation_selectivity(ori_curves, ori),
        phase_pooling=phase_pooling,
    )


# --------------------------------------------------------------------------- Stringer-style trials
@dataclass(eq=False)
class GratingTrials:
    """Responses to full-field gratings of random orientation and phase, one row per trial.

    Attributes
    ----------
    neurons : np.ndarray, shape (n,)
    orientation_deg : np.ndarray, shape (n_trials,)
        Orientation of each trial's grating in [0, 180) degrees.
    phase_deg : np.ndarray, shape (n_trials,)
        Phase of each trial's grating in [0, 360) degrees.
    spatial_frequency : float
        Cycles per pixel (one for all trials).
    responses : np.ndarray, shape (n_trials, n)
        The model's responses (not blank-subtracted: what a recording would give).
    """

    neurons: np.ndarray
    orientation_deg: np.ndarray
    phase_deg: np.ndarray
    spatial_frequency: float
    responses: np.ndarray


def grating_trials(
    model: Callable[..., Any],
    n_trials: int,
    spatial_frequency: float,
    seed: int,
    *,
    image_shape: int | Sequence[int],
    neurons: int | Sequence[int] | Tensor | None = None,
    mean: float = 0.0,
    contrast: float = 1.0,
    channels: int = 1,
    batch_size: int = 256,
    progress: bool = True,
    **forward_kwargs: Any,
) -> GratingTrials:
    """The orientation experiment of Stringer et al. (2021, Cell 184:2767), in silico.

    Each trial shows a full-field grating of an orientation drawn uniformly from [0, 180) and
    a phase drawn uniformly from [0, 360): the trial-to-trial variability of a phase-sensitive
    neuron then comes from the stimulus, as with the random phases of the real experiment (the
    model itself is noise-free).

    Parameters
    ----------
    model : callable
        Maps images ``(B, C, H, W)`` to responses ``(B, n_outputs)``.
    n_trials : int
        Number of gratings (>= 1).
    spatial_frequency : float
        Cycles per pixel, > 0.
    seed : int
        Fixes the orientations and phases.
    image_shape, neurons, mean, contrast, channels, batch_size, progress, **forward_kwargs
        As for :func:`grating_tuning`.

    Returns
    -------
    GratingTrials
    """
    n_trials = validation.integer(n_trials, "n_trials", minimum=1)
    sf = validation.positive(spatial_frequency, "spatial_frequency")
    seed = validation.integer(seed, "seed")
    mean, contrast = _stimulus_values(mean, contrast)
    batch_size = validation.integer(batch_size, "batch_size", minimum=1)
    runner = _Runner(model, neurons, image_shape, channels, mean, forward_kwargs)
    with seeded(seed) as generator:
        ori = torch.rand(n_trials, generator=generator, dtype=torch.float64) * 180.0
        phase = torch.rand(n_trials, generator=generator, dtype=torch.float64) * 360.0

    def draw(batch: slice) -> Tensor:
        return make_gratings(
            runner.image_shape,
            ori[batch],
            sf,
            phase[batch],
            contrast=contrast,
            mean=mean,
            channels=runner.channels,
            device=runner.device,
        )

    raw, _ = runner.run(n_trials, draw, batch_size, progress, "trials")
    return GratingTrials(
        neurons=runner.neurons.numpy(),
        orientation_deg=ori.numpy(),
        phase_deg=phase.numpy(),
        spatial_frequency=sf,
        responses=raw,
    )


# --------------------------------------------------------------------------- size tuning
@dataclass(eq=False)
class SizeTuning:
    """Responses to gratings in circular apertures of growing diameter at each RF centre.

    Attributes
    ----------
    neurons : np.ndarray, shape (n,)
    diameter : np.ndarray, shape (n_sizes,)
        Aperture diameters in pixels.
    responses : np.ndarray, shape (n_sizes, n)
        Response minus the blank response, pooled over phases.
    blank : np.ndarray, shape (n,)
        Response to the blank screen.
    preferred_diameter : np.ndarray, shape (n,)
        Smallest diameter on the grid whose response reaches 95 % of the largest one, pixels
        (without the 95 % rule a neuron without surround suppression would "prefer" whichever
        large aperture happens to exceed the plateau by a rounding error). NaN where the
        suppression index is.
    suppression_index : np.ndarray, shape (n,)
        ``(R_peak - R_largest) / R_peak`` (Cavanaugh, Bair & Movshon 2002): 0 without surround
        suppression, 1 when the largest grating leaves the neuron at its blank response (and
        above 1 when it drives it below). NaN, with a notice, where no size drives the neuron
        above the blank.
    """

    neurons: np.ndarray
    diameter: np.ndarray
    responses: np.ndarray
    blank: np.ndarray
    preferred_diameter: np.ndarray
    suppression_index: np.ndarray

    def __len__(self) -> int:
        return len(self.neurons)


def _per_neuron(values: Any, name: str, n: int, columns: int | None = None) -> np.ndarray:
    validation.finite(values, name)
    array = np.asarray(values, dtype=np.float64)
    shape = (n,) if columns is None else (n, columns)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (one per neuron), got {array.shape}")
    return array


def size_tuning(
    model: Callable[..., Any],
    position: np.ndarray | Sequence[Sequence[float]],
    orientation_deg: np.ndarray | Sequence[float],
    spatial_frequency: np.ndarray | Sequence[float],
    *,
    image_shape: int | Sequence[int],
    neurons: int | Sequence[int] | Tensor | None = None,
    diameter: Sequence[float] | np.ndarray | None = None,
    n_phases: int = 4,
    phase_pooling: Pooling = "mean",
    mean: float = 0.0,
    contrast: float = 1.0,
    channels: int = 1,
    batch_size: int = 256,
    progress: bool = True,
    **forward_kwargs: Any,
) -> SizeTuning:
    """Size tuning and surround suppression of many neurons.

    Each neuron sees gratings of its own preferred orientation and spatial frequency (e.g.
    from :func:`grating_tuning`) inside circular apertures centred on its own receptive field
    (e.g. from :func:`sparse_noise_rfs`), on the blank grey screen, at ``n_phases`` phases
    (the phase refers to the aperture's centre). Only each stimulus's own neuron is computed
    (:func:`artiphys_course.units.own_response_function`), so an encoding model with a Gaussian
    readout runs on the receptive-field window of each neuron only. The aperture edge is
    antialiased over one pixel.

    Parameters
    ----------
    model : callable
        Maps images ``(B, C, H, W)`` to responses ``(B, n_outputs)``.
    position : array, shape (n, 2)
        Receptive-field centre ``(row, col)`` of each neuron in pixels.
    orientation_deg, spatial_frequency : array, shape (n,)
        Grating orientation (degrees) and frequency (cycles per pixel, > 0) of each neuron.
    image_shape : int or (height, width)
    neurons : sequence of int, optional
        The ``n`` outputs measured (default ``0..n - 1``).
    diameter : array, shape (n_sizes,), optional
        Increasing aperture diameters in pixels (> 0); default 10 sizes on a log scale from 2 to
        the image's diagonal.
    n_phases, phase_pooling, mean, contrast, channels, batch_size, progress, **forward_kwargs
        As for :func:`grating_tuning`.

    Returns
    -------
    SizeTuning
    """
    shape = validation.image_shape(image_shape)
    pos = np.asarray(position, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2:
        raise ValueError(f"position must have shape (n, 2) of (row, col), got {pos.shape}")
    n = len(pos)
    pos = _per_neuron(pos, "position", n, 2)
    ori = _per_neuron(orientation_deg, "orientation_deg", n)
    sf = _per_neuron(spatial_frequency, "spatial_frequency", n)
    if np.any(sf <= 0):
        raise ValueError("spatial_frequency must be > 0 (cycles/pixel) for every neuron")
    diameters = _grid(
        np.geomspace(2.0, math.hypot(*shape), 10) if diameter is None else diameter, "diameter"
    )
    if diameters[0] <= 0:
        raise ValueError(f"diameter must be > 0 pixels, got {diameters.tolist()}")
    n_phases = validation.integer(n_phases, "n_phases", minimum=1)
    phase_pooling = _check_pooling(phase_pooling)
    mean, contrast = _stimulus_values(mean, contrast)
    batch_size = validation.integer(batch_size, "batch_size", minimum=1)
    runner = _Runner(
        model, list(range(n)) if neurons is None else neurons, shape, channels, mean, forward_kwargs
    )
    blank = runner.blank()
    chosen, channels = runner.neurons, runner.channels
    if len(chosen) != n:
        raise ValueError(f"neurons has {len(chosen)} entries but position has {n} rows")
    own = own_response_function(model, **forward_kwargs)
    n_sizes = len(diameters)
    per_neuron = n_sizes * n_phases
    rows = torch.arange(shape[0], device=runner.device, dtype=torch.float32).view(1, -1, 1)
    cols = torch.arange(shape[1], device=runner.device, dtype=torch.float32).view(1, 1, -1)
    pos_t = torch.as_tensor(pos, dtype=torch.float32, device=runner.device)
    radius_t = torch.as_tensor(diameters / 2, dtype=torch.float32, device=runner.device)
    total = n * per_neuron
    out = []
    with eval_mode(model, notice=False), torch.no_grad():
        for start in progress_bar(range(0, total, batch_size), progress, desc="sizes"):
            k = torch.arange(start, min(start + batch_size, total))
            who, size, phase = k // per_neuron, (k // n_phases) % n_sizes, k % n_phases
            images = make_gratings(
                shape,
                ori[who.numpy()],
                sf[who.numpy()],
                phase.numpy() * 360.0 / n_phases,
                pos[who.numpy()],
                contrast=contrast,
                mean=0.0,
                channels=channels,
                device=runner.device,
            )
            distance = torch.sqrt(
                (rows - pos_t[who, 0].view(-1, 1, 1)) ** 2
                + (cols - pos_t[who, 1].view(-1, 1, 1)) ** 2
            )
            aperture = (radius_t[size].view(-1, 1, 1) + 0.5 - distance).clamp(0.0, 1.0)
            images = images * aperture[:, None] + mean
            out.append(own(images, chosen[who].to(runner.device)).double().cpu())
    raw = torch.cat(out).numpy().reshape(n, n_sizes, n_phases).transpose(1, 2, 0)
    table = _pool(raw - blank, phase_pooling)  # (n_sizes, n)
    peak = table.max(axis=0)
    undefined = peak <= 0
    validation.notice_undefined(
        undefined, "suppression_index", "no aperture size drives the neuron above the blank"
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        index = np.where(undefined, np.nan, (peak - table[-1]) / peak)
    return SizeTuning(
        neurons=chosen.numpy(),
        diameter=diameters,
        responses=table,
        blank=blank,
        preferred_diameter=np.where(
            undefined, np.nan, diameters[np.argmax(table >= 0.95 * peak, axis=0)]
        ),
        suppression_index=index,
    )


# --------------------------------------------------------------------------- sparse noise
@dataclass(eq=False)
class SparseNoiseRFs:
    """Receptive-field maps from light and dark squares on a grey screen.

    Attributes
    ----------
    neurons : np.ndarray, shape (n,)
    rows, cols : np.ndarray, shapes (n_rows,), (n_cols,)
        Pixel coordinates of the square centres (the map's grid).
    on, off : np.ndarray, shape (n, n_rows, n_cols)
        Response to a light (dark) square at each grid position minus the blank response.
    maps : np.ndarray, shape (n, n_rows, n_cols)
        ``|on| + |off|``: how much a square at each position changes the response, whatever its
        sign and polarity (so complex cells and ON/OFF subfields map alike).
    blank : np.ndarray, shape (n,)
    center : np.ndarray, shape (n, 2)
        RF centre ``(row, col)`` in pixels: the centroid of the map above half its maximum.
        NaN (with a notice) for a neuron that no square affects.
    square : int
        Side of the squares in pixels.
    """

    neurons: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    on: np.ndarray
    off: np.ndarray
    maps: np.ndarray
    blank: np.ndarray
    center: np.ndarray
    square: int

    def __len__(self) -> int:
        return len(self.neurons)

    def to_pixels(self, grid_position: np.ndarray) -> np.ndarray:
        """Map positions ``(..., 2)`` in map-grid units (e.g. a Gaussian fit's centre) to pixels."""
        grid_position = np.asarray(grid_position, dtype=np.float64)
        step_r = self.rows[1] - self.rows[0] if len(self.rows) > 1 else 1.0
        step_c = self.cols[1] - self.cols[0] if len(self.cols) > 1 else 1.0
        origin = np.array([self.rows[0], self.cols[0]])
        return origin + grid_position * np.array([step_r, step_c])


def sparse_noise_rfs(
    model: Callable[..., Any],
    *,
    image_shape: int | Sequence[int],
    square: int = 4,
    step: int = 2,
    neurons: int | Sequence[int] | Tensor | None = None,
    mean: float = 0.0,
    contrast: float = 1.0,
    channels: int = 1,
    batch_size: int = 256,
    progress: bool = True,
    **forward_kwargs: Any,
) -> SparseNoiseRFs:
    """Map receptive fields with one light or dark square at a time, at every grid position.

    The squares of side ``square`` pixels tile the image on a grid of spacing ``step`` pixels,
    each shown once light (``mean + contrast``) and once dark (``mean - contrast``) on the blank
    screen: ``2 * n_rows * n_cols`` stimuli, the same for all neurons. The centre is the centroid
    of the map above half its maximum, which ignores the weak far tails of the map.

    Parameters
    ----------
    model : callable
        Maps images ``(B, C, H, W)`` to responses ``(B, n_outputs)``.
    image_shape : int or (height, width)
    square : int
        Side of the squares in pixels (>= 1, at most the smaller image side).
    step : int
        Spacing of the grid in pixels (>= 1).
    neurons, mean, contrast, channels, batch_size, progress, **forward_kwargs
        As for :func:`grating_tuning`.

    Returns
    -------
    SparseNoiseRFs
    """
    h, w = validation.image_shape(image_shape)
    square = validation.integer(square, "square", minimum=1, maximum=min(h, w))
    step = validation.integer(step, "step", minimum=1)
    mean, contrast = _stimulus_values(mean, contrast)
    batch_size = validation.integer(batch_size, "batch_size", minimum=1)
    runner = _Runner(model, neurons, (h, w), channels, mean, forward_kwargs)
    tops = np.arange(0, h - square + 1, step)
    lefts = np.arange(0, w - square + 1, step)
    n_grid = len(tops) * len(lefts)
    top_t = torch.as_tensor(np.repeat(tops, len(lefts)), device=runner.device)
    left_t = torch.as_tensor(np.tile(lefts, len(tops)), device=runner.device)
    r_idx = torch.arange(h, device=runner.device).view(1, -1, 1)
    c_idx = torch.arange(w, device=runner.device).view(1, 1, -1)

    def draw(batch: slice) -> Tensor:
        k = torch.arange(batch.start, batch.stop, device=runner.device)
        where, sign = k % n_grid, 1.0 - 2.0 * (k // n_grid)  # light squares first, then dark
        inside = (
            (r_idx >= top_t[where].view(-1, 1, 1))
            & (r_idx < top_t[where].view(-1, 1, 1) + square)
            & (c_idx >= left_t[where].view(-1, 1, 1))
            & (c_idx < left_t[where].view(-1, 1, 1) + square)
        )
        images = mean + contrast * sign.view(-1, 1, 1) * inside.float()
        return images[:, None].expand(-1, runner.channels, -1, -1).contiguous()

    raw, blank = runner.run(2 * n_grid, draw, batch_size, progress, "squares")
    n = raw.shape[1]
    change = (raw - blank).T.reshape(n, 2, len(tops), len(lefts))
    on, off = change[:, 0], change[:, 1]
    maps = np.abs(on) + np.abs(off)
    peak = maps.reshape(n, -1).max(axis=1)
    undefined = peak <= 0
    validation.notice_undefined(undefined, "center", "no square changes the neuron's response")
    rows = tops + (square - 1) / 2
    cols = lefts + (square - 1) / 2
    weights = np.where(maps >= 0.5 * peak[:, None, None], maps, 0.0)
    total = weights.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        center = np.stack(
            [
                (weights.sum(axis=2) @ rows) / total,
                (weights.sum(axis=1) @ cols) / total,
            ],
            axis=1,
        )
    center[undefined] = np.nan
    return SparseNoiseRFs(
        neurons=runner.neurons.numpy(),
        rows=rows.astype(np.float64),
        cols=cols.astype(np.float64),
        on=on,
        off=off,
        maps=maps,
        blank=blank,
        center=center,
        square=square,
    )
