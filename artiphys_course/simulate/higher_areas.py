"""A simulated visual hierarchy with known answers: V1 and two higher areas on the same images.

The layer x area grid (:mod:`artiphys_course.layer_grid`) asks which CNN layer best predicts
which area; with real data nobody knows the right answer. Here the areas are built so that it is
known: each higher area combines V1-like units (:mod:`artiphys_course.simulate.neurons`: Gabor
filters, quadrature-pair energy, drawn by the same ``sample_neurons``) into larger, more
selective receptive fields, so deeper areas need more nonlinear stages and bigger spatial
context::

    "V1"  simple cells   rate = b + g * relu(<gabor, c>)**2            one Gabor, radius 3-6 px
          complex cells  rate = b + g * (<even, c>**2 + <odd, c>**2)   (energy model)
    "V2"  pooled energy: mean of normalised energies E_k / (E_k + s_k) of 4 same-orientation
          complex subunits around the centre (texture-like pooling), radius 11-15 px
    "V4"  conjunction: geometric mean of normalised energies of 2-3 subunits with different
          orientations at different positions (corners, curves), an AND, radius 13-18 px

where ``c = (image - 127.5) / 127.5`` is the contrast image and ``s_k`` a semi-saturation
constant (divisive normalisation, the median energy of the subunit over the images; Heeger
1992). Every area is an ``nn.Module`` (images -> expected rates), responses add a shared trial
gain times Poisson noise (:func:`artiphys_course.simulate.noise.sample_responses`), and the test
images are repeated so a noise ceiling exists (exact: :meth:`SimulatedArea.noise_ceiling`).

The V2 / V4 designs follow the spirit of subunit models of higher areas (e.g. Freeman &
Simoncelli 2011 for V2 pooling; Pasupathy & Connor 2001 for V4 curvature / conjunctions), not
any fitted model. Everything is deterministic from ``seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from artiphys_course.simulate._checks import checked_image_shape, checked_seed
from artiphys_course.simulate.images import make_images
from artiphys_course.simulate.neurons import (
    DigitalV1Model,
    NeuronDistribution,
    NeuronParams,
    sample_neurons,
)
from artiphys_course.simulate.noise import noise_ceiling_from_rates, sample_responses

__all__ = [
    "AREAS",
    "SimulatedArea",
    "SubunitArea",
    "VisualHierarchy",
    "make_visual_hierarchy",
]

#: The areas :func:`make_visual_hierarchy` can build, shallowest first.
AREAS = ("V1", "V2", "V4")
# distance (pixels) of the subunit centres from the neuron's RF centre, per higher area
_SPREAD = {"V2": (5.0, 8.0), "V4": (7.0, 11.0)}


# how the areas draw their Gabor units (sizes in pixels, not scaled with the image)
_V1_UNITS = NeuronDistribution(
    spatial_frequency=(0.1, 0.25),
    cycles=(0.3, 0.45),
    sigma_bounds=(1.5, 2.5),
    aspect_ratio=(1.0, 1.5),
    exponent=(2.0, 2.0),
    draw_order=(
        "cell_type",
        "orientation_deg",
        "spatial_frequency",
        "phase_deg",
        "sigma",
        "aspect_ratio",
        "exponent",
    ),
)
_SUBUNITS = replace(_V1_UNITS, spatial_frequency=(0.1, 0.22), sigma_bounds=(1.5, 3.0))


class SubunitArea(nn.Module):
    """A higher area: neurons that combine normalised energies of complex-cell subunits.

    Parameters
    ----------
    subunits : NeuronParams
        All subunits of all neurons (complex cells, exponent 2: quadrature energy).
    owner : np.ndarray
        ``(n_subunits,)`` int, the neuron each subunit belongs to (0..n_neurons-1).
    combine : {"mean", "geometric"}
        ``"mean"``: pooling (an OR); ``"geometric"``: geometric mean, a soft AND that needs
        every subunit driven at once (a conjunction).
    image_shape : (int, int)
    exponent : np.ndarray
        ``(n_neurons,)`` output power-law exponents.

    Notes
    -----
    ``rate = baseline + gain * combine_k(E_k / (E_k + s_k)) ** exponent``, with ``E_k`` the
    subunit energy and ``s_k`` its semi-saturation constant (set by :meth:`calibrate`).
    """

    def __init__(
        self,
        subunits: NeuronParams,
        owner: np.ndarray,
        combine: str,
        image_shape: tuple[int, int],
        exponent: np.ndarray,
    ) -> None:
        super().__init__()
        if combine not in ("mean", "geometric"):
            raise ValueError(f"combine must be 'mean' or 'geometric', got {combine!r}")
        if not np.all(subunits.is_complex):
            raise ValueError("subunits must be complex cells (energy units)")
        owner = np.asarray(owner, dtype=np.int64)
        n = int(owner.max()) + 1
        self.combine = combine
        self.subunits = subunits
        self.energy = DigitalV1Model(subunits, image_shape)
        pool = torch.zeros(n, len(owner))
        pool[torch.as_tensor(owner), torch.arange(len(owner))] = 1.0
        self.register_buffer("pool", pool / pool.sum(1, keepdim=True))
        self.register_buffer("semi_saturation", torch.ones(len(owner)))
        self.register_buffer("gain", torch.ones(n))
        self.register_buffer("baseline", torch.zeros(n))
        self.register_buffer("exponent", torch.as_tensor(exponent, dtype=torch.float32))
        if self.exponent.shape != (n,):
            raise ValueError(f"exponent must have shape ({n},), got {tuple(self.exponent.shape)}")

    @property
    def n_neurons(self) -> int:
        return self.pool.shape[0]

    def calibrate(self, images: torch.Tensor) -> None:
        """Set each subunit's semi-saturation to its median energy over ``images``."""
        with torch.no_grad():
            energy = self.energy.driven_response(images)
        self.semi_saturation.copy_(energy.median(0).values.clamp_min(1e-12))

    def combined(self, images: torch.Tensor) -> torch.Tensor:
        """The combined normalised subunit energies, ``(B, n_neurons)`` in [0, 1]."""
        energy = self.energy.driven_response(images)
        normalised = energy / (energy + self.semi_saturation)
        if self.combine == "mean":
            return normalised @ self.pool.T
        return torch.exp(torch.log(normalised.clamp_min(1e-12)) @ self.pool.T)

    def driven_response(self, images: torch.Tensor) -> torch.Tensor:
        """``combined(images) ** exponent``, ``(B, n_neurons)``: the rate before gain, baseline."""
        return self.combined(images).pow(self.exponent)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Expected rates ``(B, n_neurons)`` for ``(B, 1, H, W)`` grey images (0..255)."""
        return self.baseline + self.gain * self.driven_response(images)


@dataclass
class SimulatedArea:
    """One simulated area: ground-truth model, expected rates and noisy responses.

    Attributes
    ----------
    name : str
    description : str
    model : nn.Module
        ``model(images (B, 1, H, W) grey 0..255) -> (B, n_neurons)`` expected rates (> 0).
    rf_center : np.ndarray
        ``(n_neurons, 2)`` pixel ``(row, col)`` of each neuron's receptive-field centre.
    rf_radius : np.ndarray
        ``(n_neurons,)`` pixels: distance from the centre to the farthest subunit centre plus
        two envelope s.d. (the area of the image that drives the neuron).
    true_rates : np.ndarray
        ``(n_images, n_neurons)`` float32 expected response to every image.
    train_image_ids, test_image_ids : np.ndarray
        Rows of the hierarchy's images (shared by all areas).
    train_responses : np.ndarray
        ``(n_train, n_neurons)`` float32 single-trial counts.
    test_responses : np.ndarray
        ``(n_test_images, n_repeats, n_neurons)`` float32 repeated single-trial counts.
    gain_cv : float
        Coefficient of variation of the shared trial gain.
    """

    name: str
    description: str
    model: nn.Module
    rf_center: np.ndarray
    rf_radius: np.ndarray
    true_rates: np.ndarray
    train_image_ids: np.ndarray
    train_responses: np.ndarray
    test_image_ids: np.ndarray
    test_responses: np.ndarray
    gain_cv: float

    @property
    def n_neurons(self) -> int:
        return self.true_rates.shape[1]

    def noise_ceiling(self) -> np.ndarray:
        """Exact single-trial correlation ceiling on the test trials, ``(n_neurons,)``.

        ``corr(true rate, response)`` over test trials, analytic for the gamma-gain x Poisson
        noise (:func:`artiphys_course.simulate.noise.noise_ceiling_from_rates`); the oracle
        correlation of the repeats estimates it (slightly below).
        """
        return noise_ceiling_from_rates(self.true_rates[self.test_image_ids], self.gain_cv)


@dataclass
class VisualHierarchy:
    """Several simulated areas recorded with the same images and trials.

    Attributes
    ----------
    images : np.ndarray
        ``(n_images, 1, H, W)`` float32 grey levels 0..255: training images, then test images.
    train_image_ids, test_image_ids : np.ndarray
        ``(n_train,)``, ``(n_test_images,)`` int64 rows of ``images``.
    areas : dict
        ``name -> SimulatedArea``, shallowest first.
    seed : int
    config : dict
        The arguments of :func:`make_visual_hierarchy`.
    """

    images: np.ndarray
    train_image_ids: np.ndarray
    test_image_ids: np.ndarray
    areas: dict[str, SimulatedArea]
    seed: int
    config: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> SimulatedArea:
        if name not in self.areas:
            raise KeyError(f"no area {name!r}; the hierarchy has {list(self.areas)}")
        return self.areas[name]

    def __repr__(self) -> str:
        areas = ", ".join(f"{k}: {a.n_neurons}" for k, a in self.areas.items())
        h, w = self.images.shape[2:]
        return (
            f"VisualHierarchy({areas} neurons; {len(self.train_image_ids)} training and "
            f"{len(self.test_image_ids)} repeated test images of {h}x{w}; seed={self.seed})"
        )


def _ring(n: int, k: int, radius: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(n, k, 2)`` offsets on a circle, evenly spaced from a random start angle."""
    start = rng.uniform(0, 2 * math.pi, n)[:, None]
    angle = start + 2 * math.pi * np.arange(k)[None] / k
    return radius[:, None, None] * np.stack([-np.sin(angle), np.cos(angle)], axis=-1)


