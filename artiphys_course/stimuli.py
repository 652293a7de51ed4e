"""Parametric visual stimuli as batched tensors: bars, sinusoidal gratings and Gabor patches.

Every generator is vectorised: each parameter may be a scalar or a 1-D sequence of length ``B``
(broadcast against the others), and one call returns a ``(B, C, H, W)`` tensor.

Conventions (shared by the whole package)
-----------------------------------------
* Positions are pixel ``(row, col)``, origin at the top-left pixel, pixel centres at integers.
  The default centre is the image centre ``((H - 1) / 2, (W - 1) / 2)``.
* An orientation is the angle of a bar's long axis (or of a grating's / Gabor's stripes) in
  degrees, counter-clockwise as seen on screen from horizontal: 0 = horizontal, 90 = vertical,
  45 = rising to the right (``/``). Orientation is periodic in 180 degrees.

Bars are antialiased with a box filter: a pixel's value is the fraction of its area covered by
the bar (exact for axis-aligned bars, a close approximation for oblique ones), so sub-pixel
positions and widths change the image smoothly.

:class:`BarSet` describes a whole parameter grid (lengths x widths x orientations x polarities x
positions) in the style of the RF-mapping experiments of Pospisil, Pasupathy & Bair (2018, eLife
7:e38242) and draws any subset of it on demand, so tens of thousands of bars never have to sit in
memory at once. With ``color_pairs`` the polarity axis becomes colour pairs (a red bar on green,
a green bar on red, ...: the colour sets of the RF-mapping analyses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from artiphys_course import validation

__all__ = [
    "COLORS",
    "RFMAPPING_COLOR_PAIRS",
    "BarSet",
    "bar_coverage",
    "make_bar_set",
    "make_bars",
    "make_gabors",
    "make_gratings",
    "position_grid",
]

ArrayLike = float | Sequence[float] | np.ndarray | torch.Tensor

#: Named RGB colours in [0, 1]: black, white, the primaries and their opponents (complements).
COLORS: dict[str, tuple[float, float, float]] = {
    "black": (0.0, 0.0, 0.0),
    "white": (1.0, 1.0, 1.0),
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "cyan": (0.0, 1.0, 1.0),
    "magenta": (1.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
}
#: Foreground/background colour pairs of a colour bar set (each shown in both polarities):
#: luminance, the red-green and blue-yellow opponent axes, and each primary on its complement.
RFMAPPING_COLOR_PAIRS = ("white/black", "red/green", "blue/yellow", "red/cyan", "green/magenta")


def _pair_colors(pair: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """``"red/green"`` -> (red, green) RGB (foreground, background); KeyError names the colours."""
    names = pair.split("/")
    if len(names) != 2 or any(name not in COLORS for name in names):
        raise KeyError(
            f"colour pair {pair!r} must be 'foreground/background' with colours from "
            f"{sorted(COLORS)}"
        )
    return COLORS[names[0]], COLORS[names[1]]


def _params(
    *, device: torch.device | str | None, dtype: torch.dtype, **values: ArrayLike
) -> list[torch.Tensor]:
    """Broadcast scalar / 1-D parameters (given as ``name=value``) to a common 1-D length ``B``.

    Every value must be finite, and the lengths must be 1 or one common ``B``.
    """
    tensors = {}
    for name, v in values.items():
        validation.finite(v, name)
        t = torch.as_tensor(v, dtype=dtype, device=device)
        if t.ndim > 1:
            raise ValueError(
                f"{name} must be a scalar or a 1-D sequence, got shape {tuple(t.shape)}"
            )
        tensors[name] = t.reshape(-1)
    lengths = {name: len(t) for name, t in tensors.items() if len(t) != 1}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"stimulus parameters must have length 1 or one common length B, got lengths {lengths}"
        )
    return [t.reshape(-1) for t in torch.broadcast_tensors(*tensors.values())]


def _centres(
    center: ArrayLike | None, h: int, w: int, n: int, device, dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre rows and columns, ``(1,)`` or ``(n,)`` each (``n`` stimuli); default the middle."""
    if center is None:
        return (
            torch.tensor([(h - 1) / 2], dtype=dtype, device=device),
            torch.tensor([(w - 1) / 2], dtype=dtype, device=device),
        )
    validation.finite(center, "center")
    c = torch.as_tensor(center, dtype=dtype, device=device)
    if c.shape[-1:] != (2,) or c.ndim > 2:
        raise ValueError(
            f"center must be (row, col) or an array of shape (B, 2), got {tuple(c.shape)}"
        )
    c = c.reshape(-1, 2)
    if len(c) != 1 and n != 1 and len(c) != n:
        raise ValueError(
            f"center must give one (row, col) or one per stimulus (B = {n}), got {len(c)}"
        )
    return c[:, 0], c[:, 1]


