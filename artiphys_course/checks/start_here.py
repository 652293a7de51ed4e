"""Checks for notebook 00 (start here): Fano factors, the Poisson noise ceiling, correlations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from artiphys_course.checks.core import CheckResult, check_function
from artiphys_course.metrics import correlation
from artiphys_course.simulate import fano_factor, noise_ceiling_from_rates

__all__ = ["check_fano_factor", "check_poisson_noise_ceiling", "check_response_correlation"]


def _repeats(seed: int, shape: tuple[int, int, int], scale: float) -> np.ndarray:
    """Poisson counts ``(images, repeats, neurons)`` around random rates."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(1.5, scale, size=(shape[0], 1, shape[2]))
    return rng.poisson(np.broadcast_to(rates, shape)).astype(np.float64)


def check_fano_factor(student: Callable[[np.ndarray], Any]) -> CheckResult:
    """Check ``student(responses_by_image)`` -> ``(n_neurons,)`` mean Fano factors.

    Compared with :func:`artiphys_course.simulate.fano_factor` on Poisson counts, including
    images with no response at all (they must be left out of the average).
    """
    with_zeros = _repeats(2, (30, 10, 6), 0.3)  # low rates: some images never evoke a spike
    cases = [(_repeats(0, (5, 4, 3), 5.0),), (_repeats(1, (40, 10, 8), 3.0),), (with_zeros,)]
    return check_function(
        student,
        fano_factor,
        cases,
        name="fano_factor",
        rtol=1e-6,
        atol=1e-8,
        hint="Per image and neuron: variance over repeats with ddof=1, divided by the mean; "
        "then average over images, skipping images whose mean is 0 (np.nanmean after "
        "turning 0/0 into NaN).",
        fallback="artiphys_course.simulate.fano_factor",
    )


def check_poisson_noise_ceiling(student: Callable[[np.ndarray], Any]) -> CheckResult:
    """Check ``student(rates)`` -> ``(n_neurons,)`` Poisson ceiling ``sqrt(Var / (Var + mean))``.

    Compared with :func:`artiphys_course.simulate.noise_ceiling_from_rates` with no gain noise.
    """
    rng = np.random.default_rng(3)
    cases = [
        (np.array([[0.5, 2.0], [1.5, 2.0], [1.0, 6.0]]),),
        (rng.gamma(1.0, 0.4, size=(100, 7)),),
        (rng.gamma(2.0, 3.0, size=(500, 20)),),
    ]
    return check_function(
        student,
        lambda rates: noise_ceiling_from_rates(rates, gain_cv=0.0),
        cases,
        name="poisson_noise_ceiling",
        rtol=1e-6,
        atol=1e-8,
        hint="Over trials (axis 0): Var(rate) with ddof=0 and mean(rate); the ceiling is "
        "sqrt(Var / (Var + mean)).",
        fallback="artiphys_course.simulate.noise_ceiling_from_rates",
    )


def check_response_correlation(student: Callable[[np.ndarray, np.ndarray], Any]) -> CheckResult:
    """Check ``student(x, y)`` -> ``(n_neurons,)`` Pearson correlation of matching columns.

    Compared with :func:`artiphys_course.metrics.correlation` (and so with ``np.corrcoef``).
    """
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 6))
    cases = [
        (x, x + rng.normal(size=x.shape)),
        (x[:, :1], 3 * x[:, :1] + 1),
        (
            rng.poisson(2.0, size=(80, 4)).astype(float),
            rng.poisson(2.0, size=(80, 4)).astype(float),
        ),
    ]
    return check_function(
        student,
        correlation,
        cases,
        name="response_correlation",
        rtol=1e-5,
        atol=1e-7,
        hint="Centre each column (subtract its mean over trials), then "
        "sum(x * y) / sqrt(sum(x**2) * sum(y**2)) column by column.",
        fallback="artiphys_course.metrics.correlation",
    )
