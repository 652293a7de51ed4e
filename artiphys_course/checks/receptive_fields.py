"""Exercise checks for notebook 02 (receptive-field arithmetic).

Each check runs the student's function on a few inputs, compares with the package's reference
and prints one line (pass / not implemented yet / a hint). Checks never raise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from artiphys_course.checks.core import CheckResult, check_function
from artiphys_course.receptive_fields import conv_output_size, receptive_field_table, rf_step

__all__ = ["check_output_size", "check_rf_of_stack", "check_rf_step"]


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
    ]
    return check_function(
        student,
        rf_step,
        cases,
        name="rf_step",
        hint="k_eff = dilation * (kernel_size - 1) + 1; size grows by (k_eff - 1) * jump; jump "
        "multiplies by the stride; start moves by ((k_eff - 1) / 2 - padding) * jump.",
        fallback="artiphys_course.receptive_fields.rf_step",
    )


def check_output_size(student: Callable) -> CheckResult:
    """Exercise: ``output_size(n, kernel_size, stride, padding, dilation)`` (PyTorch's rule)."""
    cases = [
        (224, 11, 4, 2, 1),
        (55, 3, 2, 0, 1),
        (27, 5, 1, 2, 1),
        (64, 3, 1, 2, 2),
        (56, 1, 2, 0, 1),
        (10, 4, 3, 1, 1),
    ]
    return check_function(
        student,
        conv_output_size,
        cases,
        name="output_size",
        hint="(n + 2 * padding - k_eff) // stride + 1, k_eff = dilation * (kernel_size - 1) + 1",
        fallback="artiphys_course.receptive_fields.conv_output_size",
    )


def _stack_reference(layers: Sequence[tuple[int, int, int, int]]) -> tuple[int, int, float]:
    """RF of a stack of convolutions, computed by the package on a real nn.Sequential."""
    net = nn.Sequential(*(nn.Conv2d(1, 1, k, s, p, d) for k, s, p, d in layers))
    last = receptive_field_table(net)[-1]
    return last.size[0], last.jump[0], last.start[0]


def check_rf_of_stack(student: Callable) -> CheckResult:
    """Exercise: ``rf_of_stack(layers)`` -> ``(rf_size, jump, start)`` of the last layer.

    ``layers`` is a list of ``(kernel_size, stride, padding, dilation)`` tuples, applied in order.
    """
    cases = [
        ([(11, 4, 2, 1), (3, 2, 0, 1), (5, 1, 2, 1), (3, 2, 0, 1), (3, 1, 1, 1)],),  # AlexNet
        ([(3, 1, 1, 1)] * 2 + [(2, 2, 0, 1)] + [(3, 1, 1, 1)] * 2,),  # VGG block pattern
        ([(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4), (3, 1, 8, 8)],),  # dilated stack
    ]
    return check_function(
        student,
        lambda layers: _stack_reference(layers),
        cases,
        name="rf_of_stack",
        hint="Start from the image (1, 1, 0.0) and apply rf_step layer after layer.",
        fallback="artiphys_course.receptive_fields.receptive_field_table",
    )