def _rotated_coordinates(
    h: int,
    w: int,
    row0: torch.Tensor,
    col0: torch.Tensor,
    orientation_deg: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates along (``u``) and across (``v``) an orientation, shape ``(B, H, W)``.

    ``u`` runs along the direction at ``orientation_deg`` (d_row, d_col) = (-sin t, cos t);
    ``v`` runs along the direction 90 degrees counter-clockwise from it.
    """
    dtype, device = orientation_deg.dtype, orientation_deg.device
    rows = torch.arange(h, dtype=dtype, device=device).view(1, h, 1)
    cols = torch.arange(w, dtype=dtype, device=device).view(1, 1, w)
    dx = cols - col0.view(-1, 1, 1)  # rightwards
    dy = row0.view(-1, 1, 1) - rows  # upwards on screen
    t = torch.deg2rad(orientation_deg).view(-1, 1, 1)
    cos, sin = torch.cos(t), torch.sin(t)
    u = dx * cos + dy * sin
    v = dy * cos - dx * sin
    return u, v


def bar_coverage(
    image_shape: int | Sequence[int],
    orientation_deg: ArrayLike,
    length: ArrayLike,
    width: ArrayLike,
    center: ArrayLike | None = None,
    *,
    antialias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The fraction of each pixel covered by a bar: 1 inside, 0 outside (bars on a zero background).

    Parameters
    ----------
    image_shape : int or (height, width)
        Image height and width in pixels (an int for a square image).
    orientation_deg : float or (B,) array
        Orientation of the bar's long axis in degrees (0 horizontal, 90 vertical, 45 = ``/``).
    length, width : float or (B,) array
        Bar length (along its axis) and width in pixels; ``width <= length`` is not required.
    center : (row, col) or (B, 2) array, optional
        Bar centre in pixels; default the image centre.
    antialias : bool
        Box-filter the edges (default). With False a pixel is 1 when its centre lies inside.
    device, dtype
        Where and in which floating type to build the tensor.

    Returns
    -------
    torch.Tensor
        ``(B, H, W)`` values in [0, 1].
    """
    h, w = validation.image_shape(image_shape)
    ori, length, width = _params(
        device=device, dtype=dtype, orientation_deg=orientation_deg, length=length, width=width
    )
    row0, col0 = _centres(center, h, w, len(ori), device, dtype)
    ori, length, width, row0, col0 = torch.broadcast_tensors(ori, length, width, row0, col0)
    if torch.any(length < 0) or torch.any(width < 0):
        raise ValueError("bar length and width must be non-negative")
    u, v = _rotated_coordinates(h, w, row0, col0, ori)
    half_l = length.view(-1, 1, 1) / 2
    half_w = width.view(-1, 1, 1) / 2
    if not antialias:
        return ((u.abs() <= half_l) & (v.abs() <= half_w)).to(dtype)
    # coverage = clamp(L/2 + 1/2 - |u|, 0, 1) * clamp(W/2 + 1/2 - |v|, 0, 1), in place (fast)
    along = u.abs_().neg_().add_(half_l + 0.5).clamp_(0.0, 1.0)
    across = v.abs_().neg_().add_(half_w + 0.5).clamp_(0.0, 1.0)
    return along.mul_(across)


def _values(value: ArrayLike, name: str, device, dtype) -> torch.Tensor:
    """A per-bar (B,), colour (1, C) or per-bar colour (B, C) value as (B|1, C|1, 1, 1)."""
    validation.finite(value, name)
    t = torch.as_tensor(value, dtype=dtype, device=device)
    if t.ndim == 0:
        t = t.view(1, 1)
    elif t.ndim == 1:
        t = t.view(-1, 1)
    elif t.ndim != 2:
        raise ValueError(
            f"{name} must be a scalar, a (B,) array or a (B, C) / (1, C) array of colours, "
            f"got shape {tuple(t.shape)}"
        )
    return t[:, :, None, None]


def _compose(
    pattern: torch.Tensor,
    channels: int,
    foreground: ArrayLike,
    background: ArrayLike,
    device,
    dtype,
) -> torch.Tensor:
    channels = validation.integer(channels, "channels", minimum=1)
    fg = _values(foreground, "foreground", device, dtype)
    bg = _values(background, "background", device, dtype)
    for t, name in ((fg, "foreground"), (bg, "background")):
        if t.shape[1] not in (1, channels):
            raise ValueError(
                f"{name} has {t.shape[1]} colour values but the image has {channels} channels"
            )
    for t, name in ((fg, "foreground"), (bg, "background")):
        if t.shape[0] not in (1, len(pattern)) and len(pattern) != 1:
            raise ValueError(
                f"{name} has {t.shape[0]} rows but there are {len(pattern)} stimuli "
                "(give one value, one colour (1, C), or one per stimulus)"
            )
    p = pattern[:, None]
    out = bg + p * (fg - bg)
    return out.expand(-1, channels, -1, -1).contiguous() if out.shape[1] == 1 else out


def make_bars(
    image_shape: int | Sequence[int],
    orientation_deg: ArrayLike,
    length: ArrayLike,
    width: ArrayLike,
    center: ArrayLike | None = None,
    *,
    foreground: ArrayLike = 1.0,
    background: ArrayLike = 0.0,
    channels: int = 1,
    antialias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Draw a batch of bars.

    Parameters
    ----------
    image_shape : int or (height, width)
        Image height and width in pixels (an int for a square image).
    orientation_deg, length, width : float or (B,) array
        Orientation (degrees, see the module docstring), length and width (pixels) of each bar.
    center : (row, col) or (B, 2) array, optional
        Bar centres in pixels; default the image centre.
    foreground, background : float, (B,), (1, C) or (B, C)
        Bar and background values: one grey level, one per bar, one colour for all bars
        (``(1, C)``, e.g. ``[[1, 0, 0]]`` for red) or one colour per bar.
    channels : int
        Number of image channels ``C`` (3 for RGB networks).
    antialias : bool
        Box-filtered edges (default) or hard edges.

    Returns
    -------
    torch.Tensor
        ``(B, C, H, W)``: ``background + coverage * (foreground - background)``.

    Examples
    --------
    >>> make_bars(32, orientation_deg=[0, 45, 90], length=20, width=4).shape
    torch.Size([3, 1, 32, 32])
    """
    cov = bar_coverage(
        image_shape,
        orientation_deg,
        length,
        width,
        center,
        antialias=antialias,
        device=device,
        dtype=dtype,
    )
    return _compose(cov, channels, foreground, background, cov.device, dtype)


def make_gratings(
    image_shape: int | Sequence[int],
    orientation_deg: ArrayLike,
    spatial_frequency: ArrayLike,
    phase_deg: ArrayLike = 0.0,
    center: ArrayLike | None = None,
    *,
    contrast: ArrayLike = 1.0,
    mean: ArrayLike = 0.0,
    channels: int = 1,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Sinusoidal gratings ``mean + contrast * cos(2 pi f v + phase)``.

    ``v`` is the signed distance (pixels) from ``center`` across the stripes, so the stripes run
    along ``orientation_deg`` and phase 0 puts a bright stripe through the centre.

    Parameters
    ----------
    image_shape : int or (height, width)
        Image height and width in pixels (an int for a square image).
    orientation_deg : float or (B,)
        Orientation of the stripes in degrees (0 horizontal stripes, 90 vertical stripes).
    spatial_frequency : float or (B,)
        Cycles per pixel (Nyquist is 0.5).
    phase_deg : float or (B,)
        Phase at the centre in degrees.
    center : (row, col) or (B, 2), optional
        Reference point of the phase; default the image centre.
    contrast, mean : float or (B,)
        Amplitude and mean value.
    channels : int
        Image channels; the grating is the same in every channel.

    Returns
    -------
    torch.Tensor
        ``(B, C, H, W)``.
    """
    h, w = validation.image_shape(image_shape)
    channels = validation.integer(channels, "channels", minimum=1)
    ori, sf, phase, contrast, mean = _params(
        device=device,
        dtype=dtype,
        orientation_deg=orientation_deg,
        spatial_frequency=spatial_frequency,
        phase_deg=phase_deg,
        contrast=contrast,
        mean=mean,
    )
    row0, col0 = _centres(center, h, w, len(ori), device, dtype)
    ori, sf, phase, contrast, mean, row0, col0 = torch.broadcast_tensors(
        ori, sf, phase, contrast, mean, row0, col0
    )
    _, v = _rotated_coordinates(h, w, row0, col0, ori)
    carrier = torch.cos(2 * math.pi * sf.view(-1, 1, 1) * v + torch.deg2rad(phase).view(-1, 1, 1))
    out = mean.view(-1, 1, 1) + contrast.view(-1, 1, 1) * carrier
    return out[:, None].expand(-1, channels, -1, -1).contiguous()


def make_gabors(
    image_shape: int | Sequence[int],
    orientation_deg: ArrayLike,
    spatial_frequency: ArrayLike,
    phase_deg: ArrayLike = 0.0,
    sigma: ArrayLike = 4.0,
    center: ArrayLike | None = None,
    *,
    aspect_ratio: ArrayLike = 1.0,
    contrast: ArrayLike = 1.0,
    mean: ArrayLike = 0.0,
    channels: int = 1,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Gabor patches: a grating (see :func:`make_gratings`) under a Gaussian envelope.

    ``mean + contrast * exp(-(v^2 + (u / aspect_ratio)^2) / (2 sigma^2)) * cos(2 pi f v + phase)``
    with ``u`` along and ``v`` across the stripes.

    Parameters
    ----------
    sigma : float or (B,)
        Envelope standard deviation across the stripes, in pixels.
    aspect_ratio : float or (B,)
        Envelope s.d. along the stripes divided by ``sigma`` (1 = circular envelope).
    Other parameters
        As for :func:`make_gratings`.

    Returns
    -------
    torch.Tensor
        ``(B, C, H, W)``.
    """
    h, w = validation.image_shape(image_shape)
    channels = validation.integer(channels, "channels", minimum=1)
    ori, sf, phase, sigma, aspect, contrast, mean = _params(
        device=device,
        dtype=dtype,
        orientation_deg=orientation_deg,
        spatial_frequency=spatial_frequency,
        phase_deg=phase_deg,
        sigma=sigma,
        aspect_ratio=aspect_ratio,
        contrast=contrast,
        mean=mean,
    )
    row0, col0 = _centres(center, h, w, len(ori), device, dtype)
    ori, sf, phase, sigma, aspect, contrast, mean, row0, col0 = torch.broadcast_tensors(
        ori, sf, phase, sigma, aspect, contrast, mean, row0, col0
    )
    if torch.any(sigma <= 0) or torch.any(aspect <= 0):
        raise ValueError("sigma and aspect_ratio must be positive")
    u, v = _rotated_coordinates(h, w, row0, col0, ori)
    s = sigma.view(-1, 1, 1)
    envelope = torch.exp(-(v**2 + (u / aspect.view(-1, 1, 1)) ** 2) / (2 * s**2))
    carrier = torch.cos(2 * math.pi * sf.view(-1, 1, 1) * v + torch.deg2rad(phase).view(-1, 1, 1))
    out = mean.view(-1, 1, 1) + contrast.view(-1, 1, 1) * envelope * carrier
    return out[:, None].expand(-1, channels, -1, -1).contiguous()


def position_grid(extent: float, n: int) -> np.ndarray:
    """Offsets symmetric about 0 spanning ``[-extent / 2, extent / 2]``.

    Unlike ``np.arange(-extent // 2, extent // 2, step)``, which is lopsided for small or odd
    extents, the grid is exactly symmetric and contains 0 whenever ``n`` is odd.

    Parameters
    ----------
    extent : float
        Width of the grid in pixels (typically the receptive-field size).
    n : int
        Number of positions (odd recommended, so the RF centre itself is a position).

    Returns
    -------
    np.ndarray
        ``(n,)`` float offsets in pixels.
    """
    n = validation.integer(n, "n", minimum=1)
    validation.finite(extent, "extent")
    if n == 1:
        return np.zeros(1)
    return np.linspace(-extent / 2, extent / 2, n)


@dataclass(frozen=True, eq=False)
class BarSet:
    """A bar-stimulus set: one row per bar, drawn on demand.

    Attributes
    ----------
    image_shape : (int, int)
        ``(H, W)`` of every image.
    orientation_deg, length, width : np.ndarray
        ``(n,)`` per-bar orientation (degrees), length and width (pixels).
    center : np.ndarray
        ``(n, 2)`` bar centres, pixel ``(row, col)``.
    polarity : np.ndarray
        ``(n,)`` +1 for a bar brighter than the background, -1 for a darker one.
    rf_center : (float, float)
        The point the position grid is centred on, pixel ``(row, col)``.
    color_pairs : tuple of str
        Colour sets only: the ``"foreground/background"`` pairs drawn, both polarities listed
        (``("red/green", "green/red", ...)``); empty for grey sets.
    color_pair : np.ndarray or None
        Colour sets only: ``(n,)`` index into ``color_pairs`` of each bar.
    """

    image_shape: tuple[int, int]
    orientation_deg: np.ndarray
    length: np.ndarray
    width: np.ndarray
    center: np.ndarray
    polarity: np.ndarray
    rf_center: tuple[float, float]
    color_pairs: tuple[str, ...] = ()
    color_pair: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.orientation_deg)

    @property
    def orientations(self) -> np.ndarray:
        """The distinct orientations in the set, sorted (degrees)."""
        return np.unique(self.orientation_deg)

    def coverage(
        self,
        index: slice | Sequence[int] | np.ndarray = slice(None),
        *,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Bars ``index`` drawn as 1 on a 0 background, ``(b, H, W)`` (for weighted bar maps)."""
        return bar_coverage(
            self.image_shape,
            self.orientation_deg[index],
            self.length[index],
            self.width[index],
            self.center[index],
            device=device,
        )

    def images(
        self,
        index: slice | Sequence[int] | np.ndarray = slice(None),
        *,
        background: float = 0.0,
        amplitude: ArrayLike = 1.0,
        channels: int = 1,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Bars ``index`` as images, ``(b, C, H, W)``.

        A grey bar's value is ``background + polarity * amplitude`` (a colour when ``amplitude``
        has ``C`` entries, e.g. ``(1, -1, 0)`` for a red-green bar), edges antialiased. In a
        colour set (``color_pair`` given, ``channels`` must be 3) a colour ``c`` in [0, 1] is
        drawn as ``background + amplitude * (2 c - 1)``: white and black are the grey set's
        polarities +1 and -1, and ``background=0.5, amplitude=0.5`` draws the colours as they are.
        """
        cov = self.coverage(index, device=device)
        amp = torch.as_tensor(amplitude, dtype=cov.dtype, device=cov.device).reshape(1, -1)
        if amp.shape[1] not in (1, channels):
            raise ValueError(f"amplitude has {amp.shape[1]} values but channels={channels}")
        if self.color_pair is not None:
            if channels != 3:
                raise ValueError(
                    f"a colour bar set draws RGB images: channels must be 3, got {channels}"
                )
            fg, bg = self.pair_colors(index)
            fg = background + amp * (
                2 * torch.as_tensor(fg, dtype=cov.dtype, device=cov.device) - 1
            )
            bg = background + amp * (
                2 * torch.as_tensor(bg, dtype=cov.dtype, device=cov.device) - 1
            )
            return _compose(cov, channels, fg, bg, cov.device, cov.dtype)
        pol = torch.as_tensor(self.polarity[index], dtype=cov.dtype, device=cov.device)
        return _compose(
            cov, channels, background + pol[:, None] * amp, background, cov.device, cov.dtype
        )

    def pair_colors(
        self, index: slice | Sequence[int] | np.ndarray = slice(None)
    ) -> tuple[np.ndarray, np.ndarray]:
        """Foreground and background RGB in [0, 1] of bars ``index``, each ``(b, 3)``.

        A grey set's bars are white (polarity +1) or black (-1) on mid-grey.
        """
        if self.color_pair is None:
            pol = self.polarity[index].astype(np.float32)[:, None]
            return np.repeat(0.5 + 0.5 * pol, 3, axis=1), np.full((len(pol), 3), 0.5, np.float32)
        table = np.array([_pair_colors(pair) for pair in self.color_pairs], dtype=np.float32)
        chosen = table[self.color_pair[index]]
        return chosen[:, 0], chosen[:, 1]

    def subset(self, index: slice | Sequence[int] | np.ndarray) -> BarSet:
        """A new set with the bars ``index``."""
        return BarSet(
            self.image_shape,
            self.orientation_deg[index],
            self.length[index],
            self.width[index],
            self.center[index],
            self.polarity[index],
            self.rf_center,
            self.color_pairs,
            None if self.color_pair is None else self.color_pair[index],
        )


def make_bar_set(
    image_shape: int | Sequence[int],
    rf_size: float,
    rf_center: Sequence[float] | None = None,
    *,
    lengths: Sequence[float] = (0.75, 0.375, 0.1875, 0.09375),
    aspect_ratios: Sequence[float] = (0.5, 0.2, 0.1),
    n_orientations: int = 8,
    polarities: Sequence[int] = (1, -1),
    n_positions: int | tuple[int, int] = 13,
    position_extent: float | tuple[float, float] = 1.0,
    min_width: float = 1.0,
    color_pairs: Sequence[str] | None = None,
) -> BarSet:
    """A full factorial bar set for receptive-field mapping.

    Lengths are fractions of the RF size, widths are ``aspect_ratio * length`` (at least
    ``min_width`` pixels), orientations are evenly spaced in [0, 180), and every bar is placed on a
    ``n_positions x n_positions`` grid symmetric about ``rf_center`` spanning
    ``position_extent * rf_size`` pixels (give ``(rows, cols)`` pairs for a rectangular grid, e.g.
    to cover a whole wide screen). The defaults (4 lengths x 3 aspect ratios x 8
    orientations x 2 polarities x 13 x 13 positions = 32,448 bars) follow the size of the
    RF-mapping sets of Pospisil, Pasupathy & Bair (2018).

    Parameters
    ----------
    image_shape : int or (height, width)
    rf_size : float
        Receptive-field size in pixels (see
        :func:`artiphys_course.receptive_fields.receptive_field`).
    rf_center : (row, col), optional
        Grid centre; default the image centre.
    lengths, aspect_ratios, n_orientations, polarities, n_positions, position_extent, min_width
        Grid definition (see above).
    color_pairs : sequence of str, optional
        A colour set: ``"foreground/background"`` names from :data:`COLORS` (e.g.
        :data:`RFMAPPING_COLOR_PAIRS`); each pair is drawn as given (polarity +1) and swapped
        (-1), as ``polarities`` says, in place of the grey polarities. Default: grey bars.

    Returns
    -------
    BarSet
    """
    h, w = validation.image_shape(image_shape)
    if rf_center is None:
        rf_center = ((h - 1) / 2, (w - 1) / 2)
    if np.shape(rf_center) != (2,):
        raise ValueError(f"rf_center must be (row, col), got {rf_center!r}")
    rf_size = validation.positive(rf_size, "rf_size")
    n_orientations = validation.integer(n_orientations, "n_orientations", minimum=1)
    for name, value in (
        ("rf_center", rf_center),
        ("lengths", lengths),
        ("aspect_ratios", aspect_ratios),
        ("position_extent", position_extent),
        ("min_width", min_width),
    ):
        validation.finite(value, name)
    if np.any(np.asarray(lengths) <= 0) or np.any(np.asarray(aspect_ratios) <= 0):
        raise ValueError(
            f"lengths and aspect_ratios must be > 0, got {lengths!r} and {aspect_ratios!r}"
        )
    if not (np.size(lengths) and np.size(aspect_ratios) and np.size(polarities)):
        raise ValueError("lengths, aspect_ratios and polarities must not be empty")
    if any(p not in (1, -1) for p in polarities):
        raise ValueError(f"polarities must be +1 and/or -1, got {polarities}")
    oris = np.arange(n_orientations) * 180.0 / n_orientations
    pairs: tuple[str, ...] = ()
    if color_pairs is not None:
        if isinstance(color_pairs, str) or len(color_pairs) == 0:
            raise ValueError(
                f"color_pairs must be a non-empty sequence of names, got {color_pairs!r}"
            )
        for pair in color_pairs:
            _pair_colors(pair)  # KeyError for unknown colours
        swapped = ["/".join(pair.split("/")[::-1]) for pair in color_pairs]
        pairs = tuple(pair for both in zip(color_pairs, swapped, strict=True) for pair in both)
        # each (pair, polarity) is one value of the polarity axis of the grid
        polarities = [p for _ in color_pairs for p in polarities]
    n_rows, n_cols = (n_positions, n_positions) if np.isscalar(n_positions) else n_positions
    n_rows = validation.integer(n_rows, "n_positions", minimum=1)
    n_cols = validation.integer(n_cols, "n_positions", minimum=1)
    ext_rows, ext_cols = (
        (position_extent, position_extent) if np.isscalar(position_extent) else position_extent
    )
    row_offsets = position_grid(ext_rows * rf_size, int(n_rows))
    col_offsets = position_grid(ext_cols * rf_size, int(n_cols))
    bar_len = np.asarray(lengths, dtype=float) * rf_size
    shapes = np.array(
        [(ln, max(ar * ln, min_width)) for ln in bar_len for ar in aspect_ratios], dtype=float
    )
    grid = np.stack(
        np.meshgrid(
            np.arange(len(shapes)),
            oris,
            np.asarray(polarities),
            row_offsets,
            col_offsets,
            indexing="ij",
        ),
        axis=-1,
    ).reshape(-1, 5)
    shape_idx = grid[:, 0].astype(int)
    center = np.stack([rf_center[0] + grid[:, 3], rf_center[1] + grid[:, 4]], axis=1)
    color_pair = None
    if pairs:
        n_pol = len(polarities) // (len(pairs) // 2)
        slot = np.meshgrid(
            np.arange(len(shapes)),
            oris,
            np.arange(len(polarities)),
            row_offsets,
            col_offsets,
            indexing="ij",
        )[2].reshape(-1)
        color_pair = (2 * (slot // n_pol) + (grid[:, 2] < 0)).astype(np.int64)
    return BarSet(
        image_shape=(h, w),
        orientation_deg=grid[:, 1].astype(np.float32),
        length=shapes[shape_idx, 0].astype(np.float32),
        width=shapes[shape_idx, 1].astype(np.float32),
        center=center.astype(np.float32),
        polarity=grid[:, 2].astype(np.int8),
        rf_center=(float(rf_center[0]), float(rf_center[1])),
        color_pairs=pairs,
        color_pair=color_pair,
    )
