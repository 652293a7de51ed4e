"""The 100 natural ImageNet images of the RF-Mapping set, real or simulated.

The artiphysiology of Pospisil, Pasupathy & Bair (2018, eLife 7:e38242) shows CNN units 50,000
ImageNet images (3 x 227 x 227) to find the natural patches that drive them most and least. The
RF-Mapping repository (github.com/tonyfu97/RF-Mapping) publishes the first 100 of them as
``data/imagenet/0.npy`` ... ``99.npy``; the registry knows each file (``imagenet100_rfmapping_00``
... ``_99``, URL and MD5) and the packed copy of all 100 (``imagenet100_rfmapping``, course folder
``shared/data``). :func:`load_rfmapping_images` uses the packed copy when it is cached and the
single files otherwise, and falls back to grey naturalistic images (the digital V1's) offline.
"""

from __future__ import annotations

import numpy as np
import torch

from artiphys_course.data.registry import (
    RFMAPPING_IMAGE_NAMES,
    DataUnavailableError,
    cached_path,
    fetch,
    is_available,
)
from artiphys_course.runtime import notice
from artiphys_course.simulate.images import make_images

__all__ = ["RFMAPPING_IMAGE_SHAPE", "load_rfmapping_images"]

#: ``(height, width)`` of the RF-Mapping images.
RFMAPPING_IMAGE_SHAPE = (227, 227)
PACKED_NAME = "imagenet100_rfmapping"
SOURCES = ("auto", "real", "simulated")


def _read_real(progress: bool) -> np.ndarray:
    """``(100, 3, 227, 227)`` float32 as the source distributes them."""
    packed = cached_path(PACKED_NAME)
    if packed is not None:
        with np.load(packed, allow_pickle=False) as archive:
            return archive["images"]
    return np.stack(
        [
            np.load(fetch(name, progress=progress), allow_pickle=False)
            for name in RFMAPPING_IMAGE_NAMES
        ]
    )


def _to_unit_range(images: np.ndarray) -> torch.Tensor:
    """One affine map of the whole set onto [0, 1] (relative contrasts and colours kept).

    In place on a float32 array (the 62 MB set is not copied twice more), else on a float32 copy.
    """
    images = images.astype(np.float32, copy=not images.flags.writeable)
    low, high = float(images.min()), float(images.max())
    images -= low
    images /= high - low
    return torch.from_numpy(images)


def _real_available() -> bool:
    # the 100 single files share one host: the first one answers for all
    return cached_path(PACKED_NAME) is not None or is_available(RFMAPPING_IMAGE_NAMES[0])


def load_rfmapping_images(
    *, source: str = "auto", progress: bool = True, seed: int = 0
) -> torch.Tensor:
    """The 100 natural images of the RF-Mapping set as RGB tensors in [0, 1].

    Parameters
    ----------
    source : {"auto", "real", "simulated"}
        ``"real"``: the ImageNet images (the packed course copy when cached, else the 100
        source files, downloaded once, about 62 MB, then cached); raises
        :class:`~artiphys_course.data.registry.DataUnavailableError` saying how to get them.
        ``"simulated"``: 100 grey naturalistic images (dead leaves,
        :func:`~artiphys_course.simulate.images.make_images`) copied into the three channels.
        ``"auto"`` (default): real when cached or downloadable now, else simulated with a notice
        (:class:`~artiphys_course.runtime.ArtiphysWarning`).
    progress : bool
        Show download progress bars.
    seed : int
        Seed of the simulated images.

    Returns
    -------
    torch.Tensor
        ``(100, 3, 227, 227)`` float32 in [0, 1]. Real images are mapped from the source's
        values (about -1..1.2) by one affine map for the whole set; feed them to an ImageNet
        network through :func:`~artiphys_course.models.pretrained.imagenet_normalize`.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}; got {source!r}.")
    if source == "real":
        return _to_unit_range(_read_real(progress))
    if source == "auto":
        if _real_available():
            try:
                return _to_unit_range(_read_real(progress))
            except DataUnavailableError as err:
                reason = str(err).splitlines()[0]
        else:
            reason = "the ImageNet images are not cached and cannot be downloaded now"
        notice(
            f"Using SIMULATED grey natural images (dead leaves) instead of the RF-Mapping "
            f"ImageNet images, because {reason}. Run `artiphys fetch` when online (it downloads "
            "them with the other data files)."
        )
    grey = make_images(100, RFMAPPING_IMAGE_SHAPE, seed=seed)  # float32, a new array
    grey /= 255.0
    return torch.from_numpy(np.repeat(grey, 3, axis=1))
