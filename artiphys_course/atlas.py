"""The artiphysiology atlas: map units fully, keep the results on disk, browse them offline.

For chosen units (channels) of a layer, :func:`map_units` runs everything the course measures
about a unit: grey bar maps with Gaussian fits and orientation tuning
(:func:`artiphys_course.barmap.bar_map`), colour bar maps and colour tuning, a non-overlap map,
and the top and bottom natural-image patches (:func:`artiphys_course.patches.top_patches`).
:func:`export_unit_results` writes them the way a researcher keeps results, into one folder the
caller names (and nowhere else)::

    <folder>/<name>/
    ├── units.csv           one row per unit: RF size, Gaussian fit, orientation, selectivity, ...
    ├── summary.json        the layer (RF size, xn), the settings, and the table as records
    ├── bar_maps.npy        (n_units, H, W) top weighted bar maps
    ├── color_maps.npy      (n_units, 3, H, W) colour bar maps (NaN-free zeros without colour)
    ├── non_overlap_maps.npy, tuning.npy, color_tuning.npy, top_patches.npy, bottom_patches.npy
    └── png/unit<channel>_{barmap,color,top,bottom[,filter]}.png   uint8 images

A rerun replaces ``<folder>/<name>`` as a whole: everything is written into a temporary
folder beside it and swapped in with renames, so a reader never sees half a result.
:func:`write_atlas_site` turns exported layers into a static HTML site (no server, no network).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from artiphys_course.barmap import (
    BarMapResult,
    bar_map,
    bar_responses,
    color_bar_map,
    color_tuning,
    non_overlap_bar_map,
)
from artiphys_course.mei import FixedMeanStd, compute_meis
from artiphys_course.patches import PatchResult, top_patches
from artiphys_course.receptive_fields import receptive_field, xn
from artiphys_course.recording import get_layer
from artiphys_course.stimuli import RFMAPPING_COLOR_PAIRS, make_bar_set
from artiphys_course.tuning import orientation_selectivity
from artiphys_course.units import model_device

__all__ = [
    "ALEXNET_LAYERS",
    "LayerResults",
    "build_atlas",
    "export_unit_results",
    "map_units",
    "write_atlas_site",
]

#: The convolutional layers of torchvision's AlexNet by their usual names.
ALEXNET_LAYERS = {
    "conv1": "features.0",
    "conv2": "features.3",
    "conv3": "features.6",
    "conv4": "features.8",
    "conv5": "features.10",
}


@dataclass(eq=False)
class LayerResults:
    """Everything :func:`map_units` measured for the units of one layer (unit i = channels[i]).

    Attributes
    ----------
    name : str
        Label of the layer in files and pages (``"conv2"``).
    layer : str or None
        The module name (``"features.3"``); None for a model's outputs.
    channels : np.ndarray
        ``(n_units,)``.
    rf_size : int
        Analytic receptive-field size in pixels (the image's larger side for a model's outputs).
    xn : int or None
        Image size at which the centre unit sees its whole RF (bar images are ``xn`` wide);
        None for a model's outputs (bars are drawn on the whole image).
    bars : BarMapResult
        Grey bar maps, fits and orientation tuning.
    selectivity : np.ndarray
        ``(n_units,)`` orientation selectivity (1 - circular variance) of the bar tuning.
    color_pairs : tuple of str
        Colour pairs shown (empty without colour).
    color_tuning : np.ndarray
        ``(k, n_units)`` best response per colour pair.
    color_maps : np.ndarray
        ``(n_units, 3, H, W)`` colour bar maps (zeros without colour).
    non_overlap_maps : np.ndarray
        ``(n_units, H, W)`` maps of the top bars that miss the top map's peak.
    patches : PatchResult
        Top and bottom natural-image patches.
    meis : np.ndarray
        ``(n_units, C, H, W)`` most exciting inputs (gradient ascent in the model's input space,
        mean 0 and s.d. 1; :func:`~artiphys_course.mei.compute_meis`), at the bar images' size.
    true_filters : np.ndarray or None
        ``(n_units, H', W')`` ground-truth filters when known (digital V1), shown beside the maps.
    """

    name: str
    layer: str | None
    channels: np.ndarray
    rf_size: int
    xn: int | None
    bars: BarMapResult
    selectivity: np.ndarray
    color_pairs: tuple[str, ...]
    color_tuning: np.ndarray
    color_maps: np.ndarray
    non_overlap_maps: np.ndarray
    patches: PatchResult
    meis: np.ndarray
    true_filters: np.ndarray | None = None

    def table(self) -> list[dict]:
        """One dict per unit: the columns of ``units.csv``."""
        fit = self.bars.top_fit
        rows = []
        for i, channel in enumerate(self.channels):
            best = ""
            if self.color_pairs:
                best = self.color_pairs[int(np.argmax(self.color_tuning[:, i]))]
            rows.append(
                {
                    "unit": int(channel),
                    "rf_size": int(self.rf_size),
                    "fit_row": _num(fit.center[i, 0]),
                    "fit_col": _num(fit.center[i, 1]),
                    "fit_sigma_major": _num(fit.sigma[i, 0]),
                    "fit_sigma_minor": _num(fit.sigma[i, 1]),
                    "fit_orientation_deg": _num(fit.orientation_deg[i]),
                    "fit_r2": _num(fit.r2[i]),
                    "preferred_orientation_deg": _num(self.bars.preferred_orientation_deg[i]),
                    "selectivity": _num(self.selectivity[i]),
                    "preferred_color_pair": best,
                    "top_patch_images": ";".join(str(v) for v in self.patches.top_index[i]),
                    "bottom_patch_images": ";".join(str(v) for v in self.patches.bottom_index[i]),
                }
            )
        return rows


def _num(value: float) -> float | None:
    """A JSON/CSV-safe float (None for NaN), rounded for readable tables."""
    value = float(value)
    return None if not np.isfinite(value) else round(value, 4)


def _input_channels(model: nn.Module, images: torch.Tensor, rf: int) -> int:
    """The model's input channels, checked against ``images`` (shape and size)."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a (B, C, H, W) tensor, got {shape}")
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    expected = first.in_channels if first is not None else int(images.shape[1])
    height, width = int(images.shape[2]), int(images.shape[3])
    if images.shape[1] != expected or min(height, width) < rf:
        raise ValueError(
            f"images must be (B, {expected}, H, W) with H and W at least the RF size {rf} "
            f"for this layer, got {tuple(images.shape)}"
        )
    return expected


