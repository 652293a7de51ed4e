"""Static image -> response data sets and their PyTorch data loaders.

A *static* data set shows still images, one per trial, and records one response per neuron and
trial (e.g. deconvolved calcium activity summed over a window). Images are stored once
(``images[k]``) and trials point to them (``trial_image_ids``), so repeated test images take no
extra memory and :func:`test_repeats` can group the repeats.

Normalisation (:class:`Normalizer`, used by :func:`dataloaders`) follows the Lurz et al. (2021)
/ neuralpredictors recipe, always with **training-tier** statistics:

- images: ``(x - mean) / std`` with the scalar mean and s.d. of all training pixels;
- responses: divided by each neuron's training s.d., **not** mean-subtracted, so they stay
  non-negative and remain valid targets for a Poisson loss (a neuron whose s.d. is below 1 % of
  the average s.d. is divided by that floor instead, to avoid blowing up silent neurons);
- pupil centre: ``(x - mean) / std`` per coordinate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from artiphys_course.metrics import group_by_image
from artiphys_course.runtime import get_device

__all__ = [
    "TIERS",
    "Batch",
    "Normalizer",
    "StaticDataset",
    "StaticLoader",
    "TierDataset",
    "collate_batch",
    "dataloaders",
    "statistics_of",
    "test_repeats",
]

#: The tiers :func:`dataloaders` builds loaders for.
TIERS = ("train", "validation", "test")
#: Statistics stored per array (as in neuralpredictors' ``meta/statistics/<array>/all``).
STATISTICS = ("mean", "std", "min", "max", "median")
# A neuron's response scale never goes below this fraction of the mean training s.d.
_MIN_SCALE_FRACTION = 0.01

Array = np.ndarray | torch.Tensor


class Batch(NamedTuple):
    """A batch of trials, batch-first tensors.

    Attributes
    ----------
    images : Tensor
        ``(batch, channels, height, width)``.
    responses : Tensor
        ``(batch, neurons)``.
    pupil_center : Tensor or None
        ``(batch, 2)``, or ``None`` when the data set has no eye tracking.
    """

    images: torch.Tensor
    responses: torch.Tensor
    pupil_center: torch.Tensor | None = None

    def to(self, device: str | torch.device) -> Batch:
        """The same batch on ``device``."""
        pupil = None if self.pupil_center is None else self.pupil_center.to(device)
        return Batch(self.images.to(device), self.responses.to(device), pupil)


def statistics_of(values: np.ndarray, *, per_column: bool) -> dict[str, np.ndarray]:
    """Mean, s.d., min, max and median of ``values``.

    Parameters
    ----------
    values : np.ndarray
        ``(trials, ...)``.
    per_column : bool
        ``True``: one value per column (``values`` is ``(trials, k)``, results ``(k,)``);
        ``False``: scalars over all entries (0-d arrays), as neuralpredictors stores images.

    Returns
    -------
    dict
        ``{"mean", "std", "min", "max", "median"}`` -> float32 arrays.
    """
    axis = 0 if per_column else None
    values = np.asarray(values)
    result = {
        "mean": values.mean(axis=axis, dtype=np.float64),
        "std": values.std(axis=axis, dtype=np.float64),
        "min": values.min(axis=axis),
        "max": values.max(axis=axis),
        "median": np.median(values, axis=axis),
    }
    return {key: np.asarray(val, dtype=np.float32) for key, val in result.items()}


def _as_tensor_like(value: np.ndarray, x: Array) -> Array:
    """``value`` as a tensor on ``x``'s device and float dtype when ``x`` is a tensor."""
    if isinstance(x, torch.Tensor):
        dtype = x.dtype if x.is_floating_point() else torch.float32
        return torch.as_tensor(value, dtype=dtype, device=x.device)
    return value


