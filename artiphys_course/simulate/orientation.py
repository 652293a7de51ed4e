"""A simulated population of orientation-tuned neurons: the offline Stringer stand-in.

:func:`simulate_orientation_population` stands in for the Stringer et al. (2019) grating data
used in Neuromatch Academy (:mod:`artiphys_course.data.stringer`): heterogeneous von Mises
tuning, shared gain noise, z-scored per neuron. It keeps Neuromatch's angle convention for
those data: degrees in [-90, 90], 0 = vertical.

References
----------
Stringer et al. (2021) High-precision coding in visual cortex, Cell 184:2767.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from artiphys_course.simulate._checks import checked_seed

__all__ = ["OrientationPopulation", "simulate_orientation_population"]


@dataclass(eq=False)
class OrientationPopulation:
    """A simulated population of orientation-tuned neurons in the Stringer/Neuromatch format.

    Attributes
    ----------
    resp : (n_stimuli, n_neurons) float32
        Responses z-scored per neuron (over stimuli).
    stimuli : (n_stimuli,) float32
        Grating angle in degrees in [-90, 90], 0 = vertical (Neuromatch's convention).
    preferred_deg : (n_neurons,) float32
        True preferred angle, same convention, in [-90, 90).
    concentration : (n_neurons,) float32
        Von Mises concentration ``kappa`` (0 for untuned neurons).
    amplitude : (n_neurons,) float32
        Tuned response amplitude (0 for untuned neurons).
    baseline : (n_neurons,) float32
    stimulus_gain : (n_stimuli,) float32
        The shared gain drawn for each stimulus.
    noise_sd : float
        Standard deviation of the independent noise (before z-scoring).
    tuned : (n_neurons,) bool
    mean_response : (n_stimuli, n_neurons) float32
        Noise-free tuning curves (before z-scoring).
    """

    resp: np.ndarray
    stimuli: np.ndarray
    preferred_deg: np.ndarray
    concentration: np.ndarray
    amplitude: np.ndarray
    baseline: np.ndarray
    stimulus_gain: np.ndarray
    noise_sd: float
    tuned: np.ndarray
    mean_response: np.ndarray

    @property
    def n_neurons(self) -> int:
        return self.resp.shape[1]


def simulate_orientation_population(
    *,
    n_neurons: int = 2000,
    n_stimuli: int = 180,
    seed: int = 0,
    fraction_tuned: float = 0.8,
    gain_cv: float = 0.1,
    noise_sd: float = 0.5,
) -> OrientationPopulation:
    """Simulate orientation tuning curves like the binned Stringer et al. (2021) grating data.

    Neuron ``i`` responds to a grating at angle ``theta`` with
    ``g_s (b_i + a_i exp(kappa_i (cos(2 (theta - theta_i)) - 1))) + noise``: a von Mises
    bump periodic in **180** degrees (orientation, not direction, tuning: the real stimuli
    are drifting gratings over 360 degrees of direction, but Neuromatch's loader keeps
    directions <= 180 only, so a 180-periodic orientation model describes what students see;
    the stand-in has no direction selectivity). ``g_s`` is a gain shared by all neurons on
    stimulus ``s`` (coefficient of variation ``gain_cv``), the independent noise is Gaussian
    with s.d. ``noise_sd`` (the real binned responses are averages of several trials), and
    each neuron is finally z-scored. Heterogeneity: ``kappa`` log-normal (median 1.5),
    ``a`` log-normal, a fraction of untuned neurons.

    Parameters
    ----------
    n_neurons : int
        Neurons (the real data have 23,589; 2,000 keep notebooks light).
    n_stimuli : int
        Stimulus bins evenly covering [-90, 90] (bin centres; 180 = 1-degree bins).
    seed : int
        Everything follows from it (None raises TypeError).
    fraction_tuned : float
        Fraction of neurons with orientation tuning.
    gain_cv, noise_sd : float
        Shared-gain and independent noise levels.

    Returns
    -------
    OrientationPopulation
    """
    if n_neurons < 1 or n_stimuli < 2:
        raise ValueError(f"need n_neurons >= 1 and n_stimuli >= 2; got {n_neurons}, {n_stimuli}")
    if not 0 <= fraction_tuned <= 1 or gain_cv < 0 or noise_sd <= 0:
        raise ValueError("need 0 <= fraction_tuned <= 1, gain_cv >= 0 and noise_sd > 0")
    rng = np.random.default_rng(checked_seed(seed))
    stimuli = -90.0 + (np.arange(n_stimuli) + 0.5) * 180.0 / n_stimuli
    preferred = rng.uniform(-90.0, 90.0, n_neurons)
    tuned = rng.random(n_neurons) < fraction_tuned
    kappa = np.where(tuned, np.exp(rng.normal(np.log(1.5), 0.5, n_neurons)), 0.0)
    amplitude = np.where(tuned, np.exp(rng.normal(0.0, 0.4, n_neurons)), 0.0)
    baseline = np.exp(rng.normal(-1.0, 0.5, n_neurons))
    delta = np.deg2rad(stimuli[:, None] - preferred[None, :])
    mean = baseline + amplitude * np.exp(kappa * (np.cos(2 * delta) - 1))
    gain = rng.gamma(1 / gain_cv**2, gain_cv**2, n_stimuli) if gain_cv > 0 else np.ones(n_stimuli)
    noisy = gain[:, None] * mean + rng.normal(0.0, noise_sd, mean.shape)
    resp = (noisy - noisy.mean(axis=0)) / noisy.std(axis=0)
    return OrientationPopulation(
        resp=resp.astype(np.float32),
        stimuli=stimuli.astype(np.float32),
        preferred_deg=preferred.astype(np.float32),
        concentration=kappa.astype(np.float32),
        amplitude=amplitude.astype(np.float32),
        baseline=baseline.astype(np.float32),
        stimulus_gain=gain.astype(np.float32),
        noise_sd=float(noise_sd),
        tuned=tuned,
        mean_response=mean.astype(np.float32),
    )
