"""Torchvision AlexNet, VGG16, VGG19, ResNet18 and GoogLeNet with ImageNet weights when they can
be had.

:func:`load_pretrained` tries, in order (``weights="auto"``):

1. the official torchvision ImageNet weights from torch hub's cache
   (``torch.hub.get_dir()/checkpoints``, :func:`official_weights_path`), downloaded there first
   when they are missing and downloading is allowed (``download=True``, the default, and not
   ``ARTIPHYS_OFFLINE``; from ``ARTIPHYS_MIRROR`` when set, see :func:`fetch_weights`);
2. for AlexNet, the partial checkpoint with conv1-conv3 only
   (``alexnet_conv1-3_torchvision_imagenet.pth``: registry name ``alexnet_conv1_3`` in
   :func:`artiphys_course.runtime.data_dir`, or ``path=``): those three layers are pretrained,
   conv4, conv5 and the classifier stay untrained;
3. an untrained network (seeded initialisation).

Each fallback step issues a notice (:class:`~artiphys_course.runtime.ArtiphysWarning`) saying what
the network now is and how to get the real weights, and the model's ``weights_source`` attribute
records it (``"imagenet"``, ``"partial: features.0, features.3, features.6"`` or ``"untrained"``).
A torch hub file that cannot be loaded (truncated download, wrong file under the expected name) is
reported, removed and treated as missing.

For course tooling (``artiphys fetch`` / ``artiphys doctor``): :func:`fetch_weights` downloads the
official files, :func:`import_weights` copies them from a folder (a workshop USB stick), and
:func:`weights_status` says per network which weights a notebook gets.

Inputs must be standardised as torchvision's ImageNet models expect: RGB in [0, 1], then minus
the ImageNet channel means and divided by the standard deviations (:func:`imagenet_normalize`).
GoogLeNet (Inception v1; Szegedy et al. 2015) is built as torchvision builds its ImageNet model:
it maps that standardisation to its own (``transform_input=True``, a per-channel affine map that
changes no receptive field), and its two auxiliary classifiers are removed after loading, so its
modules are the stem (``conv1`` ... ``maxpool2``), the Inception blocks ``inception3a`` ...
``inception5b`` with their four parallel branches (``inception3a.branch2.1`` is the 3 x 3
convolution of the second branch) and the classifier.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from artiphys_course.data.registry import (
    MIRROR_ENV,
    DataUnavailableError,
    UnreadableFileError,
    cached_path,
    load_torch_file,
    mirror,
    url_answers,
)
from artiphys_course.runtime import notice, offline, seeded

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "NETWORKS",
    "PARTIAL_ALEXNET_LAYERS",
    "WeightsStatus",
    "fetch_weights",
    "imagenet_normalize",
    "import_weights",
    "load_pretrained",
    "official_weights_path",
    "weights_status",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision.models' builder and weights enum of each network, by name: torchvision is imported
# only when a network is built or its file looked up (importing it takes about 5 s on a CPU,
# most of it torch._dynamo, which notebooks without a torchvision network never need)
_ARCHITECTURES = {
    "alexnet": ("alexnet", "AlexNet_Weights"),
    "vgg16": ("vgg16", "VGG16_Weights"),
    "vgg19": ("vgg19", "VGG19_Weights"),
    "resnet18": ("resnet18", "ResNet18_Weights"),
    "googlenet": ("googlenet", "GoogLeNet_Weights"),
}
# Build arguments that give the module tree of the official ImageNet file (GoogLeNet's file holds
# the auxiliary heads, removed again by _drop_auxiliary_heads once the weights are in).
_BUILD_OPTIONS: dict[str, dict] = {
    "googlenet": {"aux_logits": True, "transform_input": True, "init_weights": True},
}
#: The networks :func:`load_pretrained` knows.
NETWORKS = tuple(_ARCHITECTURES)
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


def _check_network(name: str) -> None:
    if name not in _ARCHITECTURES:
        raise KeyError(f"unknown network {name!r}; choose from {sorted(_ARCHITECTURES)}")


def _builder(name: str) -> Callable[..., nn.Module]:
    """torchvision's builder of network ``name`` (``torchvision.models.alexnet``, ...)."""
    import torchvision.models

    return getattr(torchvision.models, _ARCHITECTURES[name][0])


def _weights_enum(name: str) -> Any:
    """torchvision's weights enum of network ``name``; ``.DEFAULT`` is the ImageNet file."""
    import torchvision.models

    return getattr(torchvision.models, _ARCHITECTURES[name][1])


