"""Orientation tuning of neurons and model units: curves, preferred orientation, width.

Orientation is periodic in 180 degrees (a grating rotated by 180 degrees is the same grating), so
angles are compared on the *doubled* angle: an orientation ``theta`` is the point
``exp(2i * theta)`` on the unit circle (``exp(2 pi i * theta / period)`` in general). The preferred
orientation is the direction of the response-weighted mean of these points (the circular mean on
the doubled angle, e.g. Swindale 1998, Biol. Cybern. 78:45), and its length relative to the summed
weights is the orientation selectivity (1 = responds to one orientation only, 0 = untuned). A
plain arithmetic mean of angles would be wrong: neurons preferring 1 and 179 degrees prefer nearly
the same orientation, yet their mean is 90.

All functions work with any angle convention as long as the period is right: the course's own
(0 = horizontal, counter-clockwise) or the Stringer data's ([-90, 90), 0 = vertical). Angles are in
degrees at the interface; ``lower`` chooses the output range ``[lower, lower + period)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import curve_fit

from artiphys_course import validation
from artiphys_course.runtime import progress_bar

__all__ = [
    "TuningCurves",
    "VonMisesFit",
    "fit_von_mises",
    "orientation_difference",
    "orientation_selectivity",
    "preferred_orientation",
    "sort_by_preference",
    "tuning_curves",
    "von_mises_hwhm",
    "von_mises_tuning",
    "wrap_orientation",
]


def _numpy(x: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    validation.finite(x, name)
    return np.asarray(x, dtype=np.float64)


def _responses_and_angles(
    responses: np.ndarray | torch.Tensor, orientation_deg: np.ndarray | torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    r = _numpy(responses, "responses")
    theta = _numpy(orientation_deg, "orientation_deg")
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2:
        raise ValueError(f"responses must have shape (n_stimuli, n_units), got {r.shape}")
    if theta.ndim != 1 or theta.shape[0] != r.shape[0]:
        raise ValueError(
            f"orientation_deg must have shape (n_stimuli,) = ({r.shape[0]},) to match responses "
            f"{r.shape}, got {theta.shape}"
        )
    return r, theta


def _default_lower(orientation_deg: np.ndarray, period: float) -> float:
    return -period / 2 if np.any(orientation_deg < 0) else 0.0


def wrap_orientation(
    orientation_deg: np.ndarray | float, period: float = 180.0, lower: float = 0.0
) -> np.ndarray:
    """Map orientations into ``[lower, lower + period)``, in degrees."""
    return (np.asarray(orientation_deg, dtype=np.float64) - lower) % period + lower


def orientation_difference(
    a_deg: np.ndarray | float, b_deg: np.ndarray | float, period: float = 180.0
) -> np.ndarray:
    """Signed circular difference ``a - b`` in ``[-period / 2, period / 2)`` degrees.

    ``abs(orientation_difference(prediction, truth))`` is the decoding error of an orientation.
    """
    return wrap_orientation(np.asarray(a_deg) - np.asarray(b_deg), period, -period / 2)


def von_mises_tuning(
    orientation_deg: np.ndarray | float,
    preferred_deg: np.ndarray | float,
    concentration: np.ndarray | float,
    amplitude: np.ndarray | float = 1.0,
    baseline: np.ndarray | float = 0.0,
    period: float = 180.0,
) -> np.ndarray:
    """Von Mises tuning curve ``baseline + amplitude * exp(kappa * (cos(2 pi d / period) - 1))``.

    ``d`` is the orientation minus the preferred orientation, so the peak is
    ``baseline + amplitude`` and the trough ``baseline + amplitude * exp(-2 kappa)``. Arguments
    broadcast with NumPy rules, e.g. orientations ``(n_stimuli, 1)`` against parameters
    ``(n_units,)`` give ``(n_stimuli, n_units)``.
    """
    d = np.deg2rad(np.asarray(orientation_deg, np.float64) - np.asarray(preferred_deg, np.float64))
    phase = d * (360.0 / period)
    return baseline + amplitude * np.exp(np.asarray(concentration) * (np.cos(phase) - 1.0))


@dataclass
class TuningCurves:
    """Mean response of each unit per orientation bin.

    Attributes
    ----------
    orientation_deg : np.ndarray, shape (n_bins,)
        Bin centres (or the distinct orientations when not binned), increasing. Bins without any
        stimulus are left out, so there are no NaNs.
    mean : np.ndarray, shape (n_bins, n_units)
        Mean response in each bin.
    sem : np.ndarray, shape (n_bins, n_units)
        Standard error of the mean (0 for bins holding one stimulus).
    count : np.ndarray, shape (n_bins,)
        Number of stimuli in each bin.
    period : float
        Period of the orientation axis in degrees.
    """

    orientation_deg: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    count: np.ndarray
    period: float = 180.0

    @property
    def n_units(self) -> int:
        return self.mean.shape[1]

    def select(self, units: int | np.ndarray | list[int]) -> TuningCurves:
        """The tuning curves of a subset of units (columns), e.g. to fit or plot only those.

        ``units`` are non-negative integer indices (see :func:`artiphys_course.validation.indices`).
        """
        index = validation.indices(units, "units", self.n_units).numpy()
        return TuningCurves(
            self.orientation_deg, self.mean[:, index], self.sem[:, index], self.count, self.period
        )


def tuning_curves(
    responses: np.ndarray | torch.Tensor,
    orientation_deg: np.ndarray | torch.Tensor,
    *,
    bin_deg: float | None = None,
    period: float = 180.0,
    lower: float | None = None,
) -> TuningCurves:
    """Average responses over stimuli of (nearly) the same orientation.

    Parameters
    ----------
    responses : array, shape (n_stimuli, n_units)
        One row per stimulus (trial): a neuron's or a model unit's response.
    orientation_deg : array, shape (n_stimuli,)
        Stimulus orientation of every row, degrees (any convention; wrapped by ``period``).
    bin_deg : float, optional
        Width of the orientation bins. The bins tile ``[lower, lower + period)`` starting at
        ``lower``; ``period`` must be a multiple of ``bin_deg``. ``None`` (default): every distinct
        orientation is its own bin (for stimuli shown at a few fixed orientations).
    period : float
        180 for orientation, 360 for direction of motion.
    lower : float, optional
        Start of the orientation range. Default: ``-period / 2`` when any orientation is negative
        (the Stringer convention), else 0.

    Returns
    -------
    TuningCurves
    """
    r, theta = _responses_and_angles(responses, orientation_deg)
    lower = _default_lower(theta, period) if lower is None else float(lower)
    theta = wrap_orientation(theta, period, lower)
    if bin_deg is None:
        centres, index = np.unique(theta, return_inverse=True)
    else:
        bin_deg = validation.positive(bin_deg, "bin_deg")
        n_bins = period / bin_deg
        if abs(n_bins - round(n_bins)) > 1e-9:
            raise ValueError(
                f"period {period} must be a positive multiple of bin_deg, got {bin_deg}"
            )
        n_bins = int(round(n_bins))
        index = np.minimum(((theta - lower) // bin_deg).astype(int), n_bins - 1)
        centres = lower + (np.arange(n_bins) + 0.5) * bin_deg
    n_bins = len(centres)
    count = np.bincount(index, minlength=n_bins).astype(np.int64)
    sums = np.zeros((n_bins, r.shape[1]))
    np.add.at(sums, index, r)
    sq = np.zeros_like(sums)
    np.add.at(sq, index, r**2)
    keep = count > 0
    count, sums, sq, centres = count[keep], sums[keep], sq[keep], centres[keep]
    mean = sums / count[:, None]
    var = (
        np.clip(sq / count[:, None] - mean**2, 0.0, None)
        * (count / np.maximum(count - 1, 1))[:, None]
    )
    sem = np.sqrt(var / count[:, None])
    return TuningCurves(np.asarray(centres, float), mean, sem, count, float(period))


def _resultant(r: np.ndarray, theta: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean resultant on the period-scaled circle; weights = response - its minimum."""
    w = r - r.min(axis=0, keepdims=True)
    phase = np.deg2rad(theta) * (360.0 / period)
    z = np.exp(1j * phase) @ w
    total = w.sum(axis=0)
    return z, total


