"""Machinery shared by every exercise check: run, compare, explain."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from artiphys_course.runtime import seeded

__all__ = ["check_function", "check_value", "compare", "tiny_cnn"]

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
) -> bool:
    """Check a student's function against the reference on a few inputs, and say how it went.

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
        Printed when the result is wrong.
    fallback : str, optional
        What the notebook uses instead while the exercise is unsolved (printed with
        ``not implemented yet``).

    Returns
    -------
    bool
        True when every case matches; False when unsolved, wrong or raising.
    """
    name = name or getattr(student, "__name__", "exercise")
    cases = list(cases)
    for i, case in enumerate(cases, 1):
        args, kwargs = ((), dict(case)) if isinstance(case, Mapping) else (tuple(case), {})
        try:
            got = student(*args, **kwargs)
        except NotImplementedError:
            msg = f"{TODO} {name}: not implemented yet."
            if fallback:
                msg += f" The notebook goes on with the reference `{fallback}`."
            print(msg)
            return False
        except Exception as err:  # noqa: BLE001 - any student error becomes feedback
            where = f"test input {i} of {len(cases)}"
            print(f"{FAIL} {name}: raised {type(err).__name__}: {err} ({where}).")
            if hint:
                print(f"   Hint: {hint}")
            return False
        expected = reference(*args, **kwargs)
        problem = compare(got, expected, rtol=rtol, atol=atol)
        if problem:
            print(f"{FAIL} {name}: {problem} (test input {i} of {len(cases)}).")
            if hint:
                print(f"   Hint: {hint}")
            return False
    print(f"{PASS} {name}: correct on {len(cases)} test input{'s' if len(cases) != 1 else ''}.")
    return True


def check_value(
    got: Any,
    expected: Any,
    *,
    name: str,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    hint: str | None = None,
) -> bool:
    """Check a value the student computed (``...`` or ``None`` counts as not done yet)."""
    if got is None or got is Ellipsis:
        print(f"{TODO} {name}: not computed yet.")
        return False
    problem = compare(got, expected, rtol=rtol, atol=atol, path=name)
    if problem:
        print(f"{FAIL} {name}: {problem}.")
        if hint:
            print(f"   Hint: {hint}")
        return False
    print(f"{PASS} {name}: correct.")
    return True


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
