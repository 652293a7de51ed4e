"""The SENSORIUM 2022 baseline models of mouse V1, rebuilt from this package's modules.

Willeke et al. (2022, arXiv:2206.08666) released two trained models of 7,776 neurons of mouse
``26872-17-20`` seeing grey natural images down-sampled to 36 x 64 pixels (model after Lurz et al.,
ICLR 2021; code: github.com/sinzlab/sensorium, neuralpredictors 0.3.0):

* ``"sota"`` (the CNN baseline): a 4-layer core - a 9x9 convolution without padding (36x64 ->
  28x56), then three depth-separable 7x7 layers, 64 channels, each with BatchNorm and ELU, only the
  last layer read out - and a full Gaussian readout whose positions come from the neurons' cortical
  coordinates through an MLP 2 -> 30 -> ELU -> 2 -> tanh (the "cortex grid predictor");
  ``ELU + 1`` at the output.
* ``"ln"``: the same with 3 core layers and ``linear=True`` (no nonlinearity before the final
  ``ELU + 1``): a linear-nonlinear model with a convolutional parameterisation.

:func:`load_sensorium_model` builds :class:`~artiphys_course.models.encoders.Encoder` objects from
:class:`~artiphys_course.models.cores.Stacked2dCore` and
:class:`~artiphys_course.models.readouts.GaussianReadout` with this architecture and loads a
checkpoint strictly. In evaluation mode the forward pass is the original's: same layers, same
BatchNorm statistics, read-out positions clamped to ``[-1, 1]`` and read with ``grid_sample``
(``align_corners=True``).

State-dict keys (original -> here), ``K`` = the data key ``26872-17-20``:

- ``core._input_weights_regularizer.laplace.filter``: dropped (the fixed 3x3 Laplacian buffer).
- ``core.features.layerL.*`` (``conv``, ``ds_conv.{in_depth_conv,spatial_conv,out_depth_conv}``,
  ``norm``): unchanged.
- ``readout.K._features`` (1, 64, 1, n) -> ``readout.K.features`` (64, n).
- ``readout.K.sigma`` (1, n, 2, 2) -> ``readout.K.sigma`` (n, 2, 2).
- ``readout.K.bias`` (n,): unchanged.
- ``readout.K.source_grid`` (n, 2) -> ``readout.K.position_network.source_grid`` (n, 2).
- ``readout.K.mu_transform.{0,2}.{weight,bias}`` ->
  ``readout.K.position_network.mlp.{0,2}.{weight,bias}``.
- added: ``readout.K.position_network.coordinate_mean`` = 0 and ``coordinate_scale`` = 1 (the
  checkpoint stores only the normalised cortical grid, so new coordinates given to the position
  network must be normalised the same way).

Inputs: images ``(B, 1, 36, 64)`` on the scale of the training images, which the SENSORIUM loaders
z-scored with one mean and one s.d. of the whole data set: :func:`standardize` puts a stimulus set
on that scale with fixed statistics of the set (:func:`image_statistics`), so an image's
prediction never depends on the batch it comes in. Outputs: ``(B, 7776)`` predicted responses
(deconvolved calcium activity, arbitrary units), > 0. Training hyper-parameters (regulariser
weights, BatchNorm momentum) only matter for training and are set to the original's values for
reference.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

import numpy as np
import torch

from artiphys_course.data.registry import load_registered_torch, load_torch_file
from artiphys_course.models.cores import Stacked2dCore
from artiphys_course.models.encoders import Encoder
from artiphys_course.models.readouts import GaussianReadout, PositionNetwork

__all__ = [
    "SENSORIUM_DATA_KEY",
    "SENSORIUM_IMAGE_SHAPE",
    "SENSORIUM_CHECKPOINTS",
    "build_sensorium_model",
    "convert_sensorium_state_dict",
    "image_statistics",
    "load_sensorium_model",
    "standardize",
]

SENSORIUM_DATA_KEY = "26872-17-20"
SENSORIUM_IMAGE_SHAPE = (1, 36, 64)
SENSORIUM_CHECKPOINTS = {"sota": "sensorium_sota_model", "ln": "sensorium_ln_model"}
"""Model kind -> registry name of its checkpoint (:mod:`artiphys_course.data.registry`)."""

_ARCHITECTURE = {"sota": {"layers": 4, "linear": False}, "ln": {"layers": 3, "linear": True}}
_DROPPED = ("core._input_weights_regularizer.laplace.filter",)


def build_sensorium_model(
    kind: Literal["sota", "ln"] = "sota",
    *,
    n_neurons: int = 7776,
    data_key: str = SENSORIUM_DATA_KEY,
    hidden_channels: int = 64,
) -> Encoder:
    """An untrained model with the architecture of a SENSORIUM 2022 baseline.

    Parameters
    ----------
    kind : {"sota", "ln"}
        CNN baseline or LN baseline.
    n_neurons : int
        Neurons of the readout.
    data_key : str
        Key of the readout.
    hidden_channels : int
        Core channels (64 in the released models).

    Returns
    -------
    Encoder
        Training mode; positions come from a position network whose source grid is a placeholder
        until a state dict is loaded.
    """
    if kind not in _ARCHITECTURE:
        raise ValueError(f"unknown kind {kind!r}; choose one of {sorted(_ARCHITECTURE)}")
    arch = _ARCHITECTURE[kind]
    core = Stacked2dCore(
        SENSORIUM_IMAGE_SHAPE[0],
        hidden_channels,
        layers=arch["layers"],
        input_kernel=9,
        hidden_kernel=7,
        depth_separable=True,
        pad_input=False,
        linear=arch["linear"],
        stack=-1,
        gamma_input=6.3831,
        momentum=0.9,
    )
    placeholder = np.random.default_rng(0).uniform(-1, 1, size=(n_neurons, 2))
    readout = GaussianReadout(
        core.out_shape(SENSORIUM_IMAGE_SHAPE),
        n_neurons,
        position_network=PositionNetwork(placeholder, hidden_features=30, hidden_layers=1),
        init_sigma=0.1,
        gamma=0.0076,
    )
    return Encoder(core, {data_key: readout}, image_shape=SENSORIUM_IMAGE_SHAPE)


def convert_sensorium_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename and reshape an original SENSORIUM state dict for :func:`build_sensorium_model`.

    See the module docstring for the mapping. Unknown keys raise ``KeyError``.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key in _DROPPED:
            continue
        if key.startswith("core.features."):
            out[key] = value
            continue
        parts = key.split(".")
        if parts[0] != "readout" or len(parts) < 3:
            raise KeyError(f"unexpected key {key!r} in a SENSORIUM checkpoint")
        prefix, name = f"readout.{parts[1]}", ".".join(parts[2:])
        if name == "_features":
            out[f"{prefix}.features"] = value.reshape(value.shape[1], value.shape[3])
        elif name == "sigma":
            out[f"{prefix}.sigma"] = value.reshape(value.shape[1], 2, 2)
        elif name == "bias":
            out[f"{prefix}.bias"] = value
        elif name == "source_grid":
            out[f"{prefix}.position_network.source_grid"] = value
            out[f"{prefix}.position_network.coordinate_mean"] = value.new_zeros(value.shape[1])
            out[f"{prefix}.position_network.coordinate_scale"] = value.new_ones(())
        elif name.startswith("mu_transform."):
            out[f"{prefix}.position_network.mlp.{name.removeprefix('mu_transform.')}"] = value
        else:
            raise KeyError(f"unexpected key {key!r} in a SENSORIUM checkpoint")
    return out


def load_sensorium_model(
    kind: Literal["sota", "ln"] = "sota",
    *,
    path: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Encoder:
    """Load a released SENSORIUM 2022 baseline into this package's modules (evaluation mode).

    Parameters
    ----------
    kind : {"sota", "ln"}
        ``"sota"``: the CNN baseline; ``"ln"``: the linear-nonlinear baseline.
    path : path, optional
        An explicit checkpoint file. Default: the registry's cached copy
        (:func:`artiphys_course.data.registry.fetch`, which downloads it when online).
    device : str or torch.device, optional
        Where to put the model (default CPU).
    progress : bool
        Show a download progress bar (only when downloading).

    Returns
    -------
    Encoder
        In ``eval()`` mode: ``model(images (B, 1, 36, 64)) -> (B, 7776)``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist, or the checkpoint is not cached and cannot be downloaded (the
        registry's :class:`~artiphys_course.data.registry.DataUnavailableError` says how to get it).
    UnreadableFileError
        The file is not a loadable PyTorch file (truncated, random bytes, unsafe objects); the
        message names the file. A damaged cached copy is removed and fetched again once first.
    ValueError
        The file loads but is not a SENSORIUM checkpoint.
    """
    if kind not in SENSORIUM_CHECKPOINTS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {sorted(SENSORIUM_CHECKPOINTS)}")
    name = SENSORIUM_CHECKPOINTS[kind]
    what = f"the SENSORIUM {kind!r} checkpoint"
    if path is None:
        original = load_registered_torch(name, what=what, progress=progress)
        source = f"the cached {name!r}"
    else:
        original = load_torch_file(
            path,
            what=what,
            remedy=(
                f"Pass a good copy, or leave out path= to use the course's copy "
                f"(`artiphys fetch {name}`)."
            ),
        )
        source = str(path)
    if not isinstance(original, Mapping):
        raise ValueError(f"{source} holds a {type(original).__name__}, not a state dict")
    try:
        state = convert_sensorium_state_dict(original)
    except KeyError as err:
        raise ValueError(f"{source} is not a SENSORIUM checkpoint: {err.args[0]}") from None
    readout_keys = sorted({k.split(".")[1] for k in state if k.startswith("readout.")})
    if len(readout_keys) != 1:
        raise ValueError(f"expected one readout in {source}, found {readout_keys}")
    data_key = readout_keys[0]
    model = build_sensorium_model(
        kind,
        n_neurons=state[f"readout.{data_key}.bias"].shape[0],
        data_key=data_key,
        hidden_channels=state["core.features.layer0.conv.weight"].shape[0],
    )
    model.load_state_dict(state, strict=True)
    return model.to(device or "cpu").eval()


def image_statistics(images: np.ndarray | torch.Tensor) -> tuple[float, float]:
    """Mean and s.d. of all pixels of a whole stimulus set, for :func:`standardize`.

    Parameters
    ----------
    images : np.ndarray or torch.Tensor
        ``(n_images, 1, height, width)`` (any shape: every value counts) grey levels of the
        complete stimulus set, not one batch of it.

    Returns
    -------
    mean, std : float
        Over all values (population s.d., as the SENSORIUM data statistics).
    """
    values = torch.as_tensor(images).detach().double()
    if values.numel() < 2:
        raise ValueError(f"images must hold at least 2 values; got shape {tuple(values.shape)}")
    return float(values.mean()), float(values.std(unbiased=False))


def standardize(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """Put grey-level images on the input scale of the SENSORIUM models, with fixed statistics.

    The SENSORIUM 2022 loaders (``normalize=True`` in the training configuration recorded with
    the checkpoints) z-scored every image with one mean and one s.d. of all pixels of the whole
    data set, so the models were trained on inputs with mean 0 and s.d. 1 over the training
    set. The checkpoint confirms it: the running means of the first BatchNorm equal -0.06 times
    the sum of each first-layer kernel (least squares over the 64 channels of the ``"sota"``
    checkpoint), i.e. the training inputs averaged -0.06 in these units. The raw grey-level
    mean and s.d. of mouse 26872-17-20's images are stored only in that data set, which is not
    distributed with the course, so other images are put on this scale with the statistics of
    their own stimulus set, computed once over the whole set (:func:`image_statistics`) and
    passed here. The transform is per pixel: one image gives the same model input, and so the
    same prediction, alone or inside any batch.

    Parameters
    ----------
    images : torch.Tensor
        ``(B, 1, 36, 64)`` grey levels.
    mean, std : float
        Mean and s.d. of the stimulus set the images come from (``std > 0``).

    Returns
    -------
    torch.Tensor
        ``(images - mean) / std``, same shape, dtype and device.
    """
    mean, std = float(mean), float(std)
    if not np.isfinite(mean):
        raise ValueError(f"mean must be finite; got {mean}")
    if not (np.isfinite(std) and std > 0):
        raise ValueError(f"std must be finite and > 0; got {std}")
    return (images - mean) / std