def preferred_orientation(
    responses: np.ndarray | torch.Tensor,
    orientation_deg: np.ndarray | torch.Tensor,
    *,
    period: float = 180.0,
    lower: float | None = None,
    method: str = "vector",
) -> np.ndarray:
    """Preferred orientation of each unit: circular mean of orientation on the doubled angle.

    Each stimulus orientation ``theta`` becomes the unit vector at angle ``2 pi theta / period``
    (twice the orientation for ``period=180``), weighted by the unit's response minus its minimum
    response (so weights are >= 0 and a constant offset does not matter). The preferred orientation
    is half the angle of the weighted sum. With tuning curves on an even grid of orientations this
    recovers the peak of any symmetric unimodal tuning curve exactly; with single trials at uneven
    orientations it is biased towards frequently shown orientations -- average first
    (:func:`tuning_curves`).

    Parameters
    ----------
    responses : array, shape (n_stimuli, n_units)
        Responses (or a tuning-curve matrix ``TuningCurves.mean``).
    orientation_deg : array, shape (n_stimuli,)
        Orientation of each row, degrees.
    period : float
        180 for orientation.
    lower : float, optional
        Output range ``[lower, lower + period)``. Default: ``-period / 2`` when any input
        orientation is negative, else 0.
    method : {"vector", "peak"}
        ``"vector"`` (default): the circular mean described above, which interpolates between
        sampled orientations. ``"peak"``: the orientation of the row with the largest response.

    Returns
    -------
    np.ndarray, shape (n_units,)
        Preferred orientation in degrees. A unit with constant responses has no preference; it
        gets ``lower`` (its selectivity, :func:`orientation_selectivity`, is 0) with
        ``"vector"``, the first row's orientation with ``"peak"``.
    """
    if method not in ("vector", "peak"):
        raise ValueError(f"method must be 'vector' or 'peak', got {method!r}")
    r, theta = _responses_and_angles(responses, orientation_deg)
    lower = _default_lower(theta, period) if lower is None else float(lower)
    if method == "peak":
        return wrap_orientation(theta[np.argmax(r, axis=0)], period, lower)
    z, _ = _resultant(r, theta, period)
    angle = np.rad2deg(np.angle(z)) * (period / 360.0)
    angle = np.where(np.abs(z) > 0, angle, lower)
    return wrap_orientation(angle, period, lower)


