"""Top and bottom natural-image patches: which parts of which images drive a unit most and least.

The artiphysiology of Pospisil, Pasupathy & Bair (2018, eLife 7:e38242) complements bar maps
with natural images: show a set of photographs, find for every channel of a layer the image
positions where its units respond most (least), and cut the image there to the unit's analytic
receptive field. Because a convolutional layer repeats one kernel at every position, all
positions of all images count as stimuli of one channel: one batched pass of the network cut
after the layer (:func:`artiphys_course.recording.forward_until`) gives the whole
``(images, channels, rows, cols)`` response volume, and a running top-N / bottom-N per channel
keeps memory small. The mean of the top patches is a quick picture of what the channel likes.

A model whose output is ``(B, n)`` (e.g. the digital V1, ``layer=None``) has no spatial map:
every neuron has one position and its patch is the whole image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from artiphys_course.receptive_fields import ReceptiveField, receptive_field
from artiphys_course.recording import forward_until, get_layer
from artiphys_course.runtime import progress_bar
from artiphys_course.units import eval_mode, model_device, select_neurons

__all__ = ["PatchResult", "top_patches"]


@dataclass(eq=False)
class PatchResult:
    """The top and bottom patches of some channels; row ``i`` is channel ``channels[i]``.

    Attributes
    ----------
    layer : str or None
    channels : np.ndarray
        ``(n_units,)`` channel (neuron) indices.
    top_index, bottom_index : np.ndarray
        ``(n_units, top_n)`` int64 image indices, strongest (weakest) response first.
    top_position, bottom_position : np.ndarray
        ``(n_units, top_n, 2)`` int64 position ``(row, col)`` of the unit in the layer's output.
    top_response, bottom_response : np.ndarray
        ``(n_units, top_n)`` float32 responses.
    top_patches, bottom_patches : torch.Tensor
        ``(n_units, top_n, C, ph, pw)`` image crops of the units' receptive fields (parts outside
        the image filled with ``fill``), on the images' device.
    patch_shape : (int, int)
        ``(ph, pw)``: the layer's receptive-field size (the image shape for ``(B, n)`` outputs).
    """

    layer: str | None
    channels: np.ndarray
    top_index: np.ndarray
    top_position: np.ndarray
    top_response: np.ndarray
    top_patches: torch.Tensor
    bottom_index: np.ndarray
    bottom_position: np.ndarray
    bottom_response: np.ndarray
    bottom_patches: torch.Tensor
    patch_shape: tuple[int, int]

    def __len__(self) -> int:
        return len(self.channels)

    @property
    def mean_top_patch(self) -> torch.Tensor:
        """``(n_units, C, ph, pw)`` average of each unit's top patches."""
        return self.top_patches.mean(dim=1)


