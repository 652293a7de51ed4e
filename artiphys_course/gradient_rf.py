"""Gradient receptive fields: which input change moves a neuron most, around a given image.

The gradient receptive field of neuron ``i`` at image ``x0`` is ``d r_i / d x`` evaluated at
``x0``: the first-order (linear) approximation of the neuron around that image. For a
linear-nonlinear (LN) neuron ``r = f(w . x + b)`` it is ``f'(w . x0 + b) w``, i.e. the weights up
to a positive scale, whatever ``x0`` is; for nonlinear models it depends on ``x0``.

Which responses of which model are the neurons (the model's outputs, the channels of a layer, a
readout of the output) is said once, in :mod:`artiphys_course.units`; the same neurons drive
:mod:`artiphys_course.mei`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from artiphys_course import validation
from artiphys_course.runtime import progress_bar
from artiphys_course.units import (
    check_responses,
    eval_mode,
    grey_image,
    model_device,
    own_response_function,
    response_function,
    select_neurons,
)

__all__ = ["gradient_rf"]


def _as_image(image: Tensor | None, image_shape: Sequence[int] | None, device) -> Tensor:
    if image is None:
        if image_shape is None:
            raise ValueError("pass the image where the gradient is taken, or image_shape=(C, H, W)")
        return grey_image(image_shape, 0.0, device=device)
    validation.finite(image, "image")
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


def gradient_rf(
    model: Callable[..., Any],
    neurons: int | Sequence[int] | Tensor | None = None,
    *,
    image: Tensor | None = None,
    image_shape: Sequence[int] | None = None,
    layer: str | None = None,
    readout: Callable[[Any], Tensor] | None = None,
    chunk_size: int = 64,
    device: str | torch.device | None = None,
    progress: bool = True,
    **forward_kwargs: Any,
) -> Tensor:
    """Gradient receptive fields of many neurons at once, ``d r_i / d x`` at one image.

    The image is copied once per neuron into a batch; copy ``k`` feeds neuron ``k`` only, and one
    backward pass of ``sum_k r_{n_k}(copy_k)`` gives every neuron's gradient (the copies do not
    interact because the model runs in eval mode). Neurons are processed ``chunk_size`` at a
    time to bound memory. For an encoding model only each copy's own neuron is computed (with a
    Gaussian readout only on that neuron's receptive-field window;
    :func:`artiphys_course.units.own_response_function`).

    Parameters
    ----------
    model : nn.Module or callable
        See :func:`artiphys_course.units.response_function`.
    neurons : int, sequence of int or None
        Which units (columns of the response, or channels of ``layer``). ``None``: all.
    image : Tensor, optional
        Where the gradient is taken, ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)``. Default: the
        mean grey image, which is all zeros for models trained on normalised images (use
        :func:`artiphys_course.units.grey_image` with the mean grey level for models on raw grey
        levels such as the digital V1). Then ``image_shape`` is required.
    image_shape : (C, H, W) or (H, W), optional
        Shape of the default grey image.
    layer : str, optional
        The neurons are the channels of this layer at the centre of its feature map
        (:class:`artiphys_course.units.LayerUnits`); default: the model's output columns.
    readout : callable, optional
        Applied to the model's output to give the neurons' responses ``(B, n)``.
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
    chunk_size = validation.integer(chunk_size, "chunk_size", minimum=1)
    device = torch.device(device) if device is not None else model_device(model)
    x0 = _as_image(image, image_shape, device).detach()
    select = {"layer": layer, "readout": readout}
    with eval_mode(model):
        fn = response_function(model, **select, **forward_kwargs)
        if isinstance(fn, nn.Module):
            fn = fn.to(x0.device)
        with torch.no_grad():
            n_total = check_responses(fn(x0), 1).shape[1]
        idx = select_neurons(neurons, n_total).to(x0.device)
        own = own_response_function(model, **select, **forward_kwargs)
        chunks = torch.split(idx, chunk_size)
        grads = []
        for chunk in progress_bar(chunks, progress, desc="gradient RFs"):
            x = x0.expand(len(chunk), *x0.shape[1:]).clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(own(x, chunk).sum(), x)
            grads.append(grad)
    return torch.cat(grads)
