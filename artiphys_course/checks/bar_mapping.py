"""Exercise checks for notebook 01 (bar mapping).

Each check runs the student's function on fixed and seeded random inputs, compares with the
package's reference and returns a one-line :class:`~artiphys_course.checks.core.CheckResult`;
it names the common mistakes of the exercise (degrees used as radians, rows that grow
downwards, the wrong bars or weights, a network left in training mode, the wrong unit...) and
catches a function that calls the package instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from artiphys_course.barmap import orientation_tuning, weighted_bar_map
from artiphys_course.checks.core import CheckResult, Mistake, check_function
from artiphys_course.runtime import ArtiphysWarning, seeded
from artiphys_course.stimuli import BarSet, bar_coverage, make_bar_set

__all__ = [
    "check_bar_mapping_run",
    "check_draw_bar",
    "check_orientation_tuning_curve",
    "check_weighted_map",
]


# The package functions the checks compute with, kept here: while a student's function runs, the
# `forbidden` ones are blocked wherever a module binds them, and a chained exercise reruns with
# the reference helpers below, which must keep working then.
_PACKAGE: dict[str, Callable[..., Any]] = {
    "bar_coverage": bar_coverage,
    "make_bar_set": make_bar_set,
    "orientation_tuning": orientation_tuning,
    "weighted_bar_map": weighted_bar_map,
}


# -- draw_bar ------------------------------------------------------------------------------------


def _reference_bar(
    size: int,
    orientation_deg: float,
    length: float,
    width: float,
    center: tuple[float, float],
) -> np.ndarray:
    """The package's hard-edged bar, ``(size, size)`` float64."""
    cov = _PACKAGE["bar_coverage"](
        size, orientation_deg, length, width, center, antialias=False, dtype=torch.float64
    )
    return cov[0].numpy()


def _drawn(
    size: int,
    orientation_deg: float,
    length: float,
    width: float,
    center: tuple[float, float],
    *,
    radians: bool = False,
    rows_up: bool = True,
    center_xy: bool = False,
    swap_axes: bool = False,
    full_extent: bool = False,
    strict: bool = False,
) -> np.ndarray:
    """A hard-edged bar drawn with one step done differently (the known mistakes)."""
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    row0, col0 = center[::-1] if center_xy else center
    t = orientation_deg if radians else np.deg2rad(orientation_deg)
    dx, dy = cols - col0, (row0 - rows) if rows_up else (rows - row0)
    u = dx * np.cos(t) + dy * np.sin(t)
    v = dy * np.cos(t) - dx * np.sin(t)
    if swap_axes:
        u, v = v, u
    half_l, half_w = (length, width) if full_extent else (length / 2, width / 2)
    inside = np.less if strict else np.less_equal
    return (inside(np.abs(u), half_l) & inside(np.abs(v), half_w)).astype(float)


def _variant(**how: bool) -> Callable[..., np.ndarray]:
    return lambda size, o, ln, w, c: _drawn(size, o, ln, w, c, **how)


_BAR_MISTAKES = [
    Mistake(
        "degrees used as radians",
        _variant(radians=True),
        "Orientations are given in degrees; NumPy's trigonometric functions expect radians.",
    ),
    Mistake(
        "a clockwise orientation (rows grow downwards)",
        _variant(rows_up=False),
        "Orientations turn counter-clockwise as seen on screen, and image rows grow downwards.",
    ),
    Mistake(
        "the centre read as (x, y)",
        _variant(center_xy=True),
        "Positions are (row, col): the first number counts rows from the top.",
    ),
    Mistake(
        "length and width swapped (a bar turned by 90 degrees)",
        _variant(swap_axes=True),
        "The length runs along the orientation, the width across it.",
    ),
    Mistake(
        "a bar twice as long and wide",
        _variant(full_extent=True),
        "The bar extends from its centre by half its length (and half its width) each way.",
    ),
    Mistake(
        "pixels on the edge left out",
        _variant(strict=True),
        "A pixel whose centre lies exactly on the bar's edge is inside the bar.",
    ),
]


