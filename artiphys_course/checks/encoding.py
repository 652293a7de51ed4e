"""Checks for notebook 03 (encoding models): smoothness, grid coordinates, bilinear reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from artiphys_course.checks.core import CheckResult, check_function
from artiphys_course.models.cores import laplace_l2
from artiphys_course.models.readouts import pixels_to_grid, read_features

__all__ = ["check_laplace_penalty", "check_pixels_to_grid", "check_read_features"]


def check_laplace_penalty(student: Callable[[torch.Tensor], Any]) -> CheckResult:
    """Check ``student(weights (out, in, k, k))`` against the normalised Laplace-L2 penalty.

    Reference: :func:`artiphys_course.models.cores.laplace_l2` (``normalize=True``).
    """
    g = torch.Generator().manual_seed(0)
    delta = torch.zeros(1, 1, 5, 5)
    delta[0, 0, 2, 2] = 1.0
    smooth = torch.outer(torch.hann_window(9, periodic=False), torch.hann_window(9, periodic=False))
    cases = [
        (delta,),
        (smooth[None, None],),
        (torch.randn(8, 1, 9, 9, generator=g),),
        (torch.randn(4, 3, 7, 7, generator=g),),
    ]
    return check_function(
        student,
        laplace_l2,
        cases,
        name="laplace_penalty",
        rtol=1e-4,
        atol=1e-6,
        hint="Reshape to (out * in, 1, k, k), convolve with the 3x3 Laplacian [[0,-1,0],[-1,4,-1],"
        "[0,-1,0]] using padding=1, sum the squares, divide by the sum of squared weights.",
        fallback="artiphys_course.models.cores.laplace_l2",
    )


def check_pixels_to_grid(student: Callable[[torch.Tensor, tuple[int, int]], Any]) -> CheckResult:
    """Check ``student(pixels (n, 2) (row, col), (height, width))`` -> grid ``(n, 2)`` ``(x, y)``.

    Reference: :func:`artiphys_course.models.readouts.pixels_to_grid`.
    """
    rng = np.random.default_rng(1)
    cases = [
        (torch.tensor([[0.0, 0.0], [35.0, 63.0], [17.5, 31.5]]), (36, 64)),
        (torch.tensor(rng.uniform(0, 9, size=(10, 2)), dtype=torch.float32), (10, 10)),
        (torch.tensor([[2.0, 7.0]]), (5, 11)),
    ]
    return check_function(
        student,
        pixels_to_grid,
        cases,
        name="pixels_to_grid",
        rtol=1e-5,
        atol=1e-6,
        hint="x comes from the column and y from the row; with align_corners=True pixel 0 maps "
        "to -1 and pixel size-1 to +1: x = 2 * col / (width - 1) - 1.",
        fallback="artiphys_course.models.readouts.pixels_to_grid",
    )


def check_read_features(student: Callable[[torch.Tensor, torch.Tensor], Any]) -> CheckResult:
    """Check ``student(features (B, C, H, W), pixels (n, 2))`` -> ``(B, C, n)`` bilinear reads.

    Reference: :func:`artiphys_course.models.readouts.read_features` (``grid_sample``).
    """
    g = torch.Generator().manual_seed(2)
    features = torch.randn(3, 4, 6, 9, generator=g)
    cases = [
        (features, torch.tensor([[0.0, 0.0], [2.0, 5.0], [5.0, 8.0]])),  # whole pixels
        (features, torch.tensor([[2.5, 5.0], [1.0, 3.25], [4.75, 0.5]])),  # in between
        (torch.randn(2, 1, 5, 5, generator=g), torch.rand(7, 2, generator=g) * 4),
    ]
    return check_function(
        student,
        read_features,
        cases,
        name="read_features",
        rtol=1e-4,
        atol=1e-5,
        hint="Take the four pixels around (row, col): r0 = floor(row), c0 = floor(col), weights "
        "(1 - dr)(1 - dc), (1 - dr) dc, dr (1 - dc), dr dc; at the last row/column use the "
        "pixel itself (clamp r0 + 1 and c0 + 1 to the map).",
        fallback="artiphys_course.models.readouts.read_features",
    )
