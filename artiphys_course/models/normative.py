"""A normative model of orientation coding: a small CNN trained to tell left from right tilt.

A *normative* model is built for a task rather than fitted to neural data: if a network trained only
to solve a visual task ends up representing the stimuli the way visual cortex does, the task may
explain the representation. Following the Neuromatch Academy tutorial on normative encoding models
(which used the Stringer et al. 2021 orientation data), the task is to report whether a grating is
tilted to the left or to the right of vertical, and the network has one convolutional layer (a bank
of oriented filters, like V1 simple cells), a pooling layer, a fully connected hidden layer and a
two-way output.

Tilt convention
---------------
``tilt_deg`` is the angle of the stripes from vertical, **clockwise** as seen on screen, in
``[-90, 90)``: 0 = vertical stripes, +45 = stripes rising to the right (``/``), -45 = ``\\``.
It matches the Stringer data's convention (0 = vertical, range [-90, 90]); the package's own
orientation (counter-clockwise from horizontal) is ``90 - tilt_deg``. Label 1 ("right") means
``tilt_deg > 0``; label 0 ("left") ``tilt_deg <= 0``. Near vertical and near horizontal (+-90,
where "left" and "right" meet) the task is ambiguous, so no classifier is perfect on uniform tilts.

Layers (names for :func:`artiphys_course.recording.record_layers` and
:func:`artiphys_course.features.extract_features`): ``conv``, ``conv_relu``, ``pool``, ``fc``,
``fc_relu``, ``out`` (see :data:`LAYERS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from artiphys_course.stimuli import make_gabors, make_gratings

__all__ = [
    "LAYERS",
    "TiltCNN",
    "TiltTask",
    "center_surround_filter",
    "initial_filters",
    "make_tilt_gratings",
    "make_tilt_task",
    "tilt_labels",
]

#: Recordable layers of :class:`TiltCNN`, input to output.
LAYERS: tuple[str, ...] = ("conv", "conv_relu", "pool", "fc", "fc_relu", "out")

#: Default grating spatial frequency, cycles per pixel (6 pixels per cycle).
SPATIAL_FREQUENCY = 1 / 6


def _tilts(tilt_deg: np.ndarray | torch.Tensor | float) -> np.ndarray:
    t = tilt_deg.detach().cpu().numpy() if isinstance(tilt_deg, torch.Tensor) else tilt_deg
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if t.ndim != 1 or not np.all(np.isfinite(t)):
        raise ValueError(f"tilt_deg must be a finite scalar or 1-D array, got shape {t.shape}")
    return t


def make_tilt_gratings(
    tilt_deg: np.ndarray | torch.Tensor | float,
    *,
    image_shape: tuple[int, int] = (32, 48),
    spatial_frequency: float = SPATIAL_FREQUENCY,
    phase_deg: np.ndarray | torch.Tensor | float = 0.0,
    contrast: float = 1.0,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Full-field sinusoidal gratings at the given tilts from vertical.

    Parameters
    ----------
    tilt_deg : float or array, shape (B,)
        Clockwise tilt from vertical in degrees (module docstring).
    image_shape : (height, width)
        Image size in pixels.
    spatial_frequency : float
        Cycles per pixel.
    phase_deg : float or array, shape (B,)
        Phase at the image centre, degrees.
    contrast : float
        Amplitude around the mean grey 0 (values in ``[-contrast, contrast]``).
    device : str or torch.device, optional
        Where to build the images (default CPU).

    Returns
    -------
    torch.Tensor, shape (B, 1, height, width), float32
        Drawn with :func:`artiphys_course.stimuli.make_gratings` at orientation ``90 - tilt``.
    """
    tilt = _tilts(tilt_deg)
    return make_gratings(
        image_shape, 90.0 - tilt, spatial_frequency, phase_deg, contrast=contrast, device=device
    )


def tilt_labels(tilt_deg: np.ndarray | torch.Tensor | float) -> np.ndarray:
    """Task labels: 1 = tilted right (``tilt_deg > 0`` after wrapping to [-90, 90)), 0 = left."""
    tilt = (_tilts(tilt_deg) + 90.0) % 180.0 - 90.0
    return (tilt > 0).astype(np.int64)


@dataclass
class TiltTask:
    """Images and labels of the tilt task.

    Attributes
    ----------
    images : torch.Tensor, shape (n, 1, height, width)
    tilt_deg : np.ndarray, shape (n,)
        Clockwise tilt from vertical, uniform in [-90, 90).
    phase_deg : np.ndarray, shape (n,)
        Grating phase, uniform in [0, 360).
    labels : np.ndarray, shape (n,), int64
        1 = right, 0 = left.
    """

    images: torch.Tensor
    tilt_deg: np.ndarray
    phase_deg: np.ndarray
    labels: np.ndarray