@dataclass(frozen=True)
class Normalizer:
    """The normalisation :func:`dataloaders` applies, and its inverse.

    Works on NumPy arrays and on tensors (any device). Build it from a data set with
    :meth:`StaticDataset.normalizer` or get it back from a loader (``loader.normalizer``).

    Attributes
    ----------
    image_mean, image_std : float
        Scalar training-pixel mean and s.d. (grey levels).
    response_scale : np.ndarray
        ``(neurons,)`` training s.d. per neuron (floored, see the module docstring).
    pupil_mean, pupil_std : np.ndarray or None
        ``(2,)`` training mean and s.d. of the pupil centre.
    """

    image_mean: float
    image_std: float
    response_scale: np.ndarray
    pupil_mean: np.ndarray | None = None
    pupil_std: np.ndarray | None = None

    @classmethod
    def from_statistics(cls, statistics: dict[str, dict[str, np.ndarray]]) -> Normalizer:
        """Build from a statistics dict as in :attr:`StaticDataset.statistics`."""
        std = np.asarray(statistics["responses"]["std"], dtype=np.float32)
        floor = _MIN_SCALE_FRACTION * float(std.mean()) if std.size else 0.0
        scale = np.maximum(std, floor) if floor > 0 else np.ones_like(std)
        image_std = float(statistics["images"]["std"])
        pupil = statistics.get("pupil_center")
        return cls(
            image_mean=float(statistics["images"]["mean"]),
            image_std=image_std if image_std > 0 else 1.0,
            response_scale=scale.astype(np.float32),
            pupil_mean=None if pupil is None else np.asarray(pupil["mean"], np.float32),
            pupil_std=None if pupil is None else np.maximum(pupil["std"], 1e-6).astype(np.float32),
        )

    def images(self, x: Array) -> Array:
        """Standardise images ``(..., C, H, W)`` given in the data set's units."""
        return (x - self.image_mean) / self.image_std

    def inverse_images(self, x: Array) -> Array:
        """Map standardised images back to the data set's units (e.g. grey levels)."""
        return x * self.image_std + self.image_mean

    def responses(self, r: Array) -> Array:
        """Divide responses ``(..., neurons)`` by each neuron's training s.d."""
        return r / _as_tensor_like(self.response_scale, r)

    def inverse_responses(self, r: Array) -> Array:
        """Back to the data set's response units (e.g. model rates -> counts)."""
        return r * _as_tensor_like(self.response_scale, r)

    def pupil_center(self, p: Array) -> Array:
        """Standardise pupil positions ``(..., 2)``."""
        if self.pupil_mean is None or self.pupil_std is None:
            raise ValueError("This normalizer was built without pupil-centre statistics.")
        return (p - _as_tensor_like(self.pupil_mean, p)) / _as_tensor_like(self.pupil_std, p)


