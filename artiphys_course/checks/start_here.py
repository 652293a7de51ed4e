"""Checks for notebook 00 (start here): Fano factors, the Poisson noise ceiling, correlations.

Each check runs the student's function on fixed and seeded random inputs, compares with the
package's reference and returns a one-line :class:`~artiphys_course.checks.core.CheckResult`;
it names the common mistakes (unbiased vs population variance, the wrong axis, a missing
square root, no centring...) and catches a function that calls the package instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from artiphys_course.checks.core import CheckResult, Mistake, check_function
from artiphys_course.metrics import correlation
from artiphys_course.simulate import fano_factor, noise_ceiling_from_rates

__all__ = ["check_fano_factor", "check_poisson_noise_ceiling", "check_response_correlation"]


def _repeats(seed: int, shape: tuple[int, int, int], scale: float) -> np.ndarray:
    """Poisson counts ``(images, repeats, neurons)`` around random rates."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(1.5, scale, size=(shape[0], 1, shape[2]))
    return rng.poisson(np.broadcast_to(rates, shape)).astype(np.float64)


def _fano(
    responses: np.ndarray,
    *,
    ddof: int = 1,
    spread: Callable[..., np.ndarray] = np.var,
    repeat_axis: int = 1,
    silent_as_zero: bool = False,
    ratio_of_means: bool = False,
) -> np.ndarray:
    """The mean Fano factor with one step done differently (the known mistakes)."""
    mean = responses.mean(axis=repeat_axis)
    var = spread(responses, axis=repeat_axis, ddof=ddof)
    if ratio_of_means:
        return var.mean(axis=0) / mean.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(mean > 0, var / mean, 0.0 if silent_as_zero else np.nan)
    return np.nanmean(ratio, axis=0)


_FANO_MISTAKES = [
    Mistake(
        "the population variance (ddof=0)",
        lambda r: _fano(r, ddof=0),
        "The repeats are a small sample of the neuron's trial-to-trial variability: which "
        "variance estimate is unbiased for a sample?",
    ),
    Mistake(
        "the standard deviation instead of the variance",
        lambda r: _fano(r, spread=np.std),
        "The Fano factor of a Poisson neuron is 1 whatever its rate: check the units of the ratio.",
    ),
    Mistake(
        "the variance across images instead of across repeats",
        lambda r: _fano(r, repeat_axis=0),
        "Trial-to-trial variability is the spread of the responses to the *same* image.",
    ),
    Mistake(
        "images without a spike counted as Fano factor 0",
        lambda r: _fano(r, silent_as_zero=True),
        "For an image that never evokes a spike the ratio is undefined (0/0): it must not pull "
        "the average down.",
    ),
    Mistake(
        "a ratio of averages",
        lambda r: _fano(r, ratio_of_means=True),
        "The Fano factor is computed per image, then averaged over images.",
    ),
]


def check_fano_factor(student: Callable[[np.ndarray], Any]) -> CheckResult:
    """Check ``student(responses_by_image)`` -> ``(n_neurons,)`` mean Fano factors.

    Compared with :func:`artiphys_course.simulate.fano_factor` on a small fixed example and on
    Poisson counts, including images with no response at all (they must be left out of the
    average).
    """
    fixed = np.array(  # 2 images, 3 repeats, 2 neurons
        [[[1.0, 0.0], [3.0, 0.0], [2.0, 0.0]], [[4.0, 2.0], [4.0, 5.0], [7.0, 2.0]]]
    )
    with_zeros = _repeats(2, (30, 10, 6), 0.3)  # low rates: some images never evoke a spike
    cases = [
        (fixed,),
        (_repeats(0, (5, 4, 3), 5.0),),
        (_repeats(1, (40, 10, 8), 3.0),),
        (with_zeros,),
    ]
    return check_function(
        student,
        fano_factor,
        cases,
        name="fano_factor",
        rtol=1e-6,
        atol=1e-8,
        mistakes=_FANO_MISTAKES,
        forbidden=["artiphys_course.simulate.fano_factor"],
        hint="Work out the first test input (2 images, 3 repeats, 2 neurons) by hand, image by "
        "image, and compare with your intermediate arrays.",
        fallback="artiphys_course.simulate.fano_factor",
    )


def _ceiling(
    rates: np.ndarray,
    *,
    ddof: int = 0,
    spread: Callable[..., np.ndarray] = np.var,
    axis: int = 0,
    root: bool = True,
) -> np.ndarray:
    """The Poisson noise ceiling with one step done differently (the known mistakes)."""
    var = spread(rates, axis=axis, ddof=ddof)
    fraction = var / (var + rates.mean(axis=axis))
    return np.sqrt(fraction) if root else fraction