def make_tilt_task(
    n: int,
    *,
    seed: int = 0,
    image_shape: tuple[int, int] = (32, 48),
    spatial_frequency: float = SPATIAL_FREQUENCY,
    random_phase: bool = True,
    device: str | torch.device | None = None,
) -> TiltTask:
    """``n`` gratings with tilts drawn uniformly from [-90, 90) (and random phases), with labels."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    tilt = rng.uniform(-90.0, 90.0, n)
    phase = rng.uniform(0.0, 360.0, n) if random_phase else np.zeros(n)
    images = make_tilt_gratings(
        tilt,
        image_shape=image_shape,
        spatial_frequency=spatial_frequency,
        phase_deg=phase,
        device=device,
    )
    return TiltTask(images, tilt, phase, tilt_labels(tilt))


def center_surround_filter(
    kernel_size: int, sigma_center: float, sigma_surround: float, *, on_center: bool = True
) -> torch.Tensor:
    """Difference-of-Gaussians (centre-surround) filter, shape ``(kernel_size, kernel_size)``.

    Each Gaussian is normalised to sum 1 over the kernel, so the filter sums to 0 (no response to
    uniform light), like a retinal ganglion cell or LGN receptive field. ``on_center=False``
    flips the sign (off-centre).
    """
    if sigma_surround <= sigma_center or sigma_center <= 0:
        raise ValueError("need 0 < sigma_center < sigma_surround")
    r = torch.arange(kernel_size, dtype=torch.float32) - (kernel_size - 1) / 2
    d2 = r[:, None] ** 2 + r[None, :] ** 2
    centre = torch.exp(-d2 / (2 * sigma_center**2))
    surround = torch.exp(-d2 / (2 * sigma_surround**2))
    dog = centre / centre.sum() - surround / surround.sum()
    return dog if on_center else -dog


def initial_filters(
    n_filters: int = 8,
    kernel_size: int = 7,
    *,
    spatial_frequency: float = SPATIAL_FREQUENCY,
    n_center_surround: int = 2,
) -> torch.Tensor:
    """Starting filters: centre-surround cells and Gabors at evenly spaced orientations.

    The first ``n_center_surround`` filters are difference-of-Gaussians filters (alternately on-
    and off-centre); the rest are even-phase Gabors (:func:`artiphys_course.stimuli.make_gabors`)
    with orientations ``0, 180 / k, 2 * 180 / k, ...`` degrees (package convention, counter-
    clockwise from horizontal) for ``k`` Gabors. Every filter has unit Euclidean norm.

    Returns
    -------
    torch.Tensor, shape (n_filters, 1, kernel_size, kernel_size)
    """
    if not 0 <= n_center_surround <= n_filters:
        raise ValueError(f"n_center_surround must lie in [0, n_filters={n_filters}]")
    sigma = 0.5 / spatial_frequency
    dogs = [
        center_surround_filter(kernel_size, sigma / 2, sigma, on_center=(i % 2 == 0))
        for i in range(n_center_surround)
    ]
    n_gabors = n_filters - n_center_surround
    parts = [torch.stack(dogs)[:, None]] if dogs else []
    if n_gabors:
        orientations = np.arange(n_gabors) * 180.0 / n_gabors
        parts.append(
            make_gabors(kernel_size, orientations, spatial_frequency, 0.0, sigma=kernel_size / 4)
        )
    filters = torch.cat(parts)
    return filters / filters.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None, None]


class TiltCNN(nn.Module):
    """One convolutional layer, pooling, one hidden fully connected layer, two outputs.

    Parameters
    ----------
    image_shape : (height, width)
        Input size (images are ``(B, 1, height, width)``).
    n_filters : int
        Convolutional channels.
    kernel_size : int
        Filter size (odd); "same" padding keeps the image size.
    pool : int
        Max-pooling window and stride.
    n_hidden : int
        Units of the hidden fully connected layer.
    init : {"gabor", "random"}
        ``"gabor"``: convolution weights start as :func:`initial_filters` (centre-surround and
        Gabor filters); ``"random"``: PyTorch's default initialisation.
    spatial_frequency : float
        Gabor frequency for ``init="gabor"`` (cycles per pixel).

    Notes
    -----
    ``forward`` returns logits ``(B, 2)``: index 1 = tilted right.
    """

    def __init__(
        self,
        image_shape: tuple[int, int] = (32, 48),
        *,
        n_filters: int = 8,
        kernel_size: int = 7,
        pool: int = 4,
        n_hidden: int = 16,
        init: str = "gabor",
        spatial_frequency: float = SPATIAL_FREQUENCY,
    ) -> None:
        super().__init__()
        if init not in ("gabor", "random"):
            raise ValueError(f"unknown init {init!r}; choose 'gabor' or 'random'")
        h, w = image_shape
        if h < pool or w < pool:
            raise ValueError(f"image_shape {image_shape} is smaller than the pooling window {pool}")
        self.image_shape = (int(h), int(w))
        self.conv = nn.Conv2d(1, n_filters, kernel_size, padding=kernel_size // 2)
        self.conv_relu = nn.ReLU()
        self.pool = nn.MaxPool2d(pool)
        self.fc = nn.Linear(n_filters * (h // pool) * (w // pool), n_hidden)
        self.fc_relu = nn.ReLU()
        self.out = nn.Linear(n_hidden, 2)
        if init == "gabor":
            with torch.no_grad():
                self.conv.weight.copy_(
                    initial_filters(n_filters, kernel_size, spatial_frequency=spatial_frequency)
                )
                self.conv.bias.zero_()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, 1, height, width)`` -> logits ``(B, 2)``."""
        if images.ndim != 4 or images.shape[1] != 1 or tuple(images.shape[2:]) != self.image_shape:
            raise ValueError(
                f"images must have shape (B, 1, {self.image_shape[0]}, {self.image_shape[1]}), "
                f"got {tuple(images.shape)}"
            )
        x = self.pool(self.conv_relu(self.conv(images)))
        return self.out(self.fc_relu(self.fc(x.flatten(1))))