def _check_finite(name: str, values: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        raise ValueError(
            f"{name} contain {int(bad.sum())} NaN/inf values (in {rows.size} trials, first "
            f"trial {int(rows[0])}). Remove or impute those trials before building the data set."
        )


class StaticDataset:
    """Images shown on trials and the responses they evoked, with tiers and statistics.

    Parameters
    ----------
    images : array
        ``(n_images, channels, height, width)``, e.g. grey levels 0..255; stored float32.
    responses : array
        ``(n_trials, n_neurons)``, finite; stored float32.
    trial_image_ids : array of int
        ``(n_trials,)``: row of ``images`` shown on each trial.
    tiers : array of str
        ``(n_trials,)``: ``"train"``, ``"validation"``, ``"test"`` (other labels are kept but
        get no loader). At least one training trial is required.
    pupil_center : array, optional
        ``(n_trials, 2)`` eye-camera pupil position per trial.
    cell_motor_coordinates : array, optional
        ``(n_neurons, 3)`` cortical position of each neuron (micrometres).
    unit_ids : array, optional
        ``(n_neurons,)`` neuron identifiers; default ``0..n_neurons-1``.
    image_ids : array, optional
        ``(n_images,)`` identifier of each image row (e.g. the ``frame_image_id`` of real
        data); default ``0..n_images-1``.
    statistics : dict, optional
        ``{array: {"mean", "std", "min", "max", "median"}}`` for ``"images"`` (scalars),
        ``"responses"`` (per neuron) and ``"pupil_center"`` (per coordinate). Default: computed
        from the training tier (over trials, so repeated images count once per trial).
    name : str
        A label for printing.
    truth : object, optional
        Ground truth when the data are simulated (the :class:`~artiphys_course.simulate.DigitalV1`).

    Raises
    ------
    ValueError
        Wrong shapes or dtypes, NaN/inf in responses or pupil centre, image ids out of range,
        or no training trial. The message says what was expected.
    """

    def __init__(
        self,
        images: Array,
        responses: Array,
        trial_image_ids: Array,
        tiers: Array,
        *,
        pupil_center: Array | None = None,
        cell_motor_coordinates: Array | None = None,
        unit_ids: Array | None = None,
        image_ids: Array | None = None,
        statistics: dict[str, dict[str, np.ndarray]] | None = None,
        name: str = "static",
        truth: Any = None,
    ) -> None:
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4:
            hint = " For grey images (n, H, W) pass images[:, None]." if images.ndim == 3 else ""
            raise ValueError(
                "images must be (n_images, channels, height, width); got shape "
                f"{images.shape}.{hint}"
            )
        responses = np.asarray(responses, dtype=np.float32)
        if responses.ndim != 2:
            raise ValueError(
                f"responses must be (n_trials, n_neurons); got shape {responses.shape}."
            )
        n_trials, n_neurons = responses.shape
        _check_finite("responses", responses)

        trial_image_ids = np.asarray(trial_image_ids)
        if trial_image_ids.shape != (n_trials,) or not np.issubdtype(
            trial_image_ids.dtype, np.integer
        ):
            raise ValueError(
                f"trial_image_ids must be integers of shape ({n_trials},) (one per trial); got "
                f"{trial_image_ids.dtype} {trial_image_ids.shape}."
            )
        if n_trials and (trial_image_ids.min() < 0 or trial_image_ids.max() >= len(images)):
            raise ValueError(
                f"trial_image_ids must index the {len(images)} images (0..{len(images) - 1}); got "
                f"values {trial_image_ids.min()}..{trial_image_ids.max()}."
            )
        tiers = np.asarray(tiers).astype(str)
        if tiers.shape != (n_trials,):
            raise ValueError(f"tiers must have shape ({n_trials},); got {tiers.shape}.")
        if not (tiers == "train").any():
            raise ValueError(
                f"tiers has no 'train' trial (labels found: {sorted(set(tiers.tolist()))}); "
                "normalisation statistics come from the training tier."
            )
        if pupil_center is not None:
            pupil_center = np.asarray(pupil_center, dtype=np.float32)
            if pupil_center.shape != (n_trials, 2):
                raise ValueError(
                    f"pupil_center must be (n_trials, 2) = ({n_trials}, 2); got "
                    f"{pupil_center.shape}."
                )
            _check_finite("pupil_center", pupil_center)
        if cell_motor_coordinates is not None:
            cell_motor_coordinates = np.asarray(cell_motor_coordinates, dtype=np.float32)
            if cell_motor_coordinates.shape != (n_neurons, 3):
                raise ValueError(
                    f"cell_motor_coordinates must be (n_neurons, 3) = ({n_neurons}, 3); got "
                    f"{cell_motor_coordinates.shape}."
                )
        unit_ids = np.arange(n_neurons) if unit_ids is None else np.asarray(unit_ids)
        if unit_ids.shape != (n_neurons,):
            raise ValueError(f"unit_ids must have shape ({n_neurons},); got {unit_ids.shape}.")
        image_ids = np.arange(len(images)) if image_ids is None else np.asarray(image_ids)
        if image_ids.shape != (len(images),):
            raise ValueError(f"image_ids must have shape ({len(images)},); got {image_ids.shape}.")

        self.images = images
        self.responses = responses
        self.trial_image_ids = trial_image_ids.astype(np.int64)
        self.tiers = tiers
        self.pupil_center = pupil_center
        self.cell_motor_coordinates = cell_motor_coordinates
        self.unit_ids = unit_ids
        self.image_ids = image_ids
        self.name = name
        self.truth = truth
        self.statistics = statistics if statistics is not None else self.training_statistics()

    @classmethod
    def from_digital_v1(cls, dv1: Any) -> StaticDataset:
        """The digital V1's trials as a data set (``truth`` keeps the ground truth).

        Parameters
        ----------
        dv1 : artiphys_course.simulate.DigitalV1
            From :func:`artiphys_course.simulate.make_digital_v1`.
        """
        return cls(
            dv1.images,
            dv1.responses,
            dv1.trial_image_ids,
            dv1.tiers,
            pupil_center=dv1.pupil_center,
            cell_motor_coordinates=dv1.cell_motor_coordinates,
            name=f"digital V1 (seed {dv1.seed})",
            truth=dv1,
        )

    # --- sizes -----------------------------------------------------------------------------
    @property
    def n_trials(self) -> int:
        return self.responses.shape[0]

    @property
    def n_neurons(self) -> int:
        return self.responses.shape[1]

    @property
    def n_images(self) -> int:
        return self.images.shape[0]

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return self.images.shape[2], self.images.shape[3]

    @property
    def n_channels(self) -> int:
        return self.images.shape[1]

    def __len__(self) -> int:
        return self.n_trials

    def tier_indices(self, tier: str) -> np.ndarray:
        """Trial indices of ``tier`` (in trial order)."""
        labels = sorted(set(self.tiers.tolist()))
        if tier not in labels:
            raise KeyError(f"No trials in tier {tier!r}; tiers present: {labels}.")
        return np.flatnonzero(self.tiers == tier)

    def trial_images(self, trials: np.ndarray | slice | int) -> np.ndarray:
        """Images shown on the given trials, ``(len(trials), C, H, W)``."""
        return self.images[self.trial_image_ids[trials]]

    def training_statistics(self) -> dict[str, dict[str, np.ndarray]]:
        """Statistics of the training tier (see :func:`statistics_of`)."""
        train = self.tiers == "train"
        stats = {
            "images": statistics_of(self.trial_images(train), per_column=False),
            "responses": statistics_of(self.responses[train], per_column=True),
        }
        if self.pupil_center is not None:
            stats["pupil_center"] = statistics_of(self.pupil_center[train], per_column=True)
        return stats

    def normalizer(self) -> Normalizer:
        """The :class:`Normalizer` built from :attr:`statistics`."""
        return Normalizer.from_statistics(self.statistics)

    def __repr__(self) -> str:
        counts = ", ".join(
            f"{tier}={int((self.tiers == tier).sum())}" for tier in sorted(set(self.tiers.tolist()))
        )
        return (
            f"StaticDataset({self.name!r}: {self.n_images} images "
            f"{self.n_channels}x{self.image_shape[0]}x{self.image_shape[1]}, {self.n_trials} "
            f"trials ({counts}), {self.n_neurons} neurons, pupil centre: "
            f"{'yes' if self.pupil_center is not None else 'no'})"
        )


def _image_tensor(dataset: StaticDataset, normalizer: Normalizer | None) -> torch.Tensor:
    images = dataset.images if normalizer is None else normalizer.images(dataset.images)
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))


