"""Convolutional cores: image -> feature maps shared by all neurons.

A *core* turns a batch of images ``(batch, channels, height, width)`` into feature maps
``(batch, features, height', width')``; a *readout* (:mod:`artiphys_course.models.readouts`) turns
the feature maps into one number per neuron. Every core has ``regularizer()`` (a scalar tensor that
training adds to the loss) and ``out_shape(in_shape)`` (the feature-map shape for an input shape).

:class:`Stacked2dCore` is the core of the SENSORIUM 2022 baseline (Lurz et al., ICLR 2021;
neuralpredictors' ``Stacked2dCore``): a first convolution, then depth-separable convolutions, each
followed by batch normalisation and an ELU, with a Laplace smoothness penalty on the first-layer
filters. Its module names (``features.layer0.conv``, ``features.layer1.ds_conv.spatial_conv``, ...)
follow neuralpredictors so the official checkpoints load without renaming
(:mod:`artiphys_course.models.sensorium`). :class:`SimpleConvCore` is a small conv-pool core for the
"simple CNN" with a fully connected readout.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LAPLACE_KERNEL",
    "laplace_l2",
    "DepthSeparableConv2d",
    "NormalizationCore",
    "Stacked2dCore",
    "SimpleConvCore",
]

LAPLACE_KERNEL = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])
"""The 3x3 discrete (negative) Laplacian used for the smoothness penalty."""


def laplace_l2(weights: torch.Tensor, *, normalize: bool = True) -> torch.Tensor:
    """Laplace-L2 smoothness penalty of convolution filters.

    Each 2-D filter slice is convolved with the 3x3 Laplacian :data:`LAPLACE_KERNEL` (zero padding
    of one pixel, so the filter's edge counts as a jump to zero) and the squares are summed:

    ``penalty = sum (L * w)**2``, divided by ``sum w**2`` when ``normalize`` (then the penalty is
    scale free: it measures roughness, not size, as neuralpredictors' ``LaplaceL2norm``).

    Parameters
    ----------
    weights : Tensor, shape (out_channels, in_channels, k_h, k_w)
        Filters, e.g. ``core.features.layer0.conv.weight``.
    normalize : bool
        Divide by the filters' squared norm.

    Returns
    -------
    Tensor
        Scalar, same device and dtype as ``weights``.
    """
    if weights.ndim != 4:
        raise ValueError(
            "weights must have shape (out_channels, in_channels, k_h, k_w), "
            f"got {tuple(weights.shape)}"
        )
    flat = weights.reshape(-1, *weights.shape[-2:])
    # the convolution with LAPLACE_KERNEL written as shifted differences: much faster on a CPU
    # than conv2d for hundreds of single-channel maps (the LN model's filters)
    p = F.pad(flat, (1, 1, 1, 1))
    laplace = 4 * flat - p[:, :-2, 1:-1] - p[:, 2:, 1:-1] - p[:, 1:-1, :-2] - p[:, 1:-1, 2:]
    rough = laplace.pow(2).sum()
    if normalize:
        return rough / flat.pow(2).sum().clamp_min(torch.finfo(weights.dtype).tiny)
    return rough


class DepthSeparableConv2d(nn.Sequential):
    """1x1 channel mixing -> per-channel k x k spatial convolution -> 1x1 channel mixing.

    Far fewer weights than a full ``k x k`` convolution (``2 c^2 + c k^2`` instead of ``c^2 k^2``),
    hence faster on a CPU. Sub-module names (``in_depth_conv``, ``spatial_conv``,
    ``out_depth_conv``) match neuralpredictors for checkpoint compatibility.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        padding: int = 0,
        bias: bool = False,
    ) -> None:
        super().__init__(
            OrderedDict(
                in_depth_conv=nn.Conv2d(in_channels, out_channels, 1, bias=bias),
                spatial_conv=nn.Conv2d(
                    out_channels,
                    out_channels,
                    kernel_size,
                    padding=padding,
                    groups=out_channels,
                    bias=bias,
                ),
                out_depth_conv=nn.Conv2d(out_channels, out_channels, 1, bias=bias),
            )
        )


class NormalizationCore(nn.Module):
    """The identity after a per-channel normalisation (BatchNorm): the core of the LN model.

    In training mode each channel is standardised with the batch statistics, in evaluation mode with
    running averages, followed by a learned scale and offset per channel.
    """

    def __init__(self, in_channels: int = 1, *, momentum: float = 0.1) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels, momentum=momentum)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` -> normalised images, same shape."""
        return self.norm(images)

    def regularizer(self) -> torch.Tensor:
        """No penalty: a zero scalar."""
        return self.norm.weight.new_zeros(())

    def out_shape(self, in_shape: Sequence[int]) -> tuple[int, int, int]:
        """Same as the input shape ``(C, H, W)``."""
        return tuple(int(s) for s in in_shape)  # type: ignore[return-value]


class Stacked2dCore(nn.Module):
    """Stacked 2-D convolutional core (conv -> BatchNorm -> ELU per layer).

    Parameters
    ----------
    in_channels : int
        Image channels (1 for grey images).
    hidden_channels : int
        Feature maps per layer.
    layers : int
        Number of convolutional layers (the first is a full convolution).
    input_kernel, hidden_kernel : int
        Kernel sizes of the first and of the later layers (odd).
    depth_separable : bool
        Use :class:`DepthSeparableConv2d` for the layers after the first.
    pad_input : bool
        Zero-pad the first convolution so that the feature maps keep the image size. Without
        padding (the SENSORIUM baseline) they are ``input_kernel - 1`` pixels smaller in each
        dimension. Later layers are always padded ("same").
    input_stride : int
        Stride of the first convolution. ``2`` halves the feature maps (4x less computation in
        every later layer) while the first layer still sees every pixel; V1-like features
        (rectified, energy) are smooth enough to be read out between samples.
    linear : bool
        Drop every nonlinearity of the core. With the encoder's final ``ELU + 1`` this gives a
        linear-nonlinear model with a convolutional parameterisation (the SENSORIUM LN baseline).
    final_nonlinearity : bool
        Apply the ELU after the last layer (ignored when ``linear``).
    stack : int or None
        Which layers' outputs are concatenated as features: ``-1`` (default) only the last, ``None``
        all, ``-k`` the last ``k``.
    gamma_input : float
        Weight of the Laplace-L2 smoothness penalty (:func:`laplace_l2`) of the first-layer filters.
    momentum : float
        BatchNorm running-statistics momentum.

    Notes
    -----
    Convolutions have no bias: the affine BatchNorm that follows has one. Shapes: images
    ``(B, in_channels, H, W)`` -> features ``(B, hidden_channels * n_stacked, H', W')``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        hidden_channels: int = 32,
        *,
        layers: int = 3,
        input_kernel: int = 9,
        hidden_kernel: int = 7,
        depth_separable: bool = True,
        pad_input: bool = True,
        input_stride: int = 1,
        linear: bool = False,
        final_nonlinearity: bool = True,
        stack: int | None = -1,
        gamma_input: float = 1.0,
        momentum: float = 0.1,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        for name, k in (("input_kernel", input_kernel), ("hidden_kernel", hidden_kernel)):
            if k < 1 or k % 2 == 0:
                raise ValueError(f"{name} must be a positive odd number, got {k}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.input_kernel = input_kernel
        self.pad_input = pad_input
        self.input_stride = int(input_stride)
        if self.input_stride < 1:
            raise ValueError(f"input_stride must be >= 1, got {input_stride}")
        self.linear = linear
        self.gamma_input = gamma_input
        self.stack = list(range(layers)) if stack is None else list(range(layers))[stack:]
        if not self.stack:
            raise ValueError(f"stack={stack} selects no layer of {layers}")

        self.features = nn.Sequential()
        for i in range(layers):
            layer: OrderedDict[str, nn.Module] = OrderedDict()
            if i == 0:
                layer["conv"] = nn.Conv2d(
                    in_channels,
                    hidden_channels,
                    input_kernel,
                    stride=self.input_stride,
                    padding=input_kernel // 2 if pad_input else 0,
                    bias=False,
                )
            elif depth_separable:
                layer["ds_conv"] = DepthSeparableConv2d(
                    hidden_channels, hidden_channels, hidden_kernel, padding=hidden_kernel // 2
                )
            else:
                layer["conv"] = nn.Conv2d(
                    hidden_channels,
                    hidden_channels,
                    hidden_kernel,
                    padding=hidden_kernel // 2,
                    bias=False,
                )
            layer["norm"] = nn.BatchNorm2d(hidden_channels, momentum=momentum)
            if not linear and (i < layers - 1 or final_nonlinearity):
                layer["nonlin"] = nn.ELU()
            self.features.add_module(f"layer{i}", nn.Sequential(layer))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` -> feature maps ``(B, C', H', W')``.

        Layers run on channels-last tensors: PyTorch's CPU kernels for depth-wise convolutions
        are several times faster in that memory layout (the values are the same).
        """
        outputs = []
        x = images
        for layer in self.features:
            x = layer(x.contiguous(memory_format=torch.channels_last))
            outputs.append(x)
        if len(self.stack) == 1:
            return outputs[self.stack[0]]
        return torch.cat([outputs[i] for i in self.stack], dim=1)

    @property
    def input_weights(self) -> torch.Tensor:
        """First-layer filters ``(hidden_channels, in_channels, k, k)``."""
        return self.features.layer0.conv.weight

    def regularizer(self) -> torch.Tensor:
        """``gamma_input * laplace_l2(first-layer filters)`` (scalar tensor)."""
        return self.gamma_input * laplace_l2(self.input_weights)

    def out_shape(self, in_shape: Sequence[int]) -> tuple[int, int, int]:
        """Feature-map shape ``(C', H', W')`` for images of shape ``(C, H, W)``."""
        _, h, w = in_shape
        crop = 0 if self.pad_input else self.input_kernel - 1
        s = self.input_stride
        return (
            self.hidden_channels * len(self.stack),
            (h - crop - 1) // s + 1,
            (w - crop - 1) // s + 1,
        )

    @property
    def crop(self) -> int:
        """Pixels lost on each border of the image (``(input_kernel - 1) / 2`` without padding)."""
        return 0 if self.pad_input else self.input_kernel // 2

    def image_pixels(self, feature_pixels: torch.Tensor) -> torch.Tensor:
        """Feature-map pixel ``(row, col)`` -> the image pixel at the centre of its input window.

        ``image = feature * input_stride + crop``; works on any ``(..., 2)`` tensor.
        """
        return feature_pixels * self.input_stride + self.crop


class SimpleConvCore(nn.Module):
    """Small conv core for a "simple CNN": (conv -> BatchNorm -> ELU -> 2x2 max-pool) per layer.

    Pooling shrinks the feature maps so that a fully connected readout stays small.

    Parameters
    ----------
    in_channels : int
        Image channels.
    channels : sequence of int
        Feature maps of each layer.
    kernels : sequence of int
        Kernel size of each layer (odd; "same" padding).
    pool : int
        Max-pooling factor after each layer (1 = none).
    gamma_input : float
        Weight of the Laplace-L2 penalty on the first-layer filters.
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32),
        kernels: Sequence[int] = (9, 5),
        *,
        pool: int = 2,
        gamma_input: float = 1.0,
    ) -> None:
        super().__init__()
        if len(channels) != len(kernels) or not channels:
            raise ValueError(
                f"channels and kernels need the same non-zero length, got {channels} and {kernels}"
            )
        self.pool = pool
        self.gamma_input = gamma_input
        self.out_channels = channels[-1]
        layers = []
        c_in = in_channels
        for c, k in zip(channels, kernels, strict=True):
            block: OrderedDict[str, nn.Module] = OrderedDict(
                conv=nn.Conv2d(c_in, c, k, padding=k // 2, bias=False),
                norm=nn.BatchNorm2d(c),
                nonlin=nn.ELU(),
            )
            if pool > 1:
                block["pool"] = nn.MaxPool2d(pool)
            layers.append(nn.Sequential(block))
            c_in = c
        self.features = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` -> feature maps ``(B, channels[-1], H / pool^L, W / pool^L)``."""
        return self.features(images)

    def regularizer(self) -> torch.Tensor:
        """``gamma_input * laplace_l2(first-layer filters)``."""
        return self.gamma_input * laplace_l2(self.features[0].conv.weight)

    def out_shape(self, in_shape: Sequence[int]) -> tuple[int, int, int]:
        """Feature-map shape ``(C', H', W')`` for images of shape ``(C, H, W)``."""
        _, h, w = in_shape
        for _ in self.features:
            if self.pool > 1:
                h, w = h // self.pool, w // self.pool
        return (self.out_channels, h, w)
