"""Features of named CNN layers for many images, computed once per layer and cached.

The first step of the layer x area grid (:mod:`artiphys_course.layer_grid`): show every image to
the network once, keep the activations of the layers we want to read neurons out of, and shrink
them so that they fit in memory. Works for torchvision networks
(:func:`artiphys_course.models.pretrained.load_pretrained`) and for the package's own models
(pass ``transform=None`` and whatever input they expect).

- :func:`to_network_input`: grey images (0..255) -> 3 channels in [0, 1] -> resized with
  torchvision -> ImageNet standardisation
  (:func:`~artiphys_course.models.pretrained.imagenet_normalize`).
- :func:`extract_features`: one batched forward pass (``torch.no_grad``) per batch of images,
  stopped after the deepest requested layer (:func:`~artiphys_course.recording.truncate`), every
  requested layer recorded on the way (:func:`~artiphys_course.recording.record_layers`),
  optionally average-pooled to a small spatial grid (:func:`pool_features`).
- :class:`FeatureExtractor`: the same with a memory cache (and a disk cache where asked), so a
  notebook cell run twice, or several areas shown the same images, cost one pass.

Standard layer labels: :data:`ALEXNET_LAYERS` (after each ReLU), :data:`VGG19_LAYERS` (the
sixteen convolutions ``conv1_1`` ... ``conv5_4``, after their ReLU, as Cadena et al. 2019 read
them) and :data:`GOOGLENET_LAYERS` (the stem convolutions and the nine Inception blocks, whose
outputs concatenate their four branches; single branches such as ``"inception3a.branch2.1"``
can be asked for by module name).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from artiphys_course.models.pretrained import imagenet_normalize
from artiphys_course.recording import get_layer, record_layers, truncate
from artiphys_course.runtime import get_device, progress_bar
from artiphys_course.units import eval_mode

__all__ = [
    "ALEXNET_LAYERS",
    "GOOGLENET_LAYERS",
    "VGG19_LAYERS",
    "FeatureExtractor",
    "extract_features",
    "pool_features",
    "to_network_input",
]

#: torchvision AlexNet's five convolutional stages, read after their ReLU (label -> module).
ALEXNET_LAYERS: dict[str, str] = {
    "conv1": "features.1",
    "conv2": "features.4",
    "conv3": "features.7",
    "conv4": "features.9",
    "conv5": "features.11",
}


def _vgg_layers(blocks: Sequence[int]) -> dict[str, str]:
    """``conv{block}_{i}`` -> the ReLU after it in a torchvision VGG ``features`` Sequential."""
    labels, index = {}, 0
    for block, n_convs in enumerate(blocks, start=1):
        for i in range(1, n_convs + 1):
            labels[f"conv{block}_{i}"] = f"features.{index + 1}"  # conv at index, ReLU after it
            index += 2
        index += 1  # the max pooling that ends the block
    return labels


#: torchvision VGG-19's sixteen convolutions, read after their ReLU (label -> module).
VGG19_LAYERS: dict[str, str] = _vgg_layers((2, 2, 4, 4, 4))

#: torchvision GoogLeNet's stem convolutions (after their ReLU, inside ``BasicConv2d``) and its
#: nine Inception blocks (label -> module).
GOOGLENET_LAYERS: dict[str, str] = {
    "conv1": "conv1",
    "conv2": "conv2",
    "conv3": "conv3",
    **{
        f"inception{block}": f"inception{block}"
        for block in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
    },
}

Transform = Callable[[torch.Tensor], torch.Tensor]
Size = int | tuple[int, int]


def to_network_input(
    images: torch.Tensor | np.ndarray,
    image_shape: Size | None = None,
    *,
    normalize: bool = True,
) -> torch.Tensor:
    """Grey (or RGB) images with grey levels 0..255 -> input of an ImageNet-trained network.

    Parameters
    ----------
    images : tensor or array
        ``(B, 1, H, W)`` grey or ``(B, 3, H, W)`` RGB, values 0..255.
    image_shape : int or (height, width), optional
        Resize (bilinear, antialiased, torchvision) to ``(height, width)`` pixels (an int for a
        square); ``None`` keeps the images' shape.
    normalize : bool
        Standardise with the ImageNet channel means and standard deviations.

    Returns
    -------
    torch.Tensor
        ``(B, 3, height, width)`` float32.
    """
    x = torch.as_tensor(images, dtype=torch.float32)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(
            f"images must be (B, 1 or 3, H, W) grey levels 0..255, got {tuple(x.shape)}"
        )
    x = (x / 255.0).expand(-1, 3, -1, -1)
    if image_shape is not None:
        shape = (
            [int(image_shape)] * 2
            if isinstance(image_shape, int)
            else [int(s) for s in image_shape]
        )
        import torchvision.transforms.v2.functional as TF  # lazily: see models.pretrained

        x = TF.resize(x, shape, antialias=True)
    return imagenet_normalize(x) if normalize else x.contiguous()


def _layer_map(model: nn.Module, layers: Sequence[str] | Mapping[str, str] | str) -> dict[str, str]:
    if isinstance(layers, str):
        layers = [layers]
    mapping = dict(layers) if isinstance(layers, Mapping) else {name: name for name in layers}
    if not mapping:
        raise ValueError("no layers requested")
    for name in mapping.values():
        get_layer(model, name)  # KeyError listing the valid names
    return mapping


def _completion_order(model: nn.Module) -> list[str]:
    """Module names in the order their forward passes end: children before their container.

    The forward pass is stopped after the last requested layer to finish, so a block
    (``"inception3a"``, ``"layer2.0"``) must come after its own branches and convolutions.
    """
    names: list[str] = []

    def visit(prefix: str, module: nn.Module) -> None:
        for name, child in module.named_children():
            visit(f"{prefix}.{name}" if prefix else name, child)
        names.append(prefix)

    visit("", model)
    return names


def pool_features(x: torch.Tensor, pool: Size | None) -> torch.Tensor:
    """Average-pool feature maps to at most ``pool`` positions, as :func:`extract_features` does.

    Parameters
    ----------
    x : torch.Tensor
        ``(B, C, h, w)`` feature maps (other shapes are returned unchanged).
    pool : int or (int, int) or None
        Largest output ``(height, width)`` (an int for a square); a map already smaller along
        an axis keeps its size there (adaptive average pooling). ``None`` returns ``x``.

    Returns
    -------
    torch.Tensor
        ``(B, C, min(h, pool_h), min(w, pool_w))``, differentiable (for MEIs through a readout).
    """
    if pool is None or x.ndim != 4:
        return x
    h, w = (pool, pool) if isinstance(pool, int) else pool
    return nn.functional.adaptive_avg_pool2d(x, (min(h, x.shape[2]), min(w, x.shape[3])))


def extract_features(
    model: nn.Module,
    images: torch.Tensor | np.ndarray,
    layers: Sequence[str] | Mapping[str, str] | str,
    *,
    transform: Transform | str | None = "imagenet",
    image_shape: Size | None = None,
    pool: Size | None = None,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Activations of several layers for every image, one forward pass per batch.

    Parameters
    ----------
    model : nn.Module
        Any network; it is moved to ``device`` and run in eval mode (with a notice when it was
        in training mode; its training flags are restored afterwards).
    images : tensor or array
        ``(N, C, H, W)``; for ``transform="imagenet"`` grey levels 0..255 with 1 or 3 channels.
    layers : str, sequence of str or mapping
        Module names (:func:`artiphys_course.recording.list_layers`), or ``{label: name}``
        (e.g. :data:`ALEXNET_LAYERS`); results are keyed by label.
    transform : "imagenet", callable or None
        ``"imagenet"``: :func:`to_network_input` with ``image_shape``. A callable gets each
        ``(B, C, H, W)`` float batch. ``None``: images are passed as they are.
    image_shape : int or (height, width), optional
        Resize for ``transform="imagenet"``.
    pool : int or (int, int), optional
        Average-pool every convolutional map to at most this spatial size (adaptive pooling),
        so features fit in memory and readouts stay fast. ``None`` keeps full maps.
    batch_size : int
    device : str or torch.device, optional
        Default :func:`artiphys_course.runtime.get_device`.
    progress : bool
        Progress bar over batches.

    Returns
    -------
    dict
        ``label -> np.ndarray`` float32, ``(N, C, h, w)`` for conv layers, ``(N, D)`` for linear.
    """
    mapping = _layer_map(model, layers)
    if transform == "imagenet":

        def transform(x: torch.Tensor) -> torch.Tensor:
            return to_network_input(x, image_shape)

    elif isinstance(transform, str):
        raise ValueError(f"transform must be 'imagenet', a callable or None, got {transform!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    images = torch.as_tensor(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    if len(images) == 0:
        raise ValueError("images is empty (N = 0): there is nothing to extract features from")
    device = get_device(device)
    model = model.to(device)
    order = _completion_order(model)
    deepest = max(mapping.values(), key=order.index)
    runner = truncate(model, deepest)
    # each layer's array is allocated once, at its first batch, and filled in place: no list of
    # chunks and no concatenated copy, so the peak is the result itself
    features: dict[str, np.ndarray] = {}
    starts = range(0, len(images), batch_size)
    layers_used = list(set(mapping.values()))
    with torch.no_grad(), eval_mode(model), record_layers(model, layers_used) as acts:
        for start in progress_bar(starts, progress, desc="features", total=len(starts)):
            batch = images[start : start + batch_size].to(device=device, dtype=torch.float32)
            runner(transform(batch) if transform is not None else batch)
            for label, name in mapping.items():
                chunk = pool_features(acts[name], pool).float().cpu().numpy()
                if label not in features:
                    features[label] = np.empty((len(images), *chunk.shape[1:]), np.float32)
                features[label][start : start + len(chunk)] = chunk
    return features


class FeatureExtractor:
    """:func:`extract_features` with a memory cache (and a disk cache where asked).

    Results are cached by a fingerprint of the images, the requested layers and the options;
    the model's weights are fingerprinted when the extractor is built (build a new extractor
    after changing them).

    Parameters
    ----------
    model : nn.Module
    layers : sequence of str or mapping
        As for :func:`extract_features`.
    cache_dir : path, optional
        Also store results as ``.npz`` files there and read them back in later sessions
        (nothing is written when ``None``).
    **options
        ``transform``, ``image_shape``, ``pool``, ``batch_size``, ``device`` of
        :func:`extract_features`.

    Examples
    --------
    >>> extractor = FeatureExtractor(net, ALEXNET_LAYERS, image_shape=96, pool=6)  # doctest: +SKIP
    >>> feats = extractor(images)          # computed                           # doctest: +SKIP
    >>> feats = extractor(images)          # from memory                        # doctest: +SKIP
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str] | Mapping[str, str] | str,
        *,
        cache_dir: str | Path | None = None,
        **options,
    ) -> None:
        allowed = {"transform", "image_shape", "pool", "batch_size", "device"}
        unknown = set(options) - allowed
        if unknown:
            raise TypeError(f"unknown options {sorted(unknown)}; allowed: {sorted(allowed)}")
        self.model = model
        self.layers = _layer_map(model, layers)
        self.options = options
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._memory: dict[str, dict[str, np.ndarray]] = {}
        digest = hashlib.sha1()
        for name, tensor in model.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        self._weights = digest.hexdigest()

    def _key(self, images: np.ndarray) -> str:
        digest = hashlib.sha1(self._weights.encode())
        digest.update(repr((images.shape, str(images.dtype))).encode())
        digest.update(np.ascontiguousarray(images).tobytes())
        transform = self.options.get("transform", "imagenet")
        opts = {k: v for k, v in self.options.items() if k not in ("device", "transform")}
        name = transform if isinstance(transform, str) or transform is None else transform
        name = getattr(name, "__qualname__", name)
        digest.update(repr((sorted(self.layers.items()), sorted(opts.items()), name)).encode())
        return digest.hexdigest()[:20]

    def __call__(
        self, images: torch.Tensor | np.ndarray, *, progress: bool = True
    ) -> dict[str, np.ndarray]:
        """Features ``{label: (N, ...)}`` of ``images`` (from the cache when possible)."""
        array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else images
        array = np.asarray(array)
        key = self._key(array)
        if key in self._memory:
            return self._memory[key]
        path = self.cache_dir / f"features-{key}.npz" if self.cache_dir is not None else None
        if path is not None and path.is_file():
            with np.load(path) as stored:
                feats = {label: stored[label] for label in self.layers}
        else:
            feats = extract_features(
                self.model, array, self.layers, progress=progress, **self.options
            )
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npz")
                np.savez(tmp, **feats)
                tmp.replace(path)
        self._memory[key] = feats
        return feats

    def clear_cache(self) -> None:
        """Forget the features held in memory (files in ``cache_dir`` stay)."""
        self._memory.clear()