class TierDataset(Dataset):
    """The trials of one tier as a PyTorch map-style data set of :class:`Batch` items.

    Arrays are normalised once at construction (when ``normalizer`` is given) and kept as CPU
    tensors; ``dataset[i]`` is one trial, ``dataset.__getitems__(indices)`` a whole batch.
    ``images`` may pass the (already normalised) image tensor to share it between tiers.
    """

    def __init__(
        self,
        dataset: StaticDataset,
        tier: str,
        normalizer: Normalizer | None = None,
        *,
        images: torch.Tensor | None = None,
    ) -> None:
        self.tier = tier
        self.normalizer = normalizer
        self.trial_indices = dataset.tier_indices(tier)
        responses = dataset.responses[self.trial_indices]
        pupil = None if dataset.pupil_center is None else dataset.pupil_center[self.trial_indices]
        if normalizer is not None:
            responses = normalizer.responses(responses)
            pupil = None if pupil is None else normalizer.pupil_center(pupil)
        self.images = _image_tensor(dataset, normalizer) if images is None else images
        self.image_index = torch.from_numpy(dataset.trial_image_ids[self.trial_indices])
        self.responses = torch.from_numpy(np.ascontiguousarray(responses, dtype=np.float32))
        self.pupil_center = None if pupil is None else torch.from_numpy(pupil.astype(np.float32))

    def __len__(self) -> int:
        return len(self.trial_indices)

    def __getitem__(self, i: int) -> Batch:
        pupil = None if self.pupil_center is None else self.pupil_center[i]
        return Batch(self.images[self.image_index[i]], self.responses[i], pupil)

    def __getitems__(self, indices: list[int]) -> Batch:
        rows = torch.as_tensor(indices, dtype=torch.long)
        pupil = None if self.pupil_center is None else self.pupil_center[rows]
        return Batch(self.images[self.image_index[rows]], self.responses[rows], pupil)


def collate_batch(items: Batch | list[Batch]) -> Batch:
    """Collate function for :class:`TierDataset`: a ready batch passes, single trials stack."""
    if isinstance(items, Batch):
        return items
    pupil = None if items[0].pupil_center is None else torch.stack([b.pupil_center for b in items])
    return Batch(
        torch.stack([b.images for b in items]), torch.stack([b.responses for b in items]), pupil
    )


