"""Argument checks shared by the simulation modules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def checked_image_shape(image_shape: Sequence[int]) -> tuple[int, int]:
    """``image_shape`` as ``(height, width)`` ints; ValueError unless both are >= 8 pixels."""
    if len(image_shape) != 2 or min(image_shape) < 8:
        raise ValueError(f"image_shape must be (height, width), both >= 8; got {image_shape!r}")
    return int(image_shape[0]), int(image_shape[1])


def checked_seed(seed: int) -> int:
    """``seed`` as an int; TypeError for None, a bool, a float or anything else."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__}).")
    return int(seed)
