"""Checks for notebook 06 (most exciting inputs).

The exercises build the MEI engine of :func:`artiphys_course.mei.compute_meis` from its parts:
``fix_mean_std`` (the constraint), ``gradient_ascent_step`` (one batched step through the
constraint; it calls the student's ``fix_mean_std``), ``most_exciting_inputs`` (the whole loop,
the notebook's main exercise; it calls both) and ``cross_activation_matrix``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from artiphys_course.checks.core import CheckResult, Mistake, check_function, tiny_cnn
from artiphys_course.mei import FixedMeanStd, compute_meis, cross_activation, neuron_noise
from artiphys_course.runtime import seeded

__all__ = [
    "check_cross_activation_matrix",
    "check_fix_mean_std",
    "check_gradient_ascent_step",
    "check_most_exciting_inputs",
]

_DIMS = (1, 2, 3)  # the pixels and channels of one image in (n, C, H, W)


def _images(seed: int, shape: tuple[int, ...], scale: float = 1.0, offset: float = 0.0):
    g = torch.Generator().manual_seed(seed)
    return offset + scale * torch.randn(*shape, generator=g)


def _requires_grad(output: Any) -> bool:
    if isinstance(output, torch.Tensor):
        return output.requires_grad
    if isinstance(output, (tuple, list)):
        return any(_requires_grad(part) for part in output)
    return False


_CUT = "cut from the graph"


def _named(output: Any, names: Sequence[str]) -> dict[str, Any]:
    """The parts of an exercise's output by name, and whether it is cut from the autograd graph.

    A result left attached to the graph (``.numpy()`` refuses it, and a loop keeps every step's
    graph alive) is then a visible difference, named ``output['cut from the graph']``.
    """
    if len(names) == 1:
        parts = {names[0]: output}
    elif isinstance(output, (tuple, list)) and len(output) == len(names):
        parts = dict(zip(names, output, strict=True))
    else:
        raise TypeError(
            f"returned {type(output).__name__}; expected the tuple ({', '.join(names)})"
        )
    parts[_CUT] = not _requires_grad(output)
    return parts


class _Named:
    """The student's function, answering with :func:`_named` parts.

    Exposes the student's ``__name__`` and ``__globals__``, so that ``forbidden`` and ``uses``
    reach the notebook's namespace.
    """

    def __init__(self, function: Callable[..., Any], names: Sequence[str]) -> None:
        self.function, self.names = function, tuple(names)
        self.__name__ = getattr(function, "__name__", "exercise")
        self.__globals__ = getattr(function, "__globals__", {})

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return _named(self.function(*args, **kwargs), self.names)


def _answer(
    function: Callable[..., Any], names: Sequence[str], *, cut: bool = True, **switches: Any
) -> Callable[..., dict[str, Any]]:
    """A reference (or, with switches or ``cut=False``, a known mistake) answering by name."""

    def answer(*args: Any) -> dict[str, Any]:
        return {**_named(function(*args, **switches), names), _CUT: cut}

    return answer


_DETACH_HINT = (
    "The values are right, but the result still requires grad: it carries the autograd graph "
    "(plotting it fails, and a loop keeps every step's graph alive). Return a tensor that is "
    "cut from the graph."
)


# --------------------------------------------------------------------------------------------
# Exercise 1: fix the mean and standard deviation
# --------------------------------------------------------------------------------------------
def _fix_mean_std_reference(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return FixedMeanStd(mean, std)(images)


def _centred(images: torch.Tensor, dims: Sequence[int] = _DIMS) -> torch.Tensor:
    return images - images.mean(dim=tuple(dims), keepdim=True)


def _rescaled(
    images: torch.Tensor,
    mean: float,
    std: float,
    *,
    dims: Sequence[int] = _DIMS,
    correction: int = 0,
    power: float = 0.5,
) -> torch.Tensor:
    """``mean + std * centred / spread``: the reference for ``dims=_DIMS``, else a mistake."""
    centred = _centred(images, dims)
    squares = centred.pow(2).sum(dim=tuple(dims), keepdim=True)
    count = images.numel() // squares.numel()  # values per statistic
    return mean + std * centred / (squares / (count - correction)).pow(power)


_FIX_MISTAKES = [
    Mistake(
        "the unbiased s.d. (divided by N - 1)",
        lambda x, m, s: _rescaled(x, m, s, correction=1),
        "The constraint asks for the population s.d. of the image's pixels: which count divides "
        "the sum of squares?",
    ),
    Mistake(
        "the mean and s.d. of the whole batch, not of each image",
        lambda x, m, s: _rescaled(x, m, s, dims=(0, 1, 2, 3)),
        "Every image gets the constraint on its own: take the statistics over one image's "
        "pixels (and channels), separately for each image of the batch.",
    ),
    Mistake(
        "the mean and s.d. of each channel separately",
        lambda x, m, s: _rescaled(x, m, s, dims=(2, 3)),
        "One image's statistics cover all its pixels in all channels together; per channel, a "
        "colour image would lose its colour balance.",
    ),
    Mistake(
        "the variance in place of the s.d.",
        lambda x, m, s: _rescaled(x, m, s, power=1.0),
        "Divide by a spread in the units of the pixels: the s.d., not the variance.",
    ),
    Mistake(
        "a standardised image that ignores `mean` and `std`",
        lambda x, m, s: _rescaled(x, 0.0, 1.0),
        "Standardising gives mean 0 and s.d. 1; then scale and shift to the requested values.",
    ),
    Mistake(
        "the mean added before scaling",
        lambda x, m, s: s * (_rescaled(x, 0.0, 1.0) + m),
        "Mind the order: scaling a shifted image scales its mean too.",
    ),
]


def check_fix_mean_std(student: Callable[..., Any]) -> CheckResult:
    """Check ``student(images (n, C, H, W), mean, std)``: each image rescaled to that mean/std.

    The standard deviation is the population one (``unbiased=False``) over all pixels and
    channels of one image. One fixed case and three seeded random ones (grey and colour images,
    raw grey levels and normalised units). The package's ``FixedMeanStd`` may not be called.
    """
    fixed = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]]], [[[0.0, 0.0], [0.0, 4.0]]]])
    cases = [
        (fixed, 1.0, 2.0),
        (_images(0, (2, 1, 6, 7)), 0.0, 1.0),
        (_images(1, (3, 1, 5, 5), 30.0, 100.0), 127.5, 20.0),
        (
            _images(2, (2, 3, 4, 4), 1.0, 0.5) * torch.tensor([1.0, 3.0, 0.2])[:, None, None],
            0.5,
            0.1,
        ),
    ]
    return check_function(
        student,
        _fix_mean_std_reference,
        cases,
        name="fix_mean_std",
        rtol=1e-4,
        atol=1e-5,
        hint="Check your output: every image should have exactly the requested mean and "
        "(population) s.d. of its pixels, whatever the other images of the batch are.",
        fallback="FixedMeanStd",
        mistakes=_FIX_MISTAKES,
        forbidden=[FixedMeanStd],
    )


# --------------------------------------------------------------------------------------------
# Exercise 2: one step of batched gradient ascent through the constraint
# --------------------------------------------------------------------------------------------
def _step(
    model,
    params,
    neurons,
    lr,
    *,
    sign=1.0,
    normalise="image",
    through=True,
    project=False,
    summed=False,
):
    """One step of the exercise, with switches for the known mistakes."""
    x = params.detach().clone().requires_grad_(True)
    images = _fix_mean_std_reference(x, 0.0, 1.0) if through else x
    out = model(images)
    rows = torch.arange(len(neurons))
    own = out[:, list(neurons)] if summed else out[rows, torch.as_tensor(neurons)]
    (grad,) = torch.autograd.grad(own.sum(), x)
    if normalise == "image":
        grad = grad / grad.pow(2).mean(dim=_DIMS, keepdim=True).sqrt()
    elif normalise == "batch":
        grad = grad / grad.pow(2).mean().sqrt()
    moved = params.detach() + sign * lr * grad
    return _fix_mean_std_reference(moved, 0.0, 1.0) if project else moved


def _step_reference(model: nn.Module, params: torch.Tensor, neurons, lr: float) -> torch.Tensor:
    return _step(model, params, neurons, lr)


_STEP_OUTPUT = ("next params",)


def _step_variant(**switches: Any) -> Callable[..., dict[str, Any]]:
    return _answer(_step, _STEP_OUTPUT, **switches)


_STEP_MISTAKES = [
    Mistake(
        "gradient descent instead of ascent",
        _step_variant(sign=-1.0),
        "The gradient points to where the response grows: which way should the image move?",
    ),
    Mistake(
        "a step without normalising the gradient",
        _step_variant(normalise=None),
        "Neurons with large gains would race ahead of the others: scale each image's gradient "
        "to a common size before stepping.",
    ),
    Mistake(
        "one gradient size for the whole batch",
        _step_variant(normalise="batch"),
        "The normalisation is per image: each neuron's gradient gets its own root mean square.",
    ),
    Mistake(
        "the model shown the raw parameters",
        _step_variant(through=False),
        "The model must only ever see constrained images: apply fix_mean_std before the model, "
        "and let autograd differentiate through it.",
    ),
    Mistake(
        "the constraint applied to the stepped parameters",
        _step_variant(project=True),
        "The step moves the unconstrained parameters; the constraint belongs between the "
        "parameters and the model, not after the step.",
    ),
    Mistake(
        "all the neurons summed in every image",
        _step_variant(summed=True),
        "Image k belongs to neuron neurons[k] alone: pick one response per image before summing.",
    ),
    Mistake("forgetting to detach", _answer(_step, _STEP_OUTPUT, cut=False), _DETACH_HINT),
]


def check_gradient_ascent_step(student: Callable[..., Any]) -> CheckResult:
    """Check ``student(model, params (n, C, H, W), neurons, lr)`` -> the next ``params``.

    The model sees ``fix_mean_std(params, 0, 1)``; image ``k`` feeds only ``neurons[k]``. The
    gradient of the summed own responses with respect to ``params`` (through the constraint),
    divided per image by its root mean square, times ``lr``, is added to ``params``; the result
    is detached from the graph. One model call (``max_calls=1``); the package's
    ``compute_meis`` may not be called. The student's ``fix_mean_std`` is used; when only it is
    wrong, the check says so.
    """
    cases = [
        (tiny_cnn(0, (6, 6), 4), _images(3, (2, 1, 6, 6), 2.0, 1.0), [0, 3], 0.1),
        (tiny_cnn(1, (6, 6), 4), _images(4, (4, 1, 6, 6), 0.5), [3, 2, 1, 0], 0.5),
        (tiny_cnn(2, (5, 7), 5), _images(5, (3, 1, 5, 7), 3.0, -2.0), [4, 0, 2], 1.0),
    ]
    return check_function(
        _Named(student, _STEP_OUTPUT),
        _answer(_step_reference, _STEP_OUTPUT),
        cases,
        name="gradient_ascent_step",
        rtol=1e-4,
        atol=1e-5,
        hint="Follow the steps: constrained images, one forward pass, each image's own neuron, "
        "one gradient with respect to the parameters, per-image normalisation, step, detach.",
        fallback="compute_meis",
        mistakes=_STEP_MISTAKES,
        forbidden=[compute_meis],
        max_calls=1,
        uses={"fix_mean_std": _fix_mean_std_reference},
    )


# --------------------------------------------------------------------------------------------
# Exercise 3: the whole MEI loop
# --------------------------------------------------------------------------------------------
def _own_responses(model: nn.Module, images: torch.Tensor, neurons) -> torch.Tensor:
    with torch.no_grad():
        return model(images)[torch.arange(len(neurons)), torch.as_tensor(neurons)]


def _loop_reference(model, neurons, image_shape, steps, lr, seed):
    result = compute_meis(
        model,
        list(neurons),
        image_shape=image_shape,
        constraint=FixedMeanStd(0.0, 1.0),
        optimizer="sgd",
        lr=lr,
        steps=steps,
        init_std=1.0,
        seed=seed,
        progress=False,
    )
    return result.images, torch.cat([result.activations, result.final_activation[None]])


def _loop(
    model,
    neurons,
    image_shape,
    steps,
    lr,
    seed,
    *,
    batch_noise=False,
    constrain_start=True,
    raw=False,
    by_neuron=False,
    **step_switches,
):
    """The exercise's loop, with switches for the known mistakes."""
    if batch_noise:
        generator = torch.Generator().manual_seed(seed)
        params = torch.randn(len(neurons), *image_shape, generator=generator)
    else:
        params = neuron_noise(seed, torch.as_tensor(neurons), image_shape)
    if constrain_start:
        params = _fix_mean_std_reference(params, 0.0, 1.0)
    trace = []
    for _ in range(steps):
        trace.append(_own_responses(model, _fix_mean_std_reference(params, 0.0, 1.0), neurons))
        params = _step(model, params, neurons, lr, **step_switches)
    images = params if raw else _fix_mean_std_reference(params, 0.0, 1.0)
    trace.append(_own_responses(model, images, neurons))
    return images, torch.stack(trace, dim=1 if by_neuron else 0)


