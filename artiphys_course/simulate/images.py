"""Grey naturalistic images: dead-leaves occlusion scenes, optionally mixed with photo crops.

The digital V1 (:mod:`artiphys_course.simulate.digital_v1`) and the simulated higher areas
(:mod:`artiphys_course.simulate.higher_areas`) are shown these images. Grey levels are 0..255;
the neurons see the contrast image ``(image - GREY) / GREY``.

References
----------
Lee, Mumford & Huang (2001) Occlusion models for natural images, IJCV 41:35 (dead leaves).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import torch

from artiphys_course.simulate._checks import checked_image_shape, checked_seed

__all__ = ["GREY", "make_images"]

GREY = 127.5  # mean grey level of the screen; the neurons see (image - GREY) / GREY
_CHUNK_PIXELS = 2**20  # pixels per chunk of the dead leaves and of the FFTs (4 MB of float32)


def make_images(
    n: int,
    image_shape: tuple[int, int] = (36, 64),
    *,
    seed: int = 0,
    n_leaves: int = 96,
    photo_fraction: float = 0.0,
    blur_sigma: float = 0.5,
    mean_range: tuple[float, float] = (100.0, 150.0),
    std_range: tuple[float, float] = (35.0, 60.0),
) -> np.ndarray:
    """Grey naturalistic images: dead-leaves occlusion scenes, optionally mixed with photo crops.

    Each dead-leaves image is an opaque stack of ``n_leaves`` discs painted back to front on a
    uniform background. Disc radii follow the scale-invariant power law ``p(r) ~ r**-3``
    between ``H / 24`` and ``max(H, W) / 2`` pixels (every octave of sizes covers the same
    area), which gives the ``1 / f**2`` power spectrum (``1 / f`` amplitude) of natural images
    (Lee, Mumford & Huang 2001). A smooth ``1 / f`` illumination field shades the discs, a
    Gaussian blur of ``blur_sigma`` pixels plays the eye's optics, and each image is scaled to
    a random mean grey level and RMS contrast, then clipped to 0..255.

    Parameters
    ----------
    n : int
        Number of images.
    image_shape : (int, int)
        ``(height, width)`` in pixels.
    seed : int
        Everything is drawn from ``numpy.random.default_rng(seed)`` (None raises TypeError).
    n_leaves : int
        Discs per dead-leaves image.
    photo_fraction : float
        Fraction of images (0..1) replaced by random crops (random position, scale 1-1.5x,
        horizontal flip) of the photographs shipped with installed packages
        (matplotlib's ``grace_hopper.jpg``, scikit-learn's ``china.jpg`` and ``flower.jpg``).
        Default 0: the default data set then depends on no image file.
    blur_sigma : float
        Standard deviation of the optical blur in pixels (0 = none).
    mean_range, std_range : (float, float)
        Uniform ranges of each image's mean grey level and standard deviation.

    Returns
    -------
    np.ndarray
        ``(n, 1, H, W)`` float32 grey levels in 0..255.
    """
    h, w = checked_image_shape(image_shape)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= photo_fraction <= 1.0:
        raise ValueError(f"photo_fraction must be in [0, 1], got {photo_fraction}")
    rng = np.random.default_rng(checked_seed(seed))
    images = _dead_leaves(n, h, w, n_leaves, rng)
    images = _shade_and_blur(images, blur_sigma, rng)
    n_photos = int(round(photo_fraction * n))
    if n_photos:
        which = rng.choice(n, size=n_photos, replace=False)
        images[which] = _photo_crops(n_photos, h, w, rng)
    mean = rng.uniform(*mean_range, size=(n, 1, 1)).astype(np.float32)
    std = rng.uniform(*std_range, size=(n, 1, 1)).astype(np.float32)
    # in place: scale each image to its mean and standard deviation, clip to 0..255
    images -= images.mean(axis=(1, 2), keepdims=True)
    images *= std / np.maximum(images.std(axis=(1, 2), keepdims=True), 1e-6)
    images += mean
    return np.clip(images, 0.0, 255.0, out=images)[:, None]


def _dead_leaves(n: int, h: int, w: int, n_leaves: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, h, w)`` float32 dead-leaves images with values in 0..1 (painter's algorithm).

    Most discs are small; they are painted inside a small patch around their centre, and only
    the few large ones touch the whole frame, which keeps this fast without loops over images.
    """
    r_min, r_max = max(1.0, h / 24), max(h, w) / 2
    u = rng.random((n, n_leaves))
    radius = ((r_min**-2 - u * (r_min**-2 - r_max**-2)) ** -0.5).astype(np.float32)
    c_row = rng.uniform(-0.25 * h, 1.25 * h, (n, n_leaves)).astype(np.float32)
    c_col = rng.uniform(-0.25 * w, 1.25 * w, (n, n_leaves)).astype(np.float32)
    value = rng.random((n, n_leaves)).astype(np.float32)
    background = rng.random(n).astype(np.float32)

    half = 4  # patch half-width for small discs
    offsets = np.arange(-half, half + 1)
    rows = np.arange(h, dtype=np.float32)
    cols = np.arange(w, dtype=np.float32)
    out = np.empty((n, h, w), np.float32)
    chunk = max(1, _CHUNK_PIXELS // (h * w))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        img = np.repeat(background[start:stop], h * w).reshape(stop - start, h, w)
        flat = img.reshape(-1)
        base = np.arange(stop - start) * (h * w)
        for k in range(n_leaves):
            r, cr, cc = radius[start:stop, k], c_row[start:stop, k], c_col[start:stop, k]
            v = value[start:stop, k]
            small = r <= half - 0.5
            i = np.flatnonzero(small)
            pr = np.rint(cr[i]).astype(np.int64)[:, None] + offsets
            pc = np.rint(cc[i]).astype(np.int64)[:, None] + offsets
            inside = (pr - cr[i, None])[:, :, None] ** 2 + (pc - cc[i, None])[:, None, :] ** 2 < (
                r[i, None, None] ** 2
            )
            inside &= ((pr >= 0) & (pr < h))[:, :, None] & ((pc >= 0) & (pc < w))[:, None, :]
            index = base[i, None, None] + pr[:, :, None] * w + pc[:, None, :]
            flat[index[inside]] = np.broadcast_to(v[i, None, None], inside.shape)[inside]
            j = np.flatnonzero(~small)
            if j.size:
                d2 = ((rows - cr[j, None]) ** 2)[:, :, None] + ((cols - cc[j, None]) ** 2)[:, None]
                img[j] = np.where(d2 < (r[j] ** 2)[:, None, None], v[j, None, None], img[j])
        out[start:stop] = img
    return out


def _shade_and_blur(images: np.ndarray, blur_sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Multiply by a smooth 1/f illumination field and blur with a Gaussian, in place.

    FFTs in float32, ``_CHUNK_PIXELS`` pixels at a time to bound memory; the illumination's
    random coefficients are drawn chunk by chunk too (the same stream as one draw for all).
    """
    n, h, w = images.shape
    step = max(1, _CHUNK_PIXELS // (h * w))
    f_row = torch.fft.fftfreq(h)[:, None]
    f_col = torch.fft.rfftfreq(w)[None, :]
    f = torch.sqrt(f_row**2 + f_col**2)
    # illumination: random spectrum with 1/f amplitude at large scales (< 4 cycles per image)
    amplitude = torch.where((f > 0) & (f < 4.0 / max(h, w)), 1.0 / f.clamp_min(1e-9), 0.0)
    transfer = torch.exp(-2.0 * (math.pi * blur_sigma * f) ** 2)
    for start in range(0, n, step):
        chunk = slice(start, start + step)
        shape = (len(images[chunk]), h, w // 2 + 1, 2)
        coefficients = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
        light = torch.fft.irfft2(torch.view_as_complex(coefficients) * amplitude, s=(h, w))
        light = light / light.std(dim=(1, 2), keepdim=True).clamp_min(1e-9)
        shaded = torch.from_numpy(images[chunk]) * torch.exp(0.15 * light)
        if blur_sigma > 0:
            shaded = torch.fft.irfft2(torch.fft.rfft2(shaded) * transfer, s=(h, w))
        images[chunk] = shaded.numpy()
    return images


def _photos() -> list[np.ndarray]:
    """Grey versions (float32, 0..255) of the photographs that ship with installed packages."""
    import matplotlib
    from PIL import Image

    paths = [Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"]
    sklearn = importlib.util.find_spec("sklearn")  # located, not imported (slow import)
    if sklearn is not None and sklearn.origin:
        folder = Path(sklearn.origin).parent / "datasets" / "images"
        paths += [folder / "china.jpg", folder / "flower.jpg"]
    photos = [np.asarray(Image.open(p).convert("L"), dtype=np.float32) for p in paths if p.exists()]
    if not photos:
        raise FileNotFoundError(
            "No sample photographs found (matplotlib's mpl-data/sample_data/grace_hopper.jpg, "
            "scikit-learn's datasets/images/*.jpg). Use photo_fraction=0."
        )
    return photos


def _photo_crops(n: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, h, w)`` random crops of the sample photographs, scaled to about 0..1."""
    import torch.nn.functional as F

    out = np.empty((n, h, w), np.float32)
    photos = _photos()
    which = rng.integers(len(photos), size=n)
    zoom = rng.uniform(1.0, 1.5, size=n)
    pos = rng.random((n, 2))
    flip = rng.random(n) < 0.5
    for p, photo in enumerate(photos):
        idx = np.flatnonzero(which == p)
        if idx.size == 0:
            continue
        # shrink (antialiased) to 1.6x the target size, then crop 1-1.5x the target size by
        # bilinear sampling on per-crop affine grids
        scale = 1.6 * max(h / photo.shape[0], w / photo.shape[1])
        size = (int(photo.shape[0] * scale), int(photo.shape[1] * scale))
        src = F.interpolate(
            torch.from_numpy(photo)[None, None], size=size, mode="bilinear", antialias=True
        )
        theta = torch.zeros(idx.size, 2, 3)
        span_col = torch.as_tensor(zoom[idx] * w / size[1], dtype=torch.float32)
        span_row = torch.as_tensor(zoom[idx] * h / size[0], dtype=torch.float32)
        sign = torch.as_tensor(np.where(flip[idx], -1.0, 1.0), dtype=torch.float32)
        theta[:, 0, 0] = span_col * sign
        theta[:, 1, 1] = span_row
        theta[:, 0, 2] = torch.as_tensor(2 * pos[idx, 1] - 1, dtype=torch.float32) * (1 - span_col)
        theta[:, 1, 2] = torch.as_tensor(2 * pos[idx, 0] - 1, dtype=torch.float32) * (1 - span_row)
        grid = F.affine_grid(theta, [idx.size, 1, h, w], align_corners=False)
        crops = F.grid_sample(src.expand(idx.size, -1, -1, -1), grid, align_corners=False)
        out[idx] = crops[:, 0].numpy() / 255.0
    return out
