"""Machinery shared by every exercise check: run, compare, explain."""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from artiphys_course.runtime import seeded

__all__ = [
    "CheckFailed",
    "CheckResult",
    "STRICT_ENV",
    "check_function",
    "compare",
    "strict",
    "tiny_cnn",
]

PASS = "\u2705"
TODO = "\u23f3"
FAIL = "\u274c"


def _to_numpy(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return x


def compare(
    got: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-6, path: str = "output"
) -> str | None:
    """Compare two results recursively; return ``None`` when they match, else the first difference.

    Arrays and tensors are compared by shape, then with ``np.allclose``; tuples, lists and dicts
    element by element; anything else with ``==``.
    """
    got, expected = _to_numpy(got), _to_numpy(expected)
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"{path} should be a dict, got {type(got).__name__}"
        missing = set(expected) - set(got)
        if missing:
            return f"{path} lacks the keys {sorted(map(str, missing))}"
        for key in expected:
            msg = compare(got[key], expected[key], rtol, atol, f"{path}[{key!r}]")
            if msg:
                return msg
        return None
    if isinstance(expected, (tuple, list)) and not np.isscalar(expected):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{path} should be a sequence of length {len(expected)}, got {_describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            msg = compare(g, e, rtol, atol, f"{path}[{i}]")
            if msg:
                return msg
        return None
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        g = np.asarray(got)
        e = np.asarray(expected)
        if g.shape != e.shape:
            return f"{path} has shape {g.shape}, expected {e.shape}"
        if e.dtype.kind in "biuf" and g.dtype.kind in "biuf":
            if not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
                err = np.nanmax(np.abs(g.astype(float) - e.astype(float)))
                return f"{path} differs from the reference (largest difference {err:.3g})"
            return None
        if not np.array_equal(g, e):
            return f"{path} differs from the reference"
        return None
    if isinstance(expected, (float, int, np.floating, np.integer)) and not isinstance(
        expected, bool
    ):
        try:
            ok = np.isclose(float(got), float(expected), rtol=rtol, atol=atol)
        except (TypeError, ValueError):
            return f"{path} should be a number, got {_describe(got)}"
        return None if ok else f"{path} is {float(got):.6g}, expected {float(expected):.6g}"
    return None if got == expected else f"{path} is {got!r}, expected {expected!r}"


def _describe(x: Any) -> str:
    x = _to_numpy(x)
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    return f"{type(x).__name__} {x!r}"[:80]


STRICT_ENV = "ARTIPHYS_STRICT_CHECKS"
"""Set to ``1`` (the test configuration does): a wrong exercise raises :class:`CheckFailed`."""


class CheckFailed(AssertionError):
    """A check found a wrong answer while ``ARTIPHYS_STRICT_CHECKS=1`` (CI runs of solutions)."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise check; renders as one line in Jupyter.

    Attributes
    ----------
    name : str
        The exercise.
    status : str
        ``"correct"``, ``"wrong"`` (a case differs or the function raised) or
        ``"not implemented"``.
    passed, total : int
        Test inputs answered correctly, of all inputs tried.
    points, max_points : float
        ``max_points * passed / total`` (0 when not implemented).
    message : str
        What a student reads: the verdict, the first difference, and a hint.
    """

    name: str
    status: str
    passed: int
    total: int
    points: float
    max_points: float
    message: str

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        return "<pre style='margin:0'>" + html.escape(self.message) + "</pre>"


def strict() -> bool:
    """True when ``ARTIPHYS_STRICT_CHECKS`` is set to a true value."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def check_function(
    student: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Iterable[Sequence[Any] | Mapping[str, Any]],
    *,
    name: str | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    hint: str | None = None,
    fallback: str | None = None,
    max_points: float = 1.0,
) -> CheckResult:
    """Check a student's function against the reference on every test input.

    Parameters
    ----------
    student, reference : callable
        The exercise function and the package's reference. They get the same arguments.
    cases : iterable
        Each case is a tuple of positional arguments or a dict of keyword arguments.
    name : str, optional
        The exercise's name (default: ``student.__name__``).
    rtol, atol : float
        Tolerances for numeric comparison.
    hint : str, optional
        Shown when the result is wrong.
    fallback : str, optional
        What the notebook uses instead while the exercise is unsolved (said with
        ``not implemented yet``).
    max_points : float
        Points for a fully correct answer.

    Returns
    -------
    CheckResult
        Truthy when every case matches.

    Raises
    ------
    CheckFailed
        When the answer is wrong and ``ARTIPHYS_STRICT_CHECKS=1`` (an unsolved exercise never
        raises).
    """
    name = name or getattr(student, "__name__", "exercise")
    cases = list(cases)
    passed, first_problem = 0, None
    for i, case in enumerate(cases, 1):
        args, kwargs = ((), dict(case)) if isinstance(case, Mapping) else (tuple(case), {})
        try:
            got = student(*args, **kwargs)
        except NotImplementedError:
            message = f"{TODO} {name}: not implemented yet."
            if fallback:
                message += f" The notebook goes on with the reference `{fallback}`."
            return CheckResult(name, "not implemented", 0, len(cases), 0.0, max_points, message)
        except Exception as err:  # noqa: BLE001 - any student error becomes feedback
            problem = f"raised {type(err).__name__}: {err}"
        else:
            problem = compare(got, reference(*args, **kwargs), rtol=rtol, atol=atol)
        if problem is None:
            passed += 1
        elif first_problem is None:
            first_problem = f"{problem} (test input {i} of {len(cases)})"
    points = max_points * passed / len(cases) if cases else 0.0
    if first_problem is None:
        inputs = f"{len(cases)} test input{'s' if len(cases) != 1 else ''}"
        message = f"{PASS} {name}: correct on {inputs}."
        return CheckResult(name, "correct", passed, len(cases), points, max_points, message)
    message = f"{FAIL} {name}: {first_problem}; {passed} of {len(cases)} inputs correct."
    if hint:
        message += f"\n   Hint: {hint}"
    result = CheckResult(name, "wrong", passed, len(cases), points, max_points, message)
    if strict():
        raise CheckFailed(message)
    return result


def tiny_cnn(
    seed: int, image_shape: tuple[int, int], n_neurons: int, *, kernel: int = 3
) -> nn.Module:
    """A small conv (3 channels, same padding) + ELU + linear + Softplus model for checks.

    Initialised inside :func:`~artiphys_course.runtime.seeded`, so building it leaves the
    caller's random state untouched. Input ``(B, 1, *image_shape)``, output ``(B, n_neurons)``.
    """
    height, width = image_shape
    with seeded(seed):
        return nn.Sequential(
            nn.Conv2d(1, 3, kernel, padding=kernel // 2),
            nn.ELU(),
            nn.Flatten(),
            nn.Linear(3 * height * width, n_neurons),
            nn.Softplus(),
        ).eval()