def _build_v1(
    n: int, centers: np.ndarray, rng: np.random.Generator, shape: tuple[int, int]
) -> tuple[DigitalV1Model, np.ndarray]:
    """Half simple, half complex cells of random orientation; model and RF radii ``(n,)``."""
    units = sample_neurons(n, _V1_UNITS, rng, rf_center=centers, fraction_simple=0.5)
    radius = 2 * units.sigma * np.sqrt(units.aspect_ratio)
    return DigitalV1Model(units, shape), radius


def _build_higher(
    n: int,
    centers: np.ndarray,
    rng: np.random.Generator,
    shape: tuple[int, int],
    *,
    k: int,
    spread: tuple[float, float],
    combine: str,
    same_orientation: bool,
) -> tuple[SubunitArea, np.ndarray]:
    """``n`` neurons of ``k`` complex subunits on a ring around ``centers``; model, RF radii."""
    owner = np.repeat(np.arange(n), k)
    offsets = _ring(n, k, rng.uniform(*spread, n), rng).reshape(-1, 2)
    base = rng.uniform(0, 180, n)
    if same_orientation:
        orientation = np.repeat(base, k) + rng.normal(0, 8, n * k)
    else:  # subunit orientations spread over 180 degrees (corners, curves)
        steps = 180.0 / k
        orientation = (
            base[owner] + steps * np.tile(np.arange(k), n) + rng.uniform(-0.25, 0.25, n * k) * steps
        )
    units = sample_neurons(
        n * k,
        _SUBUNITS,
        rng,
        rf_center=centers[owner] + offsets,
        cell_type=np.full(n * k, "complex", dtype="<U7"),
        orientation_deg=orientation,
    )
    model = SubunitArea(units, owner, combine, shape, rng.uniform(1.5, 2.5, n))
    dist = np.linalg.norm(offsets, axis=1) + 2 * units.sigma * np.sqrt(units.aspect_ratio)
    radius = np.zeros(n)
    np.maximum.at(radius, owner, dist)
    return model, radius


