"""Record what units inside a network do: layer names, forward hooks, truncation.

An electrophysiologist lowers an electrode into one area; here we attach a *forward hook* to one
named module (``"features.3"`` is AlexNet's conv2, ``"layer2.0.conv1"`` a ResNet18 conv). Hooks
are removed when the ``with`` block ends, even if the forward pass raised, so a model never keeps
stale hooks around.

:func:`forward_until` goes one step further: it stops the forward pass at the chosen layer, so
nothing after it is computed (the classifier of AlexNet costs more than conv1-conv3 together);
:func:`truncate` wraps it as a module. It is the one way the package stops a forward pass early.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

__all__ = [
    "TruncatedModel",
    "forward_until",
    "get_layer",
    "list_layers",
    "record_layers",
    "truncate",
]


def list_layers(model: nn.Module, *, leaves_only: bool = True) -> list[str]:
    """Dotted names of the model's modules, in registration order.

    Parameters
    ----------
    model : nn.Module
    leaves_only : bool
        Only modules without children (default), e.g. ``"features.3"``. With False, containers
        such as ``"layer2.0"`` (a whole residual block) are included too.

    Returns
    -------
    list of str
    """
    return [
        name
        for name, module in model.named_modules()
        if name and (not leaves_only or next(module.children(), None) is None)
    ]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name``; a ``KeyError`` listing the valid names otherwise."""
    modules = dict(model.named_modules())
    if not isinstance(name, str) or name not in modules or name == "":
        valid = list_layers(model, leaves_only=False)
        close = difflib.get_close_matches(str(name), valid, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise KeyError(
            f"{type(model).__name__} has no layer {name!r}.{hint} Valid names: {', '.join(valid)}"
        )
    return modules[name]


@contextmanager
def record_layers(
    model: nn.Module, layers: list[str] | str, *, detach: bool = True
) -> Iterator[dict[str, torch.Tensor]]:
    """Record the outputs of named layers during forward passes.

    Parameters
    ----------
    model : nn.Module
    layers : str or list of str
        Names from :func:`list_layers` (containers such as ``"layer2.0"`` work too).
    detach : bool
        Store detached copies (default). With False the recorded tensors stay in the autograd
        graph (for gradients with respect to the input).

    Yields
    ------
    dict
        ``name -> tensor`` (e.g. ``(B, C, h, w)`` for a conv layer), filled by every forward pass
        inside the block (a later pass overwrites an earlier one). Outputs are copied, so in-place
        operations that follow (AlexNet's ``ReLU(inplace=True)``) cannot change them. A module
        called more than once per pass (the shared ``relu`` of a ResNet block) is recorded at its
        first call.

    Examples
    --------
    >>> with record_layers(net, ["features.0", "features.3"]) as acts:   # doctest: +SKIP
    ...     net(images)
    >>> acts["features.3"].shape                                          # doctest: +SKIP
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    modules = {name: get_layer(model, name) for name in names}
    store: dict[str, torch.Tensor] = {}
    seen: set[str] = set()  # layers already recorded during the current pass of the whole model
    in_pass = [False]

    def begin(_module, _inputs):
        seen.clear()
        in_pass[0] = True

    def end(_module, _inputs, _output):
        in_pass[0] = False

    def make_hook(name: str):
        def hook(_module, _inputs, output):
            if not isinstance(output, torch.Tensor) or (in_pass[0] and name in seen):
                return
            seen.add(name)
            store[name] = output.detach().clone() if detach else output.clone()

        return hook

    handles = [
        model.register_forward_pre_hook(begin),
        model.register_forward_hook(end, always_call=True),
    ]
    try:
        handles += [m.register_forward_hook(make_hook(n)) for n, m in modules.items()]
        yield store
    finally:
        for handle in handles:
            handle.remove()


class _Stop(Exception):
    """Raised by the hook of :func:`forward_until` to end a forward pass, carrying the tensor."""

    def __init__(self, tensor: torch.Tensor):
        super().__init__("forward pass stopped at the requested layer")
        self.tensor = tensor


def forward_until(
    model: nn.Module, layer: str, *args: Any, at: str = "output", **kwargs: Any
) -> torch.Tensor:
    """Run ``model(*args, **kwargs)`` only up to ``layer``; return that layer's output or input.

    This is the package's one way to stop a forward pass early (:class:`TruncatedModel`, bar
    mapping's one-position convolution and the receptive-field tools all use it): a hook on
    ``layer`` raises as soon as the layer is reached, so no later module runs, and the hook is
    removed again whatever happens. It works for any architecture (AlexNet, VGG, ResNet, the
    package's own models). The model's training flags are not touched (see
    :func:`artiphys_course.units.eval_mode`).

    Parameters
    ----------
    model : nn.Module
    layer : str
        A name from :func:`list_layers`, e.g. ``"features.3"`` (AlexNet conv2).
    *args, **kwargs
        The model's inputs.
    at : {"output", "input"}
        Return the layer's output, or the (first) input it would have been applied to.

    Returns
    -------
    torch.Tensor
        E.g. ``(B, C, h, w)`` for a conv layer.

    Raises
    ------
    RuntimeError
        When the forward pass never calls ``layer``.
    """
    if at not in ("output", "input"):
        raise ValueError(f"at must be 'output' or 'input', got {at!r}")
    target = get_layer(model, layer)

    def stop_after(_module, _inputs, output):
        raise _Stop(output)

    def stop_before(_module, inputs):
        raise _Stop(inputs[0])

    if at == "output":
        handle = target.register_forward_hook(stop_after)
    else:
        handle = target.register_forward_pre_hook(stop_before)
    try:
        model(*args, **kwargs)
    except _Stop as done:
        return done.tensor
    finally:
        handle.remove()
    raise RuntimeError(f"layer {layer!r} was not called during the forward pass")


class TruncatedModel(nn.Module):
    """A model whose forward pass ends at ``layer`` and returns that layer's output.

    Build it with :func:`truncate`; its forward pass is :func:`forward_until`, so no module after
    ``layer`` runs.

    Attributes
    ----------
    model : nn.Module
        The full network (shared, not copied).
    layer : str
        The layer whose output is returned.
    """

    def __init__(self, model: nn.Module, layer: str):
        super().__init__()
        get_layer(model, layer)  # unknown names -> KeyError listing the valid ones
        self.model = model
        self.layer = layer

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return forward_until(self.model, self.layer, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"layer={self.layer!r}"


def truncate(model: nn.Module, layer: str) -> TruncatedModel:
    """The model cut after ``layer``: nothing past it is computed.

    The model's training flags are left alone; run it inside
    :func:`artiphys_course.units.eval_mode` so that BatchNorm and Dropout behave as at test time.

    Parameters
    ----------
    model : nn.Module
    layer : str
        A name from :func:`list_layers`, e.g. ``"features.3"`` (AlexNet conv2).

    Returns
    -------
    TruncatedModel
        ``truncated(x)`` is the output of ``layer`` for the input ``x``.
    """
    return TruncatedModel(model, layer)