def _bar_cases(seed: int, n: int) -> list[tuple[int, float, float, float, tuple[float, float]]]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        size = int(rng.integers(15, 33))
        centre = (size - 1) / 2 + rng.uniform(-3, 3, size=2)
        cases.append(
            (
                size,
                float(rng.uniform(0, 180)),
                float(rng.uniform(5, 0.7 * size)),
                float(rng.uniform(1.5, 5)),
                (float(centre[0]), float(centre[1])),
            )
        )
    return cases


def check_draw_bar(student: Callable) -> CheckResult:
    """Exercise: ``draw_bar(size, orientation_deg, length, width, center)`` -> ``(size, size)``.

    1 where the pixel centre lies inside the bar (``|u| <= length / 2`` and
    ``|v| <= width / 2``), 0 elsewhere; no antialiasing.
    """
    cases = [
        (21, 0.0, 10.0, 4.0, (10.0, 10.0)),  # edges through pixel centres
        (21, 90.0, 11.0, 3.0, (10.0, 10.0)),
        (25, 45.0, 15.0, 4.2, (12.3, 11.7)),
        (31, 120.0, 19.0, 2.6, (15.2, 14.4)),
        (31, 160.0, 7.0, 5.0, (9.6, 20.2)),
        *_bar_cases(0, 3),
    ]
    return check_function(
        student,
        _reference_bar,
        cases,
        name="draw_bar",
        mistakes=_BAR_MISTAKES,
        forbidden=["artiphys_course.stimuli.bar_coverage", "artiphys_course.stimuli.make_bars"],
        hint="Draw the first test bar (horizontal, 10 x 4 pixels, centred) on paper and compare "
        "it with your array, row by row.",
        fallback="artiphys_course.stimuli.make_bars",
    )


# -- weighted_map --------------------------------------------------------------------------------


