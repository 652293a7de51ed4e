"""Shifters: eye position -> one global shift of all receptive fields.

When the eye moves, every receptive field moves across the screen by the same amount. A shifter
learns this from the pupil position recorded by the eye camera: a small MLP maps the pupil centre
``(B, 2)`` to a shift ``(B, 2)`` of all read-out positions, in the readout's normalised grid units
``(x, y)`` (see :mod:`artiphys_course.models.readouts`; :func:`shift_to_pixels` converts to pixels).
After Sinz et al. (NeurIPS 2018) and neuralpredictors' ``MLPShifter``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["MLPShifter", "shift_to_pixels"]


class MLPShifter(nn.Module):
    """Pupil centre -> RF shift, an MLP with tanh units.

    Parameters
    ----------
    pupil_mean, pupil_std : array, shape (2,), optional
        Statistics used to standardise the pupil position (e.g. of the training trials); default 0
        and 1 (no standardisation).
    hidden_features : int
        Width of the hidden layers.
    layers : int
        Number of linear layers (1 = a linear map followed by tanh).
    gamma : float
        Weight of the L2 penalty ``gamma * sum(weights**2)``.
    max_shift : float
        Largest shift in grid units (the tanh output is scaled by it).

    Notes
    -----
    The last layer starts at zero, so an untrained shifter does not shift.
    """

    def __init__(
        self,
        *,
        pupil_mean: np.ndarray | Sequence[float] | None = None,
        pupil_std: np.ndarray | Sequence[float] | None = None,
        hidden_features: int = 5,
        layers: int = 2,
        gamma: float = 0.0,
        max_shift: float = 0.5,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        mean = torch.zeros(2) if pupil_mean is None else torch.as_tensor(pupil_mean).float()
        std = torch.ones(2) if pupil_std is None else torch.as_tensor(pupil_std).float()
        if mean.shape != (2,) or std.shape != (2,):
            raise ValueError("pupil_mean and pupil_std must have 2 entries (pupil x, y)")
        self.register_buffer("pupil_mean", mean)
        self.register_buffer("pupil_std", std.clamp_min(1e-12))
        self.gamma = gamma
        self.max_shift = max_shift
        widths = [2] + [hidden_features] * (layers - 1) + [2]
        modules: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            if i > 0:
                modules.append(nn.Tanh())
            modules.append(nn.Linear(a, b))
        modules.append(nn.Tanh())
        self.mlp = nn.Sequential(*modules)
        last = [m for m in self.mlp if isinstance(m, nn.Linear)][-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, pupil_center: torch.Tensor) -> torch.Tensor:
        """Pupil centres ``(B, 2)`` -> shifts ``(B, 2)`` in normalised grid units ``(x, y)``."""
        if pupil_center.ndim != 2 or pupil_center.shape[1] != 2:
            raise ValueError(
                f"pupil_center must have shape (batch, 2), got {tuple(pupil_center.shape)}"
            )
        z = (pupil_center.to(self.pupil_mean.dtype) - self.pupil_mean) / self.pupil_std
        return self.max_shift * self.mlp(z)

    def regularizer(self) -> torch.Tensor:
        """``gamma * sum of squared weights``."""
        weights = [m.weight for m in self.mlp if isinstance(m, nn.Linear)]
        return self.gamma * sum(w.pow(2).sum() for w in weights)


def shift_to_pixels(shift: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Grid-unit shifts ``(..., 2)`` ``(x, y)`` -> pixel shifts ``(..., 2)`` ``(d_row, d_col)``.

    ``shape`` is the ``(height, width)`` of the feature map the readout reads (``align_corners``
    convention: the map spans 2 grid units over ``size - 1`` pixels).
    """
    h, w = shape
    return torch.stack([shift[..., 1] * (h - 1) / 2, shift[..., 0] * (w - 1) / 2], dim=-1)
