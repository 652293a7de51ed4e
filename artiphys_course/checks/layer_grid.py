"""Exercise checks for notebook 08 (which layer models which area?).

Each check runs the student's function on a few generated inputs, compares with the package's
reference and prints one line (pass / not implemented yet / a hint). Checks never raise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from artiphys_course.checks.core import CheckResult, check_function
from artiphys_course.features import to_network_input
from artiphys_course.layer_grid import best_layers
from artiphys_course.ridge import fit_ridge

__all__ = ["check_best_layer_per_area", "check_ridge_fit", "check_to_network_input"]


def _as_numpy(out):
    if isinstance(out, torch.Tensor):
        return out.detach().cpu().numpy()
    if isinstance(out, tuple):
        return tuple(_as_numpy(o) for o in out)
    return np.asarray(out)


def check_to_network_input(student: Callable) -> CheckResult:
    """Exercise: ``grey_to_network_input(images, size)`` -> ``(B, 3, size, size)`` tensor.

    Grey levels 0..255 -> [0, 1] -> three identical channels -> resized (bilinear, antialiased)
    -> ImageNet-standardised.
    """
    rng = np.random.default_rng(0)
    cases = [
        (torch.from_numpy(rng.uniform(0, 255, (2, 1, 31, 31)).astype(np.float32)), 64),
        (torch.from_numpy(rng.uniform(0, 255, (3, 1, 36, 64)).astype(np.float32)), 48),
    ]

    def reference(images, size):
        return to_network_input(images, size).numpy()

    return check_function(
        lambda images, size: _as_numpy(student(images, size)),
        reference,
        cases,
        name="grey_to_network_input",
        rtol=1e-4,
        atol=1e-4,
        hint="Divide by 255, repeat the channel 3 times, resize with "
        "torchvision.transforms.v2.functional.resize(x, [size, size], antialias=True), then "
        "subtract IMAGENET_MEAN and divide by IMAGENET_STD per channel.",
        fallback="artiphys_course.features.to_network_input",
    )


def check_ridge_fit(student: Callable) -> CheckResult:
    """Exercise: ``ridge_fit(X, Y, alpha)`` -> ``(coef (p, n), intercept (n,))``.

    Minimises ``||Y - X W - b||^2 + alpha ||W||^2`` with the intercept not penalised (centre X
    and Y with their column means, solve, then ``b = mean(Y) - mean(X) W``).
    """
    rng = np.random.default_rng(1)
    cases = []
    for n, p, alpha in [(40, 10, 1.0), (30, 60, 5.0), (50, 5, 100.0)]:
        x = rng.normal(size=(n, p)) + 2.0
        y = x @ rng.normal(size=(p, 3)) + rng.normal(size=(n, 3)) + 1.0
        cases.append((x, y, alpha))

    def reference(x, y, alpha):
        fit = fit_ridge(x, y, [alpha])
        return fit.coef, fit.intercept

    return check_function(
        lambda x, y, alpha: tuple(_as_numpy(student(x, y, alpha))),
        reference,
        cases,
        name="ridge_fit",
        rtol=1e-6,
        atol=1e-8,
        hint="With Xc = X - X.mean(0) and Yc = Y - Y.mean(0): "
        "W = solve(Xc.T @ Xc + alpha * I, Xc.T @ Yc); b = Y.mean(0) - X.mean(0) @ W.",
        fallback="artiphys_course.ridge.fit_ridge",
    )


def check_best_layer_per_area(student: Callable) -> CheckResult:
    """Exercise: ``best_layer_per_area(matrix, layers, areas)`` -> ``{area: layer}``."""
    layers = ["conv1", "conv2", "conv3", "conv4"]
    cases = [
        (np.array([[0.5, 0.2], [0.4, 0.3], [0.1, 0.35], [0.0, 0.1]]), layers, ["V1", "V4"]),
        (np.array([[0.1], [0.2], [0.2], [0.15]]), layers, ["IT"]),
        (np.array([[np.nan, 0.3], [0.2, 0.1], [0.4, np.nan], [0.1, 0.2]]), layers, ["A", "B"]),
    ]
    return check_function(
        student,
        best_layers,
        cases,
        name="best_layer_per_area",
        hint="For each column j take layers[np.nanargmax(matrix[:, j])] (nanargmax skips "
        "missing cells and returns the first of tied maxima).",
        fallback="artiphys_course.layer_grid.best_layers",
    )
