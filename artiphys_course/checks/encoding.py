"""Checks for notebook 03 (encoding models): smoothness, grid coordinates, bilinear reads, and
the LN and core + Gaussian readout models built from the package's parts.

The model-building checks test the model's contract, not a trained score: the package's core
and readout classes, the zoo's architecture (:func:`artiphys_course.models.zoo.build_model`,
same number of parameters and settings), positive rates of shape ``(batch, neurons)``, a bias
that starts at the mean response, and a loss whose gradient reaches every trainable parameter
(a part cut off from the computation, or detached, gets none).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from artiphys_course.checks.core import CheckResult, Mistake, Observed, check_function
from artiphys_course.models.cores import (
    NormalizationCore,
    SimpleConvCore,
    Stacked2dCore,
    laplace_l2,
)
from artiphys_course.models.readouts import (
    FactorizedReadout,
    FullyConnectedReadout,
    GaussianReadout,
    PositionNetwork,
    pixels_to_grid,
    read_features,
)
from artiphys_course.models.shifters import MLPShifter
from artiphys_course.models.zoo import build_model

__all__ = [
    "check_build_core_gaussian_model",
    "check_build_ln_model",
    "check_laplace_penalty",
    "check_pixels_to_grid",
    "check_read_features",
]

_LAPLACIAN = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])


def _rough(weights: torch.Tensor, padding: int | str = 1) -> torch.Tensor:
    """The Laplacian of each 2-D slice of ``weights (out, in, k, k)``: ``(out * in, 1, k', k')``."""
    flat = weights.reshape(-1, 1, *weights.shape[-2:])
    if padding == "replicate":
        flat, padding = F.pad(flat, (1, 1, 1, 1), mode="replicate"), 0
    return F.conv2d(flat, _LAPLACIAN.to(weights)[None, None], padding=padding)


_LAPLACE_MISTAKES = [
    Mistake(
        "the penalty without its normalisation",
        lambda w: _rough(w).pow(2).sum(),
        "The penalty should measure the shape of the filters, not their size: scaling all "
        "weights by 10 must not change it.",
    ),
    Mistake(
        "a convolution without zero padding (the border is never penalised)",
        lambda w: _rough(w, padding=0).pow(2).sum() / w.pow(2).sum(),
        "The Laplacian is taken at every pixel of the filter, also on its border, with zeros "
        "outside the filter.",
    ),
    Mistake(
        "edge (replicate) padding instead of zeros",
        lambda w: _rough(w, padding="replicate").pow(2).sum() / w.pow(2).sum(),
        "Outside the filter the weights count as zero: a filter that does not fall to zero at "
        "its border is rough there.",
    ),
    Mistake(
        "one ratio per 2-D slice, averaged",
        lambda w: (
            _rough(w).pow(2).sum((1, 2, 3)) / w.reshape(-1, 1, *w.shape[-2:]).pow(2).sum((1, 2, 3))
        ).mean(),
        "Normalise once, by all the weights together: sum the roughness of every slice and "
        "divide by the summed squares of all of them.",
    ),
]


def check_laplace_penalty(student: Callable[[torch.Tensor], Any]) -> CheckResult:
    """Check ``student(weights (out, in, k, k))`` against the normalised Laplace-L2 penalty.

    Reference: :func:`artiphys_course.models.cores.laplace_l2` (``normalize=True``).
    """
    g = torch.Generator().manual_seed(0)
    delta = torch.zeros(1, 1, 5, 5)
    delta[0, 0, 2, 2] = 1.0
    smooth = torch.outer(torch.hann_window(9, periodic=False), torch.hann_window(9, periodic=False))
    cases = [
        (delta,),
        (smooth[None, None],),
        (torch.randn(8, 1, 9, 9, generator=g),),
        (torch.randn(4, 3, 7, 7, generator=g) + 1.0,),
    ]
    return check_function(
        student,
        laplace_l2,
        cases,
        name="laplace_penalty",
        rtol=1e-4,
        atol=1e-6,
        mistakes=_LAPLACE_MISTAKES,
        forbidden=["artiphys_course.models.cores.laplace_l2"],
        hint="Treat every 2-D slice of the filters as an image: its roughness is how much the "
        "discrete Laplacian responds to it, everywhere on the slice; then make the penalty "
        "independent of the overall size of the weights.",
        fallback="artiphys_course.models.cores.laplace_l2",
    )


def _grid(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.stack([x, y], dim=1)


_GRID_MISTAKES = [
    Mistake(
        "(y, x): the row first",
        lambda p, s: pixels_to_grid(p, s).flip(1),
        "grid_sample wants x first, and x runs along the columns.",
    ),
    Mistake(
        "dividing by the size instead of the distance between the first and last pixel",
        lambda p, s: _grid(2 * p[:, 1] / s[1] - 1, 2 * p[:, 0] / s[0] - 1),
        "With align_corners=True, -1 and +1 are the centres of the first and the last pixel, "
        "so the last pixel must land exactly on +1.",
    ),
    Mistake(
        "the align_corners=False convention (pixel edges at -1 and +1)",
        lambda p, s: _grid((2 * p[:, 1] + 1) / s[1] - 1, (2 * p[:, 0] + 1) / s[0] - 1),
        "The readout uses align_corners=True: the first pixel's centre, not its left edge, "
        "is at -1.",
    ),
    Mistake(
        "height and width swapped",
        lambda p, s: _grid(2 * p[:, 1] / (s[0] - 1) - 1, 2 * p[:, 0] / (s[1] - 1) - 1),
        "shape is (height, width); columns are scaled by the width.",
    ),
    Mistake(
        "coordinates in [0, 1] instead of [-1, 1]",
        lambda p, s: (pixels_to_grid(p, s) + 1) / 2,
        "grid_sample's coordinates run from -1 to +1 across the map.",
    ),
]


def check_pixels_to_grid(student: Callable[[torch.Tensor, tuple[int, int]], Any]) -> CheckResult:
    """Check ``student(pixels (n, 2) (row, col), (height, width))`` -> grid ``(n, 2)`` ``(x, y)``.

    Reference: :func:`artiphys_course.models.readouts.pixels_to_grid`.
    """
    rng = np.random.default_rng(1)
    cases = [
        (torch.tensor([[0.0, 0.0], [35.0, 63.0], [17.5, 31.5]]), (36, 64)),
        (torch.tensor(rng.uniform(0, 9, size=(10, 2)), dtype=torch.float32), (10, 10)),
        (torch.tensor([[2.0, 7.0], [0.0, 10.0]]), (5, 11)),
        (torch.tensor(rng.uniform(0, 6, size=(6, 2)), dtype=torch.float32), (7, 20)),
    ]
    return check_function(
        student,
        pixels_to_grid,
        cases,
        name="pixels_to_grid",
        rtol=1e-5,
        atol=1e-6,
        mistakes=_GRID_MISTAKES,
        forbidden=["artiphys_course.models.readouts.pixels_to_grid"],
        hint="Check the corners: pixel (0, 0) must map to (-1, -1) and pixel "
        "(height - 1, width - 1) to (+1, +1), with x, along the columns, first.",
        fallback="artiphys_course.models.readouts.pixels_to_grid",
    )


def _swapped_weights(features: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Bilinear reads with each weight on the opposite neighbour (``dr`` where ``1 - dr`` goes)."""
    height, width = features.shape[-2:]
    r0 = pixels[:, 0].floor().long().clamp(0, height - 1)
    c0 = pixels[:, 1].floor().long().clamp(0, width - 1)
    dr, dc = pixels[:, 0] - r0, pixels[:, 1] - c0
    r1, c1 = (r0 + 1).clamp(max=height - 1), (c0 + 1).clamp(max=width - 1)
    return (
        dr * dc * features[:, :, r0, c0]
        + dr * (1 - dc) * features[:, :, r0, c1]
        + (1 - dr) * dc * features[:, :, r1, c0]
        + (1 - dr) * (1 - dc) * features[:, :, r1, c1]
    )