def _bar_problem(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    bars = _PACKAGE["make_bar_set"](21, rf_size=13, n_orientations=4, n_positions=3)
    rng = np.random.default_rng(seed)
    responses = rng.gamma(2.0, 1.0, len(bars))
    return responses, bars.coverage().numpy().astype(np.float64), int(rng.integers(5, 30))


def _small_problem() -> tuple[np.ndarray, np.ndarray, int]:
    """Five bars on a 4 x 4 screen, with negative responses."""
    coverage = np.zeros((5, 4, 4))
    coverage[0, 0, :] = coverage[1, :, 1] = coverage[2, 2, :] = 1.0
    coverage[3, :, 3] = coverage[4, 1:3, 1:3] = 1.0
    return np.array([-1.0, 3.0, 0.5, 2.0, -0.25]), coverage, 2


def _mapped(
    responses: np.ndarray,
    coverage: np.ndarray,
    top_n: int,
    *,
    ascending: bool = False,
    centre: Callable[[np.ndarray], float] = np.median,
    uniform: bool = False,
    every_bar: bool = False,
    average: bool = False,
) -> np.ndarray:
    """A top map with one step done differently (the known mistakes)."""
    order = np.argsort(responses) if ascending else np.argsort(responses)[::-1]
    chosen = order if every_bar else order[:top_n]
    weights = np.ones(len(chosen)) if uniform else responses[chosen] - centre(responses)
    total = np.tensordot(weights, coverage[chosen], axes=1)
    return total / len(chosen) if average else total


_MAP_MISTAKES = [
    Mistake(
        "the weakest bars instead of the strongest",
        lambda r, c, n: _mapped(r, c, n, ascending=True),
        "A top map is made of the bars the unit responds to most.",
    ),
    Mistake(
        "raw responses as weights",
        lambda r, c, n: _mapped(r, c, n, centre=lambda x: 0.0),
        "A weight says how far a bar's response lies above a typical response of the unit.",
    ),
    Mistake(
        "the mean instead of the median as the typical response",
        lambda r, c, n: _mapped(r, c, n, centre=np.mean),
        "The typical response is the one that splits the bars in halves (robust to outliers).",
    ),
    Mistake(
        "equal weights for the chosen bars",
        lambda r, c, n: _mapped(r, c, n, uniform=True),
        "This map weights every bar by its response (relative to a typical one).",
    ),
    Mistake(
        "every bar instead of the top_n",
        lambda r, c, n: _mapped(r, c, n, every_bar=True),
        "Only the `top_n` most effective bars enter the map.",
    ),
    Mistake(
        "an average instead of a sum",
        lambda r, c, n: _mapped(r, c, n, average=True),
        "On a zero background overlapping bars add up.",
    ),
]


def _weighted_map_reference(responses: np.ndarray, coverage: np.ndarray, top_n: int) -> np.ndarray:
    return _PACKAGE["weighted_bar_map"](responses, coverage, top_n=top_n)


def check_weighted_map(student: Callable) -> CheckResult:
    """Exercise: ``weighted_map(responses, coverage, top_n)`` -> ``(H, W)`` top weighted bar map.

    Sum of the ``top_n`` strongest bars' coverage images, each weighted by its response minus the
    median response over all bars.
    """
    return check_function(
        student,
        _weighted_map_reference,
        [_small_problem(), *(_bar_problem(seed) for seed in (0, 1, 2))],
        name="weighted_map",
        atol=1e-6,
        mistakes=_MAP_MISTAKES,
        forbidden=["artiphys_course.barmap.weighted_bar_map", "artiphys_course.barmap.bar_map"],
        hint="Work out the first test input (5 bars on a 4 x 4 screen, top 2) by hand.",
        fallback="artiphys_course.barmap.weighted_bar_map",
    )


# -- orientation_tuning_curve --------------------------------------------------------------------


def _tuning_variant(
    responses: np.ndarray,
    orientation_deg: np.ndarray,
    *,
    summary: Callable[[np.ndarray], float] = np.max,
    in_order_seen: bool = False,
) -> np.ndarray:
    values, first = np.unique(orientation_deg, return_index=True)
    if in_order_seen:
        values = orientation_deg[np.sort(first)]
    return np.array([summary(responses[orientation_deg == o]) for o in values])


_TUNING_MISTAKES = [
    Mistake(
        "the mean response instead of the best one",
        lambda r, o: _tuning_variant(r, o, summary=np.mean),
        "For each orientation the curve keeps the unit's best bar (over lengths, widths, "
        "positions and polarities), not a typical one.",
    ),
    Mistake(
        "the largest absolute response",
        lambda r, o: _tuning_variant(r, o, summary=lambda x: np.abs(x).max()),
        "A strongly negative response is a weak response.",
    ),
    Mistake(
        "the orientations in the order they first appear",
        lambda r, o: _tuning_variant(r, o, in_order_seen=True),
        "The curve runs over the distinct orientations in increasing order.",
    ),
    Mistake(
        "the summed response",
        lambda r, o: _tuning_variant(r, o, summary=np.sum),
        "For each orientation the curve keeps one response: the best.",
    ),
]


def check_orientation_tuning_curve(student: Callable) -> CheckResult:
    """Exercise: ``orientation_tuning_curve(responses, orientation_deg)`` -> ``(k,)``.

    For each distinct bar orientation (sorted ascending) the largest response among all bars of
    that orientation.
    """

    def reference(responses, orientation_deg):
        return _PACKAGE["orientation_tuning"](responses, orientation_deg)[1][:, 0]

    cases = [(np.array([1.0, -3.0, 2.0, 0.5, 4.0, -1.0]), np.array([90.0, 0, 45, 0, 90, 45]))]
    for seed in (0, 1):
        bars = _PACKAGE["make_bar_set"](21, rf_size=13, n_orientations=6, n_positions=3)
        responses = np.random.default_rng(seed).normal(size=len(bars))
        cases.append((responses, bars.orientation_deg.astype(np.float64)))
    rng = np.random.default_rng(2)
    shuffled = rng.permutation(len(bars))
    cases.append((rng.normal(size=len(bars)), bars.orientation_deg[shuffled].astype(np.float64)))
    return check_function(
        student,
        reference,
        cases,
        name="orientation_tuning_curve",
        mistakes=_TUNING_MISTAKES,
        forbidden=["artiphys_course.barmap.orientation_tuning"],
        hint="Work out the first test input (six bars, three orientations) by hand.",
        fallback="artiphys_course.barmap.orientation_tuning",
    )


# -- bar_mapping_run -----------------------------------------------------------------------------


def _standardise(images: torch.Tensor) -> torch.Tensor:
    """The checks' stand-in for ``imagenet_normalize``: mid-grey becomes 0."""
    return (images - 0.5) / 0.25


def _mapping_model(seed: int, in_channels: int) -> nn.Sequential:
    """A small CNN with BatchNorm, built (and left) in training mode like a fresh network."""
    with seeded(seed):
        model = nn.Sequential(
            nn.Conv2d(in_channels, 4, 5, padding=2),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 5, 5),
            nn.ReLU(),
        )
        bn = model[1]
        bn.running_mean.uniform_(-0.5, 0.5)  # stored statistics unlike any batch's
        bn.running_var.uniform_(0.5, 2.0)
    return model.train()


