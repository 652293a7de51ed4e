"""Argument checks at the public boundary, shared by every module (one rule, one message).

Public functions check what they are given before computing, so that a mistake fails early
with an error naming the argument, the value and what is valid (as scikit-learn's input
validation does), never as a silent wrong result or a torch/scipy error from deep inside:

* :func:`finite` — numbers that must be finite (images, stimulus parameters, responses, maps):
  ``ValueError``;
* :func:`integer` — counts, sizes, channels: Python or NumPy integers only (a ``bool``,
  ``float`` or ``str`` is a ``TypeError``), within a range (``ValueError``);
* :func:`positive` — real numbers that must be finite and ``> 0`` (bin widths, ...);
* :func:`indices` — indices of neurons, channels or units: integers only (``TypeError`` for
  booleans and floats), non-negative and below the count (``IndexError``; a negative index is an
  error everywhere, never "from the end");
* :func:`image_shape` — an ``int`` (square) or ``(height, width)`` of positive ints;
* :func:`notice_undefined` — the other half of the NaN policy (docs/ARCHITECTURE.md): where a
  result is legitimately undefined (a neuron without variance) it is NaN, and this says so with
  an :class:`~artiphys_course.runtime.ArtiphysWarning`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from artiphys_course.runtime import notice

__all__ = [
    "finite",
    "image_shape",
    "indices",
    "integer",
    "is_integer",
    "notice_undefined",
    "position",
    "positive",
]


def finite(value: Any, name: str) -> None:
    """Raise ``ValueError`` when ``value`` (array, tensor, sequence or number) has NaN or Inf.

    Parameters
    ----------
    value : array-like, Tensor or number
        Anything ``numpy.asarray`` or a tensor holds; ``None`` passes (an optional argument).
    name : str
        The argument's name, quoted in the message.
    """
    if value is None:
        return
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point() and not value.is_complex():
            return
        bad = int((~torch.isfinite(value.detach())).sum())
        total = value.numel()
    else:
        array = np.asarray(value)
        if array.dtype.kind not in "fc":
            if array.dtype.kind in "biu":
                return
            try:
                array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{name} must hold numbers, got {type(value).__name__} {value!r:.80}"
                ) from None
        bad = int((~np.isfinite(array)).sum())
        total = array.size
    if bad:
        raise ValueError(
            f"{name} must be finite, but {bad} of its {total} values are NaN or infinite; "
            "remove or replace them first."
        )


def is_integer(value: Any) -> bool:
    """True for Python and NumPy integers, False for ``bool`` and everything else."""
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def integer(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as an ``int``, checked to lie in ``[minimum, maximum]``.

    Raises
    ------
    TypeError
        ``value`` is not an integer (a ``bool``, ``float``, ``str`` or tensor is refused: ``1.7``
        would otherwise silently mean 1).
    ValueError
        ``value`` is outside the range.
    """
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_floating_point():
        value = value.item()
    if not is_integer(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if maximum is None:
            expected = f">= {minimum}"
        elif minimum is None:
            expected = f"<= {maximum}"
        else:
            expected = f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be {expected}, got {value}")
    return value


def positive(value: Any, name: str) -> float:
    """``value`` as a finite ``float > 0``.

    Raises
    ------
    TypeError
        ``value`` is not a real number (``bool`` and ``str`` are refused).
    ValueError
        ``value`` is NaN, infinite, zero or negative.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def indices(values: Any, name: str, n_total: int) -> torch.Tensor:
    """Integer indices into ``n_total`` items as a 1-D ``long`` tensor (CPU).

    Parameters
    ----------
    values : int, sequence of int, integer array or tensor
        Non-negative indices.
    name : str
        The argument's name, quoted in the message.
    n_total : int
        How many items there are (valid indices ``0..n_total - 1``).

    Raises
    ------
    TypeError
        A value is not an integer (``True`` or ``1.7`` are refused, never rounded).
    ValueError
        The selection is empty or not 1-D.
    IndexError
        An index is negative or ``>= n_total``.
    """
    if isinstance(values, torch.Tensor):
        idx = values.detach().cpu()
        kind = "int" if not (idx.is_floating_point() or idx.is_complex()) else "float"
        if idx.dtype == torch.bool:
            kind = "bool"
    else:
        array = np.asarray(values)
        if array.size == 0:
            raise ValueError(f"{name} must be an int or a non-empty 1-D sequence, got {values!r}")
        kind = {"b": "bool", "i": "int", "u": "int"}.get(array.dtype.kind, array.dtype.name)
        if array.dtype.kind == "O" and all(is_integer(v) for v in array.reshape(-1)):
            kind = "int"
        idx = torch.as_tensor(array.astype(np.int64)) if kind == "int" else None
    if kind != "int" or idx is None:
        raise TypeError(f"{name} must be integer indices, got {kind} values {values!r:.80}")
    idx = idx.to(torch.long)
    if idx.ndim == 0:
        idx = idx.reshape(1)
    if idx.ndim != 1 or idx.numel() == 0:
        raise ValueError(
            f"{name} must be an int or a non-empty 1-D sequence, got shape {tuple(idx.shape)}"
        )
    bad = idx[(idx < 0) | (idx >= n_total)]
    if bad.numel():
        raise IndexError(
            f"{name} index {bad[0].item()} is out of range: there are {n_total} units "
            f"(valid 0..{n_total - 1}); negative indices are not allowed"
        )
    return idx


def image_shape(value: Any, name: str = "image_shape") -> tuple[int, int]:
    """``(height, width)`` from an ``int`` (a square image) or a pair of positive ints.

    Raises
    ------
    TypeError
        ``value`` is a ``str``, a ``float`` or a pair of non-integers.
    ValueError
        Not two sizes, or a size below 1.
    """
    if isinstance(value, (str, bytes)) or not (
        is_integer(value) or isinstance(value, (Sequence, np.ndarray, torch.Tensor))
    ):
        raise TypeError(
            f"{name} must be an int (square) or (height, width), got {type(value).__name__} "
            f"{value!r}"
        )
    sizes = [value, value] if is_integer(value) else list(value)
    if len(sizes) != 2:
        raise ValueError(f"{name} must be an int (square) or (height, width), got {value!r}")
    h, w = (integer(s, name, minimum=1) for s in sizes)
    return h, w


def position(
    value: Sequence[int] | None, output_shape: tuple[int, int], where: str
) -> tuple[int, int]:
    """A spatial ``(row, col)`` checked to be integers inside an ``(h, w)`` map.

    Parameters
    ----------
    value : (row, col) or None
        ``None`` gives the centre unit's position ``((h - 1) // 2, (w - 1) // 2)``.
    output_shape : (h, w)
        The feature map's size.
    where : str
        Names the map in the error (``"output of 'features.3'"``).

    Returns
    -------
    (int, int)
    """
    h, w = output_shape
    if value is None:
        return (h - 1) // 2, (w - 1) // 2
    if isinstance(value, str) or len(value) != 2:
        raise ValueError(f"position must be (row, col), got {value!r}")
    row, col = (integer(p, "position") for p in value)
    if not (0 <= row < h and 0 <= col < w):
        raise IndexError(
            f"position {(row, col)} is outside the {h}x{w} {where} "
            f"(valid rows 0..{h - 1}, columns 0..{w - 1})"
        )
    return row, col


def notice_undefined(undefined: np.ndarray, what: str, why: str) -> None:
    """Issue one ArtiphysWarning when some entries of a per-neuron result are undefined (NaN).

    Parameters
    ----------
    undefined : np.ndarray
        Boolean mask, ``True`` where the result is NaN.
    what : str
        What the result is (``"correlation"``).
    why : str
        Why it is undefined there (``"responses or predictions are constant"``).
    """
    undefined = np.asarray(undefined, dtype=bool).reshape(-1)
    count = int(undefined.sum())
    if count:
        first = np.flatnonzero(undefined)[:5].tolist()
        notice(
            f"{what} is NaN for {count} of {undefined.size} neurons (first {first}): {why}. "
            "Use np.nanmean to average over the others.",
            stacklevel=3,
        )