def map_units(
    model: nn.Module,
    layer: str | None,
    images: torch.Tensor,
    *,
    channels: int | Sequence[int] | None = None,
    name: str | None = None,
    top_n: int = 100,
    top_n_patches: int = 10,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    background: float = 0.5,
    amplitude: float = 0.5,
    bar_options: dict | None = None,
    color_pairs: Sequence[str] | None = RFMAPPING_COLOR_PAIRS,
    color_options: dict | None = None,
    true_filters: np.ndarray | None = None,
    mei_steps: int = 200,
    progress: bool = True,
) -> LayerResults:
    """Map the centre units of some channels of ``layer`` fully: bars, colour, patches.

    Parameters
    ----------
    model : nn.Module
    layer : str or None
        A name from :func:`~artiphys_course.recording.list_layers` (KeyError lists them); None
        maps a model's outputs ``(B, n)`` (e.g. the digital V1's neurons) with bars over the
        whole image.
    images : torch.Tensor
        ``(B, C, H, W)`` natural images in the model's input channels (e.g. the RF-Mapping
        images, :func:`~artiphys_course.data.imagenet.load_rfmapping_images`), at least as large
        as the layer's receptive field.
    channels : int or sequence of int, optional
        Units to map (IndexError when outside the layer); default all.
    name : str, optional
        Label for files and pages; default ``layer``.
    top_n, top_n_patches : int
        Bars per weighted map; patches per end.
    transform : callable, optional
        Applied to every image before the model (e.g.
        :func:`~artiphys_course.models.pretrained.imagenet_normalize`).
    background, amplitude : float
        Bar drawing (see :meth:`~artiphys_course.stimuli.BarSet.images`); the default draws
        white and black (and the colours) on mid-grey in [0, 1].
    bar_options, color_options : dict, optional
        More keywords for :func:`~artiphys_course.stimuli.make_bar_set` (the grey and the colour
        set; the colour set defaults to 2 lengths x 2 aspect ratios x 9 x 9 positions).
    color_pairs : sequence of str or None
        Colour pairs of the colour set; None (or a grey model) skips colour.
    true_filters : np.ndarray, optional
        ``(n_units, H', W')`` ground truth to show beside the maps (digital V1).
    mei_steps : int
        Gradient-ascent steps of the units' MEIs (batched over units), in the model's input
        space: with a ``transform`` at mean 0 and s.d. 1 (normalised units), without one at
        mean ``background`` and s.d. ``amplitude / 2``.
    progress : bool

    Returns
    -------
    LayerResults
    """
    if layer is None:  # a model's outputs (digital V1): bars cover the whole image
        in_channels = _input_channels(model, images, 1)
        height, width = int(images.shape[2]), int(images.shape[3])
        rf, size, shape = max(height, width), None, (height, width)
        rows = 13
        cover = dict(n_positions=(rows, round(rows * width / height)))
        cover["position_extent"] = (height / rf, width / rf)
        grey = make_bar_set(shape, rf, **{**cover, **(bar_options or {})})
    else:
        get_layer(model, layer)  # unknown names -> KeyError listing the valid ones
        rf = receptive_field(model, layer).size[0]
        in_channels = _input_channels(model, images, rf)
        size = shape = xn(model, layer)
        grey = make_bar_set(size, rf, **(bar_options or {}))
    style = dict(
        background=background, amplitude=amplitude, transform=transform, in_channels=in_channels
    )
    bars = bar_map(model, layer, grey, channels=channels, top_n=top_n, progress=progress, **style)
    n = len(bars)
    non_overlap = np.stack(
        [non_overlap_bar_map(bars.responses[:, i], grey, top_n=top_n)[0] for i in range(n)]
    )
    pairs: tuple[str, ...] = ()
    tuning_c = np.zeros((0, n))
    maps_c = np.zeros((n, 3, *grey.image_shape))
    if color_pairs is not None and in_channels == 3:
        options = dict(lengths=(0.75, 0.375), aspect_ratios=(0.5, 0.2), n_positions=9)
        options.update(color_options or {})
        colour = make_bar_set(shape, rf, color_pairs=color_pairs, **options)
        responses = bar_responses(
            model, layer, colour, channels=bars.channels, progress=progress, **style
        )
        pairs, tuning_c = color_tuning(responses, colour)
        maps_c = np.stack([color_bar_map(responses[:, i], colour, top_n=top_n) for i in range(n)])
    patches = top_patches(
        model,
        layer,
        images,
        channels=bars.channels,
        top_n=top_n_patches,
        transform=transform,
        progress=progress,
    )
    # MEIs in the model's input space: normalised units (mean 0, s.d. 1) behind a transform,
    # else the bars' own scale (mean grey, contrast half the bars' amplitude)
    constraint = (
        FixedMeanStd() if transform is not None else FixedMeanStd(background, amplitude / 2)
    )
    # started from each unit's best bar: a rectified unit has no gradient at a random start
    best = np.argmax(bars.responses, axis=0)
    initial = grey.images(best, background=background, amplitude=amplitude, channels=in_channels)
    initial = transform(initial) if transform is not None else initial
    meis = compute_meis(
        model,
        neurons=[int(c) for c in bars.channels],
        image_shape=(in_channels, *grey.image_shape),
        layer=layer,
        constraint=constraint,
        initial=initial.to(model_device(model)),
        steps=mei_steps,
        progress=progress,
    ).images
    if true_filters is not None and len(true_filters) != n:
        raise ValueError(
            f"true_filters must have one filter per unit ({n}), got {len(true_filters)}"
        )
    return LayerResults(
        name=name or layer or "outputs",
        layer=layer,
        channels=bars.channels,
        rf_size=int(rf),
        xn=size,
        bars=bars,
        selectivity=orientation_selectivity(bars.tuning, bars.orientations_deg),
        color_pairs=tuple(pairs),
        color_tuning=tuning_c,
        color_maps=maps_c,
        non_overlap_maps=non_overlap,
        patches=patches,
        meis=meis.detach().cpu().numpy(),
        true_filters=None if true_filters is None else np.asarray(true_filters),
    )


