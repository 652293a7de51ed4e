"""Receptive-field arithmetic for convolutional networks, and the empirical (gradient) check.

For every layer we track, along each image axis, three numbers (Araujo, Norris & Sim 2019,
"Computing receptive fields of convolutional neural networks", Distill):

* ``size`` r: how many input pixels one unit sees,
* ``jump`` j: how far (input pixels) the RF moves between neighbouring units (product of strides),
* ``start``: the input position of the centre of the first unit's RF (pixel centres at integers,
  so padding makes it move left/up).

A layer with kernel k, stride s, left padding p and dilation d (effective kernel
``k_eff = d (k - 1) + 1``) maps ``(r, j, start)`` to::

    r'     = r + (k_eff - 1) * j
    j'     = j * s
    start' = start + ((k_eff - 1) / 2 - p) * j

Pointwise layers (activations, BatchNorm, Dropout, LocalResponseNorm) leave all three unchanged.
A residual block computes its branches in parallel and adds them, so its RF is the union of the
branch RFs (the 1x1 shortcut of ResNet sees much less than the two 3x3 convs). An Inception block
(GoogLeNet; Szegedy et al. 2015) runs four branches in parallel on the same input and
concatenates their channels: each branch has its own RF (``inception3a.branch1``, a 1x1 conv,
sees what the block's input sees; ``inception3a.branch2.1`` adds a 3x3 conv), and the block's
output, holding all branches' channels, has the union (the largest branch RF, as the branches are
centred alike).

``xn`` is the smallest square input whose centre unit sees its whole RF, centred in the image:
the input size to use for bar mapping (Pospisil, Pasupathy & Bair 2018).

The empirical RF is the set of input pixels whose gradient on the centre unit is non-zero. With
real weights a gradient can vanish by chance (ReLUs that are off, max pooling that routes to one
pixel, weights that cancel), so :func:`structural_copy` replaces weights by positive averages,
max pooling by average pooling and BatchNorm by identity: then every pixel in the analytic RF has
a strictly positive gradient and every pixel outside it exactly zero.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from artiphys_course import validation
from artiphys_course.recording import TruncatedModel, forward_until, get_layer
from artiphys_course.units import eval_mode

__all__ = [
    "ReceptiveField",
    "center_position",
    "conv_output_size",
    "empirical_receptive_field",
    "receptive_field",
    "receptive_field_table",
    "rf_box",
    "rf_step",
    "structural_copy",
    "support_box",
    "xn",
]

_POINTWISE: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Identity,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.dropout._DropoutNd,
    nn.LocalResponseNorm,
)
# Layers after which a unit no longer has a local receptive field: the table ends there.
_NON_SPATIAL: tuple[type[nn.Module], ...] = (
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.Flatten,
    nn.Linear,
)
_KERNEL_LAYERS = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def _residual_types() -> tuple[type[nn.Module], ...]:
    from torchvision.models.resnet import BasicBlock, Bottleneck

    return (BasicBlock, Bottleneck)


def _concatenating_types() -> tuple[type[nn.Module], ...]:
    """Blocks whose children are parallel branches on one input, concatenated by channel."""
    from torchvision.models.googlenet import Inception

    return (Inception,)


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of the units of one layer, per axis ``(rows, cols)``.

    Attributes
    ----------
    name : str
        Dotted layer name (a residual block's row carries the block's name).
    kind : str
        Module class name.
    size : (int, int)
        RF size in input pixels.
    jump : (int, int)
        Distance in input pixels between the RF centres of neighbouring units.
    start : (float, float)
        Input position (pixel ``(row, col)``) of the RF centre of the unit at position ``(0, 0)``.
    output_shape : (int, int) or None
        The layer's spatial output ``(h, w)`` for the table's ``image_shape`` (None when none was
        given).
    """

    name: str
    kind: str
    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]
    output_shape: tuple[int, int] | None

    def center_of(self, position: Sequence[int]) -> tuple[float, float]:
        """Input position ``(row, col)`` of the RF centre of the unit at ``position`` (row, col)."""
        return (
            self.start[0] + position[0] * self.jump[0],
            self.start[1] + position[1] * self.jump[1],
        )

    def as_dict(self) -> dict:
        """A flat dict (square layers shown as single numbers), e.g. for a pandas table."""
        out = asdict(self)
        for key in ("size", "jump", "start", "output_shape"):
            v = out[key]
            if v is not None and v[0] == v[1]:
                out[key] = v[0]
        return out


@dataclass(frozen=True)
class _State:
    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]
    n: tuple[int, int] | None