_LOOP_OUTPUT = ("images", "activations")


def _loop_variant(**switches: Any) -> Callable[..., dict[str, Any]]:
    return _answer(_loop, _LOOP_OUTPUT, **switches)


_LOOP_MISTAKES = [
    Mistake(
        "gradient descent instead of ascent",
        _loop_variant(sign=-1.0),
        "The responses fall step after step: the image moves against the gradient.",
    ),
    Mistake(
        "steps without normalising the gradient",
        _loop_variant(normalise=None),
        "Each image's gradient is scaled to a common size before the step, so that every "
        "neuron climbs at the same pace.",
    ),
    Mistake(
        "the starting noise not put under the constraint",
        _loop_variant(constrain_start=False),
        "The parameters start as the constrained noise, as in compute_meis.",
    ),
    Mistake(
        "the raw parameters returned instead of the constrained images",
        _loop_variant(raw=True),
        "The MEI is the image the model sees: the constrained one.",
    ),
    Mistake(
        "the responses as (neurons, steps + 1)",
        _loop_variant(by_neuron=True),
        "Every table of this course has the stimuli first: one row per step, one column per "
        "neuron.",
    ),
    Mistake(
        "one random stream for the whole batch",
        _loop_variant(batch_noise=True),
        "Each neuron's start must not depend on which neurons share the batch: draw it from a "
        "generator seeded by (seed, neuron), as neuron_noise does.",
    ),
    Mistake("forgetting to detach", _answer(_loop, _LOOP_OUTPUT, cut=False), _DETACH_HINT),
]


