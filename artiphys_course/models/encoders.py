"""Encoding models: images -> predicted firing rates of many neurons.

Every model here follows one contract (used by training, gradient RFs and MEIs)::

    rates = model(images, pupil_center=None, data_key=None)   # (B, n_neurons), rates > 0
    penalty = model.regularizer(data_key=None)                 # scalar tensor (0 if none)

An :class:`Encoder` is ``ELU(readout(core(images), shift) + offset) + 1``: a core shared by all
neurons (and sessions), one readout per data key, and optionally one shifter per data key that
turns the pupil position into a shift of all receptive fields. ``ELU + 1`` keeps rates positive,
as a Poisson loss needs, and is smooth and nearly linear for large drive.

Three models of growing structure, built by functions with sane defaults:

* :func:`ln_model` - linear-nonlinear: normalisation, one linear map from pixels to each neuron,
  ``ELU + 1``. Its weights are each neuron's linear receptive field.
* :func:`simple_cnn` - a small conv-pool core and a fully connected readout.
* :func:`core_readout_model` - a stacked (depth-separable) conv core and a Gaussian readout
  (optionally with a position network on cortical coordinates and an eye-position shifter).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from artiphys_course.models.cores import NormalizationCore, SimpleConvCore, Stacked2dCore
from artiphys_course.models.readouts import (
    FullyConnectedReadout,
    GaussianReadout,
    MultiReadout,
    PositionNetwork,
    grid_to_pixels,
)
from artiphys_course.models.shifters import MLPShifter, shift_to_pixels

__all__ = ["DEFAULT_KEY", "Encoder", "ln_model", "simple_cnn", "core_readout_model"]

DEFAULT_KEY = "default"
"""Data key of single-session models built by the functions here."""


class Encoder(nn.Module):
    """Core + per-session readouts (+ shifters) + ``ELU + 1``.

    Parameters
    ----------
    core : nn.Module
        Images ``(B, C, H, W)`` -> features; needs ``regularizer()``.
    readouts : readout or mapping of data key -> readout
        A single readout is stored under :data:`DEFAULT_KEY`.
    image_shape : (channels, height, width)
        The image size the model was built for (checked on every call).
    shifters : shifter or mapping of data key -> shifter, optional
        Pupil position -> RF shift, per data key (keys must be readout keys).
    elu_offset : float
        Added before the final ``ELU + 1``.

    Attributes
    ----------
    core : nn.Module
    readout : MultiReadout
    shifter : nn.ModuleDict or None
    """

    def __init__(
        self,
        core: nn.Module,
        readouts: nn.Module | Mapping[str, nn.Module],
        *,
        image_shape: Sequence[int],
        shifters: nn.Module | Mapping[str, nn.Module] | None = None,
        elu_offset: float = 0.0,
    ) -> None:
        super().__init__()
        self.core = core
        if isinstance(readouts, nn.Module) and not isinstance(readouts, nn.ModuleDict):
            readouts = {DEFAULT_KEY: readouts}
        self.readout = MultiReadout(readouts)
        if shifters is not None:
            if isinstance(shifters, nn.Module) and not isinstance(shifters, nn.ModuleDict):
                shifters = {DEFAULT_KEY: shifters}
            unknown = set(shifters) - set(self.readout)
            if unknown:
                raise KeyError(
                    f"shifters for unknown data keys {sorted(unknown)}; "
                    f"readouts are {list(self.readout)}"
                )
            self.shifter = nn.ModuleDict(dict(shifters))
        else:
            self.shifter = None
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (channels, height, width), got {image_shape}")
        self.elu_offset = elu_offset

    @property
    def data_keys(self) -> list[str]:
        """The data keys (sessions) this model has readouts for."""
        return list(self.readout.keys())

    def n_neurons(self, data_key: str | None = None) -> int:
        """Number of neurons of the readout of ``data_key``."""
        return self.readout[self.readout.resolve(data_key)].n_neurons

    def check_images(self, images: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``images`` has shape ``(batch, *image_shape)``."""
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape:
            c, h, w = self.image_shape
            raise ValueError(
                f"this model expects images of shape (batch, {c}, {h}, {w}), "
                f"got {tuple(images.shape)}"
            )

    def shift(
        self, pupil_center: torch.Tensor | None, data_key: str | None, batch: int
    ) -> torch.Tensor | None:
        """The RF shift ``(B, 2)`` (grid units) from the pupil centre, or ``None`` without shifter.

        Without a ``pupil_center`` the shifter's mean pupil position is used (the typical eye
        position), so in-silico experiments on a model with a shifter stay well defined.
        """
        key = self.readout.resolve(data_key)
        if self.shifter is None or key not in self.shifter:
            return None
        shifter = self.shifter[key]
        if pupil_center is None:
            pupil_center = shifter.pupil_mean.expand(batch, 2)
        elif pupil_center.shape[0] != batch:
            raise ValueError(
                f"pupil_center has {pupil_center.shape[0]} rows for a batch of {batch} images"
            )
        return shifter(pupil_center)

    def readout_positions(self, data_key: str | None = None) -> torch.Tensor:
        """Read-out positions of a Gaussian readout in image pixels ``(row, col)``, ``(n, 2)``.

        These are the receptive-field positions at the mean eye position: with a shifter, its
        shift for the mean pupil position is added (a constant offset can be learned by either
        the positions or the shifter; only their sum is determined by the data). The core's
        geometry (cropping and stride of the first layer, ``core.image_pixels``) is accounted for.
        """
        key = self.readout.resolve(data_key)
        readout = self.readout[key]
        if not hasattr(readout, "positions"):
            raise TypeError(f"a {type(readout).__name__} has no read-out positions")
        grid = readout.positions()
        shift = self.shift(None, key, 1)
        if shift is not None:
            grid = grid + shift
        pixels = grid_to_pixels(grid, readout.in_shape[1:])
        to_image = getattr(self.core, "image_pixels", None)
        return to_image(pixels) if to_image is not None else pixels

    def rf_shift_pixels(
        self, pupil_center: torch.Tensor, data_key: str | None = None
    ) -> torch.Tensor:
        """The shifter's RF shift for each pupil position, image pixels ``(d_row, d_col)``.

        Parameters
        ----------
        pupil_center : Tensor, shape (B, 2)
            Pupil positions as the model receives them (standardised by the data loaders).
        """
        key = self.readout.resolve(data_key)
        shift = self.shift(pupil_center, key, pupil_center.shape[0])
        if shift is None:
            raise ValueError(f"the model has no shifter for data key {key!r}")
        pixels = shift_to_pixels(shift, self.readout[key].in_shape[1:])
        return pixels * getattr(self.core, "input_stride", 1)

    def forward(
        self,
        images: torch.Tensor,
        pupil_center: torch.Tensor | None = None,
        data_key: str | None = None,
    ) -> torch.Tensor:
        """Predicted rates ``(B, n_neurons)``, strictly positive.

        Parameters
        ----------
        images : Tensor, shape (B, C, H, W)
            Normalised images (as the data loaders give them).
        pupil_center : Tensor, shape (B, 2), optional
            Pupil position per image; used only by a model with a shifter.
        data_key : str, optional
            Which session's neurons; may be omitted when the model has one readout.
        """
        self.check_images(images)
        key = self.readout.resolve(data_key)
        features = self.core(images)
        shift = self.shift(pupil_center, key, images.shape[0])
        drive = self.readout(features, data_key=key, shift=shift)
        return F.elu(drive + self.elu_offset) + 1

    def regularizer(self, data_key: str | None = None) -> torch.Tensor:
        """Core + readout (+ shifter) penalties for ``data_key`` (scalar tensor)."""
        key = self.readout.resolve(data_key)
        penalty = self.core.regularizer() + self.readout.regularizer(key)
        if self.shifter is not None and key in self.shifter:
            penalty = penalty + self.shifter[key].regularizer()
        return penalty


