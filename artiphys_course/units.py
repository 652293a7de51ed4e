"""What "a neuron of a model" is: response functions, layer units, neuron selection, eval mode.

Interpretation methods (gradient receptive fields, MEIs, bar maps) all ask the same question:
*which* responses of *which* model are the neurons? This module answers it once.

A *response function* maps images ``(B, C, H, W)`` to responses ``(B, n)``.
:func:`response_function` builds one from

* an encoding model, ``model(images, pupil_center=None, data_key=None) -> (B, n_neurons)``,
* the digital V1's generative model, ``model(images, eye_shift=None) -> (B, n_neurons)``,
* the channels of a layer of any CNN (``layer="features.3"``): see :class:`LayerUnits`,
* any callable ``readout`` applied to the model's output.

Neurons are then chosen by index with :func:`select_neurons`. Models are probed inside
:func:`eval_mode`, so that a neuron's response to an image does not depend on the rest of the
batch, and the caller's training flags come back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from artiphys_course import validation
from artiphys_course.recording import truncate
from artiphys_course.runtime import notice as issue_notice

__all__ = [
    "EVAL_NOTICE",
    "LayerUnits",
    "OwnResponseFunction",
    "ResponseFunction",
    "check_responses",
    "eval_mode",
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

EVAL_NOTICE = (
    "the model was put in eval mode, so BatchNorm uses its stored running statistics and "
    "Dropout is off: a unit's response to an image no longer depends on the rest of the batch."
)

_POSITIONS = ("center", "mean", "max")
_ENCODER_KWARGS = {"pupil_center", "data_key"}


@contextmanager
def eval_mode(model: Any, *, notice: bool = True) -> Iterator[None]:
    """Run the block with ``model`` (if it is an ``nn.Module``) in eval mode; restore it on exit.

    Responses to a batch must not depend on the other images of the batch (batch norm, dropout):
    otherwise one image per neuron could not be optimised in a single batch, and a unit's response
    to a stimulus would depend on which stimuli share its batch. Every submodule's ``training``
    flag is restored on exit, also when the block raises.

    Parameters
    ----------
    model : nn.Module or callable
        Anything else (a plain function) is left alone.
    notice : bool
        Issue :data:`EVAL_NOTICE` as an :class:`~artiphys_course.runtime.ArtiphysWarning` when
        switching changes the model's responses: some submodule was training and the model
        contains BatchNorm or Dropout layers (the standard layers that behave differently in
        eval mode).
    """
    if not isinstance(model, nn.Module):
        yield
        return
    modes = [(m, m.training) for m in model.modules()]
    changes = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)
    if notice and any(m.training and isinstance(m, changes) for m, _ in modes):
        issue_notice(EVAL_NOTICE, stacklevel=3)
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


class LayerUnits(nn.Module):
    """The channels of one layer of a network, read out at one spatial position.

    ``LayerUnits(net, "features.3")(images)`` returns ``(B, n_channels)``: each channel's activation
    at the centre of its feature map (a single "neuron" of a convolutional channel, as in
    artiphysiology), or averaged over space (``position="mean"``, lucent's "channel" objective).
    Nothing after the layer is computed (:func:`artiphys_course.recording.truncate`). The
    network's training flags are left as they are: probe it inside :func:`eval_mode`
    (:func:`~artiphys_course.gradient_rf.gradient_rf` and
    :func:`~artiphys_course.mei.compute_meis` do).

    Parameters
    ----------
    model : nn.Module
        The network, e.g. a torchvision AlexNet.
    layer : str
        Dotted layer name (see :func:`artiphys_course.recording.list_layers`).
    position : {"center", "mean", "max"} or (row, col)
        Where in the ``(h, w)`` feature map: the centre unit ``((h - 1) // 2, (w - 1) // 2)`` (as
        :func:`~artiphys_course.receptive_fields.center_position`), the spatial mean, the spatial
        maximum, or an explicit ``(row, col)``.
    preprocess : callable, optional
        Applied to the images first (e.g.
        :func:`artiphys_course.models.pretrained.imagenet_normalize` when the optimised images
        live in [0, 1]).
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
        if isinstance(position, str) and position not in _POSITIONS:
            raise ValueError(
                f"position must be one of {_POSITIONS} or (row, col), got {position!r}"
            )
        self.layer = layer
        self.position = position
        self.preprocess = preprocess
        self.body = truncate(model, layer)

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
        row, col = validation.position(
            None if self.position == "center" else self.position,
            tuple(out.shape[2:]),
            f"feature map of {self.layer!r}",
        )
        return out[:, :, row, col]


def response_function(
    model: Callable[..., Any],
    *,
    layer: str | None = None,
    readout: Callable[[Any], Tensor] | None = None,
    **forward_kwargs: Any,
) -> ResponseFunction:
    """Turn a model into ``f(images (B, C, H, W)) -> responses (B, n)``: its neurons.

    Parameters
    ----------
    model : nn.Module or callable
        An encoding model, the digital V1's ``model``, a CNN, or any callable on images.
    layer : str, optional
        The neurons are the channels of this layer, read at the centre of its feature map
        (:class:`LayerUnits`; for other positions pass a :class:`LayerUnits` as the model).
    readout : callable, optional
        Applied to the model's output to give ``(B, n)`` (e.g. ``lambda out: out[:, :10]``).
        Without ``layer`` and ``readout`` the model's output itself is the ``(B, n)`` responses.
    **forward_kwargs
        Passed to ``model`` on every call (e.g. ``data_key=...``, ``pupil_center=None``); not
        allowed with ``layer``.

    Returns
    -------
    callable
        The response function.
    """
    if layer is not None:
        if readout is not None or forward_kwargs:
            extra = "readout" if readout is not None else ", ".join(sorted(forward_kwargs))
            raise ValueError(f"layer={layer!r} cannot be combined with {extra}")
        if not isinstance(layer, str):
            raise TypeError(f"layer must be a layer name (str), got {type(layer).__name__}")
        return LayerUnits(model, layer)
    if readout is not None:
        if not callable(readout):
            raise TypeError(f"readout must be callable, got {type(readout).__name__}")
        return lambda images: readout(model(images, **forward_kwargs))
    return lambda images: model(images, **forward_kwargs)


def own_response_function(
    model: Callable[..., Any],
    *,
    layer: str | None = None,
    readout: Callable[[Any], Tensor] | None = None,
    **forward_kwargs: Any,
) -> OwnResponseFunction:
    """Like :func:`response_function`, for one neuron per image: ``f(images, neurons) -> (B,)``.

    Encoding models (:class:`~artiphys_course.models.encoders.Encoder`, in eval mode) compute
    only each image's own neuron (:func:`artiphys_course.models.windowed.neuron_responses`: the
    same numbers, a fraction of the arithmetic; with a Gaussian readout only on the neuron's
    receptive-field window); every other model runs the full forward pass and picks column
    ``neurons[b]`` of row ``b``.
    """
    plain = layer is None and readout is None
    if plain and isinstance(model, nn.Module) and set(forward_kwargs) <= _ENCODER_KWARGS:
        from artiphys_course.models.encoders import Encoder
        from artiphys_course.models.windowed import neuron_responses

        if isinstance(model, Encoder):
            return lambda images, neurons: neuron_responses(
                model, images, neurons, **forward_kwargs
            )
    # a LayerUnits wraps the model's own layers: it is wherever the model is
    fn = response_function(model, layer=layer, readout=readout, **forward_kwargs)

    def own(images: Tensor, neurons: Tensor) -> Tensor:
        out = check_responses(fn(images), len(neurons))
        return out.gather(1, neurons[:, None])[:, 0]

    return own


def check_responses(out: Any, batch: int) -> Tensor:
    """Check that a response function gave ``(batch, n_units)`` responses; return them.

    Parameters
    ----------
    out : Any
        What the response function returned.
    batch : int
        The number of images it was given.

    Returns
    -------
    Tensor
        ``out`` itself, ``(batch, n_units)``.

    Raises
    ------
    ValueError
        When ``out`` is not a 2-D tensor with ``batch`` rows, with a hint on selecting units.
    """
    if not isinstance(out, Tensor) or out.ndim != 2 or out.shape[0] != batch:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(
            f"the model must return responses of shape (batch={batch}, n_units); got {shape}. "
            "Select the neurons with layer= (a layer name) or readout= (a callable on the output)."
        )
    return out


def select_neurons(neurons: int | Sequence[int] | Tensor | None, n_total: int) -> Tensor:
    """Validate neuron indices against the number of units; ``None`` means all of them.

    Parameters
    ----------
    neurons : int, sequence of int, Tensor or None
        Non-negative indices (a negative index is an error, not "from the end").
    n_total : int
        How many units there are.

    Returns
    -------
    Tensor
        ``(n,)`` ``long`` indices.

    Raises
    ------
    TypeError
        When an index is not an integer (``1.7`` or ``True`` are refused, never rounded).
    IndexError
        When an index is outside ``0..n_total - 1`` (the message gives the count).
    ValueError
        When the selection is empty or not 1-D.
    """
    if neurons is None:
        return torch.arange(n_total)
    return validation.indices(neurons, "neurons", n_total)


def model_device(model: Any) -> torch.device:
    """The device of a module's first parameter (or buffer); CPU for parameter-free callables."""
    if isinstance(model, nn.Module):
        for tensor in (*model.parameters(), *model.buffers()):
            return tensor.device
    return torch.device("cpu")


def grey_image(
    image_shape: Sequence[int], value: float = 0.0, *, device: str | torch.device | None = None
) -> Tensor:
    """A uniform image ``(1, C, H, W)`` of ``value``.

    For models trained on normalised images (minus the training mean, divided by the training
    s.d., as :func:`artiphys_course.data.static.dataloaders` gives them) the mean grey image is
    ``value=0``; for the digital V1 (grey levels 0..255) it is a grey level such as 127.5.

    Parameters
    ----------
    image_shape : (C, H, W) or (H, W)
        ``(H, W)`` means one channel.
    value : float
        The grey level.
    device : str or torch.device, optional
        Where to put the image (default CPU).
    """
    if isinstance(image_shape, (str, bytes)) or not isinstance(image_shape, Sequence):
        raise TypeError(f"image_shape must be (C, H, W) or (H, W), got {image_shape!r}")
    shape = tuple(validation.integer(s, "image_shape", minimum=1) for s in image_shape)
    validation.finite(value, "value")
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"image_shape must be (C, H, W) or (H, W) of positive sizes, got {image_shape}"
        )
    return torch.full((1, *shape), float(value), device=device)