_LINEAR_FILTERS = torch.zeros(2, 1, 4, 4)
_LINEAR_FILTERS[0, 0, :, :2], _LINEAR_FILTERS[0, 0, :, 2:] = 1.0, -1.0  # a vertical edge
_LINEAR_FILTERS[1, 0, 1:3, 1:3] = 1.0  # a centre spot


def _linear_model() -> nn.Module:
    """Two linear neurons on 1 x 4 x 4 images: a vertical edge and a centre spot."""
    weight = _LINEAR_FILTERS.flatten(1)
    with seeded(0):  # nn.Linear draws its initial weights; they are overwritten
        model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.copy_(weight)
        model[1].bias.copy_(torch.tensor([0.5, -0.5]))
    return model.eval()


def check_most_exciting_inputs(student: Callable[..., Any]) -> CheckResult:
    """Check ``student(model, neurons, image_shape (C, H, W), steps, lr, seed)``.

    Expects ``(images (n, C, H, W), activations (steps + 1, n))``: the MEIs (mean 0, s.d. 1)
    and each neuron's response to its own image before every step and at the end, as
    :func:`artiphys_course.mei.compute_meis` computes them with ``FixedMeanStd(0, 1)``, plain
    SGD with the normalised gradient and the starting noise ``neuron_noise(seed, neurons,
    image_shape)``. Cases: a linear model with known filters, and small random CNNs. At most
    ``2 * steps + 1`` model calls (one batched pass per step, plus the recorded responses); the
    package's ``compute_meis`` may not be called. The student's ``gradient_ascent_step`` and
    ``fix_mean_std`` are used; when only they are wrong, the check says so.
    """
    cases = [
        (_linear_model(), [1, 0], (1, 4, 4), 12, 0.5, 0),
        (tiny_cnn(5, (6, 6), 4), [0, 3, 1], (1, 6, 6), 6, 0.2, 0),
        (tiny_cnn(6, (5, 7), 5), [4, 2], (1, 5, 7), 8, 0.3, 3),
    ]
    steps = max(case[3] for case in cases)
    return check_function(
        _Named(student, _LOOP_OUTPUT),
        _answer(_loop_reference, _LOOP_OUTPUT),
        cases,
        name="most_exciting_inputs",
        rtol=1e-3,
        atol=1e-4,
        hint="Compare your steps with the comments: seeded start per neuron, constrained, then "
        "record and step, and at the end the constrained images and their responses.",
        fallback="compute_meis",
        mistakes=_LOOP_MISTAKES,
        forbidden=[compute_meis],
        max_calls=2 * steps + 1,
        uses={"fix_mean_std": _fix_mean_std_reference, "gradient_ascent_step": _step_reference},
    )


