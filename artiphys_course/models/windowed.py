"""One neuron per image, computed from the part of the network that neuron sees.

MEIs and gradient receptive fields need the response of neuron ``neurons[b]`` to image ``b`` and
nothing else. A full forward pass computes every neuron's response to every image: for a model
with a Gaussian readout that wastes almost all of the work, because a neuron reads the core's
feature map at one position (a 2 x 2 neighbourhood, by bilinear interpolation), and that
neighbourhood depends only on a window of each earlier layer: the "cone" of the core's receptive
field. :func:`neuron_responses` runs the core on exactly that cone, one per image, and returns the
same numbers as ``model(images)[b, neurons[b]]`` (to float rounding) at a fraction of the cost:
for the zoo's ``"gaussian"`` model about a sixth of the arithmetic, for a full-resolution core on
36 x 64 images about a twentieth.

Exactness rests on three facts about :class:`~artiphys_course.models.cores.Stacked2dCore` in eval
mode: every layer is a convolution (zero padding), a batch norm with fixed statistics or a
pointwise nonlinearity; a convolution's output on a window depends only on its input on a larger
window (computed with ``padding=0``); and zero padding can be reproduced on a window by setting
the positions that lie outside the feature map to zero before each convolution.
:func:`supports_windowed` tells whether a model has that structure; other models (fully
connected readouts, training mode) go through the ordinary forward pass, except that for a
:class:`~artiphys_course.models.readouts.FullyConnectedReadout` (the LN model, the simple CNN)
only each image's own row of read-out weights is applied instead of all of them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from artiphys_course.models.cores import Stacked2dCore
from artiphys_course.models.encoders import Encoder
from artiphys_course.models.readouts import FullyConnectedReadout, GaussianReadout, grid_to_pixels

__all__ = ["neuron_responses", "supports_windowed"]

_POINTWISE = (nn.BatchNorm2d, nn.ELU, nn.Identity)


def _is_spatial(m: nn.Module) -> bool:
    """A convolution that mixes neighbouring positions (or strides or pads)."""
    return isinstance(m, nn.Conv2d) and (
        m.kernel_size != (1, 1) or m.stride != (1, 1) or m.padding != (0, 0)
    )


def _layer_leaves(core: Stacked2dCore) -> list[list[nn.Module]] | None:
    """The leaf modules of each core layer in forward order, or None if one is not supported."""
    layers = []
    for layer in core.features:
        leaves = [m for m in layer.modules() if not list(m.children())]
        for m in leaves:
            if isinstance(m, nn.Conv2d):
                square = m.kernel_size[0] == m.kernel_size[1] and m.padding[0] == m.padding[1]
                if not square or m.dilation != (1, 1) or m.padding_mode != "zeros":
                    return None
                if m.stride != (1, 1) and layer is not core.features[0]:
                    return None
            elif not isinstance(m, _POINTWISE):
                return None
        layers.append(leaves)
    return layers


def supports_windowed(model: nn.Module, data_key: str | None = None) -> bool:
    """True when :func:`neuron_responses` can use the receptive-field window of ``model``.

    That is an :class:`~artiphys_course.models.encoders.Encoder` in eval mode whose core is a
    :class:`~artiphys_course.models.cores.Stacked2dCore` of convolutions, batch norms and ELUs
    and whose readout for ``data_key`` is a
    :class:`~artiphys_course.models.readouts.GaussianReadout`.
    """
    if not isinstance(model, Encoder) or model.training:
        return False
    if not isinstance(model.core, Stacked2dCore) or _layer_leaves(model.core) is None:
        return False
    readout = model.readout[model.readout.resolve(data_key)]
    return isinstance(readout, GaussianReadout)


def _window_mask(top: Tensor, left: Tensor, size: tuple[int, int], grid: tuple[int, int]) -> Tensor:
    """``(B, 1, h, w)``: 1 where a window starting at ``(top, left)`` lies on a ``grid`` map."""
    h, w = size
    rows = top[:, None] + torch.arange(h, device=top.device)
    cols = left[:, None] + torch.arange(w, device=top.device)
    inside_r = (rows >= 0) & (rows < grid[0])
    inside_c = (cols >= 0) & (cols < grid[1])
    return (inside_r[:, :, None] & inside_c[:, None, :])[:, None].float()


def _crop(images: Tensor, top: Tensor, left: Tensor, size: tuple[int, int]) -> Tensor:
    """Per-image windows ``(B, C, h, w)`` of ``images (B, C, H, W)``; outside the image: zeros.

    Differentiable: the gradient flows back into ``images``.
    """
    b, _, height, width = images.shape
    rows = (top[:, None] + torch.arange(size[0], device=top.device)).clamp(0, height - 1)
    cols = (left[:, None] + torch.arange(size[1], device=top.device)).clamp(0, width - 1)
    batch = torch.arange(b, device=images.device)[:, None, None]
    window = images[batch, :, rows[:, :, None], cols[:, None, :]]  # (B, h, w, C)
    mask = _window_mask(top, left, size, (height, width))
    return window.permute(0, 3, 1, 2) * mask


def _core_windows(core: Stacked2dCore, images: Tensor, corner: Tensor) -> Tensor:
    """The core's features ``(B, C', 2, 2)`` on the 2 x 2 window at ``corner`` ``(B, 2)``.

    ``corner`` is the top-left ``(row, col)`` on the core's output map (long). Positions of the
    window outside the map are zero, as ``grid_sample`` reads them.
    """
    layers = _layer_leaves(core)
    assert layers is not None
    spatial = [m for leaves in layers for m in leaves if _is_spatial(m)]
    # map sizes at the input of each spatial conv, forward
    grids, size = [], tuple(images.shape[-2:])
    for conv in spatial:
        grids.append(size)
        k, s, p = conv.kernel_size[0], conv.stride[0], conv.padding[0]
        size = ((size[0] + 2 * p - k) // s + 1, (size[1] + 2 * p - k) // s + 1)
    out_grid = size
    # windows at the input of each spatial conv, backward from the 2 x 2 output window
    starts, sizes = [None] * len(spatial), [None] * len(spatial)
    start, extent = corner, (2, 2)
    for j in reversed(range(len(spatial))):
        k, s, p = spatial[j].kernel_size[0], spatial[j].stride[0], spatial[j].padding[0]
        start = start * s - p
        extent = (s * (extent[0] - 1) + k, s * (extent[1] - 1) + k)
        starts[j], sizes[j] = start, extent

    x = _crop(images, starts[0][:, 0], starts[0][:, 1], sizes[0])
    j, outputs = 0, []
    for leaves in layers:
        for m in leaves:
            if _is_spatial(m):
                if j > 0:  # the zero padding of this conv, on the window
                    x = x * _window_mask(starts[j][:, 0], starts[j][:, 1], sizes[j], grids[j])
                x = x.contiguous(memory_format=torch.channels_last)  # as Stacked2dCore: faster
                x = F.conv2d(x, m.weight, m.bias, stride=m.stride, groups=m.groups)
                j += 1
            else:
                x = m(x)
        outputs.append(x)
    # each stacked layer's window is centred on the 2 x 2 read-out window
    picked = []
    for i in core.stack:
        margin = (outputs[i].shape[-1] - 2) // 2
        picked.append(outputs[i][:, :, margin : margin + 2, margin : margin + 2])
    features = torch.cat(picked, dim=1) if len(picked) > 1 else picked[0]
    return features * _window_mask(corner[:, 0], corner[:, 1], (2, 2), out_grid)


def _fully_connected(model: nn.Module, data_key: str | None) -> bool:
    """An Encoder in eval mode with a fully connected readout (and no shifter) for data_key."""
    if not isinstance(model, Encoder) or model.training:
        return False
    key = model.readout.resolve(data_key)
    shifted = model.shifter is not None and key in model.shifter
    return isinstance(model.readout[key], FullyConnectedReadout) and not shifted


def _check_indices(neurons: Tensor, n_total: int) -> None:
    if neurons.min() < 0 or neurons.max() >= n_total:
        raise IndexError(f"neuron indices must be in [0, {n_total}); got {neurons.tolist()}")


def neuron_responses(
    model: nn.Module,
    images: Tensor,
    neurons: Tensor,
    *,
    pupil_center: Tensor | None = None,
    data_key: str | None = None,
) -> Tensor:
    """The response of neuron ``neurons[b]`` to image ``b``, for every ``b``.

    Equal to ``model(images, pupil_center, data_key)[b, neurons[b]]``; computed on each neuron's
    receptive-field window when :func:`supports_windowed` says so, with one row of read-out
    weights per image for a fully connected readout, else by the full forward pass.

    Parameters
    ----------
    model : nn.Module
        An encoding model called as ``model(images, pupil_center=..., data_key=...)``.
    images : Tensor, shape (B, C, H, W)
    neurons : Tensor, shape (B,)
        Neuron (column) index per image.
    pupil_center : Tensor, shape (B, 2), optional
        For a model with a shifter (default: its mean pupil position).
    data_key : str, optional

    Returns
    -------
    Tensor, shape (B,)
        Positive rates, differentiable with respect to ``images``.
    """
    neurons = torch.as_tensor(neurons, dtype=torch.long, device=images.device).reshape(-1)
    if neurons.shape[0] != images.shape[0]:
        raise ValueError(
            f"need one neuron index per image: {images.shape[0]} images, {neurons.shape[0]} indices"
        )
    if _fully_connected(model, data_key):
        model.check_images(images)
        readout = model.readout[model.readout.resolve(data_key)]
        _check_indices(neurons, readout.n_neurons)
        features = model.core(images).flatten(1)
        weight, bias = readout.linear.weight[neurons], readout.linear.bias[neurons]
        return F.elu((features * weight).sum(dim=1) + bias + model.elu_offset) + 1
    if not supports_windowed(model, data_key):
        out = model(images, pupil_center=pupil_center, data_key=data_key)
        return out.gather(1, neurons[:, None])[:, 0]
    model.check_images(images)
    key = model.readout.resolve(data_key)
    readout = model.readout[key]
    _check_indices(neurons, readout.n_neurons)
    grid = readout.positions()[neurons]  # (B, 2) normalised (x, y), as in GaussianReadout
    shift = model.shift(pupil_center, key, images.shape[0])
    if shift is not None:
        grid = grid + shift
    pixels = grid_to_pixels(grid, readout.in_shape[1:])  # (B, 2) (row, col) on the feature map
    corner = pixels.detach().floor()
    frac = pixels - corner
    features = _core_windows(model.core, images, corner.long())  # (B, C, 2, 2)
    fr, fc = frac[:, 0, None], frac[:, 1, None]
    value = (
        features[:, :, 0, 0] * (1 - fr) * (1 - fc)
        + features[:, :, 0, 1] * (1 - fr) * fc
        + features[:, :, 1, 0] * fr * (1 - fc)
        + features[:, :, 1, 1] * fr * fc
    )  # (B, C): bilinear interpolation, as grid_sample(align_corners=True)
    drive = (value * readout.features.T[neurons]).sum(dim=1) + readout.bias[neurons]
    return F.elu(drive + model.elu_offset) + 1