_CEILING_MISTAKES = [
    Mistake(
        "the sample variance (ddof=1)",
        lambda r: _ceiling(r, ddof=1),
        "Here the rates of all trials are the whole population of stimuli, not a sample: which "
        "normalisation describes their spread?",
    ),
    Mistake(
        "no square root (a fraction of variance, not a correlation)",
        lambda r: _ceiling(r, root=False),
        "The ceiling is the best achievable *correlation*; the variance ratio is its square.",
    ),
    Mistake(
        "the standard deviation instead of the variance",
        lambda r: _ceiling(r, spread=np.std),
        "Stimulus-driven and Poisson variability add as variances (the Poisson variance equals "
        "the mean rate).",
    ),
    Mistake(
        "statistics over neurons instead of over trials",
        lambda r: _ceiling(r, axis=1),
        "Tables are (trials, neurons): each neuron's ceiling comes from its own column.",
    ),
]


def check_poisson_noise_ceiling(student: Callable[[np.ndarray], Any]) -> CheckResult:
    """Check ``student(rates)`` -> ``(n_neurons,)`` Poisson ceiling ``sqrt(Var / (Var + mean))``.

    Compared with :func:`artiphys_course.simulate.noise_ceiling_from_rates` with no gain noise.
    """
    rng = np.random.default_rng(3)
    cases = [
        (np.array([[0.5, 2.0], [1.5, 2.0], [1.0, 6.0]]),),
        (rng.gamma(1.0, 0.4, size=(100, 7)),),
        (rng.gamma(2.0, 3.0, size=(500, 20)),),
        (rng.gamma(4.0, 0.5, size=(12, 12)),),  # square: a wrong axis keeps the shape
    ]
    return check_function(
        student,
        lambda rates: noise_ceiling_from_rates(rates, gain_cv=0.0),
        cases,
        name="poisson_noise_ceiling",
        rtol=1e-6,
        atol=1e-8,
        mistakes=_CEILING_MISTAKES,
        forbidden=["artiphys_course.simulate.noise_ceiling_from_rates"],
        hint="Work out the first test input (3 trials, 2 neurons) by hand and compare.",
        fallback="artiphys_course.simulate.noise_ceiling_from_rates",
    )


def _correlation(
    x: np.ndarray,
    y: np.ndarray,
    *,
    centre: bool = True,
    axis: int = 0,
    normalise: bool = True,
    mixed_ddof: bool = False,
) -> np.ndarray:
    """Column-wise correlation with one step done differently (the known mistakes)."""
    if centre:
        x, y = x - x.mean(axis=axis, keepdims=True), y - y.mean(axis=axis, keepdims=True)
    covariance = (x * y).sum(axis=axis)
    if mixed_ddof:
        n = x.shape[axis]
        return covariance / (n - 1) / (x.std(axis=axis) * y.std(axis=axis))
    if not normalise:
        return covariance / x.shape[axis]
    return covariance / np.sqrt((x**2).sum(axis=axis) * (y**2).sum(axis=axis))


_CORRELATION_MISTAKES = [
    Mistake(
        "no centring (a cosine similarity)",
        lambda x, y: _correlation(x, y, centre=False),
        "A correlation compares the deviations of each column from its own mean.",
    ),
    Mistake(
        "the covariance instead of the correlation",
        lambda x, y: _correlation(x, y, normalise=False),
        "A correlation does not change when a column is scaled: divide out each column's spread.",
    ),
    Mistake(
        "mixed normalisations (an unbiased covariance over population s.d.s)",
        lambda x, y: _correlation(x, y, mixed_ddof=True),
        "Numerator and denominator must use the same normalisation, so that a column correlates "
        "with itself exactly 1.",
    ),
    Mistake(
        "correlations across neurons instead of across trials",
        lambda x, y: _correlation(x, y, axis=1),
        "Tables are (trials, neurons): each neuron's correlation runs over its own column.",
    ),
]


def check_response_correlation(student: Callable[[np.ndarray, np.ndarray], Any]) -> CheckResult:
    """Check ``student(x, y)`` -> ``(n_neurons,)`` Pearson correlation of matching columns.

    Compared with :func:`artiphys_course.metrics.correlation` (and so with ``np.corrcoef``).
    """
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 6))
    square = rng.normal(size=(8, 8))
    cases = [
        (
            np.array([[1.0, 2.0], [2.0, 1.0], [4.0, 3.0], [5.0, 6.0]]),
            np.array([[2.0, 1.0], [3.0, 3.0], [7.0, 2.0], [8.0, 9.0]]),
        ),
        (x, x + rng.normal(size=x.shape)),
        (x[:, :1] + 5.0, 3 * x[:, :1] + 1),
        (
            rng.poisson(2.0, size=(80, 4)).astype(float),
            rng.poisson(2.0, size=(80, 4)).astype(float),
        ),
        (square + 2.0, square + rng.normal(size=square.shape)),  # a wrong axis keeps the shape
    ]
    return check_function(
        student,
        correlation,
        cases,
        name="response_correlation",
        rtol=1e-5,
        atol=1e-7,
        mistakes=_CORRELATION_MISTAKES,
        forbidden=["artiphys_course.metrics.correlation"],
        hint="Work out the first test input (4 trials, 2 neurons) by hand and compare.",
        fallback="artiphys_course.metrics.correlation",
    )
