"""The digital V1's neurons: Gabor filters, their parameters, how they are drawn, the model.

* :func:`gabor`: batched Gabor filters, every simulated neuron's receptive field;
* :class:`NeuronParams`: the ground-truth parameters of a set of neurons;
* :class:`NeuronDistribution` and :func:`sample_neurons`: the one routine that draws random
  neurons, used by the digital V1 (:mod:`~artiphys_course.simulate.digital_v1`) and by the
  simulated higher areas (:mod:`~artiphys_course.simulate.higher_areas`);
* :class:`DigitalV1Model`: the generative model as a differentiable ``nn.Module`` (images and
  eye shifts -> expected rates), simple cells and quadrature-pair energy complex cells.

Orientation is the angle of the stripes, counter-clockwise on screen from horizontal, 0 =
horizontal, 90 = vertical, periodic in 180 degrees (as in :mod:`artiphys_course.stimuli`).

References
----------
Adelson & Bergen (1985) Spatiotemporal energy models, JOSA A 2:284 (complex cells).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn

from artiphys_course.simulate._checks import checked_image_shape
from artiphys_course.simulate.images import GREY
from artiphys_course.stimuli import make_gabors

__all__ = [
    "DRAWN",
    "DigitalV1Model",
    "NeuronDistribution",
    "NeuronParams",
    "gabor",
    "sample_neurons",
]

ArrayLike = float | Sequence[float] | np.ndarray | torch.Tensor


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
    h, w = checked_image_shape(image_shape)
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


#: The neuron parameters :func:`sample_neurons` draws at random (``NeuronDistribution.draw_order``
#: orders them).
DRAWN = (
    "spatial_frequency",
    "sigma",
    "cell_type",
    "orientation_deg",
    "phase_deg",
    "aspect_ratio",
    "exponent",
)


@dataclass(frozen=True)
class NeuronDistribution:
    """How :func:`sample_neurons` draws the parameters of random neurons.

    Orientation (uniform in [0, 180)), phase (uniform in [0, 360)) and the cell type (simple
    with probability ``fraction_simple``) have fixed distributions; the rest are set here.

    Attributes
    ----------
    spatial_frequency : (float, float)
        Range of the log-uniform spatial frequency, cycles per pixel (divided by ``scale``).
    cycles : (float, float)
        Range of the uniform ``sigma * spatial_frequency``: the envelope s.d. in stripe periods.
    sigma_bounds : (float, float)
        ``sigma`` is clipped to this range, pixels (multiplied by ``scale``).
    aspect_ratio : (float, float)
        Range of the uniform aspect ratio (envelope s.d. along / across the stripes).
    exponent : (float, float)
        Range of the uniform output exponent; equal bounds give that constant, drawing nothing.
    draw_order : tuple of str
        The order in which the parameters consume the random generator: a permutation of
        :data:`DRAWN` with ``"spatial_frequency"`` before ``"sigma"``. It is part of what a
        seed reproduces, so each simulation keeps the order its data were published with.
    """

    spatial_frequency: tuple[float, float]
    cycles: tuple[float, float]
    sigma_bounds: tuple[float, float]
    aspect_ratio: tuple[float, float]
    exponent: tuple[float, float]
    draw_order: tuple[str, ...] = DRAWN

    def __post_init__(self) -> None:
        for name in ("spatial_frequency", "cycles", "sigma_bounds", "aspect_ratio", "exponent"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be a range (low, high) with 0 < low <= high")
        order = tuple(self.draw_order)
        if sorted(order) != sorted(DRAWN) or order.index("sigma") < order.index(
            "spatial_frequency"
        ):
            raise ValueError(
                f"draw_order must order {DRAWN} with 'spatial_frequency' before 'sigma'; "
                f"got {order}"
            )


def sample_neurons(
    n: int,
    distribution: NeuronDistribution,
    rng: np.random.Generator,
    *,
    rf_center: np.ndarray,
    fraction_simple: float = 0.5,
    cell_type: np.ndarray | None = None,
    orientation_deg: np.ndarray | None = None,
    scale: float = 1.0,
) -> NeuronParams:
    """Draw the Gabor parameters of ``n`` random neurons (gain 1, baseline 0).

    The one neuron-sampling routine of the simulations: the digital V1
    (:func:`~artiphys_course.simulate.digital_v1.make_digital_v1`) and every simulated area
    (:func:`~artiphys_course.simulate.higher_areas.make_visual_hierarchy`) draw their neurons
    here, each with its own :class:`NeuronDistribution`.

    Parameters
    ----------
    n : int
        Number of neurons.
    distribution : NeuronDistribution
        Ranges of the random parameters and the order in which they are drawn.
    rng : np.random.Generator
        Consumed in ``distribution.draw_order``, skipping the parameters given below.
    rf_center : np.ndarray
        ``(n, 2)`` receptive-field centres ``(row, col)`` in pixels.
    fraction_simple : float
        Probability that a drawn neuron is a simple cell (else complex), in [0, 1].
    cell_type : np.ndarray, optional
        ``(n,)`` ``"simple"`` / ``"complex"``: given instead of drawn.
    orientation_deg : np.ndarray, optional
        ``(n,)`` orientations in degrees (taken modulo 180): given instead of drawn.
    scale : float
        Size scale (e.g. image height / 36): spatial frequencies are divided by it and the
        ``sigma`` bounds multiplied by it.

    Returns
    -------
    NeuronParams
        ``n`` neurons with ``gain`` 1 and ``baseline`` 0 (the caller calibrates both).
    """
    if not 0 <= fraction_simple <= 1:
        raise ValueError(f"fraction_simple must be in [0, 1], got {fraction_simple}")
    d = distribution
    given = {"cell_type": cell_type, "orientation_deg": orientation_deg}
    value: dict[str, np.ndarray] = {}

    def draw(name: str) -> np.ndarray:
        if name == "spatial_frequency":
            low, high = d.spatial_frequency
            return np.exp(rng.uniform(np.log(low), np.log(high), n)) / scale
        if name == "sigma":
            low, high = d.sigma_bounds
            return np.clip(
                rng.uniform(*d.cycles, n) / value["spatial_frequency"], low * scale, high * scale
            )
        if name == "cell_type":
            return np.where(rng.random(n) < fraction_simple, "simple", "complex").astype("<U7")
        if name == "orientation_deg":
            return rng.uniform(0, 180, n)
        if name == "phase_deg":
            return rng.uniform(0, 360, n)
        if name == "aspect_ratio":
            return rng.uniform(*d.aspect_ratio, n)
        low, high = d.exponent
        return np.full(n, low) if low == high else rng.uniform(low, high, n)

    for name in d.draw_order:
        value[name] = given[name] if given.get(name) is not None else draw(name)
    return NeuronParams(
        cell_type=value["cell_type"],
        rf_center=rf_center,
        orientation_deg=np.mod(value["orientation_deg"], 180.0),
        spatial_frequency=value["spatial_frequency"],
        phase_deg=value["phase_deg"],
        sigma=value["sigma"],
        gain=np.ones(n),
        aspect_ratio=value["aspect_ratio"],
        exponent=value["exponent"],
        baseline=np.zeros(n),
    )


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
        h, w = checked_image_shape(image_shape)
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