class StaticLoader(DataLoader):
    """A :class:`~torch.utils.data.DataLoader` of :class:`Batch` es that moves them to ``device``.

    Attributes
    ----------
    normalizer : Normalizer or None
        The normalisation applied to this loader's data (``None`` if none).
    device : torch.device or None
        Where batches are moved (``None``: left on the CPU).
    """

    def __init__(self, dataset: TierDataset, *, device: str | torch.device | None = None, **kw):
        super().__init__(dataset, collate_fn=collate_batch, **kw)
        self.device = None if device is None else get_device(device)
        self.normalizer = dataset.normalizer

    def __iter__(self) -> Iterator[Batch]:
        for batch in super().__iter__():
            yield batch if self.device is None else batch.to(self.device)


def dataloaders(
    dataset: StaticDataset,
    *,
    batch_size: int = 64,
    normalize: bool = True,
    seed: int = 0,
    device: str | torch.device | None = None,
    num_workers: int = 0,
) -> dict[str, StaticLoader]:
    """Training, validation and test loaders of a static data set.

    Parameters
    ----------
    dataset : StaticDataset
    batch_size : int
        Trials per batch (the last batch may be smaller).
    normalize : bool
        Apply :meth:`StaticDataset.normalizer` (training statistics; responses are only divided
        by their training s.d., so they stay non-negative for the Poisson loss).
    seed : int
        Seeds the shuffling of the training loader (same seed, same batch order; every pass
        over the loader draws a new order). Validation and test are never shuffled.
    device : str or torch.device, optional
        Move every batch there (default: leave on the CPU); an unavailable device raises a
        clear error here rather than at the first batch.
    num_workers : int
        Worker processes for loading (0 is fastest for in-memory data).

    Returns
    -------
    dict
        ``{"train", "validation", "test"}`` -> :class:`StaticLoader` yielding :class:`Batch`
        ``(images (B, C, H, W), responses (B, n), pupil_center (B, 2) or None)``. Each loader
        has ``.normalizer`` and ``.dataset.trial_indices`` (trials of ``dataset`` it holds).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    present = set(dataset.tiers.tolist())
    missing = [tier for tier in TIERS if tier not in present]
    if missing:
        raise ValueError(
            f"The data set has no trials in tier(s) {missing} (tiers present: {sorted(present)}); "
            "dataloaders needs train, validation and test trials."
        )
    normalizer = dataset.normalizer() if normalize else None
    images = _image_tensor(dataset, normalizer)  # shared by the three tiers
    loaders = {}
    for tier in TIERS:
        shuffle = tier == "train"
        loaders[tier] = StaticLoader(
            TierDataset(dataset, tier, normalizer, images=images),
            batch_size=batch_size,
            shuffle=shuffle,
            generator=torch.Generator().manual_seed(int(seed)) if shuffle else None,
            num_workers=num_workers,
            device=device,
        )
    return loaders


def test_repeats(
    dataset: StaticDataset, *, tier: str = "test", normalize: bool = False
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group the trials of a tier by the image they showed (repeats of the same image).

    The images with :func:`artiphys_course.metrics.group_by_image` of the responses.

    Parameters
    ----------
    dataset : StaticDataset
    tier : str
        Which trials to group (default the test tier, where images are repeated).
    normalize : bool
        Apply the data set's :class:`Normalizer` to images and responses.

    Returns
    -------
    images : np.ndarray
        ``(n_unique, C, H, W)``: the distinct images, in increasing row order of
        ``dataset.images`` (``images[k] = dataset.images[np.unique(ids)[k]]``).
    responses : list of np.ndarray
        ``responses[k]`` is ``(repeats_k, n_neurons)``: every trial that showed image ``k``,
        in trial order. Use it for oracle correlations and explainable variance.
    """
    trials = dataset.tier_indices(tier)
    rows, responses = group_by_image(dataset.responses[trials], dataset.trial_image_ids[trials])
    images = dataset.images[rows]
    if normalize:
        normalizer = dataset.normalizer()
        images, responses = normalizer.images(images), [normalizer.responses(r) for r in responses]
    return images, responses


test_repeats.__test__ = False  # tell pytest this is not a test when imported into a test module