def _official_url(name: str) -> str:
    return _weights_enum(name).DEFAULT.url


def _official_filename(name: str) -> str:
    return os.path.basename(_official_url(name))


def _hash_prefix(name: str) -> str:
    """The SHA-256 prefix torchvision puts in the file name (``resnet18-f37072fd.pth``)."""
    return torch.hub.HASH_REGEX.search(_official_filename(name)).group(1)


def official_weights_path(name: str) -> Path:
    """Where torch hub keeps (or will keep) the ImageNet weights of ``name``."""
    _check_network(name)
    return Path(torch.hub.get_dir()) / "checkpoints" / _official_filename(name)


def _sha256_matches(path: Path, name: str) -> bool:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest().startswith(_hash_prefix(name))


def _how_to_get(name: str) -> str:
    filename = _official_filename(name)
    return (
        f"To get the ImageNet weights: run `artiphys fetch {name}` once online (it downloads "
        f"{filename}, {_size_mb(name)} MB, into {official_weights_path(name).parent}), or copy "
        f"{filename} from a folder of copies with `artiphys fetch --from DIR`, or set "
        f"{MIRROR_ENV} to a web folder serving it."
    )


def _size_mb(name: str) -> int:
    return round(_weights_enum(name).DEFAULT.meta.get("_file_size", 0))


