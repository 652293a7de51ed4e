"""Bar mapping: the electrophysiologist's receptive-field map, for CNN units and model neurons.

The method follows the artiphysiology of Pospisil, Pasupathy & Bair (2018, eLife 7:e38242) and
the RF-mapping analyses built on it:

1. cut the network after the layer of interest (:func:`artiphys_course.recording.truncate`) and
   make the input exactly ``xn`` pixels, so the layer's centre unit sees its whole RF;
2. show thousands of bars (:func:`artiphys_course.stimuli.make_bar_set`) in batches under
   ``torch.no_grad`` and record the centre unit of every channel;
3. per unit, sum the N bars that drive it most (least), each drawn as 1 on a 0 background and
   weighted by how far its response lies above (below) the median response: the *top* (*bottom*)
   weighted bar map. Bars on a zero background add up, so the map is bright where effective bars
   overlap;
4. fit a 2-D Gaussian to each map (:func:`fit_gaussian_2d`) for the RF centre, size, elongation
   and orientation, with the fraction of variance explained as goodness of fit; and read the
   orientation tuning from the best response at each bar orientation.

Colour bar sets (``make_bar_set(..., color_pairs=...)``) add a colour map (:func:`color_bar_map`:
the top bars summed with their foreground-minus-background colour) and a colour tuning
(:func:`color_tuning`); a non-overlap map (:func:`non_overlap_bar_map`) sums only bars that miss
the peak of the top map, to show what drives a unit away from its hot spot.

Everything returns arrays; nothing is written to disk. The same functions map a digital-V1 neuron
(a model whose output is ``(B, n_neurons)``: pass ``layer=None``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import curve_fit
from torch import nn
from torch.nn import functional as F

from artiphys_course import validation
from artiphys_course.receptive_fields import receptive_field, xn
from artiphys_course.recording import forward_until, get_layer
from artiphys_course.runtime import progress_bar
from artiphys_course.stimuli import BarSet, bar_coverage
from artiphys_course.tuning import preferred_orientation
from artiphys_course.units import eval_mode, model_device, select_neurons

__all__ = [
    "BATCH_VALUES",
    "BarMapResult",
    "GaussianFit",
    "bar_map",
    "bar_responses",
    "color_bar_map",
    "color_tuning",
    "non_overlap_bar_map",
    "fit_gaussian_2d",
    "fit_gaussians",
    "orientation_tuning",
    "select_bars",
    "unit_responses",
    "weighted_bar_map",
]

BATCH_VALUES = 2**21
"""Image values (float32) per forward pass of :func:`bar_responses` when ``batch_size`` is None."""


# --------------------------------------------------------------------------- recording responses
def _centre_conv(
    model: nn.Module,
    layer: str,
    conv: nn.Conv2d,
    images: torch.Tensor,
    channels: torch.Tensor,
    position: tuple[int, int] | None,
) -> torch.Tensor:
    """The conv layer's output at one position only: stop before it, apply it to one window."""
    x = forward_until(model, layer, images, at="input")
    (kh, kw), (sh, sw) = conv.kernel_size, conv.stride
    (ph, pw), (dh, dw) = conv.padding, conv.dilation
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    h_out = (x.shape[2] + 2 * ph - eh) // sh + 1
    w_out = (x.shape[3] + 2 * pw - ew) // sw + 1
    row, col = validation.position(position, (h_out, w_out), f"output of {layer!r}")
    x = F.pad(x, (pw, pw, ph, ph))
    r0, c0 = row * sh, col * sw
    window = x[:, :, r0 : r0 + eh, c0 : c0 + ew]
    bias = None if conv.bias is None else conv.bias[channels]
    return F.conv2d(window, conv.weight[channels], bias, dilation=conv.dilation)[:, :, 0, 0]


def _fast_path(model: nn.Module, layer: str | None) -> nn.Conv2d | None:
    """The target layer when only its centre unit can be computed directly (plain Conv2d)."""
    if layer is None:
        return None
    module = get_layer(model, layer)
    if (
        isinstance(module, nn.Conv2d)
        and module.groups == 1
        and module.padding_mode == "zeros"
        and not isinstance(module.padding, str)
    ):
        return module
    return None