_READ_MISTAKES = [
    Mistake(
        "the nearest pixel instead of an interpolation",
        lambda f, p: read_features(f, p.round()),
        "Between pixels the value changes smoothly: every one of the four surrounding pixels "
        "contributes, more the closer it is.",
    ),
    Mistake(
        "each weight on the opposite neighbour",
        _swapped_weights,
        "At a whole pixel (dr = dc = 0) the result must be that pixel itself: the closer "
        "neighbour gets the larger weight.",
    ),
    Mistake(
        "row and column swapped",
        lambda f, p: read_features(f.transpose(-2, -1), p),
        "A position is (row, col): the row indexes the height of the map.",
    ),
    Mistake(
        "the result as (B, n, C)",
        lambda f, p: read_features(f, p).transpose(1, 2),
        "The docstring asks for (B, C, n): channels before positions.",
    ),
]


def check_read_features(student: Callable[[torch.Tensor, torch.Tensor], Any]) -> CheckResult:
    """Check ``student(features (B, C, H, W), pixels (n, 2))`` -> ``(B, C, n)`` bilinear reads.

    Reference: :func:`artiphys_course.models.readouts.read_features` (``grid_sample``).
    """
    g = torch.Generator().manual_seed(2)
    features = torch.randn(3, 4, 6, 9, generator=g)
    cases = [
        (features, torch.tensor([[0.0, 0.0], [2.0, 5.0], [5.0, 8.0]])),  # whole pixels
        (features, torch.tensor([[2.5, 5.0], [1.0, 3.25], [4.75, 0.5]])),  # in between
        (torch.randn(2, 1, 5, 5, generator=g), torch.rand(7, 2, generator=g) * 4),
        (torch.randn(1, 3, 7, 4, generator=g), torch.rand(5, 2, generator=g) * 3),
    ]
    return check_function(
        student,
        read_features,
        cases,
        name="read_features",
        rtol=1e-4,
        atol=1e-5,
        mistakes=_READ_MISTAKES,
        forbidden=["artiphys_course.models.readouts.read_features"],
        hint="Split each position into its whole pixel and the fraction past it; the value is "
        "a weighted average of the four pixels around the position, and a neighbour past the "
        "last row or column is the pixel itself.",
        fallback="artiphys_course.models.readouts.read_features",
    )


