"""The digital V1's trial-to-trial variability: shared gain x Poisson counts, and its exact stats.

* :func:`sample_responses`: counts from expected rates, a shared gamma trial gain times Poisson
  noise (drawn by inverting the Poisson CDF, one uniform per draw);
* :func:`noise_ceiling_from_rates` and :func:`response_variance`: the exact single-trial
  correlation ceiling of that noise model and the response variance it rests on;
* :func:`fano_factor`: variance over mean of repeated responses.
"""

from __future__ import annotations

import numpy as np

from artiphys_course.simulate._checks import checked_seed

__all__ = ["fano_factor", "noise_ceiling_from_rates", "response_variance", "sample_responses"]


def sample_responses(
    rates: np.ndarray, *, gain_cv: float = 0.2, seed: int | np.random.Generator = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy counts from expected rates: a shared trial gain times Poisson noise.

    On trial ``t`` a gain ``G_t ~ Gamma(shape=1 / gain_cv**2, scale=gain_cv**2)`` (mean 1,
    coefficient of variation ``gain_cv``) multiplies every neuron's rate (a shared modulation,
    as arousal or anaesthesia state would cause), then ``r_ti ~ Poisson(G_t rate_ti)``, drawn
    by inverting the Poisson CDF with one uniform per draw (robust to last-bit differences in
    the rates between machines). So
    ``E[r | rate] = rate`` and ``Var[r | rate] = rate + gain_cv**2 rate**2``
    (Fano factor ``1 + gain_cv**2 rate``).

    Parameters
    ----------
    rates : np.ndarray
        ``(n_trials, n_neurons)`` expected counts, >= 0.
    gain_cv : float
        Coefficient of variation of the shared gain (0 = pure Poisson).
    seed : int or np.random.Generator
        An int seeds a new generator (None raises TypeError); a generator is consumed.

    Returns
    -------
    responses : np.ndarray
        ``(n_trials, n_neurons)`` float32 counts.
    trial_gain : np.ndarray
        ``(n_trials,)`` float32 the gains ``G_t``.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 2 or np.any(rates < 0) or not np.all(np.isfinite(rates)):
        raise ValueError(
            f"rates must be finite, >= 0, of shape (n_trials, n_neurons); got {rates.shape}"
        )
    if gain_cv < 0:
        raise ValueError(f"gain_cv must be >= 0, got {gain_cv}")
    if isinstance(seed, np.random.Generator):
        rng = seed
    else:
        rng = np.random.default_rng(checked_seed(seed))
    if gain_cv > 0:
        gain = rng.gamma(1.0 / gain_cv**2, gain_cv**2, size=len(rates))
    else:
        gain = np.ones(len(rates))
    responses = _poisson_by_inversion(rates * gain[:, None], rng)
    return responses.astype(np.float32), gain.astype(np.float32)


def _poisson_by_inversion(mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts from one uniform per draw, by inverting the cumulative distribution.

    Unlike ``rng.poisson`` (rejection sampling, which consumes a variable number of random
    numbers), a change of a mean in its last bits changes at most that one draw and only if its
    uniform sits at a step of the CDF, so the data do not depend on the BLAS / device that
    computed the rates. Means above 500 (where ``exp(-mean)`` loses precision) fall back to
    ``rng.poisson``. Works through 2**18 draws at a time to bound memory.
    """
    flat_mean = mean.ravel()
    flat_u = rng.random(flat_mean.shape)
    counts = np.zeros(flat_mean.shape, np.int64)
    for start in range(0, len(flat_mean), 2**18):
        index = np.arange(start, min(start + 2**18, len(flat_mean)))
        index = index[flat_mean[index] <= 500]
        m, target = flat_mean[index], flat_u[index]
        p = np.exp(-m)  # P(count = 0)
        cdf = p.copy()
        k = 0
        while index.size:
            done = (cdf > target) | (k > m + 12 * np.sqrt(m) + 20)  # second term: rounding guard
            counts[index[done]] = k
            keep = ~done
            index, m, target, p, cdf = index[keep], m[keep], target[keep], p[keep], cdf[keep]
            k += 1
            p = p * m / k
            cdf = cdf + p
    large = np.flatnonzero(flat_mean > 500)
    if large.size:
        counts[large] = rng.poisson(flat_mean[large])
    return counts.reshape(mean.shape)


def noise_ceiling_from_rates(rates: np.ndarray, gain_cv: float = 0.0) -> np.ndarray:
    """Exact correlation between expected rates and single-trial responses, per neuron.

    For the noise model of :func:`sample_responses` (shared gamma gain with coefficient of
    variation ``k`` times Poisson), over trials whose expected rates ``lambda`` are the rows of
    ``rates`` (each trial equally likely)::

        Cov(lambda, r) = Var(lambda)
        Var(r)         = Var(lambda) + k**2 E[lambda**2] + E[lambda]
        ceiling        = corr(lambda, r) = sqrt(Var(lambda) / Var(r))

    (with ``k = 0``: ``sqrt(Var / (Var + mean))``, the Poisson ceiling). No model that sees
    only the stimulus on a trial can correlate better with single-trial responses on average.

    Parameters
    ----------
    rates : np.ndarray
        ``(n_trials, n_neurons)`` expected rates.
    gain_cv : float
        Coefficient of variation ``k`` of the shared trial gain.

    Returns
    -------
    np.ndarray
        ``(n_neurons,)`` in [0, 1); 0 for neurons whose rate never changes.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 2:
        raise ValueError(f"rates must be (n_trials, n_neurons); got shape {rates.shape}")
    var = rates.var(axis=0)
    total = response_variance(rates, gain_cv)
    return np.sqrt(np.divide(var, total, out=np.zeros_like(var), where=total > 0))


def response_variance(rates: np.ndarray, gain_cv: float) -> np.ndarray:
    """Variance of single-trial responses under the noise model of :func:`sample_responses`.

    ``Var(r) = Var(lambda) + gain_cv**2 E[lambda**2] + E[lambda]`` over the rows of ``rates``.

    Parameters
    ----------
    rates : np.ndarray
        ``(n_trials, n_neurons)`` expected rates ``lambda`` (each trial equally likely).
    gain_cv : float
        Coefficient of variation of the shared trial gain.

    Returns
    -------
    np.ndarray
        ``(n_neurons,)`` float64.
    """
    rates = np.asarray(rates, dtype=np.float64)
    return rates.var(axis=0) + gain_cv**2 * (rates**2).mean(axis=0) + rates.mean(axis=0)


def fano_factor(responses_by_image: np.ndarray) -> np.ndarray:
    """Mean Fano factor (variance / mean over repeats) of each neuron.

    Parameters
    ----------
    responses_by_image : np.ndarray
        ``(n_images, n_repeats, n_neurons)`` responses to repeated images (``n_repeats >= 2``).

    Returns
    -------
    np.ndarray
        ``(n_neurons,)``: the unbiased variance over repeats (``ddof=1``) divided by the mean,
        averaged over the images with a positive mean (NaN for a neuron that never responds).
    """
    x = np.asarray(responses_by_image, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(
            f"responses_by_image must be (n_images, n_repeats >= 2, n_neurons); got {x.shape}"
        )
    mean = x.mean(axis=1)
    var = x.var(axis=1, ddof=1)
    ratio = np.where(mean > 0, var / np.where(mean > 0, mean, 1.0), np.nan)
    with np.errstate(invalid="ignore"):
        counts = (mean > 0).sum(axis=0)
        return np.where(counts > 0, np.nansum(ratio, axis=0) / np.maximum(counts, 1), np.nan)