def make_visual_hierarchy(
    *,
    n_neurons: int = 80,
    areas: tuple[str, ...] = AREAS,
    image_shape: tuple[int, int] = (36, 64),
    n_train: int = 1000,
    n_test_images: int = 60,
    n_repeats: int = 10,
    mean_rate: float = 2.0,
    gain_cv: float = 0.2,
    seed: int = 0,
) -> VisualHierarchy:
    """Simulate V1 and higher areas responding to the same images (known layer ordering).

    Parameters
    ----------
    n_neurons : int
        Neurons per area.
    areas : tuple of str
        Any of :data:`AREAS` (``"V1"``, ``"V2"``, ``"V4"``), in any order (kept in the order of
        :data:`AREAS`).
    image_shape : (int, int)
        ``(height, width)``, both >= 8; images from
        :func:`artiphys_course.simulate.images.make_images`.
    n_train : int
        Training images, each shown once.
    n_test_images, n_repeats : int
        Test images, each shown ``n_repeats`` times (>= 2, for the oracle correlation).
    mean_rate : float
        Median over neurons of the mean expected count per trial; per-neuron means are
        log-normal around it. Higher means less Poisson noise (a higher ceiling).
    gain_cv : float
        Coefficient of variation of the shared trial gain.
    seed : int
        Everything follows from it (None raises TypeError).

    Returns
    -------
    VisualHierarchy
        Built in a few seconds on a CPU (default sizes).
    """
    unknown = [a for a in areas if a not in AREAS]
    if unknown or not areas:
        raise ValueError(f"unknown areas {unknown}; choose from {AREAS}")
    if n_neurons < 1 or n_train < 3 or n_test_images < 2 or n_repeats < 2:
        raise ValueError(
            "need n_neurons >= 1, n_train >= 3, n_test_images >= 2 and n_repeats >= 2; got "
            f"{n_neurons}, {n_train}, {n_test_images}, {n_repeats}"
        )
    if mean_rate <= 0 or gain_cv < 0:
        raise ValueError(f"need mean_rate > 0 and gain_cv >= 0, got {mean_rate}, {gain_cv}")
    seed = checked_seed(seed)
    h, w = checked_image_shape(image_shape)
    config = {
        "n_neurons": n_neurons,
        "areas": tuple(a for a in AREAS if a in areas),
        "image_shape": (h, w),
        "n_train": n_train,
        "n_test_images": n_test_images,
        "n_repeats": n_repeats,
        "mean_rate": mean_rate,
        "gain_cv": gain_cv,
        "seed": seed,
    }
    rng = np.random.default_rng(seed)
    images = make_images(n_train + n_test_images, (h, w), seed=int(rng.integers(2**31)))
    train_ids = np.arange(n_train, dtype=np.int64)
    test_ids = np.arange(n_train, n_train + n_test_images, dtype=np.int64)
    built = {
        name: _simulate_area(
            name,
            np.random.default_rng([seed, AREAS.index(name)]),
            torch.from_numpy(images),
            train_ids,
            test_ids,
            n_neurons=n_neurons,
            n_repeats=n_repeats,
            mean_rate=mean_rate,
            gain_cv=gain_cv,
        )
        for name in config["areas"]
    }
    return VisualHierarchy(
        images=images,
        train_image_ids=train_ids,
        test_image_ids=test_ids,
        areas=built,
        seed=seed,
        config=config,
    )


