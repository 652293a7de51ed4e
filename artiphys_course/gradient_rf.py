"""Gradient receptive fields: which input change moves a neuron most, around a given image.

The gradient receptive field of neuron ``i`` at image ``x0`` is ``d r_i / d x`` evaluated at
``x0``: the first-order (linear) approximation of the neuron around that image. For a
linear-nonlinear (LN) neuron ``r = f(w . x + b)`` it is ``f'(w . x0 + b) w``, i.e. the weights up
to a positive scale, whatever ``x0`` is; for nonlinear models it depends on ``x0``.

Everything here works on *response functions*: anything that maps images ``(B, C, H, W)`` to
responses ``(B, n)``. :func:`response_function` builds one from

* an encoding model, ``model(images, pupil_center=None, data_key=None) -> (B, n_neurons)``,
* the digital V1's generative model, ``model(images, eye_shift=None) -> (B, n_neurons)``,
* a channel of a layer of any CNN (``unit="features.3"``): see :class:`LayerUnits`,
* any callable ``unit`` applied to the model's output.

The same response functions drive :mod:`artiphys_course.mei`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from artiphys_course.runtime import progress_bar

__all__ = [
    "LayerUnits",
    "OwnResponseFunction",
    "ResponseFunction",
    "UnitSpec",
    "eval_mode",
    "gradient_rf",
    "grey_image",
    "model_device",
    "own_response_function",
    "response_function",
    "select_neurons",
]

ResponseFunction = Callable[[Tensor], Tensor]
"""Maps images ``(B, C, H, W)`` to responses ``(B, n)``."""

OwnResponseFunction = Callable[[Tensor, Tensor], Tensor]
"""Maps images ``(B, C, H, W)`` and neuron indices ``(B,)`` to ``(B,)``: each image's response of
its own neuron."""

UnitSpec = None | str | tuple[str, int | Sequence[int]] | Callable[[Any], Tensor]
"""Which units of a model: ``None`` (the model's output columns), a layer name (its channels), a
``(layer, channels)`` tuple, or a callable applied to the model's output."""

_POSITIONS = ("center", "mean", "max")
_ENCODER_KWARGS = {"pupil_center", "data_key"}


class LayerUnits(nn.Module):
    """The channels of one layer of a network, read out at one spatial position.

    ``LayerUnits(net, "features.3")(images)`` returns ``(B, n_channels)``: each channel's activation
    at the centre of its feature map (a single "neuron" of a convolutional channel, as in
    artiphysiology), or averaged over space (``position="mean"``, lucent's "channel" objective).
    Nothing after the layer is computed (:func:`artiphys_course.recording.truncate`).

    Parameters
    ----------
    model : nn.Module
        The network, e.g. a torchvision AlexNet.
    layer : str
        Dotted layer name (see :func:`artiphys_course.recording.list_layers`).
    position : {"center", "mean", "max"} or tuple of int
        Where in the ``(h, w)`` feature map: the centre ``(h // 2, w // 2)``, the spatial mean, the
        spatial maximum, or an explicit ``(row, col)``.
    preprocess : callable, optional
        Applied to the images first (e.g. :func:`artiphys_course.recording.imagenet_normalize`
        when the optimised images live in [0, 1]).
    """

    def __init__(
        self,
        model: nn.Module,
        layer: str,
        *,
        position: str | tuple[int, int] = "center",
        preprocess: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        super().__init__()
        from artiphys_course.recording import truncate

        if isinstance(position, str) and position not in _POSITIONS:
            raise ValueError(
                f"position must be one of {_POSITIONS} or (row, col), got {position!r}"
            )
        self.layer = layer
        self.position = position
        self.preprocess = preprocess
        self.body = truncate(model, layer, notice=False)

    def forward(self, images: Tensor) -> Tensor:
        """Channel activations ``(B, n_channels)`` of ``images`` ``(B, C, H, W)``."""
        if self.preprocess is not None:
            images = self.preprocess(images)
        out = self.body(images)
        if out.ndim == 2:
            return out
        if out.ndim != 4:
            raise ValueError(
                f"layer {self.layer!r} gives shape {tuple(out.shape)}; expected 2-D or 4-D"
            )
        if self.position == "mean":
            return out.mean(dim=(2, 3))
        if self.position == "max":
            return out.amax(dim=(2, 3))
        h, w = out.shape[2:]
        row, col = (h // 2, w // 2) if self.position == "center" else self.position
        if not (0 <= row < h and 0 <= col < w):
            raise IndexError(
                f"position {(row, col)} is outside the {h}x{w} feature map of {self.layer!r}"
            )
        return out[:, :, row, col]


def response_function(
    model: Callable[..., Any], unit: UnitSpec = None, **forward_kwargs: Any
) -> tuple[ResponseFunction, Tensor | None]:
    """Turn a model and a unit selector into ``f(images (B, C, H, W)) -> responses (B, n)``.

    Parameters
    ----------
    model : nn.Module or callable
        An encoding model, the digital V1's ``model``, a CNN, or any callable on images.
    unit : see :data:`UnitSpec`
        ``None``: the model's output ``(B, n)`` itself. ``"layer"``: every channel of that layer
        (:class:`LayerUnits`, centre position). ``("layer", channels)``: those channels only.
        A callable: applied to the model's output (e.g. ``lambda out: out[:, :10]``).
    **forward_kwargs
        Passed to ``model`` on every call (e.g. ``data_key=...``, ``pupil_center=None``).

    Returns
    -------
    fn : callable
        The response function.
    default_neurons : Tensor or None
        The neuron (column) indices the selector implies (the channels of a ``(layer, channels)``
        tuple), else ``None`` (all columns).
    """
    if unit is None:
        return (lambda images: model(images, **forward_kwargs)), None
    if isinstance(unit, str):
        return LayerUnits(model, unit), None
    if isinstance(unit, tuple):
        if len(unit) != 2 or not isinstance(unit[0], str):
            raise ValueError(f"a unit tuple must be (layer_name, channels), got {unit!r}")
        channels = torch.as_tensor(unit[1], dtype=torch.long).reshape(-1)
        return LayerUnits(model, unit[0]), channels
    if callable(unit):
        return (lambda images: unit(model(images, **forward_kwargs))), None
    raise TypeError(
        "unit must be None, a layer name, a (layer, channels) tuple or a callable, "
        f"got {type(unit).__name__}"
    )


def own_response_function(
    model: Callable[..., Any], unit: UnitSpec = None, **forward_kwargs: Any
) -> OwnResponseFunction:
    """Like :func:`response_function`, for one neuron per image: ``f(images, neurons) -> (B,)``.

    Encoding models (:class:`~artiphys_course.models.encoders.Encoder`, in eval mode) compute
    only each image's own neuron (:func:`artiphys_course.models.windowed.neuron_responses`: the
    same numbers, a fraction of the arithmetic; with a Gaussian readout only on the neuron's
    receptive-field window); every other model runs the full forward pass and picks column
    ``neurons[b]`` of row ``b``.
    """
    if unit is None and isinstance(model, nn.Module) and set(forward_kwargs) <= _ENCODER_KWARGS:
        from artiphys_course.models.encoders import Encoder
        from artiphys_course.models.windowed import neuron_responses

        if isinstance(model, Encoder):
            return lambda images, neurons: neuron_responses(
                model, images, neurons, **forward_kwargs
            )
    # a LayerUnits wraps the model's own layers: it is wherever the model is
    fn, _ = response_function(model, unit, **forward_kwargs)

    def own(images: Tensor, neurons: Tensor) -> Tensor:
        out = _check_responses(fn(images), len(neurons))
        return out.gather(1, neurons[:, None])[:, 0]

    return own


def grey_image(image_shape: Sequence[int], value: float = 0.0, *, device=None) -> Tensor:
    """A uniform image ``(1, C, H, W)`` of ``value``.

    For models trained on normalised images (minus the training mean, divided by the training
    s.d., as :func:`artiphys_course.data.static.dataloaders` gives them) the mean grey image is
    ``value=0``; for the digital V1 (grey levels 0..255) it is a grey level such as 127.5.
    ``image_shape`` is ``(C, H, W)`` or ``(H, W)`` (one channel).
    """
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"image_shape must be (C, H, W) or (H, W) of positive sizes, got {image_shape}"
        )
    return torch.full((1, *shape), float(value), device=device)


@contextmanager
def eval_mode(module: Any) -> Iterator[None]:
    """Put ``module`` (if it is an ``nn.Module``) in eval mode, restoring its mode on exit.

    Responses to a batch must not depend on the other images of the batch (batch norm, dropout),
    otherwise one image per neuron could not be optimised in a single batch.
    """
    if not isinstance(module, nn.Module):
        yield
        return
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def select_neurons(neurons: int | Sequence[int] | Tensor | None, n_total: int) -> Tensor:
    """Validate neuron indices against the number of units; ``None`` means all of them.

    Returns a 1-D ``long`` tensor. Raises ``IndexError`` (with the count) when an index is out of
    range and ``ValueError`` when the selection is empty or not 1-D.
    """
    if neurons is None:
        return torch.arange(n_total)
    idx = torch.as_tensor(neurons, dtype=torch.long)
    if idx.ndim == 0:
        idx = idx.reshape(1)
    if idx.ndim != 1 or idx.numel() == 0:
        raise ValueError(
            f"neurons must be an int or a non-empty 1-D sequence, got shape {tuple(idx.shape)}"
        )
    if idx.min() < -n_total or idx.max() >= n_total:
        bad = idx[(idx < -n_total) | (idx >= n_total)][0].item()
        raise IndexError(f"neuron index {bad} is out of range: the model has {n_total} units")
    return idx % n_total


def model_device(model: Any) -> torch.device:
    """The device of a module's first parameter (or buffer); CPU for parameter-free callables."""
    if isinstance(model, nn.Module):
        for tensor in (*model.parameters(), *model.buffers()):
            return tensor.device
    return torch.device("cpu")


def _as_image(image: Tensor | None, image_shape: Sequence[int] | None, device) -> Tensor:
    if image is None:
        if image_shape is None:
            raise ValueError("pass the image where the gradient is taken, or image_shape=(C, H, W)")
        return grey_image(image_shape, 0.0, device=device)
    image = torch.as_tensor(image, dtype=torch.float32)
    if image.ndim == 2:
        image = image[None, None]
    elif image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(
            f"image must be (H, W), (C, H, W) or (1, C, H, W); got shape {tuple(image.shape)}"
        )
    return image.to(device)


def _check_responses(out: Any, batch: int) -> Tensor:
    if not isinstance(out, Tensor) or out.ndim != 2 or out.shape[0] != batch:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(
            f"the model must return responses of shape (batch={batch}, n_units); got {shape}. "
            "Select units with unit= (a layer name, (layer, channels) or a callable)."
        )
    return out


def gradient_rf(
    model: Callable[..., Any],
    neurons: int | Sequence[int] | Tensor | None = None,
    *,
    image: Tensor | None = None,
    image_shape: Sequence[int] | None = None,
    unit: UnitSpec = None,
    chunk_size: int = 64,
    device: str | torch.device | None = None,
    progress: bool = False,
    **forward_kwargs: Any,
) -> Tensor:
    """Gradient receptive fields of many neurons at once, ``d r_i / d x`` at one image.

    The image is copied once per neuron into a batch; copy ``k`` feeds neuron ``k`` only, and one
    backward pass of ``sum_k r_{n_k}(copy_k)`` gives every neuron's gradient (the copies do not
    interact because the model runs in eval mode). Neurons are processed ``chunk_size`` at a
    time to bound memory. For an encoding model only each copy's own neuron is computed (with a
    Gaussian readout only on that neuron's receptive-field window; :func:`own_response_function`).

    Parameters
    ----------
    model : nn.Module or callable
        See :func:`response_function`.
    neurons : int, sequence of int or None
        Which units (columns of the response). ``None``: all (or the channels of ``unit``).
    image : Tensor, optional
        Where the gradient is taken, ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)``. Default: the
        mean grey image, which is all zeros for models trained on normalised images (use
        :func:`grey_image` with the mean grey level for models on raw grey levels such as the
        digital V1). Then ``image_shape`` is required.
    image_shape : (C, H, W) or (H, W), optional
        Shape of the default grey image.
    unit : see :data:`UnitSpec`
        Which units of the model are the "neurons" (default: the model's output columns).
    chunk_size : int
        Neurons per forward/backward pass. Memory grows with it (one copy of every activation
        per neuron); on a CPU, larger chunks are not faster for convolutional models, whose
        per-image cost is already compute-bound at small batches (``benchmarks/bench_mei.py``).
    device : str or torch.device, optional
        Where to compute (default: the model's device).
    progress : bool
        Show a progress bar over chunks.
    **forward_kwargs
        Passed to the model (e.g. ``data_key``).

    Returns
    -------
    Tensor
        ``(n_neurons, C, H, W)`` gradients, in response units per input unit, on ``device``.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    device = torch.device(device) if device is not None else model_device(model)
    x0 = _as_image(image, image_shape, device).detach()
    with eval_mode(model):
        fn, implied = response_function(model, unit, **forward_kwargs)
        if isinstance(fn, nn.Module):
            fn = fn.to(x0.device)
        with torch.no_grad():
            n_total = _check_responses(fn(x0), 1).shape[1]
        idx = select_neurons(implied if neurons is None else neurons, n_total).to(x0.device)
        own = own_response_function(model, unit, **forward_kwargs)
        chunks = torch.split(idx, chunk_size)
        grads = []
        for chunk in progress_bar(chunks, progress, desc="gradient RFs"):
            x = x0.expand(len(chunk), *x0.shape[1:]).clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(own(x, chunk).sum(), x)
            grads.append(grad)
    return torch.cat(grads)