# --------------------------------------------------------------------------- images
def _rgb(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` or ``(C, H, W)`` values in [0, 1] -> ``(H, W, 3)`` uint8."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:
        image = np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image
        image = image.transpose(1, 2, 0)
    else:
        image = np.repeat(image[..., None], 3, axis=2)
    return (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def _scaled(image: np.ndarray, symmetric: bool) -> np.ndarray:
    """Map values onto [0, 1]: ``0.5 + 0.5 x / max|x|`` (symmetric) or ``x / max x``."""
    image = np.nan_to_num(np.asarray(image, dtype=np.float64))
    peak = np.abs(image).max()
    if peak == 0:
        return np.full_like(image, 0.5 if symmetric else 0.0)
    return 0.5 + 0.5 * image / peak if symmetric else np.clip(image / peak, 0.0, 1.0)


def _with_ellipse(
    image: np.ndarray, center, sigma, orientation_deg: float, scale: int
) -> np.ndarray:
    """Enlarge an RGB uint8 image ``scale`` times and draw the 1-sigma fit ellipse in red."""
    big = image.repeat(scale, axis=0).repeat(scale, axis=1)
    if not (np.all(np.isfinite(center)) and np.all(np.isfinite(sigma))):
        return big
    theta = np.deg2rad(orientation_deg)
    t = np.linspace(0, 2 * np.pi, 720)
    major, minor = sigma[0] * np.cos(t), sigma[1] * np.sin(t)
    # package convention: orientation counter-clockwise from horizontal, rows grow downwards
    rows = center[0] - major * np.sin(theta) - minor * np.cos(theta)
    cols = center[1] + major * np.cos(theta) - minor * np.sin(theta)
    r = np.round((rows + 0.5) * scale - 0.5).astype(int)
    c = np.round((cols + 0.5) * scale - 0.5).astype(int)
    ok = (r >= 0) & (r < big.shape[0]) & (c >= 0) & (c < big.shape[1])
    big[r[ok], c[ok]] = (230, 30, 30)
    return big


def _mosaic(patches: torch.Tensor) -> np.ndarray:
    """``(N, C, h, w)`` patches in [0, 1] -> one row, 2-pixel white gaps, ``(h, W, 3)`` uint8."""
    tiles = [_rgb(p.cpu().numpy()) for p in patches]
    gap = np.full((tiles[0].shape[0], 2, 3), 255, np.uint8)
    return np.concatenate([t for tile in tiles for t in (tile, gap)][:-1], axis=1)


def _save_png(path: Path, image: np.ndarray) -> None:
    import matplotlib.image

    matplotlib.image.imsave(path, image)


def _pixel_scale(size: int) -> int:
    return max(1, int(np.ceil(160 / size)))


# --------------------------------------------------------------------------- export
def _write_layer(results: LayerResults, out: Path) -> None:
    """Write every file of one layer into the (new, empty) folder ``out``."""
    png = out / "png"
    png.mkdir()
    rows = results.table()
    with open(out / "units.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    arrays = {
        "bar_maps": results.bars.top_maps,
        "bottom_bar_maps": results.bars.bottom_maps,
        "color_maps": results.color_maps,
        "non_overlap_maps": results.non_overlap_maps,
        "tuning": results.bars.tuning,
        "color_tuning": results.color_tuning,
        "top_patches": results.patches.top_patches.cpu().numpy(),
        "bottom_patches": results.patches.bottom_patches.cpu().numpy(),
        "meis": results.meis,
    }
    if results.true_filters is not None:
        arrays["true_filters"] = results.true_filters
    for key, value in arrays.items():
        np.save(out / f"{key}.npy", np.asarray(value, dtype=np.float32))
    fit = results.bars.top_fit
    scale = _pixel_scale(max(results.bars.bars.image_shape))
    for i, channel in enumerate(results.channels):
        stem = f"unit{int(channel)}"
        bar = _rgb(_scaled(results.bars.top_maps[i], symmetric=False))
        bar = _with_ellipse(bar, fit.center[i], fit.sigma[i], fit.orientation_deg[i], scale)
        _save_png(png / f"{stem}_barmap.png", bar)
        colour = _rgb(_scaled(results.color_maps[i], symmetric=True))
        _save_png(png / f"{stem}_color.png", colour.repeat(scale, 0).repeat(scale, 1))
        _save_png(png / f"{stem}_top.png", _mosaic(results.patches.top_patches[i]))
        _save_png(png / f"{stem}_bottom.png", _mosaic(results.patches.bottom_patches[i]))
        mei = _rgb(_scaled(results.meis[i], symmetric=True))
        _save_png(png / f"{stem}_mei.png", mei.repeat(scale, 0).repeat(scale, 1))
        if results.true_filters is not None:
            truth = _rgb(_scaled(results.true_filters[i], symmetric=True))
            _save_png(png / f"{stem}_filter.png", truth.repeat(scale, 0).repeat(scale, 1))
    summary = {
        "name": results.name,
        "layer": results.layer,
        "rf_size": results.rf_size,
        "xn": results.xn,
        "n_bars": len(results.bars.bars),
        "top_n": results.bars.top_n,
        "color_pairs": list(results.color_pairs),
        "orientations_deg": [float(v) for v in results.bars.orientations_deg],
        "has_true_filters": results.true_filters is not None,
        "units": rows,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))


def _safe_label(name: str) -> str:
    if not name or any(ch in name for ch in '/\\:*?"<>|') or name.startswith("."):
        raise ValueError(f"name {name!r} cannot be a folder name; use letters, digits, . _ -")
    return name


def _output_folder(folder: str | os.PathLike) -> Path:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"folder {str(folder)!r} is a file; give a folder for the results")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _replace(tmp: Path, target: Path) -> None:
    """Swap ``tmp`` in at ``target`` with renames (the old copy goes only after the new is in)."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
        os.replace(target, old / target.name)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old)


def export_unit_results(results: LayerResults, folder: str | os.PathLike) -> Path:
    """Write one layer's results into ``<folder>/<results.name>`` (csv, npy, png, json).

    Parameters
    ----------
    results : LayerResults
        From :func:`map_units`.
    folder : path-like
        Created if needed; nothing is written outside it.

    Returns
    -------
    pathlib.Path
        ``<folder>/<results.name>``, replaced as a whole if it existed.

    Raises
    ------
    NotADirectoryError
        ``folder`` is a file.
    ValueError
        ``results.name`` cannot be a folder name.
    """
    folder = _output_folder(folder)
    target = folder / _safe_label(results.name)
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".{results.name}.new-"))
    try:
        _write_layer(results, tmp)
        _replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target


# --------------------------------------------------------------------------- the HTML site
_STYLE = """
body { font-family: sans-serif; margin: 1em; background: #fafafa; }
.grid { display: flex; flex-wrap: wrap; gap: 10px; }
.unit { background: white; border: 1px solid #ccc; padding: 6px; width: 340px; }
.unit img { image-rendering: pixelated; max-width: 100%; display: block; margin: 2px 0; }
.maps img { width: 100px; display: inline-block; }
.unit h3 { margin: 0 0 4px 0; font-size: 14px; }
.num { font-size: 12px; color: #333; }
button { margin-right: 6px; }
"""

_SORT_JS = """
function sortUnits(key) {
  const grid = document.getElementById('grid');
  const cards = Array.from(grid.children);
  const value = (card) => { const v = parseFloat(card.dataset[key]); return isNaN(v) ? -1 : v; };
  cards.sort((a, b) => key === 'unit' ? value(a) - value(b) : value(b) - value(a));
  cards.forEach((card) => grid.appendChild(card));
}
"""


def _tuning_svg(orientations: Sequence[float], tuning: np.ndarray) -> str:
    """A small inline SVG line plot of one unit's orientation tuning."""
    t = np.asarray(tuning, dtype=np.float64)
    low, high = float(np.min(t)), float(np.max(t))
    span = high - low if high > low else 1.0
    xs = [10 + 300 * float(o) / 180.0 for o in orientations]
    ys = [55 - 45 * (float(v) - low) / span for v in t]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    return (
        '<svg class="tuning" width="320" height="64" role="img" '
        'aria-label="orientation tuning"><rect width="320" height="64" fill="#f4f4f4"/>'
        f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="2"/>'
        '<text x="10" y="63" font-size="9">0</text><text x="295" y="63" font-size="9">180 deg'
        "</text></svg>"
    )


def _unit_card(name: str, summary: dict, row: dict, tuning: np.ndarray) -> str:
    stem = f"{name}/png/unit{row['unit']}"
    fit, sel = row["fit_r2"], row["selectivity"]
    images = [f'<img src="{stem}_barmap.png" alt="bar map" title="bar map, fitted ellipse">']
    if summary["color_pairs"]:
        images.append(f'<img src="{stem}_color.png" alt="colour map" title="colour map">')
    images.append(f'<img src="{stem}_mei.png" alt="MEI" title="most exciting input">')
    if summary["has_true_filters"]:
        images.append(f'<img src="{stem}_filter.png" alt="true filter" title="true filter">')
    preferred = row["preferred_orientation_deg"]
    numbers = (
        f"fit r<sup>2</sup> {'n/a' if fit is None else f'{fit:.2f}'} &middot; selectivity "
        f"{'n/a' if sel is None else f'{sel:.2f}'} &middot; preferred "
        f"{'n/a' if preferred is None else f'{preferred:.0f}'} deg"
    )
    if row["preferred_color_pair"]:
        numbers += f" &middot; colour {row['preferred_color_pair']}"
    return (
        f'<div class="unit" data-unit="{row["unit"]}" data-fit="{fit if fit is not None else ""}"'
        f' data-selectivity="{sel if sel is not None else ""}">'
        f'<h3>unit {row["unit"]}</h3><div class="maps">{"".join(images)}</div>'
        f'<div class="num">{numbers}</div>'
        f'<div class="num">top patches</div><img src="{stem}_top.png" alt="top patches">'
        f'<div class="num">bottom patches</div><img src="{stem}_bottom.png" alt="bottom patches">'
        f"{_tuning_svg(summary['orientations_deg'], tuning)}</div>"
    )


def _layer_page(name: str, summary: dict, tuning: np.ndarray) -> str:
    cards = "\n".join(
        _unit_card(name, summary, row, tuning[:, i]) for i, row in enumerate(summary["units"])
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{name}</title>'
        f"<style>{_STYLE}</style><script>{_SORT_JS}</script></head><body>"
        f'<p><a href="index.html">all layers</a></p><h1>{name}</h1>'
        f"<p>layer {summary['layer']} &middot; RF size {summary['rf_size']} px &middot; "
        f"xn {summary['xn'] or 'n/a'} px &middot; {len(summary['units'])} units &middot; "
        f"{summary['n_bars']} grey bars</p>"
        "<p>Sort by: "
        '<button id="sort-unit" onclick="sortUnits(\'unit\')">unit</button>'
        '<button id="sort-fit" onclick="sortUnits(\'fit\')">fit quality</button>'
        '<button id="sort-selectivity" onclick="sortUnits(\'selectivity\')">selectivity</button>'
        f'</p><div class="grid" id="grid">\n{cards}\n</div></body></html>'
    )


def write_atlas_site(folder: str | os.PathLike, names: Sequence[str], *, title: str = "") -> Path:
    """A static HTML site over layers exported with :func:`export_unit_results`.

    Writes ``<folder>/index.html`` (one line per layer: RF size, xn, units) and one page
    ``<folder>/<name>.html`` per layer: a grid of units, each with its bar map and fitted
    ellipse, colour map, true filter (when known), top and bottom patches and orientation
    tuning, sortable by fit quality or selectivity (a few lines of inline JavaScript). No
    server and no network are needed: open ``index.html``.

    Parameters
    ----------
    folder : path-like
        The folder the layers were exported into.
    names : sequence of str
        The exported layers (``results.name``), in page order.
    title : str
        Heading of the index page.

    Returns
    -------
    pathlib.Path
        ``<folder>/index.html``.
    """
    folder = _output_folder(folder)
    lines = []
    for name in names:
        summary_path = folder / _safe_label(name) / "summary.json"
        if not summary_path.is_file():
            raise FileNotFoundError(
                f"no exported layer {name!r} in {folder} (missing {summary_path}); run "
                "export_unit_results first"
            )
        summary = json.loads(summary_path.read_text())
        tuning = np.load(folder / name / "tuning.npy")
        _atomic_text(folder / f"{name}.html", _layer_page(name, summary, tuning))
        lines.append(
            f'<li><a href="{name}.html">{name}</a> ({summary["layer"]}): RF size '
            f"{summary['rf_size']} px, xn {summary['xn']} px, {len(summary['units'])} units</li>"
        )
    index = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>atlas</title>'
        f"<style>{_STYLE}</style></head><body><h1>{title or 'Artiphysiology atlas'}</h1>"
        f"<ul>{''.join(lines)}</ul></body></html>"
    )
    return _atomic_text(folder / "index.html", index)


def _atomic_text(path: Path, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def _layer_names(model: nn.Module, name: str, layers: Sequence[str]) -> list[tuple[str, str]]:
    """``(label, module name)`` pairs; AlexNet's conv1..conv5 are known by those labels."""
    pairs = []
    for label in layers:
        module = ALEXNET_LAYERS.get(label, label) if name == "alexnet" else label
        try:
            get_layer(model, module)
        except KeyError:
            known = list(ALEXNET_LAYERS) if name == "alexnet" else []
            raise KeyError(
                f"unknown layer {label!r} of {name}; use {known} or a module name from "
                "artiphys_course.recording.list_layers"
            ) from None
        pairs.append((label, module))
    return pairs


def build_atlas(
    folder: str | os.PathLike,
    *,
    model: str = "alexnet",
    layers: Sequence[str] = ("conv1", "conv2"),
    units: int = 16,
    weights: str = "auto",
    image_source: str = "auto",
    bar_options: dict | None = None,
    color_options: dict | None = None,
    progress: bool = True,
) -> Path:
    """Map ``units`` channels of each layer of a pretrained network and write the HTML atlas.

    The channels are spread evenly over each layer (``linspace(0, C - 1, units)``); the
    natural images are the RF-Mapping ImageNet images
    (:func:`~artiphys_course.data.imagenet.load_rfmapping_images`, simulated offline).

    Parameters
    ----------
    folder : path-like
        Output folder (``folder/index.html`` opens the atlas).
    model : {"alexnet", "vgg16", "resnet18", "digital-v1"}
        Loaded with :func:`~artiphys_course.models.pretrained.load_pretrained`; ``"digital-v1"``
        maps ``units`` neurons of a digital V1 (:func:`~artiphys_course.simulate.make_digital_v1`,
        ``layers`` ignored) on its own images and shows each one's true filter.
    layers : sequence of str
        ``"conv1"`` ... ``"conv5"`` for AlexNet, or module names.
    units : int
        Channels per layer (>= 1; capped at the layer's channel count).
    weights, image_source : str
        Passed to ``load_pretrained(weights=...)`` and ``load_rfmapping_images(source=...)``.
    bar_options, color_options : dict, optional
        See :func:`map_units`.
    progress : bool

    Returns
    -------
    pathlib.Path
        ``<folder>/index.html``.
    """
    from artiphys_course.data.imagenet import load_rfmapping_images
    from artiphys_course.models.pretrained import imagenet_normalize, load_pretrained

    if units < 1:
        raise ValueError(f"units must be >= 1, got {units}")
    folder = _output_folder(folder)
    if model == "digital-v1":
        _digital_v1_layer(folder, units, bar_options, progress)
        return write_atlas_site(folder, ["digital_v1"], title="digital V1 (true filters known)")
    network = load_pretrained(model, weights=weights, progress=progress)
    pairs = _layer_names(network, model, layers)
    images = load_rfmapping_images(source=image_source, progress=progress)
    for label, module in pairs:
        n_channels = get_layer(network, module).out_channels
        channels = np.unique(np.linspace(0, n_channels - 1, min(units, n_channels)).round())
        results = map_units(
            network,
            module,
            images,
            channels=channels.astype(int).tolist(),
            name=label,
            transform=imagenet_normalize,
            bar_options=bar_options,
            color_options=color_options,
            progress=progress,
        )
        export_unit_results(results, folder)
    title = f"{model} ({getattr(network, 'weights_source', weights)} weights)"
    return write_atlas_site(folder, [label for label, _ in pairs], title=title)


def _digital_v1_layer(folder: Path, units: int, bar_options: dict | None, progress: bool) -> None:
    """Map ``units`` neurons of a small digital V1 and export them with their true filters."""
    from artiphys_course.simulate import make_digital_v1

    dv1 = make_digital_v1(
        n_neurons=max(units, 16),
        n_train=1000,
        n_validation=0,
        n_test_images=1,
        n_repeats=2,
        progress=progress,
    )
    neurons = np.unique(np.linspace(0, dv1.n_neurons - 1, units).round()).astype(int)
    results = map_units(
        dv1.model,
        None,
        torch.from_numpy(dv1.images),
        channels=neurons.tolist(),
        name="digital_v1",
        background=127.5,  # grey levels 0..255 on a mid-grey screen
        amplitude=127.5,
        bar_options=bar_options,
        color_pairs=None,
        true_filters=dv1.filters[neurons],
        progress=progress,
    )
    export_unit_results(results, folder)