def _area_model(
    name: str, n: int, centers: np.ndarray, rng: np.random.Generator, shape: tuple[int, int]
) -> tuple[DigitalV1Model | SubunitArea, np.ndarray, str]:
    """The ground-truth model of area ``name``, its RF radii ``(n,)`` and a description."""
    if name == "V1":
        model, radius = _build_v1(n, centers, rng, shape)
        return model, radius, "simple and complex cells: one Gabor (energy of a quadrature pair)"
    if name == "V2":
        model, radius = _build_higher(
            n, centers, rng, shape, k=4, spread=_SPREAD["V2"], combine="mean",
            same_orientation=True,
        )  # fmt: skip
        return model, radius, "pooled normalised energy of 4 same-orientation subunits"
    model, radius = _build_higher(
        n, centers, rng, shape, k=int(rng.integers(2, 4)), spread=_SPREAD["V4"],
        combine="geometric", same_orientation=False,
    )  # fmt: skip
    return model, radius, "conjunction (geometric mean) of 2-3 differently oriented subunits"


def _simulate_area(
    name: str,
    rng: np.random.Generator,
    images: torch.Tensor,
    train_ids: np.ndarray,
    test_ids: np.ndarray,
    *,
    n_neurons: int,
    n_repeats: int,
    mean_rate: float,
    gain_cv: float,
) -> SimulatedArea:
    """Area ``name`` on ``images`` ``(n_images, 1, H, W)``: model, rates and noisy responses.

    ``rng`` is the area's own generator, consumed in a fixed order (RF centres, model, gains,
    baselines, noise), so an area's data do not depend on which other areas are built.
    """
    h, w = images.shape[2:]
    margin = {"V1": 4.0, "V2": _SPREAD["V2"][1] + 3, "V4": _SPREAD["V4"][1] + 3}[name]
    centers = np.stack(
        [
            rng.uniform(margin, h - 1 - margin, n_neurons),
            rng.uniform(margin, w - 1 - margin, n_neurons),
        ],
        axis=1,
    )
    model, radius, description = _area_model(name, n_neurons, centers, rng, (h, w))
    if isinstance(model, SubunitArea):
        model.calibrate(images[train_ids])
    with torch.no_grad():
        driven = model.driven_response(images).double().numpy()
    # gains so that mean rates are log-normal around mean_rate; small baselines
    target = mean_rate * np.exp(rng.normal(0.0, 0.4, n_neurons))
    gain = target / np.maximum(driven[train_ids].mean(0), 1e-12)
    baseline = target * rng.uniform(0.05, 0.15, n_neurons)
    model.gain.copy_(torch.as_tensor(gain, dtype=torch.float32))
    model.baseline.copy_(torch.as_tensor(baseline, dtype=torch.float32))
    true_rates = (baseline + gain * driven).astype(np.float32)
    trials = np.concatenate([train_ids, np.repeat(test_ids, n_repeats)])
    responses, _ = sample_responses(true_rates[trials], gain_cv=gain_cv, seed=rng)
    n_train = len(train_ids)
    return SimulatedArea(
        name=name,
        description=description,
        model=model.eval(),
        rf_center=centers.astype(np.float32),
        rf_radius=radius.astype(np.float32),
        true_rates=true_rates,
        train_image_ids=train_ids,
        train_responses=responses[:n_train],
        test_image_ids=test_ids,
        test_responses=responses[n_train:].reshape(len(test_ids), n_repeats, n_neurons),
        gain_cv=gain_cv,
    )
