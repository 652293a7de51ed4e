"""Mouse V1 responses to oriented gratings (Stringer et al. 2021), real or simulated.

The real data are the file Neuromatch Academy distributes (``W3D4_stringer_oribinned1.npz``,
registry name ``"stringer_orientations"``): ``resp`` (stimuli x ~23,000 neurons, normalised by
spontaneous activity and z-scored, averaged in 1-degree bins of stimulus angle) and ``stimuli``
(angles in degrees, 0..360). As in Neuromatch's loader, this module keeps angles <= 180 and
subtracts 90, so **stimuli lie in [-90, 90] with 0 = vertical** (negative: tilted left,
positive: tilted right). This is the Stringer/Neuromatch convention, *not* the package's
orientation convention (0 = horizontal, see ``docs/ARCHITECTURE.md``).

Offline, :func:`artiphys_course.simulate.simulate_orientation_population` provides a stand-in
with the same outputs and known ground truth.

Reference: Stringer, Michaelos, Tsyboulski, Lindo & Pachitariu (2021), High-precision coding in
visual cortex, Cell 184:2767.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from artiphys_course.data.registry import DataUnavailableError, fetch, is_available
from artiphys_course.runtime import notice
from artiphys_course.simulate import OrientationPopulation, simulate_orientation_population

__all__ = ["OrientationData", "bin_orientations", "zscore", "load_stringer_orientations"]

REGISTRY_NAME = "stringer_orientations"
SOURCES = ("auto", "real", "simulated")


@dataclass
class OrientationData:
    """Population responses to gratings, one row per stimulus (bin).

    Attributes
    ----------
    resp : np.ndarray
        ``(n_stimuli, n_neurons)`` float32, z-scored per neuron over stimuli.
    stimuli : np.ndarray
        ``(n_stimuli,)`` float32 grating angle in degrees in [-90, 90], 0 = vertical.
    source : str
        ``"real"`` (Stringer et al. 2021) or ``"simulated"`` (the stand-in).
    truth : OrientationPopulation or None
        Ground truth of the simulated population (``None`` for real data). Its tuning
        parameters refer to neurons, so they stay valid after binning.
    """

    resp: np.ndarray
    stimuli: np.ndarray
    source: str
    truth: OrientationPopulation | None = None

    @property
    def n_stimuli(self) -> int:
        return self.resp.shape[0]

    @property
    def n_neurons(self) -> int:
        return self.resp.shape[1]

    def __repr__(self) -> str:
        return (
            f"OrientationData({self.source}: {self.n_stimuli} stimuli from "
            f"{self.stimuli.min():.1f} to {self.stimuli.max():.1f} deg, {self.n_neurons} neurons)"
        )


def bin_orientations(
    resp: np.ndarray, stimuli: np.ndarray, bin_deg: float, *, start: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Average responses and stimulus angles within bins of ``bin_deg`` degrees.

    Parameters
    ----------
    resp : np.ndarray
        ``(n_stimuli, n_neurons)``.
    stimuli : np.ndarray
        ``(n_stimuli,)`` angles in degrees.
    bin_deg : float
        Bin width; bins are ``[start + k bin_deg, start + (k + 1) bin_deg)``.
    start : float
        Left edge of bin 0.

    Returns
    -------
    resp_binned : np.ndarray
        ``(n_bins, n_neurons)``: mean response of the stimuli in each non-empty bin.
    stimuli_binned : np.ndarray
        ``(n_bins,)``: mean angle of those stimuli, increasing.
    """
    if not bin_deg > 0:
        raise ValueError(f"bin_deg must be > 0; got {bin_deg}.")
    resp = np.asarray(resp, dtype=np.float64)
    stimuli = np.asarray(stimuli, dtype=np.float64).reshape(-1)
    if resp.ndim != 2 or resp.shape[0] != stimuli.size:
        raise ValueError(
            f"resp must be (n_stimuli, n_neurons) with n_stimuli = {stimuli.size}; got "
            f"{resp.shape}."
        )
    bins = np.floor((stimuli - start) / bin_deg).astype(np.int64)
    _, which, counts = np.unique(bins, return_inverse=True, return_counts=True)
    which = which.reshape(-1)
    resp_sum = np.zeros((counts.size, resp.shape[1]))
    np.add.at(resp_sum, which, resp)
    stim_sum = np.bincount(which, weights=stimuli, minlength=counts.size)
    return resp_sum / counts[:, None], stim_sum / counts


