"""Checks for notebook 06 (most exciting inputs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from artiphys_course.checks.core import CheckResult, check_function, tiny_cnn
from artiphys_course.mei import FixedMeanStd, cross_activation

__all__ = ["check_cross_activation_matrix", "check_fix_mean_std", "check_gradient_ascent_step"]


def _images(seed: int, shape: tuple[int, ...], scale: float = 1.0, offset: float = 0.0):
    g = torch.Generator().manual_seed(seed)
    return offset + scale * torch.randn(*shape, generator=g)


def _fix_mean_std_reference(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return FixedMeanStd(mean, std)(images)


def check_fix_mean_std(student: Callable[..., Any]) -> CheckResult:
    """Check ``student(images (n, C, H, W), mean, std)``: each image rescaled to that mean/std.

    The standard deviation is the population one (``unbiased=False``) over all pixels and
    channels of one image.
    """
    cases = [
        (_images(0, (2, 1, 6, 7)), 0.0, 1.0),
        (_images(1, (3, 1, 5, 5), 30.0, 100.0), 127.5, 20.0),
        (_images(2, (2, 3, 4, 4)), 0.5, 0.1),
    ]
    return check_function(
        student,
        _fix_mean_std_reference,
        cases,
        name="fix_mean_std",
        rtol=1e-4,
        atol=1e-5,
        hint="Work per image: subtract images.mean(dim=(1, 2, 3), keepdim=True), divide by "
        "images.std(dim=(1, 2, 3), keepdim=True, unbiased=False), then scale and shift.",
        fallback="FixedMeanStd",
    )


def _step_reference(
    model: nn.Module, images: torch.Tensor, neurons: list[int], lr: float
) -> torch.Tensor:
    x = images.clone().requires_grad_(True)
    own = model(x)[torch.arange(len(neurons)), torch.as_tensor(neurons)]
    (grad,) = torch.autograd.grad(own.sum(), x)
    rms = grad.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
    return FixedMeanStd(0.0, 1.0)(images + lr * grad / rms)


def check_gradient_ascent_step(student: Callable[..., Any]) -> CheckResult:
    """Check ``student(model, images (n, C, H, W), neurons, lr)`` -> the next images.

    One step: image ``k`` moves by ``lr`` times the gradient of ``neurons[k]``'s response,
    divided by that gradient's root mean square, and is then fixed to mean 0 and s.d. 1.
    """
    base = FixedMeanStd(0.0, 1.0)
    cases = [
        (tiny_cnn(0, (6, 6), 4), base(_images(3, (2, 1, 6, 6))), [0, 3], 0.1),
        (tiny_cnn(1, (6, 6), 4), base(_images(4, (4, 1, 6, 6))), [3, 2, 1, 0], 0.5),
    ]
    return check_function(
        student,
        _step_reference,
        cases,
        name="gradient_ascent_step",
        rtol=1e-4,
        atol=1e-5,
        hint="responses = model(x)[torch.arange(n), neurons]; one torch.autograd.grad of their "
        "sum gives every image's gradient; normalise each by its RMS, step, then fix mean/std.",
        fallback="compute_meis",
    )


def _cross_reference(model: nn.Module, meis: torch.Tensor) -> torch.Tensor:
    return cross_activation(model, meis)


def check_cross_activation_matrix(student: Callable[..., Any]) -> CheckResult:
    """Check ``student(model, meis (n, C, H, W))`` -> ``(n, n)`` normalised cross-activation.

    Entry ``[i, j]`` is neuron ``i``'s response to MEI ``j`` divided by neuron ``i``'s response
    to its own MEI ``i``.
    """
    cases = [
        (tiny_cnn(2, (6, 6), 4), _images(5, (4, 1, 6, 6)) + 1.0),
        (tiny_cnn(3, (6, 6), 4), _images(6, (4, 1, 6, 6))),
    ]
    return check_function(
        student,
        _cross_reference,
        cases,
        name="cross_activation_matrix",
        rtol=1e-4,
        atol=1e-5,
        hint="model(meis) is (MEIs, neurons): transpose it, then divide each row by its "
        "diagonal element.",
        fallback="cross_activation",
    )