def _pair(v) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def rf_step(
    rf_size: int,
    jump: int,
    start: float,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> tuple[int, int, float]:
    """One layer of RF arithmetic along one axis.

    Parameters
    ----------
    rf_size, jump, start : int, int, float
        The RF of the layer's input units (the image itself: ``1, 1, 0.0``).
    kernel_size, stride, padding, dilation : int
        The layer (``padding`` on the left/top side).

    Returns
    -------
    (int, int, float)
        ``(rf_size, jump, start)`` of the layer's output units:
        ``r + (k_eff - 1) j``, ``j s`` and ``start + ((k_eff - 1) / 2 - p) j`` with
        ``k_eff = d (k - 1) + 1``.
    """
    k_eff = dilation * (kernel_size - 1) + 1
    return (
        rf_size + (k_eff - 1) * jump,
        jump * stride,
        start + ((k_eff - 1) / 2 - padding) * jump,
    )


def conv_output_size(
    n: int,
    kernel_size: int,
    stride: int = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length of a convolution or pooling along one axis (PyTorch's rule).

    ``floor((n + 2 p - k_eff) / s) + 1`` with ``k_eff = d (k - 1) + 1`` (``ceil`` with
    ``ceil_mode``, dropping a last window that would start in the right padding). ``padding``
    may be ``(left, right)``. Raises ``ValueError`` when the input is shorter than the kernel.
    """
    left, right = (padding, padding) if isinstance(padding, int) else padding
    k_eff = dilation * (kernel_size - 1) + 1
    span = n + left + right - k_eff
    if span < 0:
        raise ValueError(f"an input of length {n} is shorter than the kernel span {k_eff}")
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= n + left:
        out -= 1
    return out


def _kernel_step(module: nn.Module, name: str, state: _State) -> _State:
    k = _pair(module.kernel_size)
    s = _pair(module.stride if module.stride is not None else module.kernel_size)
    d = _pair(getattr(module, "dilation", 1))
    ceil = bool(getattr(module, "ceil_mode", False))
    padding = module.padding
    if padding == "valid":
        pads = ((0, 0), (0, 0))
    elif padding == "same":
        total = [d[a] * (k[a] - 1) for a in range(2)]
        pads = tuple((total[a] // 2, total[a] - total[a] // 2) for a in range(2))
    else:
        p = _pair(padding)
        pads = ((p[0], p[0]), (p[1], p[1]))
    axes = [
        rf_step(state.size[a], state.jump[a], state.start[a], k[a], s[a], pads[a][0], d[a])
        for a in range(2)
    ]
    n = None
    if state.n is not None:
        try:
            n = tuple(
                conv_output_size(state.n[a], k[a], s[a], pads[a], d[a], ceil) for a in range(2)
            )
        except ValueError as err:
            raise ValueError(f"the input is too small for layer {name!r}: {err}") from None
    return _State((axes[0][0], axes[1][0]), (axes[0][1], axes[1][1]), (axes[0][2], axes[1][2]), n)  # type: ignore[arg-type]


def _union(a: _State, b: _State, name: str) -> _State:
    if a.jump != b.jump or a.n != b.n:
        raise ValueError(
            f"the branches of {name!r} disagree (jumps {a.jump} vs {b.jump}, output sizes {a.n} vs "
            f"{b.n}); they cannot be added or concatenated"
        )
    size, start = [], []
    for ax in range(2):
        lo = min(a.start[ax] - (a.size[ax] - 1) / 2, b.start[ax] - (b.size[ax] - 1) / 2)
        hi = max(a.start[ax] + (a.size[ax] - 1) / 2, b.start[ax] + (b.size[ax] - 1) / 2)
        size.append(int(round(hi - lo + 1)))
        start.append((lo + hi) / 2)
    return _State((size[0], size[1]), a.jump, (start[0], start[1]), a.n)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _walk(
    module: nn.Module, name: str, state: _State, rows: list[ReceptiveField], until: str | None
) -> _State | None:
    """Append the rows of ``module`` and its children; None once the table has ended.

    The table ends at the first non-spatial layer or after the row of ``until``.
    """

    def emit(st: _State) -> _State | None:
        rows.append(ReceptiveField(name, type(module).__name__, st.size, st.jump, st.start, st.n))
        return None if until is not None and name == until else st

    if isinstance(module, _NON_SPATIAL):
        return None
    if isinstance(module, _KERNEL_LAYERS):
        return emit(_kernel_step(module, name, state))
    if isinstance(module, _POINTWISE):
        return emit(state)
    if isinstance(module, _residual_types()):
        main: _State | None = state
        for child_name, child in module.named_children():
            if child_name != "downsample":
                main = _walk(child, _join(name, child_name), main, rows, until)
                if main is None:
                    return None
        shortcut: _State | None = state
        if getattr(module, "downsample", None) is not None:
            shortcut = _walk(module.downsample, _join(name, "downsample"), state, rows, until)
            if shortcut is None:
                return None
        return emit(_union(main, shortcut, name))
    if isinstance(module, _concatenating_types()):
        union: _State | None = None
        for child_name, child in module.named_children():
            branch = _walk(child, _join(name, child_name), state, rows, until)
            if branch is None:
                return None
            union = branch if union is None else _union(union, branch, name)
        assert union is not None
        return emit(union)
    if isinstance(module, TruncatedModel):
        until = module.layer if until is None else until
        return _walk(module.model, name, state, rows, until)
    children = list(module.named_children())
    if not children:
        raise TypeError(
            f"cannot compute a receptive field through {type(module).__name__} ({name!r}). "
            "Supported: Conv2d, MaxPool2d, AvgPool2d, pointwise layers (activations, BatchNorm, "
            "Dropout, LocalResponseNorm), Sequential-like containers, torchvision ResNet blocks "
            "and GoogLeNet Inception blocks."
        )
    current: _State | None = state
    for child_name, child in children:  # containers are assumed to run their children in order
        current = _walk(child, _join(name, child_name), current, rows, until)
        if current is None:
            return None
    return emit(current) if name else current


def _image_shape(image_shape: int | Sequence[int] | None) -> tuple[int, int] | None:
    if image_shape is None:
        return None
    return validation.image_shape(image_shape)


def receptive_field_table(
    model: nn.Module, image_shape: int | Sequence[int] | None = None, *, until: str | None = None
) -> list[ReceptiveField]:
    """RF size, jump, start and output shape of every spatial layer, in forward order.

    Parameters
    ----------
    model : nn.Module
        A network whose containers run their children in registration order (torchvision
        AlexNet, VGG, ResNet, GoogLeNet, the package's cores), possibly a
        :class:`~artiphys_course.recording.TruncatedModel`.
        The table ends at the first non-spatial layer (adaptive pooling, Flatten, Linear).
    image_shape : int or (H, W), optional
        Input image shape in pixels (an int for a square image), for the ``output_shape`` column.
    until : str, optional
        Stop after this layer.

    Returns
    -------
    list of ReceptiveField
        One row per module, containers (Sequential, residual and Inception blocks) after their
        children; the branches of a block in the order they are registered.

    Examples
    --------
    >>> from torchvision.models import alexnet
    >>> [r.size[0] for r in receptive_field_table(alexnet()) if r.kind == "Conv2d"]
    [11, 51, 99, 131, 163]
    """
    rows: list[ReceptiveField] = []
    start = _State((1, 1), (1, 1), (0.0, 0.0), _image_shape(image_shape))
    _walk(model, "", start, rows, until)
    return rows


def receptive_field(
    model: nn.Module, layer: str, image_shape: int | Sequence[int] | None = None
) -> ReceptiveField:
    """The :class:`ReceptiveField` of one layer (``KeyError`` listing valid layers if unknown)."""
    get_layer(model, layer)  # unknown names -> KeyError with every valid name
    rows = receptive_field_table(model, image_shape, until=layer)
    for row in rows:
        if row.name == layer:
            return row
    names = [r.name for r in receptive_field_table(model)]
    raise KeyError(
        f"layer {layer!r} has no spatial receptive field (it comes after the spatial part of the "
        f"network). Layers with one: {', '.join(names)}"
    )


def center_position(
    model: nn.Module, layer: str, image_shape: int | Sequence[int]
) -> tuple[int, int]:
    """Position ``(row, col)`` of the centre unit of ``layer``: ``((h - 1) // 2, (w - 1) // 2)``.

    ``(h, w)`` is the layer's output shape for input images of ``image_shape`` (an int for a
    square image).
    """
    n = receptive_field(model, layer, image_shape).output_shape
    assert n is not None
    return ((n[0] - 1) // 2, (n[1] - 1) // 2)


def rf_box(
    model: nn.Module,
    layer: str,
    image_shape: int | Sequence[int],
    position: Sequence[int] | None = None,
) -> tuple[float, float, float, float]:
    """The analytic RF of one unit as inclusive pixel bounds ``(top, bottom, left, right)``.

    ``position`` ``(row, col)`` of the unit in the layer's output defaults to the centre unit's
    (:func:`center_position`); it must lie inside the layer's output for ``image_shape``
    (``IndexError`` otherwise). Bounds may lie outside the image (padding).
    """
    rf = receptive_field(model, layer, image_shape)
    position = validation.position(
        position, rf.output_shape, f"output of {layer!r} for image_shape {image_shape}"
    )
    row, col = rf.center_of(position)
    hr, hc = (rf.size[0] - 1) / 2, (rf.size[1] - 1) / 2
    return (row - hr, row + hr, col - hc, col + hc)


def xn(model: nn.Module, layer: str, *, max_size: int | None = None) -> int:
    """Smallest square input size at which the centre unit of ``layer`` sees its whole RF, centred.

    The centre unit (see :func:`center_position`) must have its RF centre exactly at the image
    centre ``(N - 1) / 2`` and its RF inside the image; if no size gives exact centring (even
    kernels), half a pixel off is accepted.

    Parameters
    ----------
    model : nn.Module
    layer : str
    max_size : int, optional
        Search limit (default ``2 * rf + 8 * jump + 64``).

    Returns
    -------
    int
    """
    rf = receptive_field(model, layer)
    r = max(rf.size)
    limit = max_size or 2 * r + 8 * max(rf.jump) + 64
    fallback = None
    for n in range(r, limit + 1):
        try:
            row = receptive_field(model, layer, n)
        except ValueError:  # some earlier layer has no output at this size
            continue
        assert row.output_shape is not None
        ok_exact, ok_half = True, True
        for ax in range(2):
            c = (row.output_shape[ax] - 1) // 2
            centre = row.start[ax] + c * row.jump[ax]
            half = (row.size[ax] - 1) / 2
            inside = centre - half >= 0 and centre + half <= n - 1
            off = abs(centre - (n - 1) / 2)
            ok_exact &= inside and off == 0
            ok_half &= inside and off <= 0.5
        if ok_exact:
            return n
        if ok_half and fallback is None:
            fallback = n
    if fallback is not None:
        return fallback
    raise ValueError(f"no input size up to {limit} centres the RF of {layer!r}; raise max_size")


def structural_copy(model: nn.Module, *, single_channel: bool = True) -> nn.Module:
    """A float64 copy of ``model`` whose input gradients reveal the structural RF exactly.

    Every Conv2d gets weights ``1 / fan_in`` and no bias, MaxPool2d becomes AvgPool2d with the
    same geometry, BatchNorm and LocalResponseNorm become Identity (and so do Linear layers, which
    have no spatial RF), in-place activations are made out-of-place, a model's own input
    transform (GoogLeNet's ``transform_input``, a per-pixel affine map) is switched off, and the
    copy is in eval mode. With a positive input every unit is then a
    positive weighted average of the pixels in its RF, so a unit's input gradient is > 0 exactly
    on its RF (no cancellation, no ReLU switched off, no max-pool routing).

    Parameters
    ----------
    model : nn.Module
    single_channel : bool
        Give every conv one output channel, computed from the sum of its input channels (one, or
        one per branch after an Inception block's concatenation) (default). The RF depends only
        on the geometry (kernel, stride, padding, dilation), so this gives the same support
        thousands of times faster; feed inputs of shape ``(B, 1, H, W)``.

    Returns
    -------
    nn.Module
    """
    # Parameters of the layers replaced below are not copied (VGG16's classifier alone is 0.5 GB).
    memo = {
        id(p): None
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.modules.batchnorm._BatchNorm))
        for p in m.parameters(recurse=False)
    }
    net = copy.deepcopy(model, memo).eval()
    for parent in list(net.modules()):
        for child_name, child in list(parent.named_children()):
            new: nn.Module | None = None
            if isinstance(child, nn.Conv2d):
                c_in, c_out, groups = child.in_channels, child.out_channels, child.groups
                if single_channel:
                    c_in = c_out = groups = 1
                new = (_ChannelSumConv2d if single_channel else nn.Conv2d)(
                    c_in,
                    c_out,
                    child.kernel_size,
                    child.stride,
                    child.padding,
                    child.dilation,
                    groups=groups,
                    bias=False,
                    padding_mode=child.padding_mode,
                )
                with torch.no_grad():
                    new.weight.fill_(1.0 / new.weight[0].numel())
            elif isinstance(child, nn.MaxPool2d):
                if _pair(child.dilation) != (1, 1):
                    raise NotImplementedError("dilated max pooling is not supported")
                new = nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode)
            elif isinstance(
                child, (nn.modules.batchnorm._BatchNorm, nn.LocalResponseNorm, nn.Linear)
            ):
                new = nn.Identity()
            elif getattr(child, "inplace", False):
                child.inplace = False
            if new is not None:
                setattr(parent, child_name, new)
    if getattr(net, "transform_input", False):
        net.transform_input = False
    return net.double().eval()


class _ChannelSumConv2d(nn.Conv2d):
    """A one-channel convolution of the sum of its input channels (:func:`structural_copy`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.sum(1, keepdim=True))


def _in_channels(model: nn.Module) -> int:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    raise ValueError("cannot infer the number of input channels; pass in_channels")


def empirical_receptive_field(
    model: nn.Module,
    layer: str,
    image_shape: int | Sequence[int],
    *,
    position: Sequence[int] | None = None,
    channels: int | Sequence[int] | None = None,
    structural: bool = True,
    images: torch.Tensor | None = None,
    in_channels: int | None = None,
    device: torch.device | str | None = None,
) -> np.ndarray:
    """The absolute input gradient of one unit of ``layer``: non-zero where the unit can see.

    Parameters
    ----------
    model : nn.Module
    layer : str
    image_shape : int or (H, W)
        Input image shape in pixels (an int for a square image); at least the RF size (see
        :func:`xn`).
    position : (row, col), optional
        Position of the unit in the layer's output; default the centre unit's.
    channels : int or sequence of int, optional
        Channel(s) of the unit, summed; default the sum over all channels.
    structural : bool
        Use :func:`structural_copy` (single channel) and an input of ones (default): the support
        is then exactly the analytic RF. With False the model's own weights (in eval mode) are
        used on ``images`` (default: standard normal noise, seed 0): the part of its RF a real
        network uses for that input.
    images : torch.Tensor, optional
        ``(1, C, H, W)`` input for ``structural=False``.
    in_channels : int, optional
        Input channels for the noise input; default those of the first Conv2d.
    device : optional
        Where to compute (default: where the model's parameters are; the CPU for a network built
        on the meta device, ``with torch.device("meta"): net = vgg16()``, which costs no memory
        and is enough for the structural RF).

    Returns
    -------
    np.ndarray
        ``(H, W)`` absolute gradient summed over input channels.
    """
    h, w = validation.image_shape(image_shape)
    validation.finite(images, "images")
    rf = receptive_field(model, layer)
    if h < rf.size[0] or w < rf.size[1]:
        raise ValueError(
            f"input {h}x{w} is smaller than the {rf.size[0]}x{rf.size[1]} RF of {layer!r}; "
            f"use at least xn = {xn(model, layer)} pixels"
        )
    c_in = 1 if structural else in_channels or _in_channels(model)
    on_meta = next(model.parameters()).device.type == "meta"
    if on_meta and not structural:
        raise ValueError(
            "model was built on the meta device (no weights): use structural=True, or build it "
            "on the CPU to see the RF its weights use"
        )
    if device is None:  # a structure-only (meta) network is probed on the CPU
        device = "cpu" if on_meta else next(model.parameters()).device
    net = structural_copy(model).to(device) if structural else model
    dtype = next(net.parameters()).dtype
    if structural:
        x = torch.ones(1, c_in, h, w, dtype=dtype, device=device)
    elif images is not None:
        if images.ndim != 4 or images.shape[0] != 1 or tuple(images.shape[2:]) != (h, w):
            raise ValueError(f"images must have shape (1, C, {h}, {w}), got {tuple(images.shape)}")
        x = images.to(device=device, dtype=dtype).clone()
    else:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(1, c_in, h, w, generator=gen, dtype=dtype).to(device)
    x.requires_grad_(True)
    with eval_mode(net):
        out = forward_until(net, layer, x)
    where = f"output of {layer!r} for image_shape {(h, w)}"
    row, col = validation.position(position, tuple(out.shape[2:]), where)
    value = out[0, :, row, col]
    if channels is not None:
        value = value[validation.indices(channels, "channels", len(value)).to(value.device)]
    value = value.sum()
    (grad,) = torch.autograd.grad(value, x)
    return grad.abs().sum(1)[0].detach().cpu().numpy()


def support_box(gradient: np.ndarray) -> tuple[int, int, int, int]:
    """Inclusive bounds ``(top, bottom, left, right)`` of the non-zero pixels of a 2-D map."""
    rows = np.flatnonzero(np.any(gradient != 0, axis=1))
    cols = np.flatnonzero(np.any(gradient != 0, axis=0))
    if rows.size == 0:
        raise ValueError("the map is zero everywhere")
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