def _download_official(name: str, *, progress: bool) -> Path:
    """Download the official file (from the mirror when set), checking its SHA-256 prefix."""
    target = official_weights_path(name)
    if offline():
        raise DataUnavailableError(
            f"The {name} ImageNet weights are not in torch hub's cache ({target}) and offline "
            f"mode (ARTIPHYS_OFFLINE) forbids downloading them. {_how_to_get(name)}"
        )
    base = mirror()
    url = f"{base}/{_official_filename(name)}" if base else _official_url(name)
    if not url_answers(url):  # torch's download has no timeout: never hang on a dead network
        raise DataUnavailableError(
            f"Downloading the {name} ImageNet weights: {url} does not answer (no network, a "
            f"firewall, or a wrong mirror). {_how_to_get(name)}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    try:  # writes a temporary file next to target and moves it there once the hash is right
        torch.hub.download_url_to_file(url, str(target), _hash_prefix(name), progress=progress)
    except (OSError, RuntimeError) as err:  # network errors (URLError is an OSError), bad hash
        raise DataUnavailableError(
            f"Downloading the {name} ImageNet weights from {url} failed "
            f"({type(err).__name__}: {err}). {_how_to_get(name)}"
        ) from None
    return target


def fetch_weights(names: list[str] | None = None, *, progress: bool = True) -> dict[str, Path]:
    """Make sure the official ImageNet weights are in torch hub's cache, downloading them.

    Parameters
    ----------
    names : list of str, optional
        Networks of :data:`NETWORKS` (default: all).
    progress : bool
        Show download progress bars.

    Returns
    -------
    dict
        ``{network: path of its weights}``. A cached file is kept when its SHA-256 matches the
        prefix in its name; a damaged one is replaced.

    Raises
    ------
    KeyError
        An unknown network.
    DataUnavailableError
        Offline, or a download failed (the message names the URL and the other ways to get the
        file). Files fetched before the failure stay cached.
    """
    names = list(NETWORKS) if names is None else list(names)
    for name in names:
        _check_network(name)
    paths = {}
    for name in names:
        path = official_weights_path(name)
        if path.is_file() and _sha256_matches(path, name):
            paths[name] = path
            continue
        if path.is_file():
            path.unlink()
            notice(f"The {name} ImageNet weights at {path} were damaged: removed, downloading.")
        paths[name] = _download_official(name, progress=progress)
    return paths


def import_weights(folder: str | os.PathLike) -> dict[str, Path]:
    """Copy official torchvision weight files found in ``folder`` into torch hub's cache.

    Files are matched by their torchvision file name (``alexnet-owt-7be5be79.pth``,
    ``vgg16-397923af.pth``, ``vgg19-dcbb9e9d.pth``, ``resnet18-f37072fd.pth``,
    ``googlenet-1378be20.pth``, in any sub-folder) and copied only when
    their SHA-256 matches the prefix in the name; others are skipped with a notice.

    Returns
    -------
    dict
        ``{network: path in torch hub's cache}`` for every file now cached from ``folder``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder at {folder}.")
    by_filename = {_official_filename(name): name for name in NETWORKS}
    imported: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.pth")):
        name = by_filename.get(path.name)
        if name is None or name in imported or not path.is_file():
            continue
        if not _sha256_matches(path, name):
            notice(
                f"{path} is not the official {name} file (its SHA-256 does not start with "
                f"{_hash_prefix(name)}): skipped."
            )
            continue
        target = official_weights_path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)  # contents only: shared copies may be read-only
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        imported[name] = target
    return imported


class WeightsStatus(NamedTuple):
    """One line of :func:`weights_status`.

    Attributes
    ----------
    network : str
    weights : str
        What ``load_pretrained(network)`` loads from the files here, before any download:
        ``"imagenet"``, ``"partial"`` (AlexNet conv1-conv3) or ``"untrained"``.
    path : Path or None
        The file those weights come from.
    downloads : bool
        True when a notebook would first try to download the ImageNet weights (they are not
        cached and ``ARTIPHYS_OFFLINE`` is not set).
    advice : str
        How to get the ImageNet weights (empty when they are cached).
    """

    network: str
    weights: str
    path: Path | None
    downloads: bool
    advice: str


def weights_status(*, verify: bool = True) -> list[WeightsStatus]:
    """Which weights each network of :data:`NETWORKS` gets in a notebook now; nothing downloads.

    Parameters
    ----------
    verify : bool
        Check the SHA-256 of cached official files (about a second for VGG16's 528 MB); a file
        that fails counts as missing.

    Returns
    -------
    list of WeightsStatus
        One per network, in :data:`NETWORKS` order.
    """
    rows = []
    for name in NETWORKS:
        path = official_weights_path(name)
        if path.is_file() and (not verify or _sha256_matches(path, name)):
            rows.append(WeightsStatus(name, "imagenet", path, False, ""))
            continue
        partial = cached_path(PARTIAL_REGISTRY_NAME) if name == "alexnet" else None
        weights = "partial" if partial is not None else "untrained"
        rows.append(WeightsStatus(name, weights, partial, not offline(), _how_to_get(name)))
    return rows


def _read_official(model: nn.Module, name: str, path: Path) -> bool:
    """Load the file at ``path`` into ``model``; a damaged file is reported, removed, False."""
    remedy = "It was removed; it is downloaded again when allowed."
    try:
        state = load_torch_file(path, what=f"the {name} ImageNet weights file", remedy=remedy)
    except UnreadableFileError as err:
        problem = str(err)
    else:
        expected = {key: value.shape for key, value in model.state_dict().items()}
        if (
            isinstance(state, dict)
            and {key: getattr(value, "shape", None) for key, value in state.items()} == expected
        ):
            model.load_state_dict(state)
            return True
        problem = f"{path} is not the {name} state dict (other keys or shapes). {remedy}"
    path.unlink(missing_ok=True)
    notice(problem)
    return False


def _load_official(model: nn.Module, name: str, *, download: bool, progress: bool) -> str:
    """Load the official weights into ``model``; return "" or why they are not available.

    A damaged cached file is removed and, when downloading is allowed, fetched again once.
    """
    path = official_weights_path(name)
    damaged = ""
    if path.is_file():
        if _read_official(model, name, path):
            return ""
        damaged = f"the cached {path.name} was damaged; "
    if offline():
        return damaged + f"they are not in torch hub's cache ({path}) and ARTIPHYS_OFFLINE is set"
    if not download:
        return damaged + f"they are not in torch hub's cache ({path}) and download=False"
    try:
        _download_official(name, progress=progress)
    except DataUnavailableError as err:
        return damaged + str(err).split(". To get")[0]
    return "" if _read_official(model, name, path) else f"the downloaded {path.name} was damaged"


def _partial_path(path: str | os.PathLike | None) -> Path | None:
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no partial AlexNet checkpoint at {path}")
        return path
    return cached_path(PARTIAL_REGISTRY_NAME)


def _load_partial(model: nn.Module, path: Path) -> None:
    state = load_torch_file(
        path,
        what="the AlexNet conv1-conv3 checkpoint",
        remedy=(
            f"Get a good copy with `artiphys fetch --from DIR` (registry name "
            f"{PARTIAL_REGISTRY_NAME!r})."
        ),
    )
    expected = {f"{layer}.{p}" for layer in PARTIAL_ALEXNET_LAYERS for p in ("weight", "bias")}
    if not isinstance(state, dict) or set(state) != expected:
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f"{path} is not the AlexNet conv1-conv3 checkpoint: keys {keys}, expected "
            f"{sorted(expected)}"
        )
    model.load_state_dict(state, strict=False)


def _drop_auxiliary_heads(model: nn.Module) -> None:
    """Remove GoogLeNet's auxiliary classifiers (used in training only), as torchvision does."""
    import torchvision.models  # already imported: the model was built by it

    if isinstance(model, torchvision.models.GoogLeNet):
        model.aux_logits = False
        model.aux1 = None
        model.aux2 = None


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
    name : {"alexnet", "vgg16", "vgg19", "resnet18", "googlenet"}
    weights : {"auto", "imagenet", "partial", "untrained"}
        ``"auto"`` (default): official ImageNet weights (downloaded when needed and allowed),
        else (AlexNet) the conv1-conv3 checkpoint, else untrained, each fallback with a notice.
        ``"imagenet"``: official weights or an error. ``"partial"``: the AlexNet conv1-conv3
        checkpoint or an error. ``"untrained"``: random initialisation.
    path : path, optional
        An explicit partial AlexNet checkpoint, used when the official weights are not available.
    download : bool
        Allow downloading the official weights into torch hub's cache (default; never when
        ``ARTIPHYS_OFFLINE`` is set).
    seed : int
        Seed of the random initialisation (every layer that is not loaded).
    progress : bool
        Download progress bar.

    Returns
    -------
    nn.Module
        The network in eval mode, with a ``weights_source`` attribute. It takes
        ``(B, 3, H, W)`` images standardised with :func:`imagenet_normalize` (GoogLeNet too: it
        converts them to its own input range itself).

    Raises
    ------
    KeyError
        Unknown ``name``.
    TypeError
        ``seed`` is not an int (:func:`~artiphys_course.runtime.seeded`).
    ValueError
        Unknown ``weights``, or ``"partial"`` for a network other than AlexNet.
    FileNotFoundError
        ``weights="imagenet"`` or ``"partial"`` and those weights cannot be had (the message
        says how to get them), or ``path`` does not exist.
    """
    _check_network(name)
    if weights not in _WEIGHT_CHOICES:
        raise ValueError(f"weights must be one of {_WEIGHT_CHOICES}, got {weights!r}")
    if weights == "partial" and name != "alexnet":
        raise ValueError("a partial (conv1-conv3) checkpoint exists for AlexNet only")
    with seeded(seed):
        model = _builder(name)(weights=None, **_BUILD_OPTIONS.get(name, {}))
    model.weights_source = _load_weights(
        model, name, weights, path=path, download=download, progress=progress
    )
    _drop_auxiliary_heads(model)
    return model.eval()


def _load_weights(
    model: nn.Module,
    name: str,
    weights: str,
    *,
    path: str | os.PathLike | None,
    download: bool,
    progress: bool,
) -> str:
    """Fill ``model`` with the best weights allowed by ``weights``; return what it now holds."""
    if weights == "untrained":
        return "untrained"
    reason = "weights='partial' was asked for"
    if weights in ("auto", "imagenet"):
        reason = _load_official(model, name, download=download, progress=progress)
        if not reason:
            return "imagenet"
        if weights == "imagenet":
            raise FileNotFoundError(
                f"The {name} ImageNet weights are not available: {reason}. {_how_to_get(name)}"
            )

    if name == "alexnet":
        partial = _partial_path(path)
        if partial is not None:
            _load_partial(model, partial)
            layers = ", ".join(PARTIAL_ALEXNET_LAYERS)
            notice(
                f"AlexNet is PARTLY trained: conv1-conv3 ({layers}) carry ImageNet weights from "
                f"{partial.name}; conv4, conv5 and the classifier are untrained, because the "
                f"full ImageNet weights are not available ({reason}). {_how_to_get(name)}",
                stacklevel=3,  # the caller of load_pretrained
            )
            return f"partial: {layers}"
        if weights == "partial":
            raise FileNotFoundError(
                "the AlexNet conv1-conv3 checkpoint (alexnet_conv1-3_torchvision_imagenet.pth) is "
                "not in the data folder; pass path= or add it with `artiphys fetch --from DIR` "
                "(or artiphys_course.data.registry.import_file(<path>))."
            )
        reason += "; the AlexNet conv1-conv3 checkpoint is not cached either"
    notice(
        f"{name} is UNTRAINED (random weights): its units will not show the tuning of a trained "
        f"network. The ImageNet weights are not available ({reason}). {_how_to_get(name)}",
        stacklevel=3,
    )
    return "untrained"
