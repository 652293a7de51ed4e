"""Simulated neural data with known ground truth: the digital V1 and an orientation population.

The **digital V1** is the course's embedded data set. It imitates a two-photon recording of
mouse primary visual cortex shown grey natural images (the Lurz et al. 2021 / SENSORIUM static
format: 36 x 64 pixel images, train / validation / test tiers, repeated test images, pupil
position), but every number comes from a generative model we know exactly::

    images (dead leaves, 1/f spectrum) --eye shift--> Gabor filter bank --> rectification /
    energy, power law --> gain, baseline --> expected rate --shared gain x Poisson--> counts

so a method can be checked against the truth: recovered filters against :attr:`DigitalV1.filters`,
model correlations against the exact :meth:`DigitalV1.noise_ceiling`, MEIs and bar maps of the
*true* neurons through the differentiable :class:`DigitalV1Model`.

The **orientation population** (:func:`simulate_orientation_population`) stands in for the
Stringer et al. (2019) grating data used in Neuromatch Academy: heterogeneous von Mises tuning,
shared gain noise, z-scored per neuron.

Conventions
-----------
* Pixel positions are ``(row, col)``, origin at the top-left pixel, pixel centres at integers.
* Orientation (digital V1): the angle of the stripes, counter-clockwise on screen from
  horizontal, 0 = horizontal, 90 = vertical, periodic in 180 degrees (as in
  :mod:`artiphys_course.stimuli`). The orientation population keeps Neuromatch's convention
  for the Stringer data instead: degrees in [-90, 90], 0 = vertical.
* Grey levels are 0..255; the neurons see the contrast image ``(image - 127.5) / 127.5``.

References
----------
Lee, Mumford & Huang (2001) Occlusion models for natural images, IJCV 41:35 (dead leaves).
Adelson & Bergen (1985) Spatiotemporal energy models, JOSA A 2:284 (complex cells).
Lurz et al. (2021) Generalization in data-driven models of primary visual cortex, ICLR.
Stringer et al. (2021) High-precision coding in visual cortex, Cell 184:2767.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from artiphys_course.runtime import progress_bar
from artiphys_course.stimuli import make_gabors

__all__ = [
    "DigitalV1",
    "DigitalV1Model",
    "NeuronParams",
    "OrientationPopulation",
    "fano_factor",
    "gabor",
    "make_digital_v1",
    "make_images",
    "noise_ceiling_from_rates",
    "sample_responses",
    "simulate_orientation_population",
]

GREY = 127.5  # mean grey level of the screen; the neurons see (image - GREY) / GREY
ArrayLike = float | Sequence[float] | np.ndarray | torch.Tensor


# ----------------------------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------------------------
def make_images(
    n: int,
    image_shape: tuple[int, int] = (36, 64),
    *,
    seed: int = 0,
    n_leaves: int = 96,
    photo_fraction: float = 0.0,
    blur_sigma: float = 0.5,
    mean_range: tuple[float, float] = (100.0, 150.0),
    std_range: tuple[float, float] = (35.0, 60.0),
) -> np.ndarray:
    """Grey naturalistic images: dead-leaves occlusion scenes, optionally mixed with photo crops.

    Each dead-leaves image is an opaque stack of ``n_leaves`` discs painted back to front on a
    uniform background. Disc radii follow the scale-invariant power law ``p(r) ~ r**-3``
    between ``H / 24`` and ``max(H, W) / 2`` pixels (every octave of sizes covers the same
    area), which gives the ``1 / f**2`` power spectrum (``1 / f`` amplitude) of natural images
    (Lee, Mumford & Huang 2001). A smooth ``1 / f`` illumination field shades the discs, a
    Gaussian blur of ``blur_sigma`` pixels plays the eye's optics, and each image is scaled to
    a random mean grey level and RMS contrast, then clipped to 0..255.

    Parameters
    ----------
    n : int
        Number of images.
    image_shape : (int, int)
        ``(height, width)`` in pixels.
    seed : int
        Everything is drawn from ``numpy.random.default_rng(seed)``.
    n_leaves : int
        Discs per dead-leaves image.
    photo_fraction : float
        Fraction of images (0..1) replaced by random crops (random position, scale 1-1.5x,
        horizontal flip) of the photographs shipped with installed packages
        (matplotlib's ``grace_hopper.jpg``, scikit-learn's ``china.jpg`` and ``flower.jpg``).
        Default 0: the default data set then depends on no image file.
    blur_sigma : float
        Standard deviation of the optical blur in pixels (0 = none).
    mean_range, std_range : (float, float)
        Uniform ranges of each image's mean grey level and standard deviation.

    Returns
    -------
    np.ndarray
        ``(n, 1, H, W)`` float32 grey levels in 0..255.
    """
    h, w = _shape(image_shape)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= photo_fraction <= 1.0:
        raise ValueError(f"photo_fraction must be in [0, 1], got {photo_fraction}")
    rng = np.random.default_rng(seed)
    images = _dead_leaves(n, h, w, n_leaves, rng)
    images = _shade_and_blur(images, blur_sigma, rng)
    n_photos = int(round(photo_fraction * n))
    if n_photos:
        which = rng.choice(n, size=n_photos, replace=False)
        images[which] = _photo_crops(n_photos, h, w, rng)
    mean = rng.uniform(*mean_range, size=(n, 1, 1)).astype(np.float32)
    std = rng.uniform(*std_range, size=(n, 1, 1)).astype(np.float32)
    # in place: scale each image to its mean and standard deviation, clip to 0..255
    images -= images.mean(axis=(1, 2), keepdims=True)
    images *= std / np.maximum(images.std(axis=(1, 2), keepdims=True), 1e-6)
    images += mean
    return np.clip(images, 0.0, 255.0, out=images)[:, None]


def _shape(image_shape: Sequence[int]) -> tuple[int, int]:
    if len(image_shape) != 2 or min(image_shape) < 8:
        raise ValueError(f"image_shape must be (height, width), both >= 8; got {image_shape!r}")
    return int(image_shape[0]), int(image_shape[1])


def _dead_leaves(n: int, h: int, w: int, n_leaves: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, h, w)`` float32 dead-leaves images with values in 0..1 (painter's algorithm).

    Most discs are small; they are painted inside a small patch around their centre, and only
    the few large ones touch the whole frame, which keeps this fast without loops over images.
    """
    r_min, r_max = max(1.0, h / 24), max(h, w) / 2
    u = rng.random((n, n_leaves))
    radius = ((r_min**-2 - u * (r_min**-2 - r_max**-2)) ** -0.5).astype(np.float32)
    c_row = rng.uniform(-0.25 * h, 1.25 * h, (n, n_leaves)).astype(np.float32)
    c_col = rng.uniform(-0.25 * w, 1.25 * w, (n, n_leaves)).astype(np.float32)
    value = rng.random((n, n_leaves)).astype(np.float32)
    background = rng.random(n).astype(np.float32)

    half = 4  # patch half-width for small discs
    offsets = np.arange(-half, half + 1)
    rows = np.arange(h, dtype=np.float32)
    cols = np.arange(w, dtype=np.float32)
    out = np.empty((n, h, w), np.float32)
    chunk = 1024
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        img = np.repeat(background[start:stop], h * w).reshape(stop - start, h, w)
        flat = img.reshape(-1)
        base = np.arange(stop - start) * (h * w)
        for k in range(n_leaves):
            r, cr, cc = radius[start:stop, k], c_row[start:stop, k], c_col[start:stop, k]
            v = value[start:stop, k]
            small = r <= half - 0.5
            i = np.flatnonzero(small)
            pr = np.rint(cr[i]).astype(np.int64)[:, None] + offsets
            pc = np.rint(cc[i]).astype(np.int64)[:, None] + offsets
            inside = (pr - cr[i, None])[:, :, None] ** 2 + (pc - cc[i, None])[:, None, :] ** 2 < (
                r[i, None, None] ** 2
            )
            inside &= ((pr >= 0) & (pr < h))[:, :, None] & ((pc >= 0) & (pc < w))[:, None, :]
            index = base[i, None, None] + pr[:, :, None] * w + pc[:, None, :]
            flat[index[inside]] = np.broadcast_to(v[i, None, None], inside.shape)[inside]
            j = np.flatnonzero(~small)
            if j.size:
                d2 = ((rows - cr[j, None]) ** 2)[:, :, None] + ((cols - cc[j, None]) ** 2)[:, None]
                img[j] = np.where(d2 < (r[j] ** 2)[:, None, None], v[j, None, None], img[j])
        out[start:stop] = img
    return out


