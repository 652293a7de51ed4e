"""Most exciting inputs (MEIs): gradient ascent on the image, one image per neuron, all in a batch.

An MEI of neuron ``i`` is ``argmax_x r_i(x)`` over a constrained set of images. Without a
constraint the response of most models grows without bound as the contrast of ``x`` grows, so
the image is kept at a fixed mean and standard deviation (the constraint of the Sinz lab's FENS
2022 MEI workshop; Walker et al. 2019 fixed the norm) or at a fixed L2 norm with pixels clipped
to the valid range.

The optimisation is built from small, typed stages (after the design of sinzlab/mei), each a
plain callable that can be swapped or tested alone:

* a **parameterisation** maps the optimised tensor to a raw image: :class:`PixelImage` or
  :class:`FourierImage` (a 1/f-scaled spectrum, a decorrelated parameterisation as in lucid/lucent),
* a **constraint** maps the raw image to the image shown to the model, differentiably:
  :class:`FixedMeanStd`, :class:`FixedNorm` (or ``None``: unconstrained),
* **transforms** randomly perturb the shown image at every step (:class:`Jitter`,
  :class:`RandomScale`), one draw per step shared by the whole batch,
* a **gradient preconditioner** acts on the gradient before the optimiser step
  (:class:`GradientBlur`),
* the **optimiser**: ``"sgd"``, ``"adam"`` or any ``callable(params) -> torch.optim.Optimizer``.

Because neuron ``k``'s image only feeds neuron ``k`` (the model runs in eval mode), optimising
all neurons in one batch gives the same images as optimising them one at a time, much faster.
Each neuron's starting noise is drawn from a generator seeded by ``(seed, neuron index)``, so
results do not depend on which other neurons share the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from artiphys_course import validation
from artiphys_course.runtime import progress_bar
from artiphys_course.units import (
    OwnResponseFunction,
    check_responses,
    eval_mode,
    model_device,
    own_response_function,
    response_function,
    select_neurons,
)

__all__ = [
    "Constraint",
    "FixedMeanStd",
    "FixedNorm",
    "FourierImage",
    "GradientBlur",
    "Jitter",
    "MEIResult",
    "Parameterization",
    "PixelImage",
    "RandomScale",
    "Transform",
    "best_of",
    "compute_meis",
    "cross_activation",
    "image_correlation",
    "mei_reproducibility",
    "neuron_noise",
    "quadrature_correlation",
    "spectral_peak",
]


# --------------------------------------------------------------------------------------------
# Constraints: raw image (n, C, H, W) -> constrained image (n, C, H, W), differentiable
# --------------------------------------------------------------------------------------------
class Constraint(Protocol):
    """Maps raw images ``(n, C, H, W)`` to images that satisfy the constraint, per image."""

    def __call__(self, images: Tensor) -> Tensor: ...


@dataclass(frozen=True)
class FixedMeanStd:
    """Every image gets pixel mean ``mean`` and pixel standard deviation ``std`` (exactly).

    ``std`` is the population s.d. over all pixels and channels of one image. For models trained
    on normalised images, ``mean=0`` and a ``std`` like that of the training images (in normalised
    units) keep the MEI within the statistics the model has seen.
    """

    mean: float = 0.0
    std: float = 1.0
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if not self.std > 0:
            raise ValueError(f"std must be positive, got {self.std}")

    def __call__(self, images: Tensor) -> Tensor:
        centred = images - images.mean(dim=(1, 2, 3), keepdim=True)
        scale = centred.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
        return self.mean + self.std * centred / (scale + self.eps)


@dataclass(frozen=True)
class FixedNorm:
    """Every image gets L2 norm ``norm`` around ``center``, then pixels are clipped to ``clip``.

    ``image = clip(center + norm * (x - center) / ||x - center||)``. The norm (the image's
    contrast energy) is exact unless clipping bites, when it can only be smaller. For the
    digital V1 (grey levels 0..255) use ``center=127.5`` and ``clip=(0, 255)``.
    """

    norm: float = 10.0
    center: float = 0.0
    clip: tuple[float, float] | None = None
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if not self.norm > 0:
            raise ValueError(f"norm must be positive, got {self.norm}")
        if self.clip is not None and not self.clip[0] < self.center < self.clip[1]:
            raise ValueError(f"clip {self.clip} must contain center {self.center}")

    def __call__(self, images: Tensor) -> Tensor:
        dev = images - self.center
        length = dev.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1)
        out = self.center + self.norm * dev / (length + self.eps)
        return out if self.clip is None else out.clamp(*self.clip)


# --------------------------------------------------------------------------------------------
# Parameterisations: optimised tensor -> raw image
# --------------------------------------------------------------------------------------------
class Parameterization(Protocol):
    """How the optimised tensor encodes the images."""

    def init(self, images: Tensor) -> Tensor:
        """The parameter whose images are ``images`` ``(n, C, H, W)``."""
        ...

    def __call__(self, param: Tensor) -> Tensor:
        """Images ``(n, C, H, W)`` from the parameter."""
        ...


class PixelImage:
    """The pixels themselves are optimised (the default)."""

    def init(self, images: Tensor) -> Tensor:
        return images.clone()

    def __call__(self, param: Tensor) -> Tensor:
        return param


@dataclass
class FourierImage:
    """Images as a spectrum scaled by ``1 / f**decay`` (a decorrelated parameterisation).

    Natural images have power falling as ``1/f^2``; optimising a spectrum whitened by that
    fall-off makes every frequency equally easy to change, so gradient ascent builds coarse
    structure first instead of pixel noise (Olah et al. 2017, Distill, "Feature visualization").
    The parameter is the real view ``(n, C, H, W // 2 + 1, 2)`` of the scaled spectrum; the image
    width is remembered by :meth:`init`.
    """

    decay: float = 1.0
    width: int | None = field(default=None, init=False)

    def _scale(self, h: int, w: int, device) -> Tensor:
        fy = torch.fft.fftfreq(h, device=device)[:, None]
        fx = torch.fft.rfftfreq(w, device=device)[None, :]
        power = (fy**2 + fx**2).sqrt().clamp_min(1.0 / max(h, w)).pow(-self.decay)
        return power / power.max()

    def init(self, images: Tensor) -> Tensor:
        h, w = images.shape[-2:]
        self.width = int(w)
        spectrum = torch.fft.rfft2(images, norm="ortho") / self._scale(h, w, images.device)
        return torch.view_as_real(spectrum).contiguous()

    def __call__(self, param: Tensor) -> Tensor:
        if self.width is None:
            raise RuntimeError("FourierImage.init(images) must be called before use")
        h, w = param.shape[-3], self.width
        spectrum = torch.view_as_complex(param) * self._scale(h, w, param.device)
        return torch.fft.irfft2(spectrum, s=(h, w), norm="ortho")


# --------------------------------------------------------------------------------------------
# Transforms (random, one draw per step for the whole batch) and gradient preconditioning
# --------------------------------------------------------------------------------------------
class Transform(Protocol):
    """A random, differentiable image perturbation applied before the model at each step."""

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor: ...


@dataclass(frozen=True)
class Jitter:
    """Shift the images by a random whole number of pixels in ``[-max_shift, max_shift]``.

    Circular shift (``torch.roll``): MEIs then do not exploit single-pixel aliasing of the
    model, and features must work at nearby positions too.
    """

    max_shift: int = 2

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        if self.max_shift == 0:
            return images
        dy, dx = torch.randint(-self.max_shift, self.max_shift + 1, (2,), generator=generator)
        return torch.roll(images, shifts=(int(dy), int(dx)), dims=(-2, -1))


@dataclass(frozen=True)
class RandomScale:
    """Zoom the images about their centre by a factor drawn uniformly from ``scales``."""

    scales: tuple[float, float] = (0.95, 1.05)

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        lo, hi = self.scales
        s = lo + (hi - lo) * torch.rand((), generator=generator).item()
        from torchvision.transforms.v2 import InterpolationMode
        from torchvision.transforms.v2 import functional as TF

        return TF.affine(
            images,
            angle=0.0,
            translate=[0.0, 0.0],
            scale=float(s),
            shear=[0.0, 0.0],
            interpolation=InterpolationMode.BILINEAR,
        )


@dataclass(frozen=True)
class GradientBlur:
    """Gaussian blur (s.d. ``sigma`` pixels) of the gradient before the step: a smoothness prior."""

    sigma: float = 1.0

    def __call__(self, grad: Tensor) -> Tensor:
        if grad.ndim != 4:
            raise ValueError(
                "GradientBlur needs a pixel parameterisation (gradient (n, C, H, W)), "
                f"got a gradient of shape {tuple(grad.shape)}"
            )
        size = 2 * math.ceil(3 * self.sigma) + 1
        size = min(size, 2 * ((min(grad.shape[-2:]) - 1) // 2) + 1)
        from torchvision.transforms.v2 import functional as TF

        return TF.gaussian_blur(grad, [size, size], [self.sigma, self.sigma])


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------
@dataclass
class MEIResult:
    """Output of :func:`compute_meis` (CPU tensors).

    Attributes
    ----------
    images : Tensor
        ``(n, C, H, W)`` the final constrained images, row ``k`` for ``neurons[k]``.
    activations : Tensor
        ``(steps, n)`` each neuron's response to its own (transformed) image at every step.
    final_activation : Tensor
        ``(n,)`` each neuron's response to its final image, without transforms.
    neurons : Tensor
        ``(n,)`` the unit indices.
    seed : int
        The seed of the starting noise and the transforms.
    """

    images: Tensor
    activations: Tensor
    final_activation: Tensor
    neurons: Tensor
    seed: int


def neuron_noise(seed: int, neurons: Tensor, shape: Sequence[int]) -> Tensor:
    """Standard normal noise ``(n, *shape)``, row ``k`` drawn from a generator seeded by
    ``(seed, neurons[k])``: each neuron's noise does not depend on the batch it is in."""
    out = torch.empty(len(neurons), *shape)
    for k, neuron in enumerate(neurons.tolist()):
        state = np.random.SeedSequence([int(seed), int(neuron)]).generate_state(1)[0]
        out[k] = torch.randn(*shape, generator=torch.Generator().manual_seed(int(state)))
    return out


def _make_optimizer(optimizer: str | Callable, params: list[Tensor], lr: float):
    if callable(optimizer):
        return optimizer(params)
    choices = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
    if optimizer not in choices:
        raise ValueError(
            f"optimizer must be one of {sorted(choices)} or a callable(params), got {optimizer!r}"
        )
    return choices[optimizer](params, lr=lr)


def compute_meis(
    model: Callable[..., Any],
    neurons: int | Sequence[int] | Tensor | None = None,
    *,
    image_shape: Sequence[int],
    layer: str | None = None,
    readout: Callable[[Any], Tensor] | None = None,
    constraint: Constraint | None = FixedMeanStd(),
    parameterization: Parameterization | None = None,
    transforms: Sequence[Transform] = (),
    precondition: Callable[[Tensor], Tensor] | None = None,
    optimizer: str | Callable[[list[Tensor]], torch.optim.Optimizer] = "adam",
    lr: float = 0.05,
    steps: int = 200,
    initial: Tensor | None = None,
    init_std: float = 1.0,
    normalize_gradient: bool = True,
    seed: int = 0,
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
    flush_denormal: bool = True,
    progress: bool = True,
    **forward_kwargs: Any,
) -> MEIResult:
    """Most exciting inputs of many neurons by batched gradient ascent.

    Parameters
    ----------
    model : nn.Module or callable
        Encoding model, digital-V1 model or CNN (see
        :func:`artiphys_course.units.response_function`).
    neurons : int, sequence of int or None
        The units: columns of the response, or channels of ``layer`` (default: all).
    image_shape : (C, H, W) or (H, W)
        Shape of one image.
    layer : str, optional
        The neurons are the channels of this layer at the centre of its feature map
        (:class:`artiphys_course.units.LayerUnits`); default: the model's output columns.
    readout : callable, optional
        Applied to the model's output to give the neurons' responses ``(B, n)``.
    constraint : callable or None
        :class:`FixedMeanStd` (default), :class:`FixedNorm` or ``None`` (unconstrained: responses
        usually grow without bound).
    parameterization : callable or None
        :class:`PixelImage` (default) or :class:`FourierImage`.
    transforms : sequence of callables
        Random perturbations applied at each step before the model (:class:`Jitter`, ...).
    precondition : callable or None
        Applied to the parameter's gradient before the step, e.g. :class:`GradientBlur`.
    optimizer : "adam", "sgd" or callable
        A callable gets the parameter list and returns a ``torch.optim.Optimizer``.
    lr : float
        Step size (for SGD with ``normalize_gradient`` it is the RMS pixel change per step).
    steps : int
        Number of gradient steps.
    initial : Tensor, optional
        Starting raw image ``(C, H, W)`` or ``(n, C, H, W)`` (default zeros), to which noise of
        s.d. ``init_std`` (seeded per neuron) is added.
    normalize_gradient : bool
        Divide each image's gradient by its RMS before the step, so that neurons with very
        different gains move at the same speed.
    seed : int
        Seed of the starting noise (per neuron) and of the transforms (per step).
    chunk_size : int, optional
        Neurons per batch (default: all at once).
    device : str or torch.device, optional
        Default: the model's device.
    flush_denormal : bool
        Flush subnormal floats (``|x| < 1.2e-38``) to zero on the CPU while optimising. They
        arise, e.g., as the slope ``exp(u)`` of an ELU far below threshold, and CPU arithmetic on
        them is many times slower (4x for a whole MEI run of an LN model); values that small
        cannot change an image. The setting is switched off again afterwards (PyTorch's default).
    progress : bool
        Progress bar over steps.
    **forward_kwargs
        Passed to the model.

    Returns
    -------
    MEIResult
    """
    steps = validation.integer(steps, "steps", minimum=1)
    if chunk_size is not None:
        chunk_size = validation.integer(chunk_size, "chunk_size", minimum=1)
    validation.integer(seed, "seed")
    lr = validation.positive(lr, "lr")
    validation.finite(init_std, "init_std")
    validation.finite(initial, "initial")
    if isinstance(image_shape, (str, bytes)) or not isinstance(image_shape, Sequence):
        raise TypeError(f"image_shape must be (C, H, W) or (H, W), got {image_shape!r}")
    shape = tuple(validation.integer(s, "image_shape", minimum=1) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W) or (H, W), got {image_shape}")
    device = torch.device(device) if device is not None else model_device(model)
    select = {"layer": layer, "readout": readout}
    with eval_mode(model), _flushing_denormals(flush_denormal):
        fn = response_function(model, **select, **forward_kwargs)
        if isinstance(fn, nn.Module):
            fn = fn.to(device)
        with torch.no_grad():
            n_total = check_responses(fn(torch.zeros(1, *shape, device=device)), 1).shape[1]
        idx = select_neurons(neurons, n_total)
        result = _optimise_in_chunks(
            own_response_function(model, **select, **forward_kwargs),
            idx,
            shape,
            initial=initial,
            chunk_size=chunk_size,
            seed=seed,
            device=device,
            progress=progress,
            constraint=constraint,
            parameterization=parameterization or PixelImage(),
            transforms=transforms,
            precondition=precondition,
            optimizer=optimizer,
            lr=lr,
            steps=steps,
            init_std=init_std,
            normalize_gradient=normalize_gradient,
        )
    return result


@contextmanager
def _flushing_denormals(enabled: bool) -> Iterator[None]:
    """Flush subnormal floats to zero on the CPU inside the block (off again on exit)."""
    if not enabled:
        yield
        return
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _optimise_in_chunks(
    own: OwnResponseFunction,
    idx: Tensor,
    shape: tuple[int, int, int],
    *,
    initial: Tensor | None,
    chunk_size: int | None,
    seed: int,
    **options: Any,
) -> MEIResult:
    """Validate ``initial`` and run :func:`_optimise` on ``chunk_size`` neurons at a time."""
    if initial is not None:
        initial = torch.as_tensor(initial, dtype=torch.float32)
        if initial.shape not in (shape, (len(idx), *shape)):
            raise ValueError(
                f"initial must have shape {shape} or {(len(idx), *shape)}, "
                f"got {tuple(initial.shape)}"
            )
    parts = []
    size = chunk_size or len(idx)
    for start in range(0, len(idx), size):
        chunk = idx[start : start + size]
        init = None
        if initial is not None:
            init = initial if initial.ndim == 3 else initial[start : start + size]
        parts.append(_optimise(own, chunk, shape, initial=init, seed=seed, **options))
    return MEIResult(
        images=torch.cat([p[0] for p in parts]),
        activations=torch.cat([p[1] for p in parts], dim=1),
        final_activation=torch.cat([p[2] for p in parts]),
        neurons=idx,
        seed=int(seed),
    )


def _optimise(
    own: OwnResponseFunction,
    chunk: Tensor,
    shape: tuple[int, int, int],
    *,
    constraint: Constraint | None,
    parameterization: Parameterization,
    transforms: Sequence[Transform],
    precondition: Callable[[Tensor], Tensor] | None,
    optimizer: str | Callable,
    lr: float,
    steps: int,
    initial: Tensor | None,
    init_std: float,
    normalize_gradient: bool,
    seed: int,
    device: torch.device,
    progress: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradient ascent for one batch of neurons; returns (images, activations, final) on CPU."""
    constrain = constraint if constraint is not None else (lambda x: x)
    start = (
        torch.zeros(len(chunk), *shape) if initial is None else initial.expand(len(chunk), *shape)
    )
    start = start + init_std * neuron_noise(seed, chunk, shape)
    param = parameterization.init(constrain(start.to(device))).requires_grad_(True)
    opt = _make_optimizer(optimizer, [param], lr)
    generator = torch.Generator().manual_seed(int(seed))
    cols = chunk.to(device)
    trace = []
    for _ in progress_bar(range(steps), progress, desc="MEI steps"):
        shown = constrain(parameterization(param))
        for transform in transforms:
            shown = transform(shown, generator)
        response = own(shown, cols)
        trace.append(response.detach())  # stays on the device: no sync per step
        # the gradient with respect to the image parameter only: the model's .grad stay untouched
        (grad,) = torch.autograd.grad(-response.sum(), param)
        if precondition is not None:
            grad = precondition(grad)
        if normalize_gradient:
            rms = grad.flatten(1).pow(2).mean(dim=1).sqrt()
            grad = grad / (rms.reshape(-1, *[1] * (grad.ndim - 1)) + 1e-12)
        param.grad = grad
        opt.step()
    with torch.no_grad():
        images = constrain(parameterization(param))
        final = own(images, cols)
    return images.detach().cpu(), torch.stack(trace).cpu(), final.cpu()


# --------------------------------------------------------------------------------------------
# Analyses of MEIs
# --------------------------------------------------------------------------------------------
def image_correlation(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation over pixels of each pair of images.

    Parameters
    ----------
    a, b : Tensor
        ``(n, ...)`` images (any trailing shape, the same for both).

    Returns
    -------
    Tensor
        ``(n,)`` correlations; 0 for a constant image.
    """
    a = torch.as_tensor(a, dtype=torch.float64).flatten(1)
    b = torch.as_tensor(b, dtype=torch.float64).flatten(1)
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    denom = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(denom > 0, (a * b).sum(dim=1) / denom.clamp_min(1e-300), 0.0).float()


def quadrature_correlation(images: Tensor, even: Tensor, odd: Tensor) -> Tensor:
    """Phase-invariant match of images with quadrature pairs of filters (complex cells).

    The multiple correlation ``R`` of each image with the best linear combination of its pair:
    ``R = max_phi corr(image, cos(phi) even + sin(phi) odd)`` when the two filters are
    orthogonal with equal norms (a quadrature pair), and the correlation with their span in
    general. 1 means the image is a Gabor of the pair's orientation, frequency and position,
    with any phase; plain correlation with ``even`` alone would depend on that phase.

    Parameters
    ----------
    images, even, odd : Tensor
        ``(n, ...)`` each, the same trailing shape.

    Returns
    -------
    Tensor
        ``(n,)`` in [0, 1]; 0 for a constant image.
    """
    y = torch.as_tensor(images, dtype=torch.float64).flatten(1)
    basis = torch.stack(
        [torch.as_tensor(f, dtype=torch.float64).flatten(1) for f in (even, odd)], dim=2
    )  # (n, pixels, 2)
    if basis.shape[:2] != y.shape:
        raise ValueError(
            f"images, even and odd must have the same shape, got {tuple(images.shape)}, "
            f"{tuple(even.shape)} and {tuple(odd.shape)}"
        )
    y = y - y.mean(dim=1, keepdim=True)
    basis = basis - basis.mean(dim=1, keepdim=True)
    coef = torch.linalg.lstsq(basis, y[:, :, None]).solution
    fitted = (basis @ coef)[:, :, 0]
    total = y.pow(2).sum(dim=1)
    r2 = torch.where(total > 0, fitted.pow(2).sum(dim=1) / total.clamp_min(1e-300), 0.0)
    return r2.clamp(0, 1).sqrt().float()


def mei_reproducibility(
    model: Callable[..., Any],
    neurons: int | Sequence[int] | Tensor | None = None,
    *,
    seeds: Sequence[int] = (0, 1),
    **mei_kwargs: Any,
) -> tuple[Tensor, list[MEIResult]]:
    """How reproducible MEIs are: correlation of the same neuron's MEIs from different seeds.

    Returns
    -------
    correlation : Tensor
        ``(n,)`` mean over seed pairs of the pixel correlation of the two MEIs.
    results : list of MEIResult
        One per seed.
    """
    if len(seeds) < 2:
        raise ValueError(f"need at least two seeds, got {list(seeds)}")
    results = [compute_meis(model, neurons, seed=s, **mei_kwargs) for s in seeds]
    pairs = [
        image_correlation(results[i].images, results[j].images)
        for i in range(len(seeds))
        for j in range(i + 1, len(seeds))
    ]
    return torch.stack(pairs).mean(dim=0), results


def cross_activation(
    model: Callable[..., Any],
    images: Tensor,
    neurons: int | Sequence[int] | Tensor | None = None,
    *,
    layer: str | None = None,
    readout: Callable[[Any], Tensor] | None = None,
    normalize: str | None = "own",
    device: str | torch.device | None = None,
    **forward_kwargs: Any,
) -> Tensor:
    """Every neuron's response to every MEI, normalised per neuron.

    Parameters
    ----------
    model : nn.Module or callable
        As for :func:`compute_meis`.
    images : Tensor
        ``(m, C, H, W)`` MEIs (or any images).
    neurons : sequence of int, optional
        The units (default: all). With ``normalize="own"`` there must be one image per neuron,
        image ``k`` being the MEI of ``neurons[k]``.
    layer, readout : optional
        Which responses are the neurons, as for :func:`compute_meis`.
    normalize : {"own", "max", None}
        ``"own"``: divide each neuron's row by its response to its own MEI (diagonal = 1; an
        entry above 1 means another neuron's MEI drives it more than its own). ``"max"``: by
        the row's maximum. ``None``: raw responses.

    Returns
    -------
    Tensor
        ``(n_neurons, m)``: entry ``[i, j]`` is neuron ``i``'s response to image ``j`` (CPU).
    """
    if normalize not in ("own", "max", None):
        raise ValueError(f"normalize must be 'own', 'max' or None, got {normalize!r}")
    images = torch.as_tensor(images, dtype=torch.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be (m, C, H, W), got shape {tuple(images.shape)}")
    device = torch.device(device) if device is not None else model_device(model)
    with eval_mode(model):
        fn = response_function(model, layer=layer, readout=readout, **forward_kwargs)
        if isinstance(fn, nn.Module):
            fn = fn.to(device)
        with torch.no_grad():
            out = check_responses(fn(images.to(device)), len(images)).cpu()
    idx = select_neurons(neurons, out.shape[1])
    matrix = out[:, idx].T
    if normalize == "own":
        if len(idx) != len(images):
            raise ValueError(
                f"normalize='own' needs one image per neuron: {len(idx)} neurons, "
                f"{len(images)} images"
            )
        matrix = matrix / matrix.diagonal()[:, None]
    elif normalize == "max":
        matrix = matrix / matrix.amax(dim=1, keepdim=True)
    return matrix


def best_of(results: Sequence[MEIResult]) -> MEIResult:
    """Per neuron, the MEI with the highest final activation among several runs (e.g. seeds).

    Gradient ascent finds a local maximum from where it starts; a rectified neuron whose
    starting image drives it below threshold even has a zero gradient and never moves. Running
    a few seeds and keeping each neuron's best MEI is the usual remedy.
    """
    if not results:
        raise ValueError("need at least one MEIResult")
    first = results[0]
    for r in results[1:]:
        if not torch.equal(r.neurons, first.neurons):
            raise ValueError("all results must be for the same neurons in the same order")
    finals = torch.stack([r.final_activation for r in results])  # (runs, n)
    best = finals.argmax(dim=0)
    cols = torch.arange(len(first.neurons))
    return MEIResult(
        images=torch.stack([r.images for r in results])[best, cols],
        activations=torch.stack([r.activations for r in results])[best, :, cols].T,
        final_activation=finals[best, cols],
        neurons=first.neurons.clone(),
        seed=int(results[int(best.bincount().argmax())].seed),
    )


def spectral_peak(images: Tensor, *, pad_to: int = 128) -> tuple[Tensor, Tensor]:
    """Orientation and spatial frequency of the strongest Fourier component of each image.

    The image (minus its mean) is zero-padded to ``pad_to`` pixels per side for a fine
    frequency grid; the peak of the amplitude spectrum gives the wave vector. Its phase is
    ignored: this is what identifies a complex cell's MEI, whose phase is arbitrary.

    Parameters
    ----------
    images : Tensor
        ``(n, C, H, W)`` or ``(n, H, W)`` (channels are averaged).
    pad_to : int
        Size of the zero-padded FFT (at least the image size).

    Returns
    -------
    orientation_deg : Tensor
        ``(n,)`` stripe orientation in [0, 180), the package convention (0 = horizontal stripes,
        counter-clockwise as seen on screen).
    frequency : Tensor
        ``(n,)`` cycles per pixel.
    """
    images = torch.as_tensor(images, dtype=torch.float64)
    if images.ndim == 4:
        images = images.mean(dim=1)
    if images.ndim != 3:
        raise ValueError(f"images must be (n, C, H, W) or (n, H, W), got {tuple(images.shape)}")
    h, w = images.shape[-2:]
    size = (max(pad_to, h), max(pad_to, w))
    centred = images - images.mean(dim=(1, 2), keepdim=True)
    amplitude = torch.fft.rfft2(centred, s=size).abs().flatten(1)
    f_row = torch.fft.fftfreq(size[0], dtype=torch.float64)
    f_col = torch.fft.rfftfreq(size[1], dtype=torch.float64)
    peak = amplitude.argmax(dim=1)
    fy, fx = f_row[peak // len(f_col)], f_col[peak % len(f_col)]
    # the wave vector points across the stripes: stripes at t modulate along (cos t, sin t) in
    # (row, col) (the direction at t + 90 degrees is (-cos t, -sin t) with rows growing down)
    orientation = torch.rad2deg(torch.atan2(fx, fy)) % 180.0
    return orientation.float(), torch.hypot(fy, fx).float()