# --------------------------------------------------------------------------------------------
# The models, built from the package's parts
# --------------------------------------------------------------------------------------------
_CORES = (NormalizationCore, Stacked2dCore, SimpleConvCore)
_READOUTS = (FullyConnectedReadout, GaussianReadout, FactorizedReadout)
_NONE = "none of the package's"


def _part(model: nn.Module, kinds: tuple[type, ...]) -> nn.Module | None:
    return next((m for m in model.modules() if isinstance(m, kinds)), None)


def _names(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def _describe_model(
    model: Any,
    image_shape: tuple[int, int],
    n_neurons: int,
    mean_response: np.ndarray,
    cortex_coordinates: np.ndarray | None = None,
) -> dict[str, Any]:
    """The contract of an encoding model, as named properties (what the checks compare)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"return the model (a torch.nn.Module), not a {type(model).__name__}")
    core, readout = _part(model, _CORES), _part(model, _READOUTS)
    described: dict[str, Any] = {
        "core": type(core).__name__ if core is not None else f"{_NONE} cores",
        "readout": type(readout).__name__ if readout is not None else f"{_NONE} readouts",
    }
    bias = getattr(readout, "bias", None)
    if isinstance(readout, FullyConnectedReadout):
        bias = readout.linear.bias
        described["readout penalties (ridge, smoothness)"] = (readout.gamma, readout.gamma_smooth)
    start = np.clip(np.asarray(mean_response, dtype=np.float32), 1e-3, None)
    described["bias starts at the mean response"] = bias is not None and bool(
        np.allclose((F.elu(bias) + 1).detach().numpy(), start, rtol=1e-4, atol=1e-5)
    )
    if isinstance(core, Stacked2dCore):
        described["linear core"] = core.linear
        described["first-layer smoothness weight"] = core.gamma_input
    if isinstance(readout, GaussianReadout):
        described["feature maps read (channels, height, width)"] = readout.in_shape
        described["readout L1 weight"] = readout.gamma
        network = getattr(readout, "position_network", None)
        described["positions from the cortical coordinates"] = isinstance(
            network, PositionNetwork
        ) and bool(
            torch.allclose(network.source_grid, PositionNetwork(cortex_coordinates).source_grid)
        )
        described["shifter"] = _part(model, (MLPShifter,)) is not None
    parameters = dict(model.named_parameters())
    described["parameters"] = sum(p.numel() for p in parameters.values())
    described["frozen parameters"] = _names(
        [k for k, p in parameters.items() if not p.requires_grad]
    )
    images = torch.randn(4, 1, *image_shape)
    pupil = torch.randn(4, 2)
    model.train()
    rates = model(images, pupil_center=pupil)
    (rates.sum() + model.regularizer()).backward()
    model.eval()
    with torch.no_grad():
        test_rates = model(images, pupil_center=pupil)
    described["output shape"] = tuple(test_rates.shape)
    described["rates positive"] = bool((rates > 0).all() and (test_rates > 0).all())
    described["parameters without a gradient"] = _names(
        [k for k, p in parameters.items() if p.requires_grad and p.grad is None]
    )
    return described


def _model_cases(core_readout: bool) -> list[tuple[Any, ...]]:
    """Grey images of three sizes, seeded mean responses (some below 1) and cortical positions.

    Each case is ``(image_shape, n_neurons, mean_response)``, plus ``cortex_coordinates`` for
    the core + readout model.
    """
    rng = np.random.default_rng(3)
    cases = []
    for image_shape, n_neurons in (((24, 40), 6), ((20, 30), 4), ((17, 23), 3)):
        case = (image_shape, n_neurons, rng.uniform(0.2, 2.5, n_neurons).astype(np.float32))
        if core_readout:
            case += (rng.uniform(0, 400, (n_neurons, 2)),)
        cases.append(case)
    return cases


def _zoo_ln(
    image_shape: tuple[int, int], n_neurons: int, mean_response: np.ndarray, **recipe: Any
) -> nn.Module:
    """The zoo's LN model (``recipe``: overrides of its ``"model"`` options, for mistakes)."""
    return build_model(
        "ln", (1, *image_shape), n_neurons, recipe={"model": recipe}, mean_response=mean_response
    )


def _zoo_gaussian(
    image_shape: tuple[int, int],
    n_neurons: int,
    mean_response: np.ndarray | None,
    cortex_coordinates: np.ndarray,
    **recipe: Any,
) -> nn.Module:
    """The zoo's core + Gaussian readout model (``recipe``: overrides, for mistakes)."""
    return build_model(
        "gaussian",
        (1, *image_shape),
        n_neurons,
        recipe=recipe,
        mean_response=mean_response,
        cortex_coordinates=cortex_coordinates,
    )


_NO_BIAS_HINT = (
    "An untrained model should already predict each neuron's average response: one argument "
    "of the readout sets that starting point."
)
_FORBIDDEN_BUILDERS = [
    "artiphys_course.models.zoo.build_model",
    "artiphys_course.models.zoo.trained_model",
    "artiphys_course.models.encoders.ln_model",
    "artiphys_course.models.encoders.core_readout_model",
]


def _observed(build: Callable[..., Any]) -> Observed:
    """``build`` followed by the description of the model it returns."""
    return Observed(build, _describe_model)


def check_build_ln_model(
    student: Callable[[tuple[int, int], int, np.ndarray], Any],
) -> CheckResult:
    """Check ``student(image_shape, n_neurons, mean_response)`` -> the zoo's LN model.

    Built with seeded weights on grey images of three sizes and compared by its contract (see
    the module docstring) with :func:`artiphys_course.models.zoo.build_model` ``("ln", ...)``.
    """
    mistakes = [
        Mistake(
            "a bias that does not start at the mean response",
            _observed(lambda image_shape, n_neurons, _: _zoo_ln(image_shape, n_neurons, None)),
            _NO_BIAS_HINT,
        ),
        Mistake(
            "the readout's default penalties",
            _observed(lambda *case: _zoo_ln(*case, gamma=1.0, gamma_smooth=0.0)),
            "Receptive fields are smooth, not small: the LN recipe penalises rough filters and "
            "not large ones (see the penalty weights in the docstring).",
        ),
    ]
    return check_function(
        _observed(student),
        _observed(_zoo_ln),
        _model_cases(core_readout=False),
        name="build_ln_model",
        mistakes=mistakes,
        forbidden=_FORBIDDEN_BUILDERS,
        hint="Compare your model with the docstring part by part: the core, the readout, its "
        "penalty weights and its starting bias, and the image shape the model expects.",
        fallback="artiphys_course.models.zoo.build_model('ln', ...)",
    )


def _gaussian_mistake(name: str, hint: str, **recipe: Any) -> Mistake:
    return Mistake(name, _observed(lambda *case: _zoo_gaussian(*case, **recipe)), hint)


_GAUSSIAN_MISTAKES = [
    _gaussian_mistake(
        "free positions instead of the position network",
        "Neighbouring neurons in cortex see neighbouring parts of the image: the positions "
        "should be a function of the neurons' cortical coordinates.",
        model={"position_network": False},
    ),
    _gaussian_mistake(
        "a model without a shifter",
        "The eye moves from trial to trial; one small network turns the pupil position into a "
        "shift of all read-out positions.",
        model={"shifter": False},
    ),
    _gaussian_mistake(
        "the linear core",
        "This model's core is nonlinear; the linear variant is the other model of section 6.",
        core={"linear": True},
    ),
    _gaussian_mistake(
        "a readout that sees only the last layer's features",
        "Each neuron can combine small- and large-scale features: the readout sees the "
        "features of every layer of the core (16 channels each).",
        core={"stack": -1},
    ),
    _gaussian_mistake(
        "a first layer without stride",
        "The first convolution takes every second pixel, so the feature maps are half the "
        "image size in each direction.",
        core={"input_stride": 1},
    ),
    _gaussian_mistake(
        "the readout's default L1 weight",
        "The recipe's sparsity penalty on the readout's feature weights is in the docstring.",
        model={"gamma_readout": 0.1},
    ),
    Mistake(
        "a bias that does not start at the mean response",
        _observed(lambda shape, n, _, coordinates: _zoo_gaussian(shape, n, None, coordinates)),
        _NO_BIAS_HINT,
    ),
]


def check_build_core_gaussian_model(
    student: Callable[[tuple[int, int], int, np.ndarray, np.ndarray], Any],
) -> CheckResult:
    """Check ``student(image_shape, n_neurons, mean_response, cortex_coordinates)``.

    The answer must be the zoo's core + Gaussian readout model (stacked core, Gaussian readout
    with position network, shifter), compared by its contract (see the module docstring) with
    :func:`artiphys_course.models.zoo.build_model` ``("gaussian", ...)``.
    """
    return check_function(
        _observed(student),
        _observed(_zoo_gaussian),
        _model_cases(core_readout=True),
        name="build_core_gaussian_model",
        mistakes=_GAUSSIAN_MISTAKES,
        forbidden=_FORBIDDEN_BUILDERS,
        hint="Compare your model with the docstring part by part: the core's layers, which "
        "features the readout sees, where the positions come from, the shifter, the penalty "
        "weights and the starting bias.",
        fallback="artiphys_course.models.zoo.build_model('gaussian', ...)",
    )