def _shade_and_blur(images: np.ndarray, blur_sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Multiply by a smooth 1/f illumination field and blur with a Gaussian, in place.

    FFTs in float32, 1024 images at a time to bound memory.
    """
    n, h, w = images.shape
    f_row = torch.fft.fftfreq(h)[:, None]
    f_col = torch.fft.rfftfreq(w)[None, :]
    f = torch.sqrt(f_row**2 + f_col**2)
    # illumination: random spectrum with 1/f amplitude at large scales (< 4 cycles per image)
    amplitude = torch.where((f > 0) & (f < 4.0 / max(h, w)), 1.0 / f.clamp_min(1e-9), 0.0)
    transfer = torch.exp(-2.0 * (math.pi * blur_sigma * f) ** 2)
    coefficients = torch.from_numpy(rng.standard_normal((n, h, w // 2 + 1, 2), dtype=np.float32))
    for start in range(0, n, 1024):
        chunk = slice(start, start + 1024)
        light = torch.fft.irfft2(torch.view_as_complex(coefficients[chunk]) * amplitude, s=(h, w))
        light = light / light.std(dim=(1, 2), keepdim=True).clamp_min(1e-9)
        shaded = torch.from_numpy(images[chunk]) * torch.exp(0.15 * light)
        if blur_sigma > 0:
            shaded = torch.fft.irfft2(torch.fft.rfft2(shaded) * transfer, s=(h, w))
        images[chunk] = shaded.numpy()
    return images


def _photos() -> list[np.ndarray]:
    """Grey versions (float32, 0..255) of the photographs that ship with installed packages."""
    import matplotlib
    from PIL import Image

    paths = [Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"]
    sklearn = importlib.util.find_spec("sklearn")  # located, not imported (slow import)
    if sklearn is not None and sklearn.origin:
        folder = Path(sklearn.origin).parent / "datasets" / "images"
        paths += [folder / "china.jpg", folder / "flower.jpg"]
    photos = [np.asarray(Image.open(p).convert("L"), dtype=np.float32) for p in paths if p.exists()]
    if not photos:
        raise FileNotFoundError(
            "No sample photographs found (matplotlib's mpl-data/sample_data/grace_hopper.jpg, "
            "scikit-learn's datasets/images/*.jpg). Use photo_fraction=0."
        )
    return photos


def _photo_crops(n: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, h, w)`` random crops of the sample photographs, scaled to about 0..1."""
    import torch.nn.functional as F

    out = np.empty((n, h, w), np.float32)
    photos = _photos()
    which = rng.integers(len(photos), size=n)
    zoom = rng.uniform(1.0, 1.5, size=n)
    pos = rng.random((n, 2))
    flip = rng.random(n) < 0.5
    for p, photo in enumerate(photos):
        idx = np.flatnonzero(which == p)
        if idx.size == 0:
            continue
        # shrink (antialiased) to 1.6x the target size, then crop 1-1.5x the target size by
        # bilinear sampling on per-crop affine grids
        scale = 1.6 * max(h / photo.shape[0], w / photo.shape[1])
        size = (int(photo.shape[0] * scale), int(photo.shape[1] * scale))
        src = F.interpolate(
            torch.from_numpy(photo)[None, None], size=size, mode="bilinear", antialias=True
        )
        theta = torch.zeros(idx.size, 2, 3)
        span_col = torch.as_tensor(zoom[idx] * w / size[1], dtype=torch.float32)
        span_row = torch.as_tensor(zoom[idx] * h / size[0], dtype=torch.float32)
        sign = torch.as_tensor(np.where(flip[idx], -1.0, 1.0), dtype=torch.float32)
        theta[:, 0, 0] = span_col * sign
        theta[:, 1, 1] = span_row
        theta[:, 0, 2] = torch.as_tensor(2 * pos[idx, 1] - 1, dtype=torch.float32) * (1 - span_col)
        theta[:, 1, 2] = torch.as_tensor(2 * pos[idx, 0] - 1, dtype=torch.float32) * (1 - span_row)
        grid = F.affine_grid(theta, [idx.size, 1, h, w], align_corners=False)
        crops = F.grid_sample(src.expand(idx.size, -1, -1, -1), grid, align_corners=False)
        out[idx] = crops[:, 0].numpy() / 255.0
    return out


# ----------------------------------------------------------------------------------------------
# Gabor filters
# ----------------------------------------------------------------------------------------------
def gabor(
    image_shape: tuple[int, int],
    orientation_deg: ArrayLike,
    spatial_frequency: ArrayLike,
    phase_deg: ArrayLike = 0.0,
    sigma: ArrayLike = 4.0,
    center: ArrayLike | None = None,
    *,
    aspect_ratio: ArrayLike = 1.0,
    normalize: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Batched Gabor filters, the receptive fields of the digital V1's neurons.

    ``A exp(-(v**2 + (u / aspect_ratio)**2) / (2 sigma**2)) cos(2 pi f v + phase)`` with ``u``
    along and ``v`` across the stripes (the same function as
    :func:`artiphys_course.stimuli.make_gabors`, without a mean and with one channel).

    Parameters
    ----------
    image_shape : (int, int)
        ``(height, width)`` of the pixel grid the filters are sampled on.
    orientation_deg : float or (n,)
        Stripe orientation, degrees counter-clockwise from horizontal (0 = horizontal stripes).
    spatial_frequency : float or (n,)
        Cycles per pixel.
    phase_deg : float or (n,)
        Phase at the centre: 0 = a bright stripe through the centre (even, ON), 90 = odd.
    sigma : float or (n,)
        Envelope standard deviation across the stripes, in pixels.
    center : (2,) or (n, 2), optional
        ``(row, col)`` of the centre in pixels (may lie off the grid); default the grid centre.
    aspect_ratio : float or (n,)
        Envelope standard deviation along the stripes divided by ``sigma``.
    normalize : bool
        If True, ``A`` makes the *continuous* filter have unit L2 norm,
        ``A = (pi sigma_u sigma_v (1 + exp(-4 pi**2 f**2 sigma**2) cos(2 phase)) / 2) ** -0.5``,
        so the sum of squares over an unbounded pixel grid is ~1 whatever the position, and
        filters cut by the image border are correspondingly weaker. If False, ``A = 1``.
    device, dtype
        Of the returned tensor.

    Returns
    -------
    torch.Tensor
        ``(n, H, W)``.
    """
    h, w = _shape(image_shape)
    out = make_gabors(
        (h, w),
        orientation_deg,
        spatial_frequency,
        phase_deg,
        sigma,
        center,
        aspect_ratio=aspect_ratio,
        device=device,
        dtype=dtype,
    )[:, 0]
    if normalize:
        sf, phase, sig, aspect = (
            torch.as_tensor(v, dtype=dtype, device=out.device).reshape(-1)
            for v in (spatial_frequency, phase_deg, sigma, aspect_ratio)
        )
        ripple = torch.exp(-4 * math.pi**2 * sf**2 * sig**2) * torch.cos(2 * torch.deg2rad(phase))
        amplitude = (math.pi * sig**2 * aspect * (1 + ripple) / 2) ** -0.5
        out = out * amplitude.reshape(-1, 1, 1)
    return out


# ----------------------------------------------------------------------------------------------
# Neurons and the generative model
# ----------------------------------------------------------------------------------------------
@dataclass(eq=False)
class NeuronParams:
    """Ground-truth parameters of the digital V1's neurons, one entry per neuron.

    Every field is an ``np.ndarray`` of length ``n``. Positions are pixel ``(row, col)``;
    orientations follow the package convention (stripes, counter-clockwise from horizontal).

    Attributes
    ----------
    cell_type : (n,) str
        ``"simple"``: ``rate = baseline + gain * max(drive, 0) ** exponent``;
        ``"complex"``: ``rate = baseline + gain * (drive_even**2 + drive_odd**2) ** (exponent/2)``
        (quadrature-pair energy of the Gabors at ``phase_deg`` and ``phase_deg + 90``).
    rf_center : (n, 2) float32
        Receptive-field centre ``(row, col)`` in pixels at zero eye shift.
    orientation_deg : (n,) float32
        Preferred orientation in [0, 180).
    spatial_frequency : (n,) float32
        Cycles per pixel.
    phase_deg : (n,) float32
        Gabor phase in [0, 360) (for complex cells: of the even filter of the pair).
    sigma : (n,) float32
        Envelope standard deviation across the stripes, pixels.
    gain : (n,) float32
        Multiplies the rectified drive (spikes per trial per unit drive**exponent).
    aspect_ratio : (n,) float32
        Envelope s.d. along the stripes / ``sigma``.
    exponent : (n,) float32
        Power-law exponent of the output nonlinearity.
    baseline : (n,) float32
        Spontaneous rate (expected count per trial with a blank grey screen), > 0.
    """

    cell_type: np.ndarray
    rf_center: np.ndarray
    orientation_deg: np.ndarray
    spatial_frequency: np.ndarray
    phase_deg: np.ndarray
    sigma: np.ndarray
    gain: np.ndarray
    aspect_ratio: np.ndarray
    exponent: np.ndarray
    baseline: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.cell_type)
        for f in fields(self):
            value = np.asarray(getattr(self, f.name))
            expected = (n, 2) if f.name == "rf_center" else (n,)
            if value.shape != expected:
                raise ValueError(
                    f"NeuronParams.{f.name} must have shape {expected}, got {value.shape}"
                )
            if f.name != "cell_type":
                value = value.astype(np.float32)
            setattr(self, f.name, value)
        bad = set(np.unique(self.cell_type).tolist()) - {"simple", "complex"}
        if bad:
            raise ValueError(f"cell_type must be 'simple' or 'complex', got {sorted(bad)}")

    def __len__(self) -> int:
        return len(self.cell_type)

    @property
    def is_complex(self) -> np.ndarray:
        """``(n,)`` bool, True for complex cells."""
        return self.cell_type == "complex"

    def select(self, index: int | slice | Sequence[int] | np.ndarray) -> NeuronParams:
        """The parameters of a subset of neurons (e.g. to build a small model of a few cells)."""
        index = np.atleast_1d(np.arange(len(self))[index])
        return NeuronParams(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


class DigitalV1Model(nn.Module):
    """The digital V1 as a differentiable ``nn.Module``: images (and eye shifts) -> expected rates.

    Parameters
    ----------
    neurons : NeuronParams
        The ground-truth parameters (``DigitalV1.neurons``).
    image_shape : (int, int)
        ``(height, width)`` of the images.
    max_shift : float
        Largest eye shift (pixels, per axis) for which the RF translation is exact (see below).
    taper_width : int
        Pixels over which the filters fall smoothly to zero beyond ``max_shift``.

    Notes
    -----
    **Response.** The contrast image ``c = (image - 127.5) / 127.5`` is projected onto each
    neuron's Gabor filter(s) (a matrix product with the ``(n, H, W)`` filter bank) and passed
    through the nonlinearity of its :class:`NeuronParams` cell type; the rate is
    ``baseline + gain * nonlinearity``, always > 0.

    **Eye shift.** A shift ``s = (d_row, d_col)`` moves every receptive field by ``s`` pixels:
    ``drive(c, s) = sum_x g(x - s) c(x)``. It is computed on the image side, which costs one
    FFT per image instead of one filter bank per trial: the contrast image is zero-padded (grey
    screen) to a canvas with ``max_shift + taper_width`` extra pixels per side (odd sizes, so no
    Nyquist bin), translated by ``-s`` with the Fourier shift theorem, and projected onto the
    filters sampled on the whole canvas, tapered to zero at its border by a raised cosine that
    is 1 within ``max_shift`` of the image. By Parseval this equals projecting the original
    image onto the band-limited (trigonometric) translate of the tapered filter, which on the
    image equals the Gabor sampled at the shifted coordinates whenever ``|s| <= max_shift``
    per axis (relative error < 1e-4, the tapered Gabors being smooth); larger shifts are
    progressively attenuated by the taper. ``eye_shift=None`` skips the FFT and uses the
    filters on the image grid, identical to a zero shift.
    """

    def __init__(
        self,
        neurons: NeuronParams,
        image_shape: tuple[int, int] = (36, 64),
        *,
        max_shift: float = 3.0,
        taper_width: int = 6,
    ) -> None:
        super().__init__()
        h, w = _shape(image_shape)
        if max_shift < 0 or taper_width < 1:
            raise ValueError("max_shift must be >= 0 and taper_width >= 1")
        self.image_shape = (h, w)
        self.neurons = neurons
        self.max_shift = float(max_shift)
        pad = int(math.ceil(max_shift)) + int(taper_width)
        self.pad = pad
        canvas = (h + 2 * pad + (1 - h % 2), w + 2 * pad + (1 - w % 2))  # odd sizes
        self.canvas_shape = canvas

        complex_idx = np.flatnonzero(neurons.is_complex)
        # filter bank rows: the even Gabor of every neuron, then the odd partner of complex cells
        rows = np.concatenate([np.arange(len(neurons)), complex_idx])
        phase = np.concatenate([neurons.phase_deg, neurons.phase_deg[complex_idx] + 90.0])
        bank = gabor(
            canvas,
            neurons.orientation_deg[rows],
            neurons.spatial_frequency[rows],
            phase,
            neurons.sigma[rows],
            neurons.rf_center[rows] + pad,
            aspect_ratio=neurons.aspect_ratio[rows],
        )
        taper = torch.outer(
            _taper(canvas[0], pad, pad + h, max_shift), _taper(canvas[1], pad, pad + w, max_shift)
        )
        bank = bank * taper
        # flush the envelope's far tails (< 1e-12 of the peak, many of them denormal floats,
        # which slow matrix products down many-fold) to exact zeros
        bank = torch.where(bank.abs() < 1e-12 * bank.abs().amax(), 0.0, bank)
        self.register_buffer("canvas_filters", bank.reshape(len(rows), -1))
        window = bank[:, pad : pad + h, pad : pad + w]
        self.register_buffer("window_filters", window.reshape(len(rows), -1).contiguous())
        self.register_buffer("complex_index", torch.as_tensor(complex_idx, dtype=torch.long))
        self.register_buffer("exponent", torch.as_tensor(neurons.exponent))
        self.register_buffer("gain", torch.as_tensor(neurons.gain))
        self.register_buffer("baseline", torch.as_tensor(neurons.baseline))
        self.register_buffer("is_complex", torch.as_tensor(neurons.is_complex))

    @property
    def n_neurons(self) -> int:
        return len(self.neurons)

    @property
    def filters(self) -> torch.Tensor:
        """``(n + n_complex, H, W)``: every neuron's even filter, then complex cells' odd ones."""
        return self.window_filters.reshape(-1, *self.image_shape)

    def linear_drive(
        self, images: torch.Tensor, eye_shift: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Projections of the contrast images on the filter bank, ``(B, n + n_complex)``."""
        h, w = self.image_shape
        if images.ndim != 4 or images.shape[1] != 1 or tuple(images.shape[2:]) != (h, w):
            raise ValueError(
                f"images must be (batch, 1, {h}, {w}) grey levels 0..255; got {tuple(images.shape)}"
            )
        bank = self.canvas_filters
        contrast = (images[:, 0].to(bank.dtype) - GREY) / GREY
        if eye_shift is None:
            return contrast.reshape(len(images), -1) @ self.window_filters.T
        eye_shift = torch.as_tensor(eye_shift, dtype=bank.dtype, device=bank.device)
        if eye_shift.shape != (len(images), 2):
            raise ValueError(
                f"eye_shift must be (batch, 2) = ({len(images)}, 2) pixel shifts (row, col); "
                f"got {tuple(eye_shift.shape)}"
            )
        hc, wc = self.canvas_shape
        canvas = torch.nn.functional.pad(
            contrast, (self.pad, wc - w - self.pad, self.pad, hc - h - self.pad)
        )
        f_row = torch.fft.fftfreq(hc, device=bank.device, dtype=bank.dtype)
        f_col = torch.fft.rfftfreq(wc, device=bank.device, dtype=bank.dtype)
        # c_shifted(x) = c(x + s): multiply the spectrum by exp(+2 pi i f.s) (separable)
        angle_row = 2 * math.pi * f_row[None, :] * eye_shift[:, :1]
        angle_col = 2 * math.pi * f_col[None, :] * eye_shift[:, 1:]
        ramp_row = torch.complex(torch.cos(angle_row), torch.sin(angle_row))
        ramp_col = torch.complex(torch.cos(angle_col), torch.sin(angle_col))
        spectrum = torch.fft.rfft2(canvas) * ramp_row[:, :, None] * ramp_col[:, None, :]
        shifted = torch.fft.irfft2(spectrum, s=(hc, wc))
        return shifted.reshape(len(images), -1) @ bank.T

    def driven_response(
        self, images: torch.Tensor, eye_shift: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The nonlinearity before gain and baseline, ``(B, n)`` (rate = baseline + gain * this)."""
        drive = self.linear_drive(images, eye_shift)
        n = self.n_neurons
        even = drive[:, :n]
        simple = torch.relu(even).pow(self.exponent)
        if len(self.complex_index) == 0:
            return simple
        energy = even[:, self.complex_index] ** 2 + drive[:, n:] ** 2
        complex_response = energy.clamp_min(1e-20).pow(self.exponent[self.complex_index] / 2)
        return simple.index_copy(1, self.complex_index, complex_response)

    def forward(self, images: torch.Tensor, eye_shift: torch.Tensor | None = None) -> torch.Tensor:
        """Expected responses (counts per trial).

        Parameters
        ----------
        images : torch.Tensor
            ``(B, 1, H, W)`` grey levels 0..255 (differentiable).
        eye_shift : torch.Tensor, optional
            ``(B, 2)`` RF shift ``(d_row, d_col)`` in pixels per image; None = no shift.

        Returns
        -------
        torch.Tensor
            ``(B, n_neurons)`` expected rates, > 0.
        """
        return self.baseline + self.gain * self.driven_response(images, eye_shift)


def _taper(size: int, start: int, stop: int, margin: float) -> torch.Tensor:
    """1 on ``[start - margin, stop - 1 + margin]``, raised cosine to 0 at the array ends."""
    x = torch.arange(size, dtype=torch.float64)
    dist = torch.clamp(torch.maximum(start - margin - x, x - (stop - 1 + margin)), min=0)
    width = start - margin  # distance from the flat part to the array edge
    t = torch.clamp(dist / width, max=1.0)
    return (0.5 * (1 + torch.cos(math.pi * t))).to(torch.float32)


# ----------------------------------------------------------------------------------------------
# Noise
# ----------------------------------------------------------------------------------------------
def sample_responses(
    rates: np.ndarray, *, gain_cv: float = 0.2, seed: int | np.random.Generator = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy counts from expected rates: a shared trial gain times Poisson noise.

    On trial ``t`` a gain ``G_t ~ Gamma(shape=1 / gain_cv**2, scale=gain_cv**2)`` (mean 1,
    coefficient of variation ``gain_cv``) multiplies every neuron's rate (a shared modulation,
    as arousal or anaesthesia state would cause), then ``r_ti ~ Poisson(G_t rate_ti)``, drawn
    by inverting the Poisson CDF with one uniform per draw (robust to last-bit differences in
    the rates between machines). So
    ``E[r | rate] = rate`` and ``Var[r | rate] = rate + gain_cv**2 rate**2``
    (Fano factor ``1 + gain_cv**2 rate``).

    Parameters
    ----------
    rates : np.ndarray
        ``(n_trials, n_neurons)`` expected counts, >= 0.
    gain_cv : float
        Coefficient of variation of the shared gain (0 = pure Poisson).
    seed : int or np.random.Generator

    Returns
    -------
    responses : np.ndarray
        ``(n_trials, n_neurons)`` float32 counts.
    trial_gain : np.ndarray
        ``(n_trials,)`` float32 the gains ``G_t``.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 2 or np.any(rates < 0) or not np.all(np.isfinite(rates)):
        raise ValueError(
            f"rates must be finite, >= 0, of shape (n_trials, n_neurons); got {rates.shape}"
        )
    if gain_cv < 0:
        raise ValueError(f"gain_cv must be >= 0, got {gain_cv}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if gain_cv > 0:
        gain = rng.gamma(1.0 / gain_cv**2, gain_cv**2, size=len(rates))
    else:
        gain = np.ones(len(rates))
    responses = _poisson_by_inversion(rates * gain[:, None], rng)
    return responses.astype(np.float32), gain.astype(np.float32)


def _poisson_by_inversion(mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts from one uniform per draw, by inverting the cumulative distribution.

    Unlike ``rng.poisson`` (rejection sampling, which consumes a variable number of random
    numbers), a change of a mean in its last bits changes at most that one draw and only if its
    uniform sits at a step of the CDF, so the data do not depend on the BLAS / device that
    computed the rates. Means above 500 (where ``exp(-mean)`` loses precision) fall back to
    ``rng.poisson``. Works through 2**18 draws at a time to bound memory.
    """
    flat_mean = mean.ravel()
    flat_u = rng.random(flat_mean.shape)
    counts = np.zeros(flat_mean.shape, np.int64)
    for start in range(0, len(flat_mean), 2**18):
        index = np.arange(start, min(start + 2**18, len(flat_mean)))
        index = index[flat_mean[index] <= 500]
        m, target = flat_mean[index], flat_u[index]
        p = np.exp(-m)  # P(count = 0)
        cdf = p.copy()
        k = 0
        while index.size:
            done = (cdf > target) | (k > m + 12 * np.sqrt(m) + 20)  # second term: rounding guard
            counts[index[done]] = k
            keep = ~done
            index, m, target, p, cdf = index[keep], m[keep], target[keep], p[keep], cdf[keep]
            k += 1
            p = p * m / k
            cdf = cdf + p
    large = np.flatnonzero(flat_mean > 500)
    if large.size:
        counts[large] = rng.poisson(flat_mean[large])
    return counts.reshape(mean.shape)


def noise_ceiling_from_rates(rates: np.ndarray, gain_cv: float = 0.0) -> np.ndarray:
    """Exact correlation between expected rates and single-trial responses, per neuron.

    For the noise model of :func:`sample_responses` (shared gamma gain with coefficient of
    variation ``k`` times Poisson), over trials whose expected rates ``lambda`` are the rows of
    ``rates`` (each trial equally likely)::

        Cov(lambda, r) = Var(lambda)
        Var(r)         = Var(lambda) + k**2 E[lambda**2] + E[lambda]
        ceiling        = corr(lambda, r) = sqrt(Var(lambda) / Var(r))

    (with ``k = 0``: ``sqrt(Var / (Var + mean))``, the Poisson ceiling). No model that sees
    only the stimulus on a trial can correlate better with single-trial responses on average.

    Parameters
    ----------
    rates : np.ndarray
        ``(n_trials, n_neurons)`` expected rates.
    gain_cv : float
        Coefficient of variation ``k`` of the shared trial gain.

    Returns
    -------
    np.ndarray
        ``(n_neurons,)`` in [0, 1); 0 for neurons whose rate never changes.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 2:
        raise ValueError(f"rates must be (n_trials, n_neurons); got shape {rates.shape}")
    var = rates.var(axis=0)
    total = _response_variance(rates, gain_cv)
    return np.sqrt(np.divide(var, total, out=np.zeros_like(var), where=total > 0))


def _response_variance(rates: np.ndarray, gain_cv: float) -> np.ndarray:
    """``Var(r) = Var(lambda) + gain_cv**2 E[lambda**2] + E[lambda]`` over the rows of ``rates``."""
    rates = np.asarray(rates, dtype=np.float64)
    return rates.var(axis=0) + gain_cv**2 * (rates**2).mean(axis=0) + rates.mean(axis=0)


def fano_factor(responses_by_image: np.ndarray) -> np.ndarray:
    """Mean Fano factor (variance / mean over repeats) of each neuron.

    Parameters
    ----------
    responses_by_image : np.ndarray
        ``(n_images, n_repeats, n_neurons)`` responses to repeated images (``n_repeats >= 2``).

    Returns
    -------
    np.ndarray
        ``(n_neurons,)``: the unbiased variance over repeats (``ddof=1``) divided by the mean,
        averaged over the images with a positive mean (NaN for a neuron that never responds).
    """
    x = np.asarray(responses_by_image, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(
            f"responses_by_image must be (n_images, n_repeats >= 2, n_neurons); got {x.shape}"
        )
    mean = x.mean(axis=1)
    var = x.var(axis=1, ddof=1)
    ratio = np.where(mean > 0, var / np.where(mean > 0, mean, 1.0), np.nan)
    with np.errstate(invalid="ignore"):
        counts = (mean > 0).sum(axis=0)
        return np.where(counts > 0, np.nansum(ratio, axis=0) / np.maximum(counts, 1), np.nan)


# ----------------------------------------------------------------------------------------------
# The digital V1
# ----------------------------------------------------------------------------------------------
@dataclass(eq=False)
class DigitalV1:
    """A simulated mouse-V1 recording with its complete ground truth.

    Create with :func:`make_digital_v1`. Trials are in recording order (tiers interleaved).

    Attributes
    ----------
    images : (n_images, 1, H, W) float32
        Grey levels 0..255: training images, then validation, then test images.
    trial_image_ids : (n_trials,) int64
        Row of ``images`` shown on each trial.
    tiers : (n_trials,) str
        ``"train"``, ``"validation"`` or ``"test"``; only test images are repeated.
    responses : (n_trials, n_neurons) float32
        Noisy responses (counts) from :func:`sample_responses`.
    true_rates : (n_trials, n_neurons) float32
        Expected response on each trial (given the image and the trial's eye shift):
        ``model(images[trial_image_ids], eye_shift)``.
    pupil_center : (n_trials, 2) float32
        Pupil position in eye-camera pixels ``(row, col)``: an affine function of ``eye_shift``
        (``pupil_affine``) plus a little tracking noise.
    eye_shift : (n_trials, 2) float32
        True shift of every receptive field on each trial, image pixels ``(d_row, d_col)``.
    cell_motor_coordinates : (n_neurons, 3) float32
        Cortical position ``(x, y, z)`` in micrometres (z = depth below the pia).
    neurons : NeuronParams
        Per-neuron ground truth.
    filters : (n_neurons, H, W) float32
        True linear filter of each neuron (complex cells: the even Gabor of the pair).
    model : DigitalV1Model
        The generative model, ``model(images, eye_shift) -> rates``.
    seed : int
    trial_gain : (n_trials,) float32
        The shared gain drawn on each trial.
    gain_cv : float
        Coefficient of variation of the shared gain.
    pupil_affine : (2, 3) float32
        ``pupil_center = eye_shift @ pupil_affine[:, :2].T + pupil_affine[:, 2]`` (+ noise).
    config : dict
        The arguments of :func:`make_digital_v1` that produced it.
    """

    images: np.ndarray
    trial_image_ids: np.ndarray
    tiers: np.ndarray
    responses: np.ndarray
    true_rates: np.ndarray
    pupil_center: np.ndarray
    eye_shift: np.ndarray
    cell_motor_coordinates: np.ndarray
    neurons: NeuronParams
    filters: np.ndarray
    model: DigitalV1Model
    seed: int
    trial_gain: np.ndarray
    gain_cv: float
    pupil_affine: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        counts = ", ".join(f"{t}: {int((self.tiers == t).sum())}" for t in _TIERS)
        return (
            f"DigitalV1({self.n_neurons} neurons, {len(self.images)} images of "
            f"{self.image_shape[0]}x{self.image_shape[1]}, {self.n_trials} trials ({counts}), "
            f"seed={self.seed})"
        )

    @property
    def n_neurons(self) -> int:
        return self.responses.shape[1]

    @property
    def n_trials(self) -> int:
        return self.responses.shape[0]

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)``."""
        return int(self.images.shape[2]), int(self.images.shape[3])

    def tier_mask(self, tier: str) -> np.ndarray:
        """``(n_trials,)`` bool, True on the trials of ``tier`` (train, validation, test)."""
        if tier not in _TIERS:
            raise KeyError(f"Unknown tier {tier!r}; choose one of {list(_TIERS)}")
        return self.tiers == tier

    def test_repeats(self, values: str = "responses") -> tuple[np.ndarray, np.ndarray]:
        """Test trials grouped by image.

        Parameters
        ----------
        values : str
            Which per-trial array to group: ``"responses"``, ``"true_rates"``, ``"eye_shift"``,
            ``"pupil_center"`` or ``"trial_gain"``.

        Returns
        -------
        image_ids : np.ndarray
            ``(n_test_images,)`` rows of ``images``, sorted.
        grouped : np.ndarray
            ``(n_test_images, n_repeats, ...)`` the values, repeats in recording order.
        """
        allowed = ("responses", "true_rates", "eye_shift", "pupil_center", "trial_gain")
        if values not in allowed:
            raise KeyError(f"Unknown values {values!r}; choose one of {list(allowed)}")
        trials = np.flatnonzero(self.tier_mask("test"))
        ids = self.trial_image_ids[trials]
        order = np.argsort(ids, kind="stable")
        image_ids, counts = np.unique(ids, return_counts=True)
        if np.any(counts != counts[0]):
            raise ValueError("test images have unequal numbers of repeats")
        array = getattr(self, values)[trials[order]]
        return image_ids, array.reshape(len(image_ids), counts[0], *array.shape[1:])

    def noise_ceiling(self, given: str = "trial", *, n_samples: int = 64) -> np.ndarray:
        """Exact single-trial correlation ceiling on the test trials, per neuron.

        Parameters
        ----------
        given : str
            ``"trial"`` (default): ``corr(true rate, response)`` over test trials, where the
            true rate knows the image *and* that trial's eye shift; analytic, see
            :func:`noise_ceiling_from_rates`::

                sqrt(Var(lambda) / (Var(lambda) + gain_cv**2 E[lambda**2] + E[lambda]))

            ``"image"``: the ceiling of a model that sees only the image (not the eye
            position), ``corr(mu, r) = sqrt(Var(mu) / Var(r))`` with
            ``mu(image) = E_shift[lambda]`` averaged over ``n_samples`` eye shifts drawn from
            the simulation's distribution (fixed seed, so deterministic); ``Var(r)`` as above.
            This is the quantity oracle correlations estimate from repeats.
        n_samples : int
            Eye shifts per test image for ``given="image"``.

        Returns
        -------
        np.ndarray
            ``(n_neurons,)``.
        """
        rates = self.true_rates[self.tier_mask("test")]
        ceiling = noise_ceiling_from_rates(rates, self.gain_cv)
        if given == "trial":
            return ceiling
        if given != "image":
            raise ValueError(f"given must be 'trial' or 'image', got {given!r}")
        image_ids, _ = self.test_repeats("true_rates")
        rng = np.random.default_rng(self.seed + 1)
        shift_sd = float(self.config.get("eye_shift_sd", 1.0))
        shifts = _draw_eye_shifts(len(image_ids) * n_samples, shift_sd, self.model.max_shift, rng)
        which = np.repeat(np.arange(len(image_ids)), n_samples)
        rows = image_ids[which]
        sums = np.zeros((len(image_ids), self.n_neurons))
        device = self.model.canvas_filters.device
        with torch.no_grad():
            for start in range(0, len(rows), 512):
                batch = slice(start, start + 512)
                rates_batch = self.model(
                    torch.from_numpy(self.images[rows[batch]]).to(device),
                    torch.from_numpy(shifts[batch]).to(device),
                )
                np.add.at(sums, which[batch], rates_batch.double().cpu().numpy())
        mu = sums / n_samples
        # Var(mu) over test trials (every image has the same number of repeats)
        var_r = _response_variance(rates, self.gain_cv)
        var_mu = mu.var(axis=0)
        return np.sqrt(np.clip(var_mu / var_r, 0.0, 1.0))


_TIERS = ("train", "validation", "test")


def _draw_eye_shifts(n: int, sd: float, limit: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(rng.normal(0.0, sd, size=(n, 2)), -limit, limit).astype(np.float32)


def _sample_neurons(
    n: int,
    image_shape: tuple[int, int],
    fraction_simple: float,
    rng: np.random.Generator,
) -> tuple[NeuronParams, np.ndarray]:
    """Random neuron parameters and cortical positions (gain and baseline filled in later)."""
    h, w = image_shape
    scale = h / 36  # sizes are set for 36 x 64 images and scale with the image height
    # cortex: an 800 x 500 um field of view, depth 150-350 um (layer 2/3)
    x = rng.uniform(0, 800, n)
    y = rng.uniform(0, 500, n)
    z = rng.choice([175.0, 225.0, 275.0, 325.0], size=n)
    # retinotopy: ~30 um per pixel, rotated 15 degrees, slightly curved, plus 1 px scatter
    um_per_px = 30.0 / scale
    a = math.radians(15.0)
    u, v = (x - 400) / um_per_px, (y - 250) / um_per_px
    col = (w - 1) / 2 + u * math.cos(a) - v * math.sin(a)
    row = (h - 1) / 2 - (u * math.sin(a) + v * math.cos(a)) + 0.01 * u**2 / scale
    center = np.stack([row, col], axis=1) + rng.normal(0, 1.0 * scale, (n, 2))

    sf = np.exp(rng.uniform(np.log(0.06), np.log(0.16), n)) / scale
    sigma = np.clip(rng.uniform(0.3, 0.5, n) / sf, 1.5 * scale, 6.0 * scale)
    cell_type = np.where(rng.random(n) < fraction_simple, "simple", "complex").astype("<U7")
    params = NeuronParams(
        cell_type=cell_type,
        rf_center=center,
        orientation_deg=rng.uniform(0, 180, n),
        spatial_frequency=sf,
        phase_deg=rng.uniform(0, 360, n),
        sigma=sigma,
        gain=np.ones(n),
        aspect_ratio=rng.uniform(1.0, 1.6, n),
        exponent=rng.uniform(1.5, 2.5, n),
        baseline=np.zeros(n),
    )
    coords = np.stack([x, y, z], axis=1).astype(np.float32)
    return params, coords


def make_digital_v1(
    *,
    n_neurons: int = 500,
    image_shape: tuple[int, int] = (36, 64),
    n_train: int = 4000,
    n_validation: int = 500,
    n_test_images: int = 100,
    n_repeats: int = 10,
    seed: int = 0,
    fraction_simple: float = 0.5,
    mean_rate: float = 0.2,
    gain_cv: float = 0.2,
    eye_shift_sd: float = 1.0,
    max_shift: float = 3.0,
    photo_fraction: float = 0.0,
    progress: bool = False,
) -> DigitalV1:
    """Simulate a mouse-V1 recording with known ground truth (the course's default data).

    Parameters
    ----------
    n_neurons : int
        Number of neurons (a few hundred to ~1000 is typical).
    image_shape : (int, int)
        ``(height, width)`` of the images; neuron sizes scale with the height.
    n_train, n_validation : int
        Unique images shown once each in the training and validation tiers.
    n_test_images, n_repeats : int
        Unique test images, each shown ``n_repeats`` times.
    seed : int
        Everything (images, neurons, eye movements, noise) follows from it.
    fraction_simple : float
        Expected fraction of simple cells (the rest are complex cells).
    mean_rate : float
        Median over neurons of the mean driven rate on training trials (counts per trial);
        per-neuron means are log-normal around it. With ``gain_cv`` it sets the noise level:
        the defaults give single-trial noise ceilings like mouse V1 data (median ~0.5).
    gain_cv : float
        Coefficient of variation of the shared trial gain (:func:`sample_responses`).
    eye_shift_sd : float
        Standard deviation (pixels, per axis) of the trial-to-trial eye shift, clipped at
        ``max_shift``.
    max_shift : float
        Largest eye shift the model translates exactly (:class:`DigitalV1Model`).
    photo_fraction : float
        Fraction of images that are photo crops instead of dead leaves (:func:`make_images`).
    progress : bool
        Show a progress bar while computing the rates.

    Returns
    -------
    DigitalV1
        Data and ground truth. Generation of the default takes a few seconds on 2 CPU cores.
    """
    h, w = _shape(image_shape)
    for name, value in {
        "n_neurons": n_neurons,
        "n_train": n_train,
        "n_test_images": n_test_images,
    }.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if n_validation < 0 or n_repeats < 2:
        raise ValueError(
            f"n_validation must be >= 0 and n_repeats >= 2; got {n_validation}, {n_repeats}"
        )
    if not 0 <= fraction_simple <= 1 or mean_rate <= 0 or gain_cv < 0 or eye_shift_sd < 0:
        raise ValueError(
            "need 0 <= fraction_simple <= 1, mean_rate > 0, gain_cv >= 0, eye_shift_sd >= 0"
        )
    config = {
        "n_neurons": n_neurons,
        "image_shape": (h, w),
        "n_train": n_train,
        "n_validation": n_validation,
        "n_test_images": n_test_images,
        "n_repeats": n_repeats,
        "seed": seed,
        "fraction_simple": fraction_simple,
        "mean_rate": mean_rate,
        "gain_cv": gain_cv,
        "eye_shift_sd": eye_shift_sd,
        "max_shift": max_shift,
        "photo_fraction": photo_fraction,
    }
    rng = np.random.default_rng(seed)
    n_images = n_train + n_validation + n_test_images
    images = make_images(
        n_images, (h, w), seed=int(rng.integers(2**31)), photo_fraction=photo_fraction
    )

    # trials: each train/validation image once, each test image n_repeats times, shuffled
    image_ids = np.concatenate(
        [
            np.arange(n_train + n_validation),
            np.repeat(np.arange(n_train + n_validation, n_images), n_repeats),
        ]
    )
    tier_of_image = np.array(
        ["train"] * n_train + ["validation"] * n_validation + ["test"] * n_test_images
    )
    order = rng.permutation(len(image_ids))
    trial_image_ids = image_ids[order].astype(np.int64)
    tiers = tier_of_image[trial_image_ids].astype("<U10")
    n_trials = len(trial_image_ids)

    # eyes: RF shift per trial; the eye camera sees an affine image of it plus tracking noise
    eye_shift = _draw_eye_shifts(n_trials, eye_shift_sd, max_shift, rng)
    angle = math.radians(20.0)
    linear = 8.0 * np.array(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    )
    linear = linear @ np.diag([1.0, 1.2])
    pupil_affine = np.concatenate([linear, [[240.0], [320.0]]], axis=1).astype(np.float32)
    pupil_center = eye_shift @ pupil_affine[:, :2].T + pupil_affine[:, 2]
    pupil_center = (pupil_center + rng.normal(0, 0.2, size=(n_trials, 2))).astype(np.float32)

    neurons, coords = _sample_neurons(n_neurons, (h, w), fraction_simple, rng)
    model = DigitalV1Model(neurons, (h, w), max_shift=max_shift)
    driven = np.empty((n_trials, n_neurons), np.float32)
    batch = 512
    with torch.no_grad():
        for start in progress_bar(range(0, n_trials, batch), progress, desc="digital V1 rates"):
            idx = slice(start, start + batch)
            driven[idx] = model.driven_response(
                torch.from_numpy(images[trial_image_ids[idx]]), torch.from_numpy(eye_shift[idx])
            ).numpy()

    # gains: each neuron's mean driven rate on training trials is log-normal around mean_rate;
    # baselines are a small fraction of it
    target = mean_rate * np.exp(rng.normal(0.0, 0.5, n_neurons))
    mean_drive = driven[tiers == "train"].mean(axis=0).astype(np.float64)
    neurons.gain = (target / np.maximum(mean_drive, 1e-12)).astype(np.float32)
    neurons.baseline = (target * rng.uniform(0.05, 0.15, n_neurons)).astype(np.float32)
    model.gain.copy_(torch.from_numpy(neurons.gain))
    model.baseline.copy_(torch.from_numpy(neurons.baseline))
    true_rates = (model.baseline + model.gain * torch.from_numpy(driven)).numpy()

    responses, trial_gain = sample_responses(true_rates, gain_cv=gain_cv, seed=rng)
    return DigitalV1(
        images=images,
        trial_image_ids=trial_image_ids,
        tiers=tiers,
        responses=responses,
        true_rates=true_rates,
        pupil_center=pupil_center,
        eye_shift=eye_shift,
        cell_motor_coordinates=coords,
        neurons=neurons,
        filters=model.filters[:n_neurons].numpy().copy(),
        model=model.eval(),
        seed=seed,
        trial_gain=trial_gain,
        gain_cv=gain_cv,
        pupil_affine=pupil_affine,
        config=config,
    )


# ----------------------------------------------------------------------------------------------
# Orientation population (Stringer stand-in)
# ----------------------------------------------------------------------------------------------
@dataclass(eq=False)
class OrientationPopulation:
    """A simulated population of orientation-tuned neurons in the Stringer/Neuromatch format.

    Attributes
    ----------
    resp : (n_stimuli, n_neurons) float32
        Responses z-scored per neuron (over stimuli).
    stimuli : (n_stimuli,) float32
        Grating angle in degrees in [-90, 90], 0 = vertical (Neuromatch's convention).
    preferred_deg : (n_neurons,) float32
        True preferred angle, same convention, in [-90, 90).
    concentration : (n_neurons,) float32
        Von Mises concentration ``kappa`` (0 for untuned neurons).
    amplitude : (n_neurons,) float32
        Tuned response amplitude (0 for untuned neurons).
    baseline : (n_neurons,) float32
    stimulus_gain : (n_stimuli,) float32
        The shared gain drawn for each stimulus.
    noise_sd : float
        Standard deviation of the independent noise (before z-scoring).
    tuned : (n_neurons,) bool
    mean_response : (n_stimuli, n_neurons) float32
        Noise-free tuning curves (before z-scoring).
    """

    resp: np.ndarray
    stimuli: np.ndarray
    preferred_deg: np.ndarray
    concentration: np.ndarray
    amplitude: np.ndarray
    baseline: np.ndarray
    stimulus_gain: np.ndarray
    noise_sd: float
    tuned: np.ndarray
    mean_response: np.ndarray

    @property
    def n_neurons(self) -> int:
        return self.resp.shape[1]


def simulate_orientation_population(
    *,
    n_neurons: int = 2000,
    n_stimuli: int = 180,
    seed: int = 0,
    fraction_tuned: float = 0.8,
    gain_cv: float = 0.1,
    noise_sd: float = 0.5,
) -> OrientationPopulation:
    """Simulate orientation tuning curves like the binned Stringer et al. (2021) grating data.

    Neuron ``i`` responds to a grating at angle ``theta`` with
    ``g_s (b_i + a_i exp(kappa_i (cos(2 (theta - theta_i)) - 1))) + noise``: a von Mises
    bump periodic in **180** degrees (orientation, not direction, tuning: the real stimuli
    are drifting gratings over 360 degrees of direction, but Neuromatch's loader keeps
    directions <= 180 only, so a 180-periodic orientation model describes what students see;
    the stand-in has no direction selectivity). ``g_s`` is a gain shared by all neurons on
    stimulus ``s`` (coefficient of variation ``gain_cv``), the independent noise is Gaussian
    with s.d. ``noise_sd`` (the real binned responses are averages of several trials), and
    each neuron is finally z-scored. Heterogeneity: ``kappa`` log-normal (median 1.5),
    ``a`` log-normal, a fraction of untuned neurons.

    Parameters
    ----------
    n_neurons : int
        Neurons (the real data have 23,589; 2,000 keep notebooks light).
    n_stimuli : int
        Stimulus bins evenly covering [-90, 90] (bin centres; 180 = 1-degree bins).
    seed : int
    fraction_tuned : float
        Fraction of neurons with orientation tuning.
    gain_cv, noise_sd : float
        Shared-gain and independent noise levels.

    Returns
    -------
    OrientationPopulation
    """
    if n_neurons < 1 or n_stimuli < 2:
        raise ValueError(f"need n_neurons >= 1 and n_stimuli >= 2; got {n_neurons}, {n_stimuli}")
    if not 0 <= fraction_tuned <= 1 or gain_cv < 0 or noise_sd <= 0:
        raise ValueError("need 0 <= fraction_tuned <= 1, gain_cv >= 0 and noise_sd > 0")
    rng = np.random.default_rng(seed)
    stimuli = -90.0 + (np.arange(n_stimuli) + 0.5) * 180.0 / n_stimuli
    preferred = rng.uniform(-90.0, 90.0, n_neurons)
    tuned = rng.random(n_neurons) < fraction_tuned
    kappa = np.where(tuned, np.exp(rng.normal(np.log(1.5), 0.5, n_neurons)), 0.0)
    amplitude = np.where(tuned, np.exp(rng.normal(0.0, 0.4, n_neurons)), 0.0)
    baseline = np.exp(rng.normal(-1.0, 0.5, n_neurons))
    delta = np.deg2rad(stimuli[:, None] - preferred[None, :])
    mean = baseline + amplitude * np.exp(kappa * (np.cos(2 * delta) - 1))
    gain = rng.gamma(1 / gain_cv**2, gain_cv**2, n_stimuli) if gain_cv > 0 else np.ones(n_stimuli)
    noisy = gain[:, None] * mean + rng.normal(0.0, noise_sd, mean.shape)
    resp = (noisy - noisy.mean(axis=0)) / noisy.std(axis=0)
    return OrientationPopulation(
        resp=resp.astype(np.float32),
        stimuli=stimuli.astype(np.float32),
        preferred_deg=preferred.astype(np.float32),
        concentration=kappa.astype(np.float32),
        amplitude=amplitude.astype(np.float32),
        baseline=baseline.astype(np.float32),
        stimulus_gain=gain.astype(np.float32),
        noise_sd=float(noise_sd),
        tuned=tuned,
        mean_response=mean.astype(np.float32),
    )