def _merge(
    best_values: torch.Tensor | None,
    best_index: torch.Tensor | None,
    values: torch.Tensor,
    index: torch.Tensor,
    k: int,
    largest: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the ``k`` largest (smallest) of the running best and a new ``(units, m)`` block
    whose entries have the flat indices ``index`` (``image * positions + position``)."""
    if best_values is not None:
        values = torch.cat([best_values, values], dim=1)
        index = torch.cat([best_index, index], dim=1)
    k = min(k, values.shape[1])
    top, where = values.topk(k, dim=1, largest=largest, sorted=True)
    return top, index.gather(1, where)


def _candidates(
    flat: torch.Tensor, offset: int, per_image: int, per_image_best: bool, largest: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(units, b * positions)`` responses -> candidate values and their flat indices: every
    position, or (``per_image_best``) each image's best (worst) position only."""
    if not per_image_best:
        index = torch.arange(offset, offset + flat.shape[1], device=flat.device)
        return flat, index.expand_as(flat)
    per = flat.reshape(flat.shape[0], -1, per_image)
    values, position = per.max(dim=2) if largest else per.min(dim=2)
    first = torch.arange(per.shape[1], device=flat.device) * per_image + offset
    return values, first + position


def _crop(
    images: torch.Tensor,
    index: np.ndarray,
    corners: np.ndarray,
    shape: tuple[int, int],
    fill: float,
) -> torch.Tensor:
    """Crops ``images[index[j], :, top:top+ph, left:left+pw]`` for ``corners[j] = (top, left)``."""
    ph, pw = shape
    pad_r = max(0, -int(corners[:, 0].min()), int(corners[:, 0].max()) + ph - images.shape[2])
    pad_c = max(0, -int(corners[:, 1].min()), int(corners[:, 1].max()) + pw - images.shape[3])
    used, which = np.unique(index, return_inverse=True)
    padded = F.pad(images[torch.as_tensor(used)], (pad_c, pad_c, pad_r, pad_r), value=fill)
    rows = torch.as_tensor(corners[:, 0] + pad_r)[:, None] + torch.arange(ph)
    cols = torch.as_tensor(corners[:, 1] + pad_c)[:, None] + torch.arange(pw)
    device = padded.device
    image = torch.as_tensor(which, device=device)[:, None, None, None]
    channel = torch.arange(images.shape[1], device=device)[None, :, None, None]
    return padded[
        image, channel, rows.to(device)[:, None, :, None], cols.to(device)[:, None, None, :]
    ]


def _winners(
    images: torch.Tensor,
    values: torch.Tensor,
    flat_index: torch.Tensor,
    rf: ReceptiveField | None,
    map_shape: tuple[int, int],
    patch_shape: tuple[int, int],
    fill: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, torch.Tensor]:
    """Image indices, positions, responses and RF crops of the ``(units, k)`` winners."""
    flat = flat_index.cpu().numpy()
    per_image = map_shape[0] * map_shape[1]
    image_index = flat // per_image
    rows, cols = np.divmod(flat % per_image, map_shape[1])
    if rf is None:
        corners = np.zeros((*flat.shape, 2))
    else:  # rf_box's arithmetic for every winner at once: centre minus half the size
        top = rf.start[0] + rows * rf.jump[0] - (rf.size[0] - 1) / 2
        left = rf.start[1] + cols * rf.jump[1] - (rf.size[1] - 1) / 2
        corners = np.floor(np.stack([top, left], axis=-1) + 0.5)
    crops = _crop(
        images, image_index.reshape(-1), corners.reshape(-1, 2).astype(np.int64), patch_shape, fill
    )
    return (
        image_index.astype(np.int64),
        np.stack([rows, cols], axis=-1).astype(np.int64),
        values.cpu().numpy().astype(np.float32),
        crops.reshape(*flat.shape, *crops.shape[1:]),
    )


def top_patches(
    model: nn.Module,
    layer: str | None,
    images: torch.Tensor,
    *,
    channels: int | Sequence[int] | None = None,
    top_n: int = 10,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 25,
    one_per_image: bool = True,
    fill: float = 0.0,
    progress: bool = True,
) -> PatchResult:
    """The ``top_n`` most and least driving image patches of every (chosen) channel of ``layer``.

    One pass of the network cut after ``layer`` over ``images`` in batches, every spatial
    position of the layer's output counting as a stimulus of its channel; the winners are cut
    out of the images at the analytic receptive field of their position
    (:func:`~artiphys_course.receptive_fields.rf_box`).

    Parameters
    ----------
    model : nn.Module
        Run in eval mode without gradients.
    layer : str or None
        A name from :func:`~artiphys_course.recording.list_layers` (``"features.3"``: AlexNet
        conv2, before its ReLU); None uses the model's output (``(B, n)`` or ``(B, C, h, w)``).
    images : torch.Tensor
        ``(B, C, H, W)`` images as shown to people (e.g. RGB in [0, 1]); patches are cut from
        them, the model sees ``transform(images)``.
    channels : int or sequence of int, optional
        Channels (neurons) to keep; default all.
    top_n : int
        Patches per unit and end (at most the number of images, or of image positions with
        ``one_per_image=False``).
    transform : callable, optional
        Applied to each batch before the model, e.g.
        :func:`~artiphys_course.models.pretrained.imagenet_normalize`.
    batch_size : int
        Images per forward pass.
    one_per_image : bool
        At most one patch per image and end: its best (worst) position (default), so the
        patches show ``top_n`` different images; False ranks all positions of all images
        together (neighbouring positions of one image may then fill the list).
    fill : float
        Value of patch pixels that lie outside the image (padding).
    progress : bool
        Show a progress bar over batches.

    Returns
    -------
    PatchResult

    Raises
    ------
    ValueError
        ``images`` is not a 4-D tensor, ``top_n`` or ``batch_size`` < 1, or the images are
        smaller than the layer's receptive field.
    KeyError
        Unknown ``layer`` (the message lists the valid names).
    IndexError
        A channel outside the layer's range.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or len(images) == 0:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a (B, C, H, W) tensor with B >= 1, got {shape}")
    if top_n < 1 or batch_size < 1:
        raise ValueError(f"top_n and batch_size must be >= 1, got {top_n} and {batch_size}")
    image_shape = (int(images.shape[2]), int(images.shape[3]))
    rf = None
    if layer is not None:
        get_layer(model, layer)  # unknown names -> KeyError listing the valid ones
        try:
            rf = receptive_field(model, layer, image_shape)
        except (TypeError, KeyError):  # no spatial RF arithmetic: whole images
            rf = None
        if rf is not None and (rf.size[0] > image_shape[0] or rf.size[1] > image_shape[1]):
            raise ValueError(
                f"the images ({image_shape[0]}x{image_shape[1]}) are smaller than the "
                f"{rf.size[0]}x{rf.size[1]} receptive field of {layer!r}; give images of "
                f"image_shape at least {rf.size}"
            )
    device = model_device(model)
    state: dict[str, torch.Tensor | None] = dict.fromkeys(("tv", "ti", "bv", "bi"))
    idx = None
    per_image = 1  # positions per image
    map_shape = (1, 1)
    starts = range(0, len(images), batch_size)
    with eval_mode(model), torch.no_grad():
        for start in progress_bar(starts, progress, desc="patches", total=len(starts)):
            x = images[start : start + batch_size].to(device)
            x = transform(x) if transform is not None else x
            out = forward_until(model, layer, x) if layer is not None else model(x)
            if out.ndim == 2:  # no spatial map: one position, the whole image
                rf = None
                out = out[:, :, None, None]
            elif out.ndim != 4:
                raise ValueError(f"expected a (B, n) or (B, C, h, w) output, got {out.shape}")
            if idx is None:
                idx = select_neurons(channels, out.shape[1]).to(out.device)
                map_shape = (int(out.shape[2]), int(out.shape[3]))
                per_image = map_shape[0] * map_shape[1]
            flat = out[:, idx].float().transpose(0, 1).reshape(len(idx), -1)
            for end, largest in (("t", True), ("b", False)):
                values, index = _candidates(
                    flat, start * per_image, per_image, one_per_image, largest
                )
                state[f"{end}v"], state[f"{end}i"] = _merge(
                    state[f"{end}v"], state[f"{end}i"], values, index, top_n, largest
                )
    assert idx is not None  # at least one batch ran
    patch_shape = rf.size if rf is not None else image_shape
    top = _winners(images, state["tv"], state["ti"], rf, map_shape, patch_shape, fill)
    bottom = _winners(images, state["bv"], state["bi"], rf, map_shape, patch_shape, fill)
    return PatchResult(
        layer=layer,
        channels=idx.cpu().numpy(),
        top_index=top[0],
        top_position=top[1],
        top_response=top[2],
        top_patches=top[3],
        bottom_index=bottom[0],
        bottom_position=bottom[1],
        bottom_response=bottom[2],
        bottom_patches=bottom[3],
        patch_shape=(int(patch_shape[0]), int(patch_shape[1])),
    )
