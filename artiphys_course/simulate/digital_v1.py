"""The digital V1: a simulated mouse-V1 recording with known ground truth (the course's data).

It imitates a two-photon recording of mouse primary visual cortex shown grey natural images
(the Lurz et al. 2021 / SENSORIUM static format: 36 x 64 pixel images, train / validation /
test tiers, repeated test images, pupil position), but every number comes from a generative
model we know exactly::

    images (dead leaves, 1/f spectrum) --eye shift--> Gabor filter bank --> rectification /
    energy, power law --> gain, baseline --> expected rate --shared gain x Poisson--> counts

so a method can be checked against the truth: recovered filters against :attr:`DigitalV1.filters`,
model correlations against the exact :meth:`DigitalV1.noise_ceiling`, MEIs and bar maps of the
*true* neurons through the differentiable
:class:`~artiphys_course.simulate.neurons.DigitalV1Model`.

Pixel positions are ``(row, col)``, origin at the top-left pixel, pixel centres at integers.

References
----------
Lurz et al. (2021) Generalization in data-driven models of primary visual cortex, ICLR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from artiphys_course.metrics import group_by_image
from artiphys_course.runtime import progress_bar
from artiphys_course.simulate._checks import checked_image_shape, checked_seed
from artiphys_course.simulate.images import make_images
from artiphys_course.simulate.neurons import (
    DRAWN,
    DigitalV1Model,
    NeuronDistribution,
    NeuronParams,
    sample_neurons,
)
from artiphys_course.simulate.noise import (
    noise_ceiling_from_rates,
    response_variance,
    sample_responses,
)

__all__ = ["DIGITAL_V1_NEURONS", "DigitalV1", "DigitalV1Config", "make_digital_v1"]

_TIERS = ("train", "validation", "test")

#: How the digital V1 draws its neurons (sizes for 36-pixel-high images, scaled with the height).
DIGITAL_V1_NEURONS = NeuronDistribution(
    spatial_frequency=(0.06, 0.16),
    cycles=(0.3, 0.5),
    sigma_bounds=(1.5, 6.0),
    aspect_ratio=(1.0, 1.6),
    exponent=(1.5, 2.5),
    draw_order=DRAWN,
)


@dataclass(frozen=True)
class DigitalV1Config:
    """The options of :func:`make_digital_v1`, checked; their defaults are the course's data.

    Attributes
    ----------
    n_neurons : int
        Number of neurons (a few hundred to ~1000 is typical), >= 1.
    image_shape : (int, int)
        ``(height, width)`` of the images, both >= 8; neuron sizes scale with the height.
    n_train, n_validation : int
        Unique images shown once each in the training (>= 1) and validation (>= 0) tiers.
    n_test_images, n_repeats : int
        Unique test images (>= 1), each shown ``n_repeats`` (>= 2) times.
    seed : int
        Everything (images, neurons, eye movements, noise) follows from it; None is a TypeError.
    fraction_simple : float
        Expected fraction of simple cells (the rest are complex cells), in [0, 1].
    mean_rate : float
        Median over neurons of the mean driven rate on training trials (counts per trial, > 0);
        per-neuron means are log-normal around it. With ``gain_cv`` it sets the noise level:
        the defaults give single-trial noise ceilings like mouse V1 data (median ~0.5).
    gain_cv : float
        Coefficient of variation of the shared trial gain
        (:func:`~artiphys_course.simulate.noise.sample_responses`), >= 0.
    eye_shift_sd : float
        Standard deviation (pixels, per axis, >= 0) of the trial-to-trial eye shift, clipped at
        ``max_shift``.
    max_shift : float
        Largest eye shift the model translates exactly
        (:class:`~artiphys_course.simulate.neurons.DigitalV1Model`), >= 0.
    photo_fraction : float
        Fraction of images that are photo crops instead of dead leaves
        (:func:`~artiphys_course.simulate.images.make_images`), in [0, 1].
    """

    n_neurons: int = 500
    image_shape: tuple[int, int] = (36, 64)
    n_train: int = 4000
    n_validation: int = 500
    n_test_images: int = 100
    n_repeats: int = 10
    seed: int = 0
    fraction_simple: float = 0.5
    mean_rate: float = 0.2
    gain_cv: float = 0.2
    eye_shift_sd: float = 1.0
    max_shift: float = 3.0
    photo_fraction: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", checked_image_shape(self.image_shape))
        object.__setattr__(self, "seed", checked_seed(self.seed))
        minimum = {"n_neurons": 1, "n_train": 1, "n_validation": 0, "n_test_images": 1}
        for name, low in {**minimum, "n_repeats": 2}.items():
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        for name in ("gain_cv", "eye_shift_sd", "max_shift"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("fraction_simple", "photo_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.mean_rate <= 0:
            raise ValueError(f"mean_rate must be > 0, got {self.mean_rate}")

    @property
    def n_images(self) -> int:
        """Unique images: training, validation and test."""
        return self.n_train + self.n_validation + self.n_test_images


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
        Noisy responses (counts) from :func:`~artiphys_course.simulate.noise.sample_responses`.
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
    config : DigitalV1Config
        The options of :func:`make_digital_v1` that produced it.
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
    config: DigitalV1Config

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
        """Test trials grouped by image (:func:`artiphys_course.metrics.group_by_image`).

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
        image_ids, groups = group_by_image(
            getattr(self, values)[trials], self.trial_image_ids[trials]
        )
        if len({len(g) for g in groups}) != 1:
            raise ValueError("test images have unequal numbers of repeats")
        return image_ids, np.stack(groups)

    def noise_ceiling(self, given: str = "trial", *, n_samples: int = 64) -> np.ndarray:
        """Exact single-trial correlation ceiling on the test trials, per neuron.

        Parameters
        ----------
        given : str
            ``"trial"`` (default): ``corr(true rate, response)`` over test trials, where the
            true rate knows the image *and* that trial's eye shift; analytic, see
            :func:`~artiphys_course.simulate.noise.noise_ceiling_from_rates`::

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
        shifts = _draw_eye_shifts(
            len(image_ids) * n_samples, self.config.eye_shift_sd, self.model.max_shift, rng
        )
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
        var_r = response_variance(rates, self.gain_cv)
        var_mu = mu.var(axis=0)
        return np.sqrt(np.clip(var_mu / var_r, 0.0, 1.0))


def make_digital_v1(*, progress: bool = True, **options: Any) -> DigitalV1:
    """Simulate a mouse-V1 recording with known ground truth (the course's default data).

    Parameters
    ----------
    progress : bool
        Show a progress bar while computing the rates.
    **options
        Any field of :class:`DigitalV1Config` by keyword, which documents each with its
        default: ``n_neurons``, ``image_shape``, ``n_train``, ``n_validation``,
        ``n_test_images``, ``n_repeats``, ``seed``, ``fraction_simple``, ``mean_rate``,
        ``gain_cv``, ``eye_shift_sd``, ``max_shift``, ``photo_fraction``. An unknown name is a
        TypeError.

    Returns
    -------
    DigitalV1
        Data and ground truth. Generation of the default takes a few seconds on 2 CPU cores.
    """
    names = [f.name for f in fields(DigitalV1Config)]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise TypeError(f"make_digital_v1 got unknown options {unknown}; choose from {names}")
    config = DigitalV1Config(**options)
    # the order of the draws from rng below is part of what a seed reproduces
    rng = np.random.default_rng(config.seed)
    images = make_images(
        config.n_images,
        config.image_shape,
        seed=int(rng.integers(2**31)),
        photo_fraction=config.photo_fraction,
    )
    trial_image_ids, tiers = _schedule_trials(config, rng)
    eye_shift, pupil_center, pupil_affine = _track_eyes(len(trial_image_ids), config, rng)
    rf_center, coords = _cortical_positions(config.n_neurons, config.image_shape, rng)
    neurons = sample_neurons(
        config.n_neurons,
        DIGITAL_V1_NEURONS,
        rng,
        rf_center=rf_center,
        fraction_simple=config.fraction_simple,
        scale=config.image_shape[0] / 36,
    )
    model = DigitalV1Model(neurons, config.image_shape, max_shift=config.max_shift)
    driven = _driven_responses(model, images, trial_image_ids, eye_shift, progress)
    true_rates = _calibrate_rates(model, driven, tiers == "train", config.mean_rate, rng)
    responses, trial_gain = sample_responses(true_rates, gain_cv=config.gain_cv, seed=rng)
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
        filters=model.filters[: config.n_neurons].numpy().copy(),
        model=model.eval(),
        seed=config.seed,
        trial_gain=trial_gain,
        gain_cv=config.gain_cv,
        pupil_affine=pupil_affine,
        config=config,
    )


def _schedule_trials(
    config: DigitalV1Config, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each train / validation image once, each test image ``n_repeats`` times, shuffled.

    Returns ``trial_image_ids`` ``(n_trials,)`` int64 and ``tiers`` ``(n_trials,)`` str.
    """
    n_seen_once = config.n_train + config.n_validation
    image_ids = np.concatenate(
        [
            np.arange(n_seen_once),
            np.repeat(np.arange(n_seen_once, config.n_images), config.n_repeats),
        ]
    )
    tier_of_image = np.array(
        ["train"] * config.n_train
        + ["validation"] * config.n_validation
        + ["test"] * config.n_test_images
    )
    order = rng.permutation(len(image_ids))
    trial_image_ids = image_ids[order].astype(np.int64)
    return trial_image_ids, tier_of_image[trial_image_ids].astype("<U10")


def _draw_eye_shifts(n: int, sd: float, limit: float, rng: np.random.Generator) -> np.ndarray:
    """``(n, 2)`` float32 Gaussian eye shifts ``(d_row, d_col)``, clipped to ``[-limit, limit]``."""
    return np.clip(rng.normal(0.0, sd, size=(n, 2)), -limit, limit).astype(np.float32)


def _track_eyes(
    n_trials: int, config: DigitalV1Config, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The RF shift of each trial and what the eye camera sees of it.

    Returns ``eye_shift`` ``(n_trials, 2)``, ``pupil_center`` ``(n_trials, 2)`` (an affine
    image of the shift plus tracking noise) and ``pupil_affine`` ``(2, 3)``, all float32.
    """
    eye_shift = _draw_eye_shifts(n_trials, config.eye_shift_sd, config.max_shift, rng)
    angle = math.radians(20.0)
    linear = 8.0 * np.array(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    )
    linear = linear @ np.diag([1.0, 1.2])
    pupil_affine = np.concatenate([linear, [[240.0], [320.0]]], axis=1).astype(np.float32)
    pupil_center = eye_shift @ pupil_affine[:, :2].T + pupil_affine[:, 2]
    pupil_center = (pupil_center + rng.normal(0, 0.2, size=(n_trials, 2))).astype(np.float32)
    return eye_shift, pupil_center, pupil_affine


def _cortical_positions(
    n: int, image_shape: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random cortical positions and the receptive-field centres retinotopy gives them.

    Returns ``rf_center`` ``(n, 2)`` pixel ``(row, col)`` and cortical ``(x, y, z)``
    micrometres ``(n, 3)`` float32.
    """
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
    return center, np.stack([x, y, z], axis=1).astype(np.float32)


def _driven_responses(
    model: DigitalV1Model,
    images: np.ndarray,
    trial_image_ids: np.ndarray,
    eye_shift: np.ndarray,
    progress: bool,
) -> np.ndarray:
    """``model.driven_response`` on every trial, ``(n_trials, n_neurons)`` float32."""
    n_trials = len(trial_image_ids)
    driven = np.empty((n_trials, model.n_neurons), np.float32)
    batch = 512
    with torch.no_grad():
        for start in progress_bar(range(0, n_trials, batch), progress, desc="digital V1 rates"):
            idx = slice(start, start + batch)
            driven[idx] = model.driven_response(
                torch.from_numpy(images[trial_image_ids[idx]]), torch.from_numpy(eye_shift[idx])
            ).numpy()
    return driven


def _calibrate_rates(
    model: DigitalV1Model,
    driven: np.ndarray,
    train: np.ndarray,
    mean_rate: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Set the neurons' gains and baselines (in ``model`` and ``model.neurons``); the rates.

    Each neuron's mean rate on the ``train`` trials is log-normal around ``mean_rate``; its
    baseline is 5-15 % of that mean. Returns the expected rates ``(n_trials, n_neurons)``.
    """
    neurons = model.neurons
    n = len(neurons)
    target = mean_rate * np.exp(rng.normal(0.0, 0.5, n))
    mean_drive = driven[train].mean(axis=0).astype(np.float64)
    neurons.gain = (target / np.maximum(mean_drive, 1e-12)).astype(np.float32)
    neurons.baseline = (target * rng.uniform(0.05, 0.15, n)).astype(np.float32)
    model.gain.copy_(torch.from_numpy(neurons.gain))
    model.baseline.copy_(torch.from_numpy(neurons.baseline))
    return (model.baseline + model.gain * torch.from_numpy(driven)).numpy()
