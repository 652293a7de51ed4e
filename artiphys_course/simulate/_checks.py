"""Argument checks of the simulation modules, on top of :mod:`artiphys_course.validation`."""

from __future__ import annotations

from collections.abc import Sequence

from artiphys_course import validation


def checked_image_shape(image_shape: Sequence[int]) -> tuple[int, int]:
    """``image_shape`` as ``(height, width)`` ints; ValueError unless both are >= 8 pixels."""
    if validation.is_integer(image_shape):
        raise TypeError(f"image_shape must be (height, width), got the int {image_shape!r}")
    h, w = validation.image_shape(image_shape)
    if min(h, w) < 8:
        raise ValueError(f"image_shape must be (height, width), both >= 8; got {image_shape!r}")
    return h, w


def checked_seed(seed: int) -> int:
    """``seed`` as an int; TypeError for None, a bool, a float or anything else."""
    return validation.integer(seed, "seed")
