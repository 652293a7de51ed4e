"""Trained encoding models of the digital V1, trained once and cached.

Several notebooks need the same trained models (03 trains and compares them, 05 and 06 compute
gradient RFs and MEIs of them). :func:`trained_model` trains a model the first time it is asked for
and stores its weights under ``runtime.data_dir()/models/<kind>-<hash>.pt``, where the hash covers
everything that determines the result: model kind and recipe, training settings, seed, the data set
(its arrays, or for the default digital V1 the simulator), and the source code of the modules
involved (so an edited model or trainer never loads a stale file). Later calls, in any notebook,
load the weights in well under a second, without re-simulating the data.

Kinds (:data:`KINDS`):

``"ln"``
    Linear-nonlinear model: one smooth linear filter per neuron, ``ELU + 1``.
``"cnn"``
    A small conv-pool core with a fully connected readout.
``"gaussian"``
    The core + Gaussian readout model: depth-separable conv core (3 layers of 16 channels, first
    layer with stride 2; the readout sees the features of all three layers, 48 channels, so each
    neuron can combine small and large-scale features), Gaussian readout whose positions come
    from the neurons' cortical coordinates through a position network (the retinotopic map),
    and an eye-position shifter. Its recipe reaches 0.90 of the noise ceiling in about two
    minutes of 2-core CPU training (``benchmarks/bench_encoding.py``).
``"gaussian_free"``
    As ``"gaussian"`` with one free position per neuron instead of the position network.
``"linear"``
    As ``"gaussian"`` with a linear core (no nonlinearity before the final ``ELU + 1``): the
    "linearised" model.

Training is deterministic on CPU (seeded), so a cached model equals a fresh one. This is the one
module of :mod:`artiphys_course.models` that uses :mod:`artiphys_course.training` (imported when
called, keeping the package's import direction).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from artiphys_course.data.registry import UnreadableFileError, load_torch_file
from artiphys_course.models.cores import Stacked2dCore
from artiphys_course.models.encoders import Encoder, core_readout_model, ln_model, simple_cnn
from artiphys_course.runtime import data_dir, notice, seeded

if TYPE_CHECKING:
    from artiphys_course.training import TrainHistory

__all__ = [
    "KINDS",
    "RECIPES",
    "SHIPPED_DIR",
    "SHIPPED_KINDS",
    "STOPPING",
    "ZooInfo",
    "build_model",
    "default_key",
    "model_path",
    "shipped_path",
    "trained_model",
]

_FORMAT = 2  # bump when the cached file layout or a recipe's meaning changes

_CORE = {
    "hidden_channels": 16,
    "layers": 3,
    "input_kernel": 9,
    "hidden_kernel": 7,
    "input_stride": 2,
    "stack": None,
}

STOPPING: dict[str, int] = {"patience": 3, "max_epochs": 36}
"""The one early-stopping rule of every kind: stop after the plateau that follows three
learning-rate decays (a plateau is ``patience`` epochs without improvement of the validation
correlation), at most ``max_epochs`` epochs. One rule for all, so that comparing the kinds
compares architectures, not training budgets (notebook 03)."""

RECIPES: dict[str, dict[str, Any]] = {
    "ln": {
        "model": {"gamma": 0.0, "gamma_smooth": 0.5},
        "train": {"lr": 5e-3, **STOPPING},
    },
    "cnn": {
        "model": {
            "channels": [16, 16],
            "kernels": [9, 5],
            "gamma_input": 1.0,
            "gamma_readout": 0.01,
        },
        "train": {"lr": 5e-3, **STOPPING},
    },
    "gaussian": {
        "core": _CORE,
        "model": {"shifter": True, "gamma_readout": 0.01, "position_network": True},
        "train": {"lr": 1e-2, **STOPPING},
    },
    "gaussian_free": {
        "core": _CORE,
        "model": {"shifter": True, "gamma_readout": 0.01},
        "train": {"lr": 1e-2, **STOPPING},
    },
    "linear": {
        "core": {**_CORE, "linear": True},
        "model": {"shifter": True, "gamma_readout": 0.01, "position_network": True},
        "train": {"lr": 1e-2, **STOPPING},
    },
}
"""Model options and training settings of each kind (override per call with ``recipe=``)."""

KINDS = tuple(RECIPES)


@dataclass
class ZooInfo:
    """What :func:`trained_model` returns next to the model.

    Attributes
    ----------
    kind : str
    key : str
        The configuration hash (file name stem).
    path : Path
        The cached weights.
    recipe : dict
        Model and training settings used.
    history : TrainHistory
        Of the run that trained the model (``epoch_seconds`` are that machine's timings).
    loaded : bool
        True when the weights came from the cache (no training in this call).
    """

    kind: str
    key: str
    path: Path
    recipe: dict[str, Any]
    history: TrainHistory
    loaded: bool = False


def _merge(base: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def build_model(
    kind: str,
    image_shape: tuple[int, int, int],
    n_neurons: int,
    *,
    recipe: dict[str, Any] | None = None,
    mean_response: np.ndarray | None = None,
    cortex_coordinates: np.ndarray | None = None,
) -> Encoder:
    """An untrained model of ``kind`` built from its recipe (see :data:`RECIPES`).

    ``cortex_coordinates`` is required by kinds with a position network (``"gaussian"``);
    without it (rebuilding before loading cached weights) a placeholder grid is used.
    """
    if kind not in RECIPES:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {list(KINDS)}")
    recipe = _merge(RECIPES[kind], recipe)
    options = dict(recipe.get("model", {}))
    if kind == "ln":
        return ln_model(image_shape, n_neurons, mean_response=mean_response, **options)
    if kind == "cnn":
        return simple_cnn(image_shape, n_neurons, mean_response=mean_response, **options)
    core = Stacked2dCore(image_shape[0], **recipe.get("core", {}))
    if options.pop("position_network", False):
        if cortex_coordinates is None:
            cortex_coordinates = np.random.default_rng(0).uniform(-1, 1, size=(n_neurons, 2))
        options["cortex_coordinates"] = cortex_coordinates
    return core_readout_model(
        image_shape, n_neurons, mean_response=mean_response, core=core, **options
    )


_DEFAULT_DATA = "digital_v1-default"


def _is_default_digital_v1(dataset: Any) -> bool:
    """True for ``StaticDataset.from_digital_v1(make_digital_v1())`` (default options)."""
    from artiphys_course.simulate import DigitalV1Config

    config = getattr(getattr(dataset, "truth", None), "config", None)
    return isinstance(config, DigitalV1Config) and config == DigitalV1Config()


def _data_id(dataset: Any) -> str:
    if dataset is None or _is_default_digital_v1(dataset):
        return _DEFAULT_DATA
    return _dataset_fingerprint(dataset)


def _dataset_fingerprint(dataset: Any) -> str:
    digest = hashlib.md5()
    for name in ("images", "responses", "trial_image_ids", "pupil_center"):
        value = getattr(dataset, name, None)
        if value is not None:
            digest.update(np.ascontiguousarray(value).tobytes())
    digest.update(np.asarray(dataset.tiers).astype("<U10").tobytes())
    return digest.hexdigest()


# The code whose changes change a trained model: the simulator (for the default data set), data
# loading, models, loss and training. Their source enters the cache key, so editing any of them
# retrains instead of loading a stale model.
_SOURCES = (
    "simulate/_checks.py",
    "simulate/images.py",
    "simulate/neurons.py",
    "simulate/noise.py",
    "simulate/digital_v1.py",
    "data/static.py",
    "models/cores.py",
    "models/readouts.py",
    "models/shifters.py",
    "models/encoders.py",
    "losses.py",
    "training.py",
)


def _code_fingerprint() -> str:
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.md5()
    for name in _SOURCES:
        path = root / name
        # Line endings normalised, so a Windows checkout (autocrlf) finds the shipped models.
        digest.update(
            path.read_bytes().replace(b"\r\n", b"\n") if path.is_file() else name.encode()
        )
    return digest.hexdigest()


def _config_key(kind: str, recipe: dict[str, Any], seed: int, data: str) -> str:
    text = json.dumps(
        {
            "format": _FORMAT,
            "kind": kind,
            "recipe": recipe,
            "seed": seed,
            "data": data,
            "code": _code_fingerprint(),
        },
        sort_keys=True,
    )
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def model_path(key: str, kind: str) -> Path:
    """Cache file of a model: ``data_dir()/models/<kind>-<key>.pt``."""
    return data_dir() / "models" / f"{kind}-{key}.pt"


SHIPPED_DIR = Path(__file__).with_name("zoo_weights")
"""Trained models shipped with the package: ``<kind>-<key>.pt`` for the default configuration."""

SHIPPED_KINDS = ("ln", "cnn", "gaussian", "linear")
"""The kinds the notebooks use, shipped trained (``artiphys zoo`` rebuilds them)."""


def default_key(kind: str) -> str:
    """Cache key of ``kind`` trained with its recipe, seed 0, on the default digital V1.

    It covers the recipe, the seed, the data and the source of the code that trains the model,
    so a shipped file whose key differs was made by another recipe or other code.
    """
    if kind not in RECIPES:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {list(KINDS)}")
    return _config_key(kind, _merge(RECIPES[kind], None), 0, _DEFAULT_DATA)


def shipped_path(kind: str) -> Path:
    """Where the package keeps ``kind`` trained in its default configuration."""
    return SHIPPED_DIR / f"{kind}-{default_key(kind)}.pt"


def _refuse_stale_shipped(kind: str) -> None:
    """Say so when a shipped model of ``kind`` exists but was made by another recipe or code."""
    stale = sorted(SHIPPED_DIR.glob(f"{kind}-*.pt"))
    if stale:
        notice(
            f"The {kind!r} model shipped with the package ({stale[0].name}) was trained with "
            "another recipe or other code than this installation's, so it is not used: the "
            "model is trained now (about a minute or two on a laptop CPU) and cached. "
            "Maintainers: `artiphys zoo` rebuilds the shipped models."
        )


def _load_cached(
    path: Path, kind: str, key: str, recipe: dict[str, Any], *, remove: bool = True
) -> tuple[Encoder, ZooInfo] | None:
    """The model cached at ``path`` (CPU), or ``None`` when the file cannot be used.

    A file that is unreadable (truncated, not a PyTorch file) or does not hold a model of this
    recipe is reported with a notice and (``remove=True``, the user cache) removed, so
    :func:`trained_model` trains it again.
    """
    from artiphys_course.training import TrainHistory

    remedy = ("It was removed; t" if remove else "T") + "he model is trained again."
    try:
        saved = load_torch_file(path, what=f"the cached {kind!r} model", remedy=remedy)
        model = build_model(
            kind, tuple(saved["image_shape"]), int(saved["n_neurons"]), recipe=recipe
        )
        model.load_state_dict(saved["state_dict"])
        history = TrainHistory(**saved["history"])
    except UnreadableFileError as err:
        problem = str(err)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        first_line = str(err).partition("\n")[0]
        problem = (
            f"The cached {kind!r} model at {path} does not match its recipe "
            f"({type(err).__name__}: {first_line}). {remedy}"
        )
    else:
        return model, ZooInfo(kind, key, path, recipe, history, loaded=True)
    if remove:
        path.unlink(missing_ok=True)
    notice(problem)
    return None


def trained_model(
    kind: str,
    *,
    seed: int = 0,
    dataset: Any = None,
    progress: bool = True,
    device: str | torch.device | None = None,
    recipe: dict[str, Any] | None = None,
    cached: bool = True,
) -> tuple[Encoder, ZooInfo]:
    """A model of ``kind`` trained on the digital V1, from the cache when possible.

    Looked up in the user cache (``data_dir()/models``), then among the models shipped with
    the package (:data:`SHIPPED_KINDS` in their default configuration, refused with a notice
    when their recipe or code differs from this installation's), and trained otherwise.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    seed : int
        Seeds initialisation, batch order and training.
    dataset : StaticDataset, optional
        The data to train on. Default: the default digital V1
        (``StaticDataset.from_digital_v1(make_digital_v1())``), simulated only when the model
        is not cached yet. Passing that same data set (e.g. already simulated by the notebook)
        uses the same cache entry and avoids simulating it again.
    progress : bool
        Show training progress bars.
    device : str or torch.device, optional
        Where to train and put the model (default CPU: training is then deterministic and the
        cache is shared by CPU and GPU users).
    recipe : dict, optional
        Overrides of :data:`RECIPES` ``[kind]``, e.g. ``{"train": {"max_epochs": 2}}``; part of
        the cache key.
    cached : bool
        ``False`` trains the model now even when a cached or shipped copy exists (to watch it
        train); the result is stored in the user cache. Training is deterministic on the CPU,
        so it equals the cached copy.

    Returns
    -------
    model : Encoder
        In eval mode, on ``device``. Inputs are normalised images as
        :func:`artiphys_course.data.static.dataloaders` gives them (training statistics).
    info : ZooInfo
        Cache key and path, recipe, training history, and whether it was loaded.
    """
    if kind not in RECIPES:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {list(KINDS)}")
    full_recipe = _merge(RECIPES[kind], recipe)
    device = torch.device(device or "cpu")
    key = _config_key(kind, full_recipe, seed, _data_id(dataset))
    path = model_path(key, kind)

    from artiphys_course.training import train

    if cached:
        found = _load_cached(path, kind, key, full_recipe) if path.is_file() else None
        shipped = SHIPPED_DIR / path.name
        if found is None and shipped.is_file():
            found = _load_cached(shipped, kind, key, full_recipe, remove=False)
        if found is not None:
            model, info = found
            return model.to(device).eval(), info
        if key == default_key(kind):
            _refuse_stale_shipped(kind)

    from artiphys_course.data.static import StaticDataset, dataloaders

    if dataset is None:
        from artiphys_course.simulate import make_digital_v1

        dataset = StaticDataset.from_digital_v1(make_digital_v1(progress=progress))
    loaders = dataloaders(dataset, seed=seed)
    train_mask = dataset.tiers == "train"
    mean = loaders["train"].normalizer.responses(dataset.responses[train_mask]).mean(0)
    image_shape = (dataset.images.shape[1], *dataset.images.shape[2:])
    with seeded(seed):
        model = build_model(
            kind,
            image_shape,
            dataset.n_neurons,
            recipe=full_recipe,
            mean_response=mean,
            cortex_coordinates=dataset.cell_motor_coordinates,
        )
    settings = dict(full_recipe.get("train", {}))
    history = train(model, loaders, seed=seed, progress=progress, device=device, **settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    torch.save(
        {
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "image_shape": list(image_shape),
            "n_neurons": int(dataset.n_neurons),
            "history": dataclasses.asdict(history),
            "recipe": json.dumps(full_recipe, sort_keys=True),
        },
        partial,
    )
    partial.replace(path)  # atomic: a crash never leaves half a file
    return model.to(device).eval(), ZooInfo(kind, key, path, full_recipe, history, loaded=False)