def unit_responses(
    model: nn.Module,
    layer: str | None,
    images: torch.Tensor,
    *,
    channels: Sequence[int] | None = None,
    position: tuple[int, int] | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    fast: bool = True,
) -> torch.Tensor:
    """Responses of the (centre) units of ``layer`` to a batch of images, without gradients.

    Parameters
    ----------
    model : nn.Module
        Run in eval mode (:func:`~artiphys_course.units.eval_mode`; its training flags are
        restored afterwards).
    layer : str or None
        Layer name (see :func:`~artiphys_course.recording.list_layers`); None records the model's
        output, ``(B, n)`` (e.g. a digital-V1 model's rates) or ``(B, C, h, w)``.
    images : torch.Tensor
        ``(B, C, H, W)`` input, on the model's device.
    channels : sequence of int, optional
        Channels (or neurons, with ``layer=None``) to keep; default all
        (:func:`~artiphys_course.units.select_neurons`).
    position : (row, col), optional
        Spatial position in the layer's output; default the centre unit
        ``((h - 1) // 2, (w - 1) // 2)``
        (:func:`~artiphys_course.receptive_fields.center_position`).
    transform : callable, optional
        Applied to the images first, e.g.
        :func:`~artiphys_course.models.pretrained.imagenet_normalize`.
    fast : bool
        When ``layer`` is a Conv2d, compute it at the one unit needed instead of everywhere
        (identical result, several times faster for deep layers).

    Returns
    -------
    torch.Tensor
        ``(B, n_units)``.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(
            f"images must be a 4-D tensor (batch, channels, height, width), got {shape}"
        )
    x = transform(images) if transform is not None else images
    with eval_mode(model), torch.no_grad():
        conv = _fast_path(model, layer) if fast else None
        if conv is not None:
            idx = select_neurons(channels, conv.out_channels).to(x.device)
            return _centre_conv(model, layer, conv, x, idx, position)
        out = forward_until(model, layer, x) if layer is not None else model(x)
        if out.ndim == 4:
            row, col = validation.position(position, tuple(out.shape[2:]), f"output of {layer!r}")
            out = out[:, :, row, col]
        elif out.ndim != 2:
            raise ValueError(f"expected a (B, C, h, w) or (B, n) output, got {tuple(out.shape)}")
        return out[:, select_neurons(channels, out.shape[1]).to(out.device)]


def _check_size(model: nn.Module, layer: str | None, image_shape: tuple[int, int]) -> None:
    if layer is None:
        return
    try:
        rf = receptive_field(model, layer)
        smallest = xn(model, layer)
    except (TypeError, KeyError):  # no spatial RF arithmetic for this model/layer
        return
    if min(image_shape) < smallest:
        raise ValueError(
            f"the images ({image_shape[0]}x{image_shape[1]}) are smaller than needed for "
            f"{layer!r}: "
            f"its centre unit sees its whole {rf.size[0]}-pixel RF, centred, only from "
            f"xn = {smallest} pixels. Make the bar set with image_shape={smallest}."
        )


def bar_responses(
    model: nn.Module,
    layer: str | None,
    bars: BarSet,
    *,
    channels: Sequence[int] | None = None,
    position: tuple[int, int] | None = None,
    in_channels: int = 3,
    background: float = 0.0,
    amplitude: float | Sequence[float] = 1.0,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
    fast: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Responses of units to every bar of ``bars``, computed in batches.

    Parameters
    ----------
    model, layer, channels, position, transform, fast
        See :func:`unit_responses`.
    bars : BarSet
        The stimuli; images are drawn batch by batch.
    in_channels : int
        Image channels the model expects (3 for ImageNet networks, 1 for the digital V1).
    background, amplitude : float
        Bar images are ``background + polarity * amplitude`` inside the bar (see
        :meth:`~artiphys_course.stimuli.BarSet.images`).
    batch_size : int, optional
        Bars per forward pass. Default: as many as hold ``BATCH_VALUES`` image values (8 MB of
        float32), so a pass costs about the same memory whatever the bar size: 43 AlexNet conv3
        bars (3 x 127 x 127), 176 conv2 bars, 3,106 conv1 bars, in about the time 256 bars a
        pass take. At 256 conv3 bars a pass a kernel grew by about 260 MB, at 1024 by 0.8 GB.
    device : optional
        Where to compute (default: where the model's parameters are, else CPU).
    progress : bool
        Show a progress bar.

    Returns
    -------
    np.ndarray
        ``(n_bars, n_units)`` float32 (stimuli by neurons).
    """
    in_channels = validation.integer(in_channels, "in_channels", minimum=1)
    if batch_size is None:
        batch_size = max(1, BATCH_VALUES // (in_channels * math.prod(bars.image_shape)))
    batch_size = validation.integer(batch_size, "batch_size", minimum=1)
    # without a transform the images go straight into the model's first convolution
    first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if transform is None and first_conv is not None and first_conv.in_channels != in_channels:
        raise ValueError(
            f"in_channels={in_channels}, but the model's first convolution takes "
            f"{first_conv.in_channels} channels; pass in_channels={first_conv.in_channels}"
        )
    _check_size(model, layer, bars.image_shape)
    if device is None:
        device = model_device(model)
    starts = range(0, len(bars), batch_size)
    chunks = []
    with eval_mode(model):  # one notice for the whole run, not one per batch
        for start in progress_bar(starts, progress, desc="bars", total=len(starts)):
            idx = np.arange(start, min(start + batch_size, len(bars)))
            images = bars.images(
                idx, background=background, amplitude=amplitude, channels=in_channels, device=device
            )
            responses = unit_responses(
                model,
                layer,
                images,
                channels=channels,
                position=position,
                transform=transform,
                fast=fast,
            )
            chunks.append(responses.float().cpu())
    return torch.cat(chunks).numpy()


# --------------------------------------------------------------------------- weighted maps
def select_bars(
    responses: np.ndarray, top_n: int, which: str = "top"
) -> tuple[np.ndarray, np.ndarray]:
    """The ``top_n`` most (``"top"``) or least (``"bottom"``) effective bars and their weights.

    Parameters
    ----------
    responses : np.ndarray
        ``(n_bars,)`` responses of one unit.
    top_n : int
        How many bars, ``1 <= top_n <= n_bars``.
    which : {"top", "bottom"}

    Returns
    -------
    index : np.ndarray
        ``(top_n,)`` bar indices, strongest first.
    weights : np.ndarray
        ``(top_n,)`` non-negative weights: distance of each response above (``"top"``) or below
        (``"bottom"``) the median response over all bars.
    """
    validation.finite(responses, "responses")
    responses = np.asarray(responses, dtype=np.float64).reshape(-1)
    if which not in ("top", "bottom"):
        raise ValueError(f"which must be 'top' or 'bottom', got {which!r}")
    top_n = validation.integer(top_n, "top_n", minimum=1, maximum=responses.size)
    median = np.median(responses)
    order = np.argsort(responses, kind="stable")
    index = order[::-1][:top_n] if which == "top" else order[:top_n]
    weights = responses[index] - median if which == "top" else median - responses[index]
    return index, np.clip(weights, 0.0, None)


def weighted_bar_map(
    responses: np.ndarray,
    bars: BarSet | torch.Tensor | np.ndarray,
    *,
    top_n: int = 100,
    which: str = "top",
    weighting: str = "response",
) -> np.ndarray:
    """A weighted bar map: the ``top_n`` best (or worst) bars summed on a zero background.

    Parameters
    ----------
    responses : np.ndarray
        ``(n_bars,)`` responses of one unit.
    bars : BarSet or array
        The bar set, or the bars already drawn as coverage ``(n_bars, H, W)`` (1 in, 0 out).
    top_n : int
        Number of bars to sum, ``1 <= top_n <= n_bars``.
    which : {"top", "bottom"}
        Most or least effective bars (see :func:`select_bars` for the weights).
    weighting : {"response", "uniform"}
        ``"response"`` (default): each bar weighted by its distance from the median response,
        so the very best bars dominate. ``"uniform"``: every selected bar counts 1, a map of where
        the top ``top_n`` bars lie; with a few percent of all bars it is much less pulled towards
        the strongest subregion of a nonlinear simple cell and so finds the RF centre better.

    Returns
    -------
    np.ndarray
        ``(H, W)`` float64 map ``sum_i w_i coverage_i``.
    """
    if weighting not in ("response", "uniform"):
        raise ValueError(f"weighting must be 'response' or 'uniform', got {weighting!r}")
    n_responses = np.size(responses)
    if isinstance(bars, BarSet) and len(bars) != n_responses:
        raise ValueError(
            f"responses must have one value per bar: the bar set has {len(bars)} bars, "
            f"responses has {n_responses} values"
        )
    index, weights = select_bars(responses, top_n, which)
    if weighting == "uniform":
        weights = np.ones_like(weights)
    if isinstance(bars, BarSet):
        coverage = bars.coverage(index).double().numpy()
    else:
        cov = bars.detach().cpu().numpy() if isinstance(bars, torch.Tensor) else np.asarray(bars)
        if cov.ndim != 3 or cov.shape[0] != np.asarray(responses).size:
            raise ValueError(
                f"coverage must have shape (n_bars, H, W) with n_bars = "
                f"{np.asarray(responses).size}, got {cov.shape}"
            )
        coverage = cov[index].astype(np.float64)
    return np.tensordot(weights, coverage, axes=1)


def color_bar_map(
    responses: np.ndarray, bars: BarSet, *, top_n: int = 100, which: str = "top"
) -> np.ndarray:
    """A colour bar map: the ``top_n`` best (worst) bars summed with their colour contrast.

    Each selected bar adds ``weight * coverage * (foreground - background)`` per RGB channel
    (weights as in :func:`select_bars`), so a unit driven by red bars on green gets a map that is
    positive in red and negative in green where those bars lie; a grey set gives the same map in
    all three channels (white bars +, black bars -).

    Parameters
    ----------
    responses : np.ndarray
        ``(n_bars,)`` responses of one unit.
    bars : BarSet
        Usually a colour set (``color_pairs``).
    top_n : int
    which : {"top", "bottom"}

    Returns
    -------
    np.ndarray
        ``(3, H, W)`` float64 map; show it with ``0.5 + 0.5 * map / abs(map).max()``.
    """
    index, weights = select_bars(responses, top_n, which)
    foreground, background = bars.pair_colors(index)
    contrast = (foreground - background).astype(np.float64)  # (top_n, 3)
    coverage = bars.coverage(index).double().numpy()  # (top_n, H, W)
    return np.einsum("n,nc,nhw->chw", weights, contrast, coverage)


def color_tuning(responses: np.ndarray, bars: BarSet) -> tuple[tuple[str, ...], np.ndarray]:
    """Each unit's best response to each colour pair of a colour bar set.

    Parameters
    ----------
    responses : np.ndarray
        ``(n_bars, n_units)``, or ``(n_bars,)`` for one unit.
    bars : BarSet
        A colour set (``make_bar_set(..., color_pairs=...)``).

    Returns
    -------
    pairs : tuple of str
        ``(k,)`` ``"foreground/background"`` names (both polarities of every pair).
    tuning : np.ndarray
        ``(k, n_units)`` maximum response over all bars of that pair.
    """
    if bars.color_pair is None:
        raise ValueError("bars is a grey set; make it with make_bar_set(..., color_pairs=...)")
    responses = np.asarray(responses)
    if responses.ndim == 1:
        responses = responses[:, None]
    if responses.ndim != 2 or responses.shape[0] != len(bars):
        raise ValueError(
            f"responses must have shape (n_bars, n_units) with n_bars = {len(bars)}, got "
            f"{responses.shape}"
        )
    tuning = np.stack(
        [responses[bars.color_pair == k].max(axis=0) for k in range(len(bars.color_pairs))]
    )
    return bars.color_pairs, tuning


def non_overlap_bar_map(
    responses: np.ndarray,
    bars: BarSet,
    *,
    top_n: int = 100,
    which: str = "top",
    peak: tuple[int, int] | None = None,
    weighting: str = "response",
) -> tuple[np.ndarray, tuple[int, int]]:
    """A weighted bar map of only the bars that do not overlap the response peak.

    Parameters
    ----------
    responses : np.ndarray
        ``(n_bars,)`` responses of one unit.
    bars : BarSet
    top_n, which, weighting
        As in :func:`weighted_bar_map`, among the bars left.
    peak : (row, col), optional
        The pixel to avoid; default the maximum of the unit's ordinary map
        (:func:`weighted_bar_map` with the same ``top_n``, ``which`` and ``weighting``).

    Returns
    -------
    map : np.ndarray
        ``(H, W)`` map of the best (worst) bars whose coverage at ``peak`` is below one half.
    peak : (int, int)
        The pixel avoided.
    """
    responses = np.asarray(responses, dtype=np.float64).reshape(-1)
    if responses.size != len(bars):
        raise ValueError(
            f"responses must have {len(bars)} values (one per bar), got {responses.size}"
        )
    if peak is None:
        full = weighted_bar_map(responses, bars, top_n=top_n, which=which, weighting=weighting)
        peak = tuple(int(v) for v in np.unravel_index(np.argmax(full), full.shape))
    row, col = peak
    h, w = bars.image_shape
    if not (0 <= row < h and 0 <= col < w):
        raise IndexError(f"peak {peak} is outside the {h}x{w} image")
    # coverage of every bar at the peak pixel: the same antialiased drawing on a 1 x 1 image
    # whose only pixel sits at the peak (bar centres moved by -peak)
    overlap = bar_coverage(
        (1, 1), bars.orientation_deg, bars.length, bars.width, bars.center - np.array(peak)
    )[:, 0, 0].numpy()
    keep = np.flatnonzero(overlap < 0.5)
    if keep.size == 0:
        return np.zeros((h, w)), (row, col)
    kept = weighted_bar_map(
        responses[keep], bars.subset(keep), top_n=top_n, which=which, weighting=weighting
    )
    return kept, (row, col)


# --------------------------------------------------------------------------- Gaussian fits
@dataclass(eq=False)
class GaussianFit:
    """2-D Gaussian fits of ``n`` maps (NaN where a map is empty or the fit failed).

    Attributes
    ----------
    center : np.ndarray
        ``(n, 2)`` pixel ``(row, col)`` of the peak.
    sigma : np.ndarray
        ``(n, 2)`` standard deviations along the major and minor axis, pixels (major >= minor).
    orientation_deg : np.ndarray
        ``(n,)`` orientation of the major axis in [0, 180), package convention.
    amplitude, offset : np.ndarray
        ``(n,)`` peak height above the offset, and the offset.
    r2 : np.ndarray
        ``(n,)`` goodness of fit: fraction of the map's variance explained (0 for empty maps).
    """

    center: np.ndarray
    sigma: np.ndarray
    orientation_deg: np.ndarray
    amplitude: np.ndarray
    offset: np.ndarray
    r2: np.ndarray

    def __len__(self) -> int:
        return len(self.r2)


def _gaussian_parts(coords, row0, col0, s_major, s_minor, theta):
    rows, cols = coords
    dx, dy = cols - col0, row0 - rows
    cos, sin = np.cos(theta), np.sin(theta)
    u = dx * cos + dy * sin
    v = dy * cos - dx * sin
    return u, v, cos, sin, np.exp(-0.5 * ((u / s_major) ** 2 + (v / s_minor) ** 2))


def _gaussian(coords, row0, col0, s_major, s_minor, theta, amplitude, offset):
    return amplitude * _gaussian_parts(coords, row0, col0, s_major, s_minor, theta)[-1] + offset


def _gaussian_jacobian(coords, row0, col0, s_major, s_minor, theta, amplitude, offset):
    u, v, cos, sin, e = _gaussian_parts(coords, row0, col0, s_major, s_minor, theta)
    a_e = amplitude * e
    du, dv = u / s_major**2, v / s_minor**2  # -dE/du / E, -dE/dv / E
    return np.stack(
        [
            -a_e * (du * sin + dv * cos),  # d/d row0
            a_e * (du * cos - dv * sin),  # d/d col0
            a_e * u**2 / s_major**3,
            a_e * v**2 / s_minor**3,
            a_e * u * v * (1 / s_minor**2 - 1 / s_major**2),  # d/d theta
            e,
            np.ones_like(e),
        ],
        axis=1,
    )


def _moments(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> list[float]:
    w = image - image.min()
    total = w.sum()
    r0, c0 = (w * rows).sum() / total, (w * cols).sum() / total
    dx, dy = cols - c0, r0 - rows
    cov = (
        np.array(
            [[(w * dx * dx).sum(), (w * dx * dy).sum()], [(w * dx * dy).sum(), (w * dy * dy).sum()]]
        )
        / total
    )
    evals, evecs = np.linalg.eigh(cov)
    theta = math.atan2(evecs[1, 1], evecs[0, 1])
    s_major, s_minor = (math.sqrt(max(e, 0.25)) for e in evals[::-1])
    return [r0, c0, s_major, s_minor, theta, float(np.ptp(image)), float(image.min())]


def fit_gaussian_2d(image: np.ndarray) -> GaussianFit:
    """Least-squares fit of a rotated 2-D Gaussian plus offset to one map (scipy ``curve_fit``).

    The model is ``A exp(-(u^2 / s_major^2 + v^2 / s_minor^2) / 2) + offset`` with ``u`` along
    and ``v`` across the major axis; the start point comes from the map's moments.

    Parameters
    ----------
    image : np.ndarray
        ``(H, W)`` map, finite, at least 3 x 3 (7 parameters need at least 9 pixels).

    Returns
    -------
    GaussianFit
        With one entry (arrays of length 1); NaN parameters and ``r2 = 0`` for a flat map or a
        failed fit.
    """
    validation.finite(image, "image")
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D map (H, W), got shape {image.shape}")
    if min(image.shape) < 3:
        raise ValueError(
            f"image must be at least 3 x 3 to fit a 2-D Gaussian (7 parameters), "
            f"got shape {image.shape}"
        )
    nan = GaussianFit(
        np.full((1, 2), np.nan),
        np.full((1, 2), np.nan),
        np.full(1, np.nan),
        np.full(1, np.nan),
        np.full(1, np.nan),
        np.zeros(1),
    )
    scale = np.abs(image).max()
    if not np.isfinite(scale) or scale == 0 or np.ptp(image) == 0:
        return nan
    z = image / scale
    h, w = z.shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    p0 = _moments(z, rows, cols)
    try:
        # Levenberg-Marquardt (MINPACK) with the analytic Jacobian: fast, and unlike the bounded
        # solvers it does not call multi-threaded LAPACK, which crawls on busy machines
        p, _ = curve_fit(
            _gaussian,
            (rows.ravel(), cols.ravel()),
            z.ravel(),
            p0=p0,
            jac=_gaussian_jacobian,
            method="lm",
            maxfev=400,
        )
    except (RuntimeError, ValueError):
        return nan
    if not np.isfinite(p).all():
        return nan
    p[2:4] = np.abs(p[2:4])  # the model depends on the squared widths only
    row0, col0, s1, s2, theta, amp, off = p
    if s2 > s1:
        s1, s2, theta = s2, s1, theta + math.pi / 2
    resid = z - _gaussian((rows, cols), *p)
    r2 = 1.0 - (resid**2).sum() / ((z - z.mean()) ** 2).sum()
    return GaussianFit(
        center=np.array([[row0, col0]]),
        sigma=np.array([[s1, s2]]),
        orientation_deg=np.array([math.degrees(theta) % 180.0]),
        amplitude=np.array([amp * scale]),
        offset=np.array([off * scale]),
        r2=np.array([r2]),
    )


def fit_gaussians(maps: np.ndarray) -> GaussianFit:
    """:func:`fit_gaussian_2d` for each of ``(n, H, W)`` maps, stacked into arrays of length n."""
    validation.finite(maps, "maps")
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"expected maps of shape (n, H, W), got {maps.shape}")
    fits = [fit_gaussian_2d(m) for m in maps]
    if not fits:
        empty = np.zeros((0, 2))
        return GaussianFit(empty, empty, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    return GaussianFit(
        *(np.concatenate([getattr(f, k) for f in fits]) for k in GaussianFit.__dataclass_fields__)
    )


# --------------------------------------------------------------------------- orientation tuning
def orientation_tuning(
    responses: np.ndarray, orientation_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Orientation tuning: each unit's best response at each bar orientation.

    Parameters
    ----------
    responses : np.ndarray
        ``(n_bars, n_units)``, or ``(n_bars,)`` for one unit.
    orientation_deg : np.ndarray
        ``(n_bars,)`` bar orientations.

    Returns
    -------
    orientations : np.ndarray
        ``(k,)`` distinct orientations, sorted.
    tuning : np.ndarray
        ``(k, n_units)`` maximum response over all bars of that orientation (any length, width,
        position, polarity).
    """
    responses = np.asarray(responses)
    if responses.ndim == 1:
        responses = responses[:, None]
    ori = np.asarray(orientation_deg) % 180.0
    if responses.ndim != 2 or responses.shape[0] != ori.shape[0]:
        raise ValueError(
            f"responses must have shape (n_bars, n_units) with n_bars = {ori.shape[0]} "
            f"(one row per orientation_deg), got {responses.shape}"
        )
    orientations, inverse = np.unique(ori, return_inverse=True)
    tuning = np.full((len(orientations), responses.shape[1]), -np.inf)
    for k in range(len(orientations)):
        tuning[k] = responses[inverse == k].max(axis=0)
    return orientations, tuning


# --------------------------------------------------------------------------- the whole method
@dataclass(eq=False)
class BarMapResult:
    """Everything :func:`bar_map` measured; unit ``i`` is channel ``channels[i]``.

    Attributes
    ----------
    layer : str or None
    channels : np.ndarray
        ``(n_units,)`` channel (neuron) indices.
    bars : BarSet
        The stimuli (``len(bars) = n_bars``).
    responses : np.ndarray
        ``(n_bars, n_units)`` responses of the centre unit of each channel.
    top_maps, bottom_maps : np.ndarray
        ``(n_units, H, W)`` weighted bar maps (see :func:`weighted_bar_map`).
    top_fit, bottom_fit : GaussianFit
        2-D Gaussian fits of the maps.
    orientations_deg : np.ndarray
        ``(k,)`` bar orientations.
    tuning : np.ndarray
        ``(k, n_units)`` orientation tuning (best response per orientation).
    preferred_orientation_deg : np.ndarray
        ``(n_units,)`` vector-average preferred orientation in [0, 180).
    top_n : int
        Bars per map.
    weighting : str
        How the bars of a map were weighted.
    """

    layer: str | None
    channels: np.ndarray
    bars: BarSet
    responses: np.ndarray
    top_maps: np.ndarray
    bottom_maps: np.ndarray
    top_fit: GaussianFit
    bottom_fit: GaussianFit
    orientations_deg: np.ndarray
    tuning: np.ndarray
    preferred_orientation_deg: np.ndarray
    top_n: int
    weighting: str

    def __len__(self) -> int:
        return len(self.channels)

    @property
    def best_bar(self) -> np.ndarray:
        """``(n_units,)`` index of each unit's most effective bar."""
        return np.argmax(self.responses, axis=0)


def bar_map(
    model: nn.Module,
    layer: str | None,
    bars: BarSet,
    *,
    channels: Sequence[int] | None = None,
    top_n: int = 100,
    weighting: str = "response",
    fit: bool = True,
    progress: bool = True,
    **response_kwargs,
) -> BarMapResult:
    """Bar-map the centre unit of every (or each chosen) channel of ``layer``.

    Parameters
    ----------
    model : nn.Module
    layer : str or None
        Layer name; None maps the model's outputs (e.g. digital-V1 neurons).
    bars : BarSet
        From :func:`~artiphys_course.stimuli.make_bar_set`, with ``image_shape`` at least
        ``xn`` of the layer (else a ``ValueError`` quoting ``xn``).
    channels : sequence of int, optional
        Channels (neurons) to map; default all.
    top_n : int
        Bars summed into each weighted map.
    weighting : {"response", "uniform"}
        How the bars of a map are weighted (see :func:`weighted_bar_map`).
    fit : bool
        Fit 2-D Gaussians to the maps (default).
    progress : bool
        Progress bars over bar batches and units.
    **response_kwargs
        Passed to :func:`bar_responses`: ``in_channels``, ``background``, ``amplitude``,
        ``transform``, ``batch_size``, ``device``, ``position``, ``fast``.

    Returns
    -------
    BarMapResult
    """
    responses = bar_responses(
        model, layer, bars, channels=channels, progress=progress, **response_kwargs
    )
    n_units = responses.shape[1]
    chan = np.arange(n_units) if channels is None else np.asarray(channels).reshape(-1)
    h, w = bars.image_shape
    top = np.zeros((n_units, h, w))
    bottom = np.zeros((n_units, h, w))
    for i in progress_bar(range(n_units), progress, desc="maps"):
        for maps, which in ((top, "top"), (bottom, "bottom")):
            maps[i] = weighted_bar_map(
                responses[:, i], bars, top_n=top_n, which=which, weighting=weighting
            )
    empty = np.full((n_units, 2), np.nan)
    none = GaussianFit(empty, empty, empty[:, 0], empty[:, 0], empty[:, 0], np.zeros(n_units))
    orientations, tuning = orientation_tuning(responses, bars.orientation_deg)
    return BarMapResult(
        layer=layer,
        channels=chan,
        bars=bars,
        responses=responses,
        top_maps=top,
        bottom_maps=bottom,
        top_fit=fit_gaussians(top) if fit else none,
        bottom_fit=fit_gaussians(bottom) if fit else none,
        orientations_deg=orientations,
        tuning=tuning,
        preferred_orientation_deg=preferred_orientation(tuning, orientations, lower=0.0),
        top_n=top_n,
        weighting=weighting,
    )
