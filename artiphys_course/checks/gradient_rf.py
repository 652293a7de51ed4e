"""Checks for notebook 05 (gradient receptive fields)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from artiphys_course.checks.core import CheckResult, check_function, tiny_cnn
from artiphys_course.gradient_rf import gradient_rf

__all__ = ["check_batched_gradient_rf", "check_ln_gradient_rf"]


class _LN(nn.Module):
    """``ELU(w . x + b) + 1`` per neuron, differentiated by autograd for the reference."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.bias = weight, bias

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        drive = torch.einsum("bchw,nchw->bn", images, self.weight) + self.bias
        return nn.functional.elu(drive) + 1


def _ln_case(seed: int, n: int, shape: tuple[int, int, int], image_scale: float):
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(n, *shape, generator=g) / shape[1]
    bias = torch.randn(n, generator=g)
    image = image_scale * torch.randn(*shape, generator=g)
    return weight, bias, image


def _ln_reference(weight: torch.Tensor, bias: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return gradient_rf(_LN(weight, bias), image=image, progress=False)


def check_ln_gradient_rf(student: Callable[..., Any]) -> CheckResult:
    """Check ``student(weight (n, C, H, W), bias (n,), image (C, H, W))`` -> ``(n, C, H, W)``.

    The gradient of ``ELU(w_i . x + b_i) + 1`` with respect to ``x`` at ``image``, compared with
    autograd through the same model.
    """
    cases = [
        _ln_case(0, 3, (1, 5, 6), 0.0),
        _ln_case(1, 4, (1, 8, 8), 1.0),
        _ln_case(2, 2, (3, 4, 5), 2.0),
    ]
    return check_function(
        student,
        _ln_reference,
        cases,
        name="ln_gradient_rf",
        rtol=1e-4,
        atol=1e-6,
        hint="d/dx ELU(u) = 1 for u > 0 and exp(u) otherwise, with u = w . x + b; "
        "multiply each neuron's weights by its own slope.",
        fallback="gradient_rf",
    )


def _batched_reference(model: nn.Module, image: torch.Tensor, neurons: list[int]) -> torch.Tensor:
    return gradient_rf(model, neurons, image=image, progress=False)


def check_batched_gradient_rf(student: Callable[..., Any]) -> CheckResult:
    """Check ``student(model, image (1, C, H, W), neurons)`` -> ``(len(neurons), C, H, W)``.

    Compared with :func:`artiphys_course.gradient_rf.gradient_rf` on a small random CNN.
    """
    g = torch.Generator().manual_seed(0)
    cases = [
        (tiny_cnn(0, (9, 10), 6, kernel=5), torch.zeros(1, 1, 9, 10), [0, 1, 2, 3, 4, 5]),
        (tiny_cnn(1, (9, 10), 6, kernel=5), torch.randn(1, 1, 9, 10, generator=g), [5, 2]),
        (tiny_cnn(2, (9, 10), 6, kernel=5), torch.randn(1, 1, 9, 10, generator=g), [3]),
    ]
    return check_function(
        student,
        _batched_reference,
        cases,
        name="batched_gradient_rf",
        rtol=1e-4,
        atol=1e-7,
        hint="Repeat the image once per neuron (image.repeat(len(neurons), 1, 1, 1)), make it "
        "require grad, pick out[k, neurons[k]] for each copy k, sum them and call "
        "torch.autograd.grad once.",
        fallback="gradient_rf",
    )