def orientation_selectivity(
    responses: np.ndarray | torch.Tensor,
    orientation_deg: np.ndarray | torch.Tensor,
    *,
    period: float = 180.0,
) -> np.ndarray:
    """Length of the response-weighted mean resultant (1 - circular variance), in [0, 1].

    Weights are the responses minus each unit's minimum, as in :func:`preferred_orientation`.
    1 means the unit responds above its minimum to a single orientation only; 0 means no
    preference (flat or perfectly balanced tuning). Returns shape ``(n_units,)``.
    """
    r, theta = _responses_and_angles(responses, orientation_deg)
    z, total = _resultant(r, theta, period)
    return np.divide(np.abs(z), total, out=np.zeros_like(total), where=total > 0)


@dataclass
class VonMisesFit:
    """Parameters of :func:`von_mises_tuning` fitted to each unit (arrays of shape (n_units,)).

    Attributes
    ----------
    preferred_deg : np.ndarray
        Peak orientation, degrees in ``[lower, lower + period)``.
    concentration : np.ndarray
        ``kappa``; larger is narrower.
    amplitude, baseline : np.ndarray
        Peak above baseline, and baseline, in response units.
    hwhm_deg : np.ndarray
        Half width at half maximum (above baseline) in degrees, from ``kappa``:
        ``period / (2 pi) * arccos(1 - ln 2 / kappa)``; ``period / 2`` when the curve never falls
        to half (``kappa < ln 2 / 2``, practically untuned).
    r2 : np.ndarray
        Fraction of the tuning curve's variance the fit explains.
    period : float
    """

    preferred_deg: np.ndarray
    concentration: np.ndarray
    amplitude: np.ndarray
    baseline: np.ndarray
    hwhm_deg: np.ndarray
    r2: np.ndarray
    period: float = 180.0


def von_mises_hwhm(concentration: np.ndarray | float, period: float = 180.0) -> np.ndarray:
    """Half width at half maximum (degrees) of a von Mises tuning curve with ``kappa``.

    Solves ``exp(kappa (cos(2 pi d / period) - 1)) = 1 / 2`` for ``d``:
    ``period / (2 pi) * arccos(1 - ln 2 / kappa)``. When ``kappa < ln 2 / 2`` the curve never falls
    to half its peak above baseline and the width is ``period / 2`` (practically untuned).
    """
    kappa = np.asarray(concentration, np.float64)
    cos_half = 1.0 - np.log(2.0) / np.maximum(kappa, 1e-12)
    width = np.arccos(np.clip(cos_half, -1.0, 1.0)) * period / (2 * np.pi)
    return np.where(cos_half < -1.0, period / 2, width)