def _run_variant(
    model: nn.Module,
    layer: str,
    channel: int,
    bars: BarSet,
    top_n: int,
    *,
    in_channels: int = 3,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 64,
    train: bool = False,
    position: str = "centre",
    polarity: bool = True,
    background: float = 0.5,
    use_transform: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """A bar-mapping run with one step done differently (the reference with the defaults).

    Uses the forward hook of plain PyTorch and its own drawing, so that the package's recording
    tools stay available to students while grading disables the check's references.
    """
    coverage = _PACKAGE["bar_coverage"](
        bars.image_shape,
        bars.orientation_deg,
        bars.length,
        bars.width,
        bars.center,
        antialias=False,
        dtype=torch.float64,
    )
    sign = torch.as_tensor(bars.polarity, dtype=coverage.dtype).reshape(-1, 1, 1)
    images = background + 0.5 * (sign if polarity else 1.0) * coverage
    images = images[:, None].expand(-1, in_channels, -1, -1).float()
    target = dict(model.named_modules())[layer]
    outputs: list[torch.Tensor] = []
    handle = target.register_forward_hook(lambda _m, _i, out: outputs.append(out))
    model.train(train)
    try:
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                batch = images[i : i + batch_size]
                model(transform(batch) if transform is not None and use_transform else batch)
    finally:
        handle.remove()
    out = torch.cat(outputs)
    h, w = out.shape[-2:]
    if position == "centre":
        responses = out[:, channel, (h - 1) // 2, (w - 1) // 2]
    elif position == "past centre":
        responses = out[:, channel, h // 2, w // 2]
    elif position == "corner":
        responses = out[:, channel, 0, 0]
    else:  # the channel's mean
        responses = out[:, channel].mean((1, 2))
    responses = responses.numpy().astype(np.float64)
    return responses, _PACKAGE["weighted_bar_map"](responses, coverage.numpy(), top_n=top_n)


def _run_mistake(**how: Any) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    return lambda *args, **kwargs: _run_variant(*args, **kwargs, **how)


_RUN_MISTAKES = [
    Mistake(
        "the network left in training mode",
        _run_mistake(train=True),
        "A freshly built network is in training mode: BatchNorm then uses each batch's own "
        "statistics, so a bar's response depends on the other bars in its batch.",
    ),
    Mistake(
        "the unit just past the centre",
        _run_mistake(position="past centre"),
        "Count the units of a map from 0: on a map with an even number of units, which one is "
        "the centre unit (notebook 02)?",
    ),
    Mistake(
        "the first unit of the map instead of the centre unit",
        _run_mistake(position="corner"),
        "The bars are placed around the RF of the unit at the centre of the map.",
    ),
    Mistake(
        "the channel's mean instead of one unit",
        _run_mistake(position="mean"),
        "A bar map describes one unit, at one position of the map.",
    ),
    Mistake(
        "every bar drawn bright",
        _run_mistake(polarity=False),
        "Half of the bars are darker than the background: see each bar's polarity.",
    ),
    Mistake(
        "bars on a black background",
        _run_mistake(background=0.0),
        "The network sees a mid-grey screen with a brighter or darker bar on it.",
    ),
    Mistake(
        "the transform not applied",
        _run_mistake(use_transform=False),
        "The network expects its inputs standardised as in training: `transform` does it.",
    ),
]


def _run_cases() -> list[dict[str, Any]]:
    small = dict(lengths=(0.75, 0.4), aspect_ratios=(0.3,), n_orientations=4, n_positions=3)
    # 144 bars each (at most 3 batches); top_n where no two responses tie at the cut (for the
    # reference and every known mistake), so the top map is unambiguous
    return [
        dict(
            model=_mapping_model(0, 1),
            layer="4",
            channel=2,
            bars=_PACKAGE["make_bar_set"](21, rf_size=13, **small),
            top_n=20,
            in_channels=1,
            batch_size=64,
        ),
        dict(
            model=_mapping_model(1, 1),
            layer="4",
            channel=0,
            bars=_PACKAGE["make_bar_set"](21, rf_size=11, **small),
            top_n=20,
            in_channels=1,
            batch_size=50,
        ),
        dict(
            model=_mapping_model(2, 3),
            layer="4",
            channel=4,
            bars=_PACKAGE["make_bar_set"](19, rf_size=13, **small),
            top_n=10,
            in_channels=3,
            transform=_standardise,
            batch_size=72,
        ),
    ]


def check_bar_mapping_run(student: Callable) -> CheckResult:
    """Exercise: ``bar_mapping_run(model, layer, channel, bars, top_n, ...)``.

    The full run for the centre unit of one channel: draw every bar of a ``BarSet`` with the
    student's ``draw_bar`` (hard edges, bright or dark on mid-grey 0.5), record the layer in
    eval mode in batches of ``batch_size`` (``in_channels`` grey channels, ``transform`` applied
    to each batch), and return ``(responses, top_map)``: ``(n_bars,)`` and the ``(H, W)`` map
    of the student's ``weighted_map``. Keyword arguments ``in_channels=3``, ``transform=None``
    and ``batch_size=64``. A wrong ``draw_bar`` or ``weighted_map`` is blamed, not this
    function; a loop over bars (more forward passes than batches) fails.
    """
    cases = _run_cases()
    max_calls = max(math.ceil(len(c["bars"]) / c["batch_size"]) for c in cases)
    with warnings.catch_warnings():  # the test networks start in training mode: no eval notices
        warnings.simplefilter("ignore", ArtiphysWarning)
        return check_function(
            student,
            _run_variant,
            cases,
            name="bar_mapping_run",
            rtol=1e-4,
            atol=1e-5,
            mistakes=_RUN_MISTAKES,
            forbidden=[
                "artiphys_course.barmap.bar_map",
                "artiphys_course.barmap.bar_responses",
                "artiphys_course.barmap.unit_responses",
                "artiphys_course.barmap.weighted_bar_map",
                "artiphys_course.stimuli.bar_coverage",
                "artiphys_course.stimuli.make_bars",
            ],
            max_calls=max_calls,
            uses={"draw_bar": _reference_bar, "weighted_map": _weighted_map_reference},
            hint="Run your function on the first test model and compare one bar's response with "
            "the layer's output for that image, recorded by hand.",
            fallback="artiphys_course.barmap.bar_map",
        )