def _image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        raise ValueError(
            f"image_shape must be (height, width) or (channels, height, width), got {image_shape}"
        )
    return shape  # type: ignore[return-value]


def ln_model(
    image_shape: Sequence[int],
    n_neurons: int,
    *,
    mean_response: np.ndarray | None = None,
    gamma: float = 0.0,
    gamma_smooth: float = 0.1,
) -> Encoder:
    """Linear-nonlinear model: normalise, one linear filter per neuron, ``ELU + 1``.

    Parameters
    ----------
    image_shape : (height, width) or (channels, height, width)
    n_neurons : int
    mean_response : array, shape (n_neurons,), optional
        Initial bias (the untrained model predicts the mean response).
    gamma, gamma_smooth : float
        Ridge and Laplace smoothness penalties on the filters (see
        :class:`~artiphys_course.models.readouts.FullyConnectedReadout`).

    Returns
    -------
    Encoder
        ``model.readout["default"].weight_maps`` are the filters ``(n_neurons, C, H, W)``.
    """
    shape = _image_shape(image_shape)
    core = NormalizationCore(shape[0])
    readout = FullyConnectedReadout(
        core.out_shape(shape),
        n_neurons,
        mean_response=mean_response,
        gamma=gamma,
        gamma_smooth=gamma_smooth,
    )
    return Encoder(core, readout, image_shape=shape)