def fit_von_mises(
    curves: np.ndarray | torch.Tensor | TuningCurves,
    orientation_deg: np.ndarray | torch.Tensor | None = None,
    *,
    period: float | None = None,
    lower: float | None = None,
    max_concentration: float = 50.0,
    progress: bool = True,
) -> VonMisesFit:
    """Fit a von Mises tuning curve to every unit (``scipy.optimize.curve_fit``, bounded).

    Parameters
    ----------
    curves : TuningCurves or array, shape (n_orientations, n_units)
        Tuning curves (means per orientation); single-trial responses also work but are slower.
        At least 4 distinct orientations (a curve with 4 parameters is not determined by fewer).
    orientation_deg : array, shape (n_orientations,), optional
        Needed when ``curves`` is an array.
    period : float, optional
        Default: ``curves.period`` for :class:`TuningCurves`, else 180.
    lower : float, optional
        Output range of ``preferred_deg`` (see :func:`preferred_orientation`).
    max_concentration : float
        Upper bound on ``kappa`` (keeps fits to nearly flat or one-bin curves finite).
    progress : bool
        Show a progress bar over units.

    Returns
    -------
    VonMisesFit
        Every field is finite; units whose fit does not converge keep the initial guess (the
        circular-mean preferred orientation, the curve's range as amplitude).
    """
    if isinstance(curves, TuningCurves):
        orientation_deg = curves.orientation_deg
        period = curves.period if period is None else period
        curves = curves.mean
    if orientation_deg is None:
        raise ValueError("orientation_deg is required when curves is an array")
    period = 180.0 if period is None else validation.positive(period, "period")
    r, theta = _responses_and_angles(curves, orientation_deg)
    lower = _default_lower(theta, period) if lower is None else float(lower)
    n_distinct = len(np.unique(wrap_orientation(theta, period, lower)))
    if n_distinct < 4:
        raise ValueError(
            f"fit_von_mises needs at least 4 distinct orientations (4 parameters per unit), "
            f"got {n_distinct} in orientation_deg"
        )
    mu0 = preferred_orientation(r, theta, period=period, lower=lower)
    n = r.shape[1]
    params = np.zeros((n, 4))  # preferred, kappa, amplitude, baseline
    r2 = np.zeros(n)

    def model(t: np.ndarray, mu: float, kappa: float, amp: float, base: float) -> np.ndarray:
        return von_mises_tuning(t, mu, kappa, amp, base, period)

    for u in progress_bar(range(n), progress, desc="von Mises fits"):
        y = r[:, u]
        lo, hi = float(y.min()), float(y.max())
        span = max(hi - lo, 1e-12)
        p0 = [mu0[u], 1.0, span, lo]
        bounds = (
            [mu0[u] - period, 1e-3, 0.0, lo - span],
            [mu0[u] + period, max_concentration, 4 * span, hi],
        )
        try:
            p, _ = curve_fit(model, theta, y, p0=p0, bounds=bounds, maxfev=2000)
        except (RuntimeError, ValueError):
            p = np.asarray(p0)
        params[u] = p
        resid = y - model(theta, *p)
        ss = np.sum((y - y.mean()) ** 2)
        r2[u] = 1.0 - np.sum(resid**2) / ss if ss > 0 else 0.0
    return VonMisesFit(
        preferred_deg=wrap_orientation(params[:, 0], period, lower),
        concentration=params[:, 1],
        amplitude=params[:, 2],
        baseline=params[:, 3],
        hwhm_deg=von_mises_hwhm(params[:, 1], period),
        r2=r2,
        period=period,
    )


def sort_by_preference(
    responses: np.ndarray | torch.Tensor,
    orientation_deg: np.ndarray | torch.Tensor,
    preferred_deg: np.ndarray | torch.Tensor | None = None,
    *,
    period: float = 180.0,
    lower: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Population response with stimuli sorted by orientation and units by preferred orientation.

    With both axes sorted, a well-tuned population shows a diagonal band: each stimulus drives
    the units preferring its orientation.

    Parameters
    ----------
    responses : array, shape (n_stimuli, n_units)
    orientation_deg : array, shape (n_stimuli,)
    preferred_deg : array, shape (n_units,), optional
        Default: :func:`preferred_orientation` of ``responses`` (after binning into 10-degree
        tuning curves when there are many distinct orientations).
    period, lower : float
        As in :func:`preferred_orientation`.

    Returns
    -------
    sorted_responses : np.ndarray, shape (n_stimuli, n_units)
    orientation_sorted : np.ndarray, shape (n_stimuli,)
        Stimulus orientations in increasing order (wrapped into the output range).
    preferred_sorted : np.ndarray, shape (n_units,)
        Preferred orientations in increasing order.
    """
    r, theta = _responses_and_angles(responses, orientation_deg)
    lower = _default_lower(theta, period) if lower is None else float(lower)
    if preferred_deg is None:
        bin_deg = None if len(np.unique(theta)) <= 36 else period / 18
        tc = tuning_curves(r, theta, bin_deg=bin_deg, period=period, lower=lower)
        preferred = preferred_orientation(tc.mean, tc.orientation_deg, period=period, lower=lower)
    else:
        preferred = wrap_orientation(_numpy(preferred_deg, "preferred_deg"), period, lower)
        if preferred.shape != (r.shape[1],):
            raise ValueError(
                f"preferred_deg must have shape (n_units,) = ({r.shape[1]},), got {preferred.shape}"
            )
    theta = wrap_orientation(theta, period, lower)
    stim_order = np.argsort(theta, kind="stable")
    unit_order = np.argsort(preferred, kind="stable")
    return r[np.ix_(stim_order, unit_order)], theta[stim_order], preferred[unit_order]
