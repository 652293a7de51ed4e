"""Checks for notebook 05 (gradient receptive fields).

``check_ln_gradient_rf``: the chain rule for a population of LN neurons, without autograd.
``check_batched_gradient_rf`` (the notebook's main exercise): gradient RFs of many neurons of
any model in one forward and one backward pass, with the model in eval mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from artiphys_course.checks.core import CheckResult, Mistake, check_function, tiny_cnn
from artiphys_course.gradient_rf import gradient_rf
from artiphys_course.runtime import seeded

__all__ = ["check_batched_gradient_rf", "check_ln_gradient_rf"]


# --------------------------------------------------------------------------------------------
# Exercise 1: the gradient RF of an LN population
# --------------------------------------------------------------------------------------------
class _LN(nn.Module):
    """``ELU(w . x + b) + 1`` per neuron, differentiated by autograd for the reference."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.bias = weight, bias

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        drive = torch.einsum("bchw,nchw->bn", images, self.weight) + self.bias
        return nn.functional.elu(drive) + 1


def _ln_case(
    seed: int, n: int, shape: tuple[int, int, int], image_scale: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(n, *shape, generator=g) / shape[1]
    bias = torch.randn(n, generator=g)
    image = image_scale * torch.randn(*shape, generator=g)
    return weight, bias, image


def _ln_fixed_case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three neurons on a 1 x 2 x 3 image: drives +1.5, -1 and 0.5 - 2 = -1.5 (bias -2)."""
    weight = torch.tensor(
        [
            [[[1.0, 0.0, 0.5], [0.0, 0.0, 0.0]]],
            [[[0.0, -1.0, 0.0], [0.0, 0.0, 0.0]]],
            [[[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]]],
        ]
    )
    bias = torch.tensor([0.0, 0.0, -2.0])
    image = torch.tensor([[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]])
    return weight, bias, image


def _ln_drive(weight: torch.Tensor, bias: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return (weight * image).flatten(1).sum(dim=1) + bias


def _ln_reference(weight: torch.Tensor, bias: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return gradient_rf(_LN(weight, bias), image=image, progress=False)


def _scaled(weight: torch.Tensor, per_neuron: torch.Tensor) -> torch.Tensor:
    return per_neuron[:, None, None, None] * weight


def _elu_slope(drive: torch.Tensor, *, swapped: bool = False) -> torch.Tensor:
    identity, exponential = torch.ones_like(drive), drive.exp()
    if swapped:
        identity, exponential = exponential, identity
    return torch.where(drive > 0, identity, exponential)


def _without_bias(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return _scaled(w, _elu_slope(_ln_drive(w, torch.zeros_like(b), x)))


def _swapped_branches(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return _scaled(w, _elu_slope(_ln_drive(w, b, x), swapped=True))


_LN_MISTAKES = [
    Mistake(
        "the filter without the slope of the nonlinearity",
        lambda w, b, x: w.clone(),
        "The chain rule has two factors: the derivative of the drive and the derivative of the "
        "nonlinearity at that drive. Where is the second one?",
    ),
    Mistake(
        "the response instead of its slope",
        lambda w, b, x: _scaled(w, nn.functional.elu(_ln_drive(w, b, x)) + 1),
        "The factor in front of the filter is the derivative of f at the drive, not f itself.",
    ),
    Mistake(
        "the drive without the bias",
        _without_bias,
        "The slope is taken at the neuron's whole drive: every term of u, the bias included.",
    ),
    Mistake(
        "the slope of the ELU's left branch everywhere",
        lambda w, b, x: _scaled(w, _ln_drive(w, b, x).exp()),
        "The ELU has two branches; above zero it is the identity. Which slope does that have?",
    ),
    Mistake(
        "the branches of the ELU swapped",
        _swapped_branches,
        "Which branch of the ELU is the identity: positive or negative drive?",
    ),
]


def check_ln_gradient_rf(student: Callable[..., Any]) -> CheckResult:
    """Check ``student(weight (n, C, H, W), bias (n,), image (C, H, W))`` -> ``(n, C, H, W)``.

    The gradient of ``ELU(w_i . x + b_i) + 1`` with respect to ``x`` at ``image``, compared with
    autograd through the same model on a fixed case (drives of both signs) and three seeded
    random ones (grey, natural-contrast and high-contrast images, 1 and 3 channels).
    """
    cases = [
        _ln_fixed_case(),
        _ln_case(0, 3, (1, 5, 6), 0.0),
        _ln_case(1, 4, (1, 8, 8), 1.0),
        _ln_case(2, 5, (3, 4, 5), 2.0),
    ]
    return check_function(
        student,
        _ln_reference,
        cases,
        name="ln_gradient_rf",
        rtol=1e-4,
        atol=1e-6,
        hint="Write the response as f(u) with u the drive, and differentiate with the chain "
        "rule; each neuron has its own drive, so its own factor.",
        fallback="gradient_rf",
        mistakes=_LN_MISTAKES,
        forbidden=[gradient_rf],
    )


# --------------------------------------------------------------------------------------------
# Exercise 2: batched gradient RFs (one forward and one backward pass)
# --------------------------------------------------------------------------------------------
def _batch_norm_cnn(seed: int, image_shape: tuple[int, int], n_neurons: int) -> nn.Module:
    """Conv + BatchNorm (trained-looking running statistics) + ELU + linear, in training mode.

    In training mode batch norm normalises with the statistics of the batch, so copies of an
    image in one batch would interact; the reference runs it in eval mode.
    """
    height, width = image_shape
    with seeded(seed):
        norm = nn.BatchNorm2d(3)
        norm.running_mean.copy_(0.3 * torch.randn(3))
        norm.running_var.copy_(0.5 + torch.rand(3))
        model = nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1),
            norm,
            nn.ELU(),
            nn.Flatten(),
            nn.Linear(3 * height * width, n_neurons),
        )
    return model.train()


# The reference and the mistakes get their own deep copies of the model, so they may switch it
# to eval mode for good (and gradient_rf then has no training mode to warn about).
def _batched_reference(model: nn.Module, image: torch.Tensor, neurons: Sequence[int]):
    return gradient_rf(model.eval(), list(neurons), image=image, progress=False)


def _own_responses(model: nn.Module, copies: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    return model(copies)[torch.arange(len(rows)), rows]


def _sum_of_neurons(model: nn.Module, image: torch.Tensor, neurons: Sequence[int]):
    """Every copy gets the gradient of the sum of all neurons (the neurons summed in each copy)."""
    x = image.reshape(1, *image.shape[-3:]).repeat(len(neurons), 1, 1, 1).requires_grad_()
    (grad,) = torch.autograd.grad(model.eval()(x)[:, list(neurons)].sum(), x)
    return grad


def _one_image(model: nn.Module, image: torch.Tensor, neurons: Sequence[int]):
    """The gradient of the summed neurons at the single image: one row, not one per neuron."""
    x = image.reshape(1, *image.shape[-3:]).clone().requires_grad_()
    (grad,) = torch.autograd.grad(model.eval()(x)[0, list(neurons)].sum(), x)
    return grad


def _position_not_index(model: nn.Module, image: torch.Tensor, neurons: Sequence[int]):
    """Copy ``k`` feeds output ``k`` instead of output ``neurons[k]``."""
    x = image.reshape(1, *image.shape[-3:]).repeat(len(neurons), 1, 1, 1).requires_grad_()
    rows = torch.arange(len(neurons))
    (grad,) = torch.autograd.grad(_own_responses(model.eval(), x, rows).sum(), x)
    return grad


def _training_mode(model: nn.Module, image: torch.Tensor, neurons: Sequence[int]):
    """The right computation, but with batch norm left in training mode."""
    x = image.reshape(1, *image.shape[-3:]).repeat(len(neurons), 1, 1, 1).requires_grad_()
    (grad,) = torch.autograd.grad(_own_responses(model, x, torch.as_tensor(neurons)).sum(), x)
    return grad


_BATCHED_MISTAKES = [
    Mistake(
        "the model left in training mode",
        _training_mode,
        "In training mode, batch norm (and dropout) make each image's response depend on the "
        "other images of the batch, so the copies interact. Switch the model to eval mode for "
        "the pass, and give it back in the mode you found it.",
    ),
    Mistake(
        "the gradient of all the neurons summed, in every copy",
        _sum_of_neurons,
        "Copy k must feed only neuron neurons[k]: pick one output per copy before summing.",
    ),
    Mistake(
        "one row for the whole population (the gradient of the summed neurons at one image)",
        _one_image,
        "A single image can hold only one gradient: the sum over neurons. One copy per neuron "
        "keeps their gradients apart.",
    ),
    Mistake(
        "output k for copy k instead of output neurons[k]",
        _position_not_index,
        "The k-th copy belongs to neuron neurons[k], which is not output number k.",
    ),
]


def check_batched_gradient_rf(student: Callable[..., Any]) -> CheckResult:
    """Check ``student(model, image, neurons)`` -> ``(len(neurons), C, H, W)`` gradient RFs.

    ``image`` is ``(1, C, H, W)`` or ``(C, H, W)``. Compared with
    :func:`artiphys_course.gradient_rf.gradient_rf` on small random CNNs (one of them with batch
    norm, handed over in training mode): at a grey and at random images, for all, some and one
    neuron, in any order. The model may run only once (``max_calls=1``: no loop over neurons)
    and the package's ``gradient_rf`` may not be called.
    """
    g = torch.Generator().manual_seed(0)
    cases = [
        (tiny_cnn(0, (9, 10), 6, kernel=5), torch.zeros(1, 1, 9, 10), [0, 1, 2, 3, 4, 5]),
        (tiny_cnn(1, (9, 10), 6, kernel=5), torch.randn(1, 1, 9, 10, generator=g), [5, 2]),
        (tiny_cnn(2, (9, 10), 6, kernel=5), torch.randn(1, 9, 10, generator=g), [3, 0, 4]),
        (_batch_norm_cnn(3, (7, 8), 5), torch.randn(1, 1, 7, 8, generator=g), [4, 1, 3, 0]),
        (tiny_cnn(4, (9, 10), 6, kernel=5), torch.randn(1, 1, 9, 10, generator=g), [3]),
    ]
    return check_function(
        student,
        _batched_reference,
        cases,
        name="batched_gradient_rf",
        rtol=1e-4,
        atol=1e-7,
        hint="One copy of the image per neuron in a batch; each copy's own neuron only; one "
        "scalar whose gradient holds every copy's gradient at once.",
        fallback="gradient_rf",
        mistakes=_BATCHED_MISTAKES,
        forbidden=[gradient_rf],
        max_calls=1,
    )