def simple_cnn(
    image_shape: Sequence[int],
    n_neurons: int,
    *,
    mean_response: np.ndarray | None = None,
    channels: Sequence[int] = (16, 16),
    kernels: Sequence[int] = (9, 5),
    pool: int = 2,
    gamma_input: float = 1.0,
    gamma_readout: float = 0.1,
) -> Encoder:
    """A small CNN: conv-BN-ELU-pool layers and a fully connected readout, then ``ELU + 1``.

    Parameters
    ----------
    image_shape : (height, width) or (channels, height, width)
    n_neurons : int
    mean_response : array, shape (n_neurons,), optional
    channels, kernels, pool : see :class:`~artiphys_course.models.cores.SimpleConvCore`
    gamma_input : float
        Smoothness penalty of the first-layer filters.
    gamma_readout : float
        Ridge penalty of the readout.
    """
    shape = _image_shape(image_shape)
    core = SimpleConvCore(shape[0], channels, kernels, pool=pool, gamma_input=gamma_input)
    readout = FullyConnectedReadout(
        core.out_shape(shape), n_neurons, mean_response=mean_response, gamma=gamma_readout
    )
    return Encoder(core, readout, image_shape=shape)


def core_readout_model(
    image_shape: Sequence[int],
    n_neurons: int,
    *,
    mean_response: np.ndarray | None = None,
    core: nn.Module | None = None,
    cortex_coordinates: np.ndarray | None = None,
    shifter: bool = False,
    gamma_readout: float = 0.1,
    sample: bool = True,
) -> Encoder:
    """Conv core + Gaussian readout (+ position network, + shifter), then ``ELU + 1``.

    Parameters
    ----------
    image_shape : (height, width) or (channels, height, width)
    n_neurons : int
    mean_response : array, shape (n_neurons,), optional
        Initial readout bias.
    core : nn.Module, optional
        Default: ``Stacked2dCore(C, 32, layers=3, input_kernel=9, hidden_kernel=7,
        depth_separable=True)`` with "same" padding, so read-out positions are image positions.
        Pass ``Stacked2dCore(..., linear=True)`` for the linearised model.
    cortex_coordinates : array, shape (n_neurons, >= 2), optional
        Cortical positions of the neurons: positions are then predicted from them by a
        :class:`~artiphys_course.models.readouts.PositionNetwork` (retinotopy) instead of learned
        freely.
    shifter : bool
        Add an :class:`~artiphys_course.models.shifters.MLPShifter` (pupil position -> RF shift).
        It expects standardised pupil positions, as
        :func:`artiphys_course.data.static.dataloaders` gives them.
    gamma_readout : float
        L1 penalty of the readout's feature weights.
    sample : bool
        Sample read-out positions during training.
    """
    shape = _image_shape(image_shape)
    if core is None:
        core = Stacked2dCore(shape[0], 32, layers=3, input_kernel=9, hidden_kernel=7)
    position_network = None
    if cortex_coordinates is not None:
        position_network = PositionNetwork(cortex_coordinates)
    readout = GaussianReadout(
        core.out_shape(shape),
        n_neurons,
        mean_response=mean_response,
        position_network=position_network,
        gamma=gamma_readout,
        sample=sample,
    )
    shifters = MLPShifter() if shifter else None
    return Encoder(core, readout, image_shape=shape, shifters=shifters)
