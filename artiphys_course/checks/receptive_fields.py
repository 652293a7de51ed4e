"""Exercise checks for notebook 02 (receptive-field arithmetic).

Each check runs the student's function on fixed and seeded random inputs, compares with the
package's reference and returns a one-line :class:`~artiphys_course.checks.core.CheckResult`;
it names the common mistakes of the exercise (a forgotten dilation, padding counted in pixels,
an off-by-one in the output size, ...) and catches a function that calls the package instead.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from torch import nn

from artiphys_course.checks.core import CheckResult, Mistake, check_function
from artiphys_course.receptive_fields import conv_output_size, receptive_field_table, rf_step

__all__ = ["check_output_size", "check_rf_of_stack", "check_rf_step", "check_network_rf_table"]

_PACKAGE_RF = [
    "artiphys_course.receptive_fields.rf_step",
    "artiphys_course.receptive_fields.conv_output_size",
    "artiphys_course.receptive_fields.receptive_field_table",
    "artiphys_course.receptive_fields.receptive_field",
]
_KERNEL_LAYERS = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)

# The package's functions for the known mistakes and, swapped in for the student's helpers, for
# rerunning a chained exercise. A partial keeps the original function even while `forbidden`
# blocks the module-level names (a student's function runs with them blocked).
_rf_step = functools.partial(rf_step)
_output_size = functools.partial(conv_output_size)
_REFERENCE_HELPERS: dict[str, Callable[..., Any]] = {
    "rf_step": _rf_step,
    "output_size": _output_size,
}


def _k_eff(kernel_size: int, dilation: int) -> int:
    return dilation * (kernel_size - 1) + 1


def _step_cases(seed: int, n: int) -> list[tuple[int, int, float, int, int, int, int]]:
    """Random plausible layers applied to random plausible input RFs."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        jump = int(rng.choice([1, 2, 4, 8]))
        kernel = int(rng.choice([2, 3, 4, 5, 7]))
        cases.append(
            (
                int(rng.integers(1, 40)),
                jump,
                float(rng.integers(0, 8)) + float(rng.choice([0.0, 0.5])),
                kernel,
                int(rng.choice([1, 2, 3])),
                int(rng.integers(0, kernel)),
                int(rng.choice([1, 1, 2, 3])),
            )
        )
    return cases


