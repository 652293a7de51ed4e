"""Runtime helpers shared by every topic: device choice, seeding, cache folder, progress bars.

Nothing here prints or writes files on import; randomness is only set when
:func:`seed_everything` is called.
"""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

__all__ = [
    "ArtiphysWarning",
    "notice",
    "get_device",
    "seed_everything",
    "seeded",
    "data_dir",
    "offline",
    "progress_bar",
]

T = TypeVar("T")

_DEVICE_ORDER = ("cuda", "mps", "cpu")


class ArtiphysWarning(UserWarning):
    """A notice from the course package that may change what a result means.

    Examples: a simulated stand-in was used because the real data are not cached, a network has
    no pretrained weights, a model was put in eval mode. Shown once per place in notebooks;
    silence them with ``warnings.simplefilter("ignore", ArtiphysWarning)``.
    """


def notice(message: str, *, stacklevel: int = 2) -> None:
    """Issue ``message`` as an :class:`ArtiphysWarning` attributed to the caller's caller."""
    warnings.warn(message, ArtiphysWarning, stacklevel=stacklevel + 1)


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """Pick the device to compute on.

    Parameters
    ----------
    prefer : str or torch.device, optional
        ``"cuda"``, ``"mps"``, ``"cpu"`` (or a full spec such as ``"cuda:1"``). When it is not
        available a clear error is raised. ``None`` (default) takes the first available of
        CUDA, Apple MPS, CPU. The environment variable ``ARTIPHYS_DEVICE`` overrides ``None``.

    Returns
    -------
    torch.device
    """
    if prefer is None:
        prefer = os.environ.get("ARTIPHYS_DEVICE") or None
    if prefer is None:
        for kind in _DEVICE_ORDER:
            if _available(kind):
                return torch.device(kind)
    device = torch.device(prefer)
    if not _available(device.type):
        raise RuntimeError(
            f"Device {str(device)!r} was requested but is not available here. "
            f"Available: {[k for k in _DEVICE_ORDER if _available(k)]}. "
            "Pass prefer=None to choose automatically."
        )
    return device


def _available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return kind == "cpu"


def seed_everything(seed: int = 0, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) and return a seeded CPU generator.

    Parameters
    ----------
    seed : int
        The seed.
    deterministic : bool
        Also ask cuDNN for deterministic kernels (slower on GPU, no effect on CPU).

    Returns
    -------
    torch.Generator
        A CPU generator seeded with ``seed``, for functions that take ``generator=``.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds legacy global state
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


@contextmanager
def seeded(seed: int) -> Iterator[torch.Generator]:
    """Run a block with seeded global RNGs, then restore the caller's RNG state.

    Inside the block Python's ``random``, NumPy's legacy global RNG and torch (CPU and every
    CUDA device) are seeded with ``seed``; on exit all of them are back to where they were, so
    library code and checks can use random initialisation and shuffling reproducibly without
    changing the random numbers of the caller's later cells.

    Parameters
    ----------
    seed : int
        The seed (a Python or NumPy integer; a bool, float or None raises ``TypeError``).

    Yields
    ------
    torch.Generator
        A CPU generator seeded with ``seed``, for functions that take ``generator=``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__}).")
    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - restores legacy global state
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        random.seed(int(seed))
        np.random.seed(int(seed) % 2**32)  # noqa: NPY002 - seeds legacy global state
        torch.manual_seed(int(seed))
        try:
            yield torch.Generator().manual_seed(int(seed))
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)  # noqa: NPY002


def data_dir() -> Path:
    """The cache folder for downloads and trained models.

    ``ARTIPHYS_DATA_DIR`` when set, otherwise the user cache folder
    (``~/.cache/artiphys`` on Linux). The folder is created on first use.
    """
    env = os.environ.get("ARTIPHYS_DATA_DIR")
    if env:
        path = Path(env).expanduser()
    else:
        import pooch

        path = Path(pooch.os_cache("artiphys"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def offline() -> bool:
    """True when ``ARTIPHYS_OFFLINE`` is set to a true value (``1``, ``true``, ``yes``).

    In offline mode nothing is downloaded: cached files are used, otherwise the simulated
    stand-ins (``source="auto"``) or a clear error (``source="real"``).
    """
    return os.environ.get("ARTIPHYS_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def progress_bar(
    iterable: Iterable[T], progress: bool = True, desc: str | None = None, total: int | None = None
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm progress bar (notebook-aware) unless ``progress`` is False."""
    if not progress:
        return iter(iterable)
    from tqdm.auto import tqdm

    return iter(tqdm(iterable, desc=desc, total=total, leave=False))