# --------------------------------------------------------------------------------------------
# Exercise 4: the normalised cross-activation matrix
# --------------------------------------------------------------------------------------------
def _cross_reference(model: nn.Module, meis: torch.Tensor) -> torch.Tensor:
    return cross_activation(model, meis)


def _responses(model: nn.Module, meis: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(meis)  # (MEIs, neurons)


def _meis_as_rows(model: nn.Module, meis: torch.Tensor) -> torch.Tensor:
    responses = _responses(model, meis)
    return responses / responses.diagonal()[:, None]


def _transposed(model: nn.Module, meis: torch.Tensor) -> torch.Tensor:
    return _cross_reference(model, meis).T


def _per_column(model: nn.Module, meis: torch.Tensor) -> torch.Tensor:
    responses = _responses(model, meis).T
    return responses / responses.diagonal()[None, :]


_CROSS_MISTAKES = [
    Mistake(
        "rows that are MEIs, not neurons",
        _meis_as_rows,
        "model(meis) has one row per MEI; the matrix has one row per neuron.",
    ),
    Mistake(
        "the transposed matrix",
        _transposed,
        "Entry [i, j] is neuron i's response to MEI j, divided by neuron i's response to its own "
        "MEI; check which index is which.",
    ),
    Mistake(
        "each column divided by its MEI's own neuron",
        _per_column,
        "Normalise per neuron (per row): by that neuron's response to its own MEI.",
    ),
    Mistake(
        "raw responses, not normalised",
        lambda model, meis: _responses(model, meis).T,
        "Divide each neuron's responses by its response to its own MEI (the diagonal becomes 1).",
    ),
]


def check_cross_activation_matrix(student: Callable[..., Any]) -> CheckResult:
    """Check ``student(model, meis (n, C, H, W))`` -> ``(n, n)`` normalised cross-activation.

    Entry ``[i, j]`` is neuron ``i``'s response to MEI ``j`` divided by neuron ``i``'s response
    to its own MEI ``i``. A linear model with known weights and two small random CNNs; one
    batched model call (``max_calls=1``); the package's ``cross_activation`` may not be called.
    """
    cases = [
        (_linear_model(), 0.25 * _LINEAR_FILTERS),
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
        hint="Check the layout of model(meis), which rows and columns you need, and what each "
        "row is divided by; the diagonal must be 1.",
        fallback="cross_activation",
        mistakes=_CROSS_MISTAKES,
        forbidden=[cross_activation],
        max_calls=1,
    )
