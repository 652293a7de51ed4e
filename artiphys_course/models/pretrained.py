"""Torchvision AlexNet, VGG16 and ResNet18 with ImageNet weights when they can be had.

:func:`load_pretrained` tries, in order (``weights="auto"``):

1. the official torchvision ImageNet weights from torch hub's cache (``torch.hub.get_dir()``),
   or downloaded there when ``download=True`` and the package is not offline
   (``ARTIPHYS_OFFLINE``);
2. for AlexNet, the partial checkpoint with conv1-conv3 only
   (``alexnet_conv1-3_torchvision_imagenet.pth``: registry name ``alexnet_conv1_3`` in
   :func:`artiphys_course.runtime.data_dir`, or ``path=``): those three layers are pretrained,
   conv4, conv5 and the classifier stay untrained;
3. an untrained network (seeded initialisation).

Whatever happens that changes results is announced in a one-line notice, and recorded in the
model's ``weights_source`` attribute (``"imagenet"``, ``"partial: features.0, features.3,
features.6"`` or ``"untrained"``).

Inputs must be standardised as torchvision's ImageNet models expect: RGB in [0, 1], then minus
the ImageNet channel means and divided by the standard deviations (:func:`imagenet_normalize`).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision
from torch import nn

from artiphys_course.runtime import offline

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PARTIAL_ALEXNET_LAYERS",
    "imagenet_normalize",
    "load_pretrained",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_ARCHITECTURES = {
    "alexnet": (torchvision.models.alexnet, torchvision.models.AlexNet_Weights),
    "vgg16": (torchvision.models.vgg16, torchvision.models.VGG16_Weights),
    "resnet18": (torchvision.models.resnet18, torchvision.models.ResNet18_Weights),
}
_WEIGHT_CHOICES = ("auto", "imagenet", "partial", "untrained")
PARTIAL_ALEXNET_LAYERS = ("features.0", "features.3", "features.6")
PARTIAL_REGISTRY_NAME = "alexnet_conv1_3"


def imagenet_normalize(images: torch.Tensor) -> torch.Tensor:
    """Standardise RGB images in [0, 1] as torchvision's ImageNet models expect.

    Parameters
    ----------
    images : torch.Tensor
        ``(B, 3, H, W)`` RGB values in [0, 1].

    Returns
    -------
    torch.Tensor
        ``(B, 3, H, W)``: ``(images - mean) / std`` per channel.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected RGB images of shape (B, 3, H, W), got {tuple(images.shape)}")
    mean = torch.tensor(IMAGENET_MEAN, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std


def _hub_file(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _official_state_dict(name: str, *, download: bool, progress: bool) -> dict | None:
    """The official state dict if cached (or downloadable now), else None."""
    weights = _ARCHITECTURES[name][1].DEFAULT
    cached = _hub_file(weights.url)
    if cached.is_file():
        return torch.load(cached, map_location="cpu", weights_only=True)
    if not download or offline():
        return None
    try:
        return weights.get_state_dict(progress=progress, check_hash=True)
    except (OSError, RuntimeError) as err:  # no network, proxy, corrupt download
        print(f"Notice: could not download the {name} ImageNet weights ({err}).")
        return None


def _partial_path(path: str | os.PathLike | None) -> Path | None:
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no partial AlexNet checkpoint at {path}")
        return path
    from artiphys_course.data.registry import cached_path

    return cached_path(PARTIAL_REGISTRY_NAME)


def _load_partial(model: nn.Module, path: Path) -> None:
    state = torch.load(path, map_location="cpu", weights_only=True)
    expected = {f"{layer}.{p}" for layer in PARTIAL_ALEXNET_LAYERS for p in ("weight", "bias")}
    if set(state) != expected:
        raise ValueError(
            f"{path} is not the AlexNet conv1-conv3 checkpoint: keys {sorted(state)}, expected "
            f"{sorted(expected)}"
        )
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and expected.isdisjoint(missing)


def load_pretrained(
    name: str = "alexnet",
    *,
    weights: str = "auto",
    path: str | os.PathLike | None = None,
    download: bool = True,
    seed: int = 0,
    progress: bool = True,
) -> nn.Module:
    """A torchvision network in eval mode, with the best weights available.

    Parameters
    ----------
    name : {"alexnet", "vgg16", "resnet18"}
    weights : {"auto", "imagenet", "partial", "untrained"}
        ``"auto"`` (default): official ImageNet weights, else (AlexNet) the conv1-conv3
        checkpoint, else untrained, with a notice. ``"imagenet"``: official weights or an error.
        ``"partial"``: the AlexNet conv1-conv3 checkpoint or an error. ``"untrained"``: random
        initialisation.
    path : path, optional
        An explicit partial AlexNet checkpoint (implies it is used when the official weights are
        not available).
    download : bool
        Allow downloading the official weights into torch hub's cache (never when offline).
        Notebooks pass False.
    seed : int
        Seed of the random initialisation (every layer that is not loaded).
    progress : bool
        Download progress bar.

    Returns
    -------
    nn.Module
        The network in eval mode, with a ``weights_source`` attribute.
    """
    if name not in _ARCHITECTURES:
        raise KeyError(f"unknown network {name!r}; choose from {sorted(_ARCHITECTURES)}")
    if weights not in _WEIGHT_CHOICES:
        raise ValueError(f"weights must be one of {_WEIGHT_CHOICES}, got {weights!r}")
    if weights == "partial" and name != "alexnet":
        raise ValueError("a partial (conv1-conv3) checkpoint exists for AlexNet only")
    builder = _ARCHITECTURES[name][0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = builder(weights=None)
    model.eval()
    model.weights_source = "untrained"
    if weights == "untrained":
        return model

    if weights in ("auto", "imagenet"):
        state = _official_state_dict(name, download=download, progress=progress)
        if state is not None:
            model.load_state_dict(state)
            model.weights_source = "imagenet"
            return model
        if weights == "imagenet":
            raise FileNotFoundError(
                f"the official {name} ImageNet weights are not in torch hub's cache "
                f"({_hub_file(_ARCHITECTURES[name][1].DEFAULT.url)}) and could not be downloaded "
                "(offline or download=False). Run once with network access, or use "
                "weights='auto' to fall back."
            )

    if name == "alexnet":
        partial = _partial_path(path)
        if partial is not None:
            _load_partial(model, partial)
            layers = ", ".join(PARTIAL_ALEXNET_LAYERS)
            model.weights_source = f"partial: {layers}"
            print(
                f"Notice: AlexNet conv1-conv3 ({layers}) carry ImageNet weights from "
                f"{partial.name}; conv4, conv5 and the classifier are untrained."
            )
            return model
        if weights == "partial":
            raise FileNotFoundError(
                "the AlexNet conv1-conv3 checkpoint (alexnet_conv1-3_torchvision_imagenet.pth) is "
                "not in the data folder; pass path= or add it with "
                "artiphys_course.data.registry.import_file(<path>)."
            )
    print(
        f"Notice: no ImageNet weights for {name} are available here, so the network is UNTRAINED "
        "(random weights): its units will not show the tuning of a trained network."
    )
    return model