_STEP_MISTAKES = [
    Mistake(
        "a forgotten dilation",
        lambda r, j, s, k, st, p, d: _rf_step(r, j, s, k, st, p, 1),
        "A dilated kernel leaves gaps between its taps: how many input units does it span?",
    ),
    Mistake(
        "the stride applied before the size grows",
        lambda r, j, s, k, st, p, d: (
            r + (_k_eff(k, d) - 1) * j * st,
            j * st,
            _rf_step(r, j, s, k, st, p, d)[2],
        ),
        "The kernel's taps are spaced by the jump of the layer's *input*; the stride only "
        "matters for the next layer.",
    ),
    Mistake(
        "the kernel span counted one unit too long",
        lambda r, j, s, k, st, p, d: (
            r + _k_eff(k, d) * j,
            j * st,
            _rf_step(r, j, s, k, st, p, d)[2],
        ),
        "A kernel of one tap adds nothing to the RF: how many input units does each extra tap add?",
    ),
    Mistake(
        "padding left out of the start",
        lambda r, j, s, k, st, p, d: _rf_step(r, j, s, k, st, 0, d),
        "Padding puts the first window partly before the first input unit.",
    ),
    Mistake(
        "padding counted in pixels instead of input units",
        lambda r, j, s, k, st, p, d: (
            *_rf_step(r, j, s, k, st, p, d)[:2],
            s + (_k_eff(k, d) - 1) / 2 * j - p,
        ),
        "The padding is measured in units of the layer's input, which lie `jump` pixels apart.",
    ),
    Mistake(
        "an integer division for the window's centre",
        lambda r, j, s, k, st, p, d: (
            *_rf_step(r, j, s, k, st, p, d)[:2],
            s + ((_k_eff(k, d) - 1) // 2 - p) * j,
        ),
        "With an even kernel the centre of a window lies between two input units.",
    ),
]


def check_rf_step(student: Callable) -> CheckResult:
    """Exercise: ``rf_step(rf_size, jump, start, kernel_size, stride, padding, dilation)``.

    Returns the ``(rf_size, jump, start)`` of a layer's output units from those of its input.
    """
    cases = [
        (1, 1, 0.0, 11, 4, 2, 1),  # AlexNet conv1
        (11, 4, 3.0, 3, 2, 0, 1),  # then max pooling
        (19, 8, 7.0, 5, 1, 2, 1),  # AlexNet conv2
        (1, 1, 0.0, 3, 1, 2, 2),  # a dilated convolution
        (7, 2, 0.0, 1, 2, 0, 1),  # a 1 x 1 stride-2 shortcut
        (5, 2, 1.5, 2, 2, 0, 1),  # an even (2 x 2) pooling window
        *_step_cases(0, 4),
    ]
    return check_function(
        student,
        rf_step,
        cases,
        name="rf_step",
        mistakes=_STEP_MISTAKES,
        forbidden=["artiphys_course.receptive_fields.rf_step"],
        hint="Work out one small layer on paper (kernel 3, stride 2, padding 1) and compare each "
        "of the three numbers with your function's.",
        fallback="artiphys_course.receptive_fields.rf_step",
    )


_SIZE_MISTAKES = [
    Mistake(
        "a forgotten dilation",
        lambda n, k, s, p, d: _output_size(n, k, s, p, 1),
        "A dilated kernel's window is wider than `kernel_size` input units.",
    ),
    Mistake(
        "padding on one side only",
        lambda n, k, s, p, d: (n + p - _k_eff(k, d)) // s + 1,
        "Padding is added at both ends of the axis.",
    ),
    Mistake(
        "an off-by-one: the first window not counted",
        lambda n, k, s, p, d: (n + 2 * p - _k_eff(k, d)) // s,
        "Count the windows of a kernel as wide as the padded input: there is one.",
    ),
    Mistake(
        "a fractional number of windows (true division)",
        lambda n, k, s, p, d: (n + 2 * p - _k_eff(k, d)) / s + 1,
        "Only whole windows produce an output unit.",
    ),
    Mistake(
        "rounding up (a last partial window counted)",
        lambda n, k, s, p, d: math.ceil((n + 2 * p - _k_eff(k, d)) / s) + 1,
        "PyTorch (without ceil_mode) drops a last window that does not fit entirely.",
    ),
]


def check_output_size(student: Callable) -> CheckResult:
    """Exercise: ``output_size(n, kernel_size, stride, padding, dilation)`` (PyTorch's rule)."""
    rng = np.random.default_rng(1)
    random_cases = []
    for _ in range(4):
        kernel, dilation = int(rng.integers(1, 8)), int(rng.choice([1, 2, 3]))
        random_cases.append(
            (
                int(rng.integers(_k_eff(kernel, dilation), 300)),
                kernel,
                int(rng.integers(1, 5)),
                int(rng.integers(0, kernel)),
                dilation,
            )
        )
    cases = [
        (224, 11, 4, 2, 1),
        (55, 3, 2, 0, 1),
        (27, 5, 1, 2, 1),
        (64, 3, 1, 2, 2),
        (56, 1, 2, 0, 1),
        (10, 4, 3, 1, 1),
        *random_cases,
    ]
    return check_function(
        student,
        conv_output_size,
        cases,
        name="output_size",
        mistakes=_SIZE_MISTAKES,
        forbidden=_PACKAGE_RF,
        hint="Draw a 1-D input of 7 units, pad it, slide a kernel of 3 with stride 2 and count "
        "the positions; then compare with your function.",
        fallback="artiphys_course.receptive_fields.conv_output_size",
    )


def _stack_reference(layers: Sequence[tuple[int, int, int, int]]) -> tuple[int, int, float]:
    """RF of a stack of convolutions, computed by the package on a real nn.Sequential."""
    net = nn.Sequential(*(nn.Conv2d(1, 1, k, s, p, d) for k, s, p, d in layers))
    last = receptive_field_table(net)[-1]
    return last.size[0], last.jump[0], last.start[0]


def _stack_cases(seed: int) -> list[tuple[list[tuple[int, int, int, int]]]]:
    rng = np.random.default_rng(seed)
    cases = []
    for depth in (3, 5):
        layers = []
        for _ in range(depth):
            kernel = int(rng.choice([1, 2, 3, 5]))
            layers.append((kernel, int(rng.choice([1, 2])), int(rng.integers(0, kernel)), 1))
        cases.append((layers,))
    return cases


def _apply_steps(
    layers: Sequence[tuple[int, int, int, int]], state: tuple[int, int, float]
) -> tuple[int, int, float]:
    for kernel_size, stride, padding, dilation in layers:
        state = _rf_step(*state, kernel_size, stride, padding, dilation)
    return state


_STACK_MISTAKES = [
    Mistake(
        "only the last layer (the state not carried from layer to layer)",
        lambda layers: _apply_steps(layers[-1:], (1, 1, 0.0)),
        "Each layer starts from the RF of the layer below it, not from the image.",
    ),
    Mistake(
        "the layers applied in reverse order",
        lambda layers: _apply_steps(layers[::-1], (1, 1, 0.0)),
        "The first tuple is the layer next to the image.",
    ),
    Mistake(
        "an image RF of 0 pixels",
        lambda layers: _apply_steps(layers, (0, 1, 0.0)),
        "Before any layer, each 'unit' is one pixel: how many pixels does it see?",
    ),
]


def check_rf_of_stack(student: Callable) -> CheckResult:
    """Exercise: ``rf_of_stack(layers)`` -> ``(rf_size, jump, start)`` of the last layer.

    ``layers`` is a list of ``(kernel_size, stride, padding, dilation)`` tuples, applied in order,
    with the student's own ``rf_step`` (a wrong ``rf_step`` is blamed, not ``rf_of_stack``).
    """
    cases = [
        ([(11, 4, 2, 1), (3, 2, 0, 1), (5, 1, 2, 1), (3, 2, 0, 1), (3, 1, 1, 1)],),  # AlexNet
        ([(3, 1, 1, 1)] * 2 + [(2, 2, 0, 1)] + [(3, 1, 1, 1)] * 2,),  # VGG block pattern
        ([(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4), (3, 1, 8, 8)],),  # dilated stack
        *_stack_cases(2),
    ]
    return check_function(
        student,
        lambda layers: _stack_reference(layers),
        cases,
        name="rf_of_stack",
        mistakes=_STACK_MISTAKES,
        forbidden=_PACKAGE_RF,
        uses={"rf_step": _REFERENCE_HELPERS["rf_step"]},
        hint="Follow the AlexNet case by hand for two layers and compare the intermediate "
        "(size, jump, start) with what your loop holds.",
        fallback="artiphys_course.receptive_fields.receptive_field_table",
    )


def _rf_table_reference(model: nn.Module, n: int) -> list[dict[str, Any]]:
    """One row per kernel layer: the package's table along the first image axis."""
    return [
        dict(
            layer=row.name,
            rf=row.size[0],
            jump=row.jump[0],
            start=row.start[0],
            output_size=row.output_shape[0],
        )
        for row in receptive_field_table(model, n)
        if row.kind in {kind.__name__ for kind in _KERNEL_LAYERS}
    ]


def _one(value: int | tuple[int, ...]) -> int:
    return value if isinstance(value, int) else value[0]


def _table_variant(
    model: nn.Module,
    n: int,
    *,
    kinds: tuple[type[nn.Module], ...] = _KERNEL_LAYERS,
    dilation: bool = True,
    carry_n: bool = True,
    input_row: bool = False,
) -> list[dict[str, Any]]:
    """The table with one step done differently (the known mistakes)."""
    state, size, rows = (1, 1, 0.0), n, []
    for name, module in model.named_modules():
        if not isinstance(module, kinds):
            continue
        k, s, p = _one(module.kernel_size), _one(module.stride), _one(module.padding)
        d = _one(getattr(module, "dilation", 1)) if dilation else 1
        before = dict(layer=name, rf=state[0], jump=state[1], start=state[2], output_size=size)
        state = _rf_step(*state, k, s, p, d)
        size = _output_size(size if carry_n else n, k, s, p, d)
        after = dict(layer=name, rf=state[0], jump=state[1], start=state[2], output_size=size)
        rows.append(before if input_row else after)
    return rows


_TABLE_MISTAKES = [
    Mistake(
        "pooling layers left out",
        lambda model, n: _table_variant(model, n, kinds=(nn.Conv2d,)),
        "Max and average pooling slide a window with a stride too: they change the RF.",
    ),
    Mistake(
        "the layers' dilation not used",
        lambda model, n: _table_variant(model, n, dilation=False),
        "Read every parameter of the layer that shapes its window (a pooling layer may have "
        "no `dilation` attribute at all).",
    ),
    Mistake(
        "every output size computed from the image",
        lambda model, n: _table_variant(model, n, carry_n=False),
        "A layer's input is the previous layer's output, not the image.",
    ),
    Mistake(
        "each row holding the layer's input instead of its output",
        lambda model, n: _table_variant(model, n, input_row=True),
        "A row describes the units the layer produces.",
    ),
]


def _alexnet_features() -> nn.Sequential:
    """AlexNet's feature extractor with one channel per layer (same geometry, tiny weights)."""
    return nn.Sequential(
        nn.Conv2d(1, 1, 11, 4, 2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(1, 1, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(1, 1, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(1, 1, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(1, 1, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
    )


def _nested_net() -> nn.Sequential:
    """Blocks inside blocks, BatchNorm, dilation, average pooling and a classifier head."""
    block = nn.Sequential(
        nn.Conv2d(1, 1, 3, padding=2, dilation=2), nn.BatchNorm2d(1), nn.ELU(), nn.AvgPool2d(2)
    )
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 1, 5, stride=2, padding=1), nn.ReLU()),
        block,
        nn.Sequential(nn.Conv2d(1, 1, 4, stride=1, padding=0, dilation=3), nn.MaxPool2d(2, 1)),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(1, 2),
    )


def _random_net(seed: int) -> tuple[nn.Sequential, int]:
    """A random stack of convolutions and pooling, with an input large enough for all of it."""
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    for _ in range(5):
        kernel = int(rng.choice([2, 3, 5]))
        padding = int(rng.integers(0, kernel // 2 + 1))
        if rng.random() < 0.35:
            layers.append(
                nn.MaxPool2d(kernel, int(rng.choice([1, 2])), padding // 2 if kernel > 2 else 0)
            )
        else:
            dilation = int(rng.choice([1, 1, 2]))
            layers += [
                nn.Conv2d(1, 1, kernel, int(rng.choice([1, 2])), padding, dilation),
                nn.ReLU(),
            ]
    return nn.Sequential(*layers), 96


def check_network_rf_table(student: Callable) -> CheckResult:
    """Exercise: ``network_rf_table(model, n)`` -> one dict per kernel layer of a network.

    Each row (in forward order, one per ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d``) has the keys
    ``layer`` (the dotted module name), ``rf`` and ``jump`` (pixels), ``start`` (pixel) and
    ``output_size`` (units along one axis of an ``n``-pixel square image), computed with the
    student's own ``rf_step`` and ``output_size`` (a wrong helper is blamed, not this function).
    Tested on AlexNet's feature geometry, a nested network with dilation and average pooling,
    and a seeded random stack.
    """
    cases = [(_alexnet_features(), 227), (_nested_net(), 64), _random_net(3)]
    return check_function(
        student,
        _rf_table_reference,
        cases,
        name="network_rf_table",
        mistakes=_TABLE_MISTAKES,
        forbidden=_PACKAGE_RF,
        uses=_REFERENCE_HELPERS,
        hint="Print your rows for AlexNet's features next to the package's "
        "`receptive_field_table` output of section 2 and find the first row that differs.",
        fallback="artiphys_course.receptive_fields.receptive_field_table",
    )