def zscore(resp: np.ndarray) -> np.ndarray:
    """Z-score each column (neuron) over rows (stimuli); constant columns become 0."""
    resp = np.asarray(resp, dtype=np.float64)
    std = resp.std(axis=0)
    centred = resp - resp.mean(axis=0)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)


def _load_real(bin_deg: float, progress: bool) -> OrientationData:
    path = fetch(REGISTRY_NAME, progress=progress)
    with np.load(path, allow_pickle=False) as archive:
        missing = {"resp", "stimuli"} - set(archive.files)
        if missing:
            raise ValueError(f"{path} lacks the arrays {sorted(missing)} (has {archive.files}).")
        resp, stimuli = archive["resp"], archive["stimuli"].reshape(-1)
    resp, stimuli = bin_orientations(resp, stimuli, bin_deg, start=0.0)
    keep = stimuli <= 180  # gratings are drifting: keep one half of the directions
    return OrientationData(
        resp=zscore(resp[keep]).astype(np.float32),
        stimuli=(stimuli[keep] - 90.0).astype(np.float32),
        source="real",
    )


def _simulated(bin_deg: float, seed: int, simulation: dict[str, Any] | None) -> OrientationData:
    truth = simulate_orientation_population(seed=seed, **(simulation or {}))
    resp, stimuli = bin_orientations(truth.resp, truth.stimuli, bin_deg, start=-90.0)
    return OrientationData(
        resp=zscore(resp).astype(np.float32),
        stimuli=stimuli.astype(np.float32),
        source="simulated",
        truth=truth,
    )


def load_stringer_orientations(
    *,
    source: str = "auto",
    bin_deg: float = 1.0,
    progress: bool = True,
    seed: int = 0,
    simulation: dict[str, Any] | None = None,
) -> OrientationData:
    """Responses of mouse V1 neurons to gratings of every orientation.

    Parameters
    ----------
    source : {"auto", "real", "simulated"}
        ``"real"``: the Stringer et al. (2021) data (downloaded once, ~34 MB, then cached);
        raises :class:`~artiphys_course.data.registry.DataUnavailableError` with instructions
        when it cannot be had. ``"simulated"``: the stand-in with known tuning. ``"auto"``
        (default): real data when cached or downloadable now, otherwise the stand-in, with a
        notice (:class:`~artiphys_course.runtime.ArtiphysWarning`).
    bin_deg : float
        Average stimuli (and responses) in bins of this many degrees. Real angles are binned
        from 0 degrees before centring (the file is already averaged in 1-degree bins);
        simulated ones from -90.
    progress : bool
        Show the download progress bar.
    seed : int
        Seed of the simulated population.
    simulation : dict, optional
        More keyword arguments for
        :func:`~artiphys_course.simulate.simulate_orientation_population` (e.g.
        ``{"n_neurons": 500}``).

    Returns
    -------
    OrientationData
        ``resp`` ``(n_stimuli, n_neurons)`` z-scored per neuron, ``stimuli`` in [-90, 90]
        degrees with 0 = vertical, ``source`` and (simulated) ``truth``.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}; got {source!r}.")
    if not bin_deg > 0:
        raise ValueError(f"bin_deg must be > 0; got {bin_deg}.")
    if source == "real":
        return _load_real(bin_deg, progress)
    if source == "auto":
        if is_available(REGISTRY_NAME):  # cached, or downloadable now
            try:
                return _load_real(bin_deg, progress)
            except DataUnavailableError as err:
                reason = str(err).splitlines()[0]
        else:
            reason = "the real data are not cached and cannot be downloaded now"
        notice(
            f"Using the SIMULATED orientation population (known ground truth), because "
            f"{reason}. For the real Stringer et al. (2021) data run "
            f"`artiphys fetch {REGISTRY_NAME}` when online."
        )
    return _simulated(bin_deg, seed, simulation)
