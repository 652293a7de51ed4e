"""Exercise checks for notebook 01 (bar mapping).

Each check runs the student's function on a few generated inputs, compares with the package's
reference and prints one line (pass / not implemented yet / a hint). Checks never raise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from artiphys_course.barmap import orientation_tuning, weighted_bar_map
from artiphys_course.checks.core import CheckResult, check_function
from artiphys_course.stimuli import bar_coverage, make_bar_set

__all__ = ["check_draw_bar", "check_orientation_tuning_curve", "check_weighted_map"]


def _as_float_array(fn: Callable) -> Callable:
    def call(*args):
        out = fn(*args)
        if hasattr(out, "detach"):
            out = out.detach().cpu().numpy()
        return np.asarray(out, dtype=np.float64)

    return call


def check_draw_bar(student: Callable) -> CheckResult:
    """Exercise: ``draw_bar(size, orientation_deg, length, width, center)`` -> ``(size, size)``.

    1 where the pixel centre lies inside the bar (``|u| <= length / 2`` and
    ``|v| <= width / 2``), 0 elsewhere; no antialiasing.
    """

    def reference(size, orientation_deg, length, width, center):
        cov = bar_coverage(
            size, orientation_deg, length, width, center, antialias=False, dtype=torch.float64
        )
        return cov[0].numpy()

    cases = [
        (21, 0.0, 9.0, 3.0, (10.0, 10.0)),
        (21, 90.0, 11.0, 3.0, (10.0, 10.0)),
        (25, 45.0, 15.0, 4.2, (12.3, 11.7)),
        (31, 120.0, 19.0, 2.6, (15.2, 14.4)),
        (31, 160.0, 7.0, 5.0, (9.6, 20.2)),
    ]
    return check_function(
        _as_float_array(student),
        reference,
        cases,
        name="draw_bar",
        hint="With dx = col - center_col and dy = center_row - row (up is positive on screen), "
        "u = dx cos(t) + dy sin(t) runs along the bar and v = dy cos(t) - dx sin(t) across it.",
        fallback="artiphys_course.stimuli.make_bars",
    )


def _bar_problem(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    bars = make_bar_set(21, rf_size=13, n_orientations=4, n_positions=3)
    rng = np.random.default_rng(seed)
    responses = rng.gamma(2.0, 1.0, len(bars))
    return responses, bars.coverage().numpy().astype(np.float64), int(rng.integers(5, 30))


def check_weighted_map(student: Callable) -> CheckResult:
    """Exercise: ``weighted_map(responses, coverage, top_n)`` -> ``(H, W)`` top weighted bar map.

    Sum of the ``top_n`` strongest bars' coverage images, each weighted by its response minus the
    median response over all bars.
    """

    def reference(responses, coverage, top_n):
        return weighted_bar_map(responses, coverage, top_n=top_n)

    return check_function(
        _as_float_array(student),
        reference,
        [_bar_problem(seed) for seed in (0, 1)],
        name="weighted_map",
        atol=1e-6,
        hint="np.argsort(responses)[::-1][:top_n] gives the best bars; weights are "
        "responses[best] - np.median(responses); np.tensordot(weights, coverage[best], axes=1).",
        fallback="artiphys_course.barmap.weighted_bar_map",
    )


def check_orientation_tuning_curve(student: Callable) -> CheckResult:
    """Exercise: ``orientation_tuning_curve(responses, orientation_deg)`` -> ``(k,)``.

    For each distinct bar orientation (sorted ascending) the largest response among all bars of
    that orientation.
    """

    def reference(responses, orientation_deg):
        return orientation_tuning(responses, orientation_deg)[1][:, 0]

    cases = []
    for seed in (0, 1):
        bars = make_bar_set(21, rf_size=13, n_orientations=6, n_positions=3)
        responses = np.random.default_rng(seed).normal(size=len(bars))
        cases.append((responses, bars.orientation_deg.astype(np.float64)))
    return check_function(
        _as_float_array(student),
        reference,
        cases,
        name="orientation_tuning_curve",
        hint="Loop over np.unique(orientation_deg) and take responses[orientation_deg == o].max().",
        fallback="artiphys_course.barmap.orientation_tuning",
    )
