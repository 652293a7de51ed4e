"""Exercise checks for notebook 07 (representations: tuning, decoding, RDMs, RSA).

Each check runs the student's function on a few generated inputs, compares with the package's
reference and prints one line (pass / not implemented yet / a hint). Checks never raise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from artiphys_course.checks.core import CheckResult, check_function
from artiphys_course.rsa import compare_rdms, rdm
from artiphys_course.tuning import (
    orientation_difference,
    preferred_orientation,
    von_mises_tuning,
    wrap_orientation,
)

__all__ = [
    "check_circular_error",
    "check_compare_rdms",
    "check_correlation_rdm",
    "check_preferred_orientation",
]


def _tuned_population(seed: int, n_stimuli: int = 36, n_units: int = 7) -> tuple:
    """Noisy von Mises tuning curves on an even grid in [-90, 90), Stringer convention."""
    rng = np.random.default_rng(seed)
    theta = -90.0 + (np.arange(n_stimuli) + 0.5) * 180.0 / n_stimuli
    pref = rng.uniform(-85.0, 85.0, n_units)
    resp = von_mises_tuning(theta[:, None], pref, rng.uniform(0.5, 4.0, n_units), 1.0, 0.2)
    resp = resp + 0.05 * rng.normal(size=resp.shape)
    return resp, theta


def check_preferred_orientation(student: Callable) -> CheckResult:
    """Exercise: ``preferred_orientation(responses, orientation_deg)`` -> ``(n_units,)`` degrees.

    Circular mean on the doubled angle, weights = response minus the unit's minimum; the answer is
    compared modulo 180 degrees (any output range is accepted).
    """

    def wrapped(fn: Callable) -> Callable:
        def call(responses: np.ndarray, orientation_deg: np.ndarray) -> np.ndarray:
            out = np.asarray(fn(responses.copy(), orientation_deg.copy()), dtype=float)
            return wrap_orientation(out, 180.0, -90.0)

        return call

    def reference(responses: np.ndarray, orientation_deg: np.ndarray) -> np.ndarray:
        return preferred_orientation(responses, orientation_deg, lower=-90.0)

    cases = [_tuned_population(s) for s in (1, 2)]
    return check_function(
        wrapped(student),
        reference,
        cases,
        name="preferred_orientation",
        atol=1e-4,
        hint="Double the angles (radians), weight exp(2i*theta) by each unit's response minus its "
        "minimum, sum over stimuli, take the angle of the sum and halve it.",
        fallback="artiphys_course.tuning.preferred_orientation",
    )


def check_circular_error(student: Callable) -> CheckResult:
    """Exercise: ``circular_error(predicted_deg, true_deg)`` -> absolute error, [0, 90] degrees."""
    rng = np.random.default_rng(3)
    cases = [
        (np.array([89.0, -89.0, 10.0, 45.0]), np.array([-89.0, 89.0, 20.0, -45.0])),
        (rng.uniform(-90, 90, 20), rng.uniform(-90, 90, 20)),
    ]

    def reference(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
        return np.abs(orientation_difference(predicted, true, 180.0))

    return check_function(
        lambda p, t: np.asarray(student(p.copy(), t.copy()), dtype=float),
        reference,
        cases,
        name="circular_error",
        atol=1e-6,
        hint="Orientation repeats every 180 degrees: 89 and -89 are 2 degrees apart. Wrap the "
        "difference into [-90, 90) before taking its absolute value.",
        fallback="artiphys_course.decoding.circular_error",
    )


def check_correlation_rdm(student: Callable) -> CheckResult:
    """Exercise: ``correlation_rdm(responses)`` -> ``(n_stimuli, n_stimuli)`` of ``1 - r``."""
    rng = np.random.default_rng(4)
    resp, _ = _tuned_population(5, n_stimuli=12, n_units=30)
    cases = [(rng.normal(size=(6, 20)),), (resp,)]
    return check_function(
        lambda x: np.asarray(student(x.copy()), dtype=float),
        rdm,
        cases,
        name="correlation_rdm",
        atol=1e-6,
        hint="Correlate the rows (stimuli), not the columns: np.corrcoef(responses) gives the "
        "stimulus-by-stimulus correlation matrix; the RDM is 1 minus it.",
        fallback="artiphys_course.rsa.rdm",
    )


def check_compare_rdms(student: Callable) -> CheckResult:
    """Exercise: ``compare_rdms(rdm_a, rdm_b)`` -> Spearman correlation of the upper triangles."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(10, 15))
    a = rdm(x)
    b = rdm(x + rng.normal(size=x.shape))
    c = rdm(rng.normal(size=(10, 15)), "euclidean")
    cases = [(a, b), (a, c), (b, a)]
    return check_function(
        lambda p, q: float(student(p.copy(), q.copy())),
        lambda p, q: compare_rdms(p, q, "spearman"),
        cases,
        name="compare_rdms",
        atol=1e-6,
        hint="Use only the entries above the diagonal (np.triu_indices(n, k=1)): the diagonal is "
        "always 0 and the lower triangle repeats the upper one. Then scipy.stats.spearmanr.",
        fallback="artiphys_course.rsa.compare_rdms",
    )
