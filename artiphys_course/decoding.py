"""Decode stimulus orientation from population responses with a small neural network.

Decoding asks what a population *represents*: if a readout of the responses recovers the stimulus
orientation to within a few degrees, the information is there (though the brain need not read it
out that way). The decoder here is a multilayer perceptron trained with
:func:`artiphys_course.training.fit` (Adam, early stopping on a validation split) on a seeded
train / validation / test split; its test error is the circular distance between decoded and
true orientation.

Three output codes are offered, to show why the choice matters for a periodic variable:

- ``"angle"``: regress the orientation value itself (mean squared error). Simple, but -89 and 89
  degrees are neighbours on the circle and far apart as numbers, so errors pile up at the wrap.
- ``"circular"`` (default): regress ``(cos 2 theta, sin 2 theta)`` (for period 180) and read the
  orientation from the angle of the output vector. No wrap problem.
- ``"classes"``: classify into ``n_classes`` equal orientation bins (cross-entropy); the decoded
  orientation is the centre of the most probable bin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from artiphys_course import validation
from artiphys_course.runtime import get_device, seeded
from artiphys_course.training import TensorBatches, TrainResult, fit
from artiphys_course.tuning import orientation_difference, wrap_orientation

__all__ = ["DecoderResult", "OrientationDecoder", "circular_error", "train_decoder"]

Target = Literal["circular", "angle", "classes"]
_TARGETS = ("circular", "angle", "classes")


def _numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def circular_error(
    predicted_deg: np.ndarray | torch.Tensor,
    true_deg: np.ndarray | torch.Tensor,
    period: float = 180.0,
) -> np.ndarray:
    """Absolute circular difference between predicted and true orientation, degrees.

    Returns an array of the broadcast shape with values in ``[0, period / 2]``: a prediction of
    89 degrees for a true -89 degrees is 2 degrees off, not 178.
    """
    return np.abs(orientation_difference(_numpy(predicted_deg), _numpy(true_deg), period))


class OrientationDecoder(nn.Module):
    """Multilayer perceptron from population responses to an orientation code.

    Parameters
    ----------
    n_inputs : int
        Number of neurons / units.
    hidden : int or sequence of int
        Sizes of the hidden layers (ReLU); ``0`` or ``()`` gives a linear decoder.
    target : {"circular", "angle", "classes"}
        Output code (see the module docstring).
    n_classes : int
        Number of orientation bins for ``target="classes"``.
    dropout : float
        Dropout probability after every hidden layer.
    period : float
        Period of the orientation axis in degrees.
    lower : float
        Decoded orientations lie in ``[lower, lower + period)``.

    Notes
    -----
    Inputs are standardised with the training set's mean and standard deviation (stored as
    buffers; constant units get standard deviation 1) before the first layer.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: int | Sequence[int] = 20,
        *,
        target: Target = "circular",
        n_classes: int = 36,
        dropout: float = 0.0,
        period: float = 180.0,
        lower: float = -90.0,
    ) -> None:
        super().__init__()
        if target not in _TARGETS:
            raise ValueError(f"unknown target {target!r}; choose one of {_TARGETS}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        n_inputs = validation.integer(n_inputs, "n_inputs", minimum=1)
        n_classes = validation.integer(n_classes, "n_classes", minimum=1)
        period = validation.positive(period, "period")
        sizes = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
        sizes = [validation.integer(h, "hidden", minimum=0) for h in sizes]
        sizes = [h for h in sizes if h > 0]
        n_out = {"circular": 2, "angle": 1, "classes": n_classes}[target]
        layers: list[nn.Module] = []
        width = int(n_inputs)
        for h in sizes:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*layers)
        self.target = target
        self.n_classes = int(n_classes)
        self.period = float(period)
        self.lower = float(lower)
        self.register_buffer("input_mean", torch.zeros(n_inputs))
        self.register_buffer("input_std", torch.ones(n_inputs))

    @property
    def first_layer(self) -> nn.Linear:
        """The layer that reads the neurons (its weights get the L1 penalty)."""
        return self.net[0]

    def forward(self, responses: torch.Tensor) -> torch.Tensor:
        """Responses ``(batch, n_inputs)`` -> raw outputs ``(batch, n_outputs)``."""
        return self.net((responses - self.input_mean) / self.input_std)

    def encode(self, orientation_deg: torch.Tensor) -> torch.Tensor:
        """Training targets for orientations ``(batch,)`` in degrees."""
        phase = torch.deg2rad(orientation_deg - self.lower) * (360.0 / self.period)
        if self.target == "circular":
            return torch.stack([torch.cos(phase), torch.sin(phase)], dim=1)
        if self.target == "angle":  # centred and scaled to [-1, 1)
            return ((orientation_deg - self.lower) / self.period * 2.0 - 1.0)[:, None]
        bins = torch.floor((orientation_deg - self.lower) / self.period * self.n_classes)
        return bins.long().clamp(0, self.n_classes - 1)

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``(batch, n_outputs)`` -> orientation in degrees ``(batch,)``."""
        if self.target == "circular":
            phase = torch.atan2(outputs[:, 1], outputs[:, 0])
            deg = torch.rad2deg(phase) * (self.period / 360.0) + self.lower
        elif self.target == "angle":
            deg = (outputs[:, 0] + 1.0) / 2.0 * self.period + self.lower
        else:
            deg = (outputs.argmax(dim=1).to(outputs.dtype) + 0.5) * (
                self.period / self.n_classes
            ) + self.lower
        return (deg - self.lower).remainder(self.period) + self.lower

    def loss(self, outputs: torch.Tensor, orientation_deg: torch.Tensor) -> torch.Tensor:
        """Mean squared error (``circular``, ``angle``) or cross-entropy (``classes``)."""
        target = self.encode(orientation_deg)
        if self.target == "classes":
            return nn.functional.cross_entropy(outputs, target)
        return nn.functional.mse_loss(outputs, target)

    @torch.no_grad()
    def predict(self, responses: np.ndarray | torch.Tensor, batch_size: int = 4096) -> np.ndarray:
        """Decoded orientation in degrees ``(n,)`` for responses ``(n, n_inputs)``."""
        batch_size = validation.integer(batch_size, "batch_size", minimum=1)
        validation.finite(_numpy(responses), "responses")
        device = self.input_mean.device
        x = torch.as_tensor(_numpy(responses), dtype=torch.float32)
        n_inputs = self.input_mean.shape[0]
        if x.ndim != 2 or x.shape[1] != n_inputs:
            raise ValueError(
                f"responses must have shape (n_stimuli, {n_inputs}), got {tuple(x.shape)}"
            )
        was_training = self.training
        self.eval()
        out = [
            self.decode(self(x[i : i + batch_size].to(device, torch.float32))).cpu()
            for i in range(0, len(x), batch_size)
        ]
        self.train(was_training)
        return torch.cat(out).numpy().astype(np.float64)


@dataclass
class DecoderResult(TrainResult):
    """What :func:`train_decoder` returns: the trained decoder, its history and its test error.

    Attributes
    ----------
    model : OrientationDecoder
        The trained network (eval mode, on the training device, best validation weights).
    history : TrainHistory
        Per epoch: training loss (without penalties) and validation score, which is minus the
        same loss on the validation stimuli (``score="-mse"`` or ``"-cross_entropy"``).
    test_error_deg : float
        Mean absolute circular error on the test set after training, degrees.
    median_error_deg : float
        Median of the same errors.
    predicted_deg, true_deg : np.ndarray, shape (n_test,)
        Decoded and true orientations of the test stimuli.
    train_index, validation_index, test_index : np.ndarray
        Rows of the input used for training, early stopping and testing.
    chance_error_deg : float
        Mean error of guessing a uniformly random orientation: ``period / 4``.
    settings : dict
        The training settings, for reports.
    """

    test_error_deg: float
    median_error_deg: float
    predicted_deg: np.ndarray
    true_deg: np.ndarray
    train_index: np.ndarray
    validation_index: np.ndarray
    test_index: np.ndarray
    chance_error_deg: float
    settings: dict = field(default_factory=dict)


def train_decoder(
    responses: np.ndarray | torch.Tensor,
    orientation_deg: np.ndarray | torch.Tensor,
    *,
    hidden: int | Sequence[int] = 20,
    target: Target = "circular",
    n_classes: int = 36,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    max_epochs: int = 50,
    patience: int = 10,
    batch_size: int = 128,
    lr: float | None = None,
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    l1: float = 0.0,
    period: float = 180.0,
    lower: float | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> DecoderResult:
    """Train an :class:`OrientationDecoder` on a seeded train / validation / test split.

    The decoder is trained with :func:`artiphys_course.training.fit`: Adam on the training
    stimuli, the learning rate decaying (and training stopping) when the loss on the validation
    stimuli stops improving, the best validation weights restored. The test stimuli are used
    only for the reported error.

    Parameters
    ----------
    responses : array, shape (n_stimuli, n_neurons)
        Population response to each stimulus (trial), e.g. ``OrientationData.resp``.
    orientation_deg : array, shape (n_stimuli,)
        Stimulus orientation of every row, degrees.
    hidden : int or sequence of int
        Hidden layer sizes; 0 for a linear decoder.
    target : {"circular", "angle", "classes"}
        Output code, see the module docstring.
    n_classes : int
        Orientation bins for ``target="classes"``.
    test_fraction, validation_fraction : float
        Fractions of all stimuli held out for testing and for early stopping, drawn with
        ``seed`` (the test stimuli depend only on ``seed`` and ``test_fraction``).
    max_epochs, patience, batch_size : int
        Upper limit on epochs, epochs without improvement before the learning rate decays
        (see :func:`artiphys_course.training.fit`), and stimuli per batch.
    lr : float, optional
        Adam learning rate. Adam moves every weight by roughly ``lr`` per step, so the change of
        a hidden unit's input grows with the number of neurons it reads; the default
        ``min(3e-3, 3 / n_neurons)`` keeps training stable from hundreds to ~23,000 neurons.
    weight_decay : float
        L2 penalty on all weights (Adam's ``weight_decay``).
    dropout : float
        Dropout probability after each hidden layer.
    l1 : float
        L1 penalty ``l1 * sum(|W|)`` on the weights reading the neurons; drives the decoder to use
        few neurons.
    period : float
        Period of orientation, degrees.
    lower : float, optional
        Decoded range ``[lower, lower + period)``; default ``-period / 2`` when any orientation is
        negative, else 0.
    seed : int
        Seeds the split, the initial weights, the batch order and dropout. Training is
        deterministic on CPU for a given seed (the global random state is left untouched).
    device : str or torch.device, optional
        Default :func:`artiphys_course.runtime.get_device`.
    progress : bool
        Progress bar over epochs.

    Returns
    -------
    DecoderResult
    """
    batch_size = validation.integer(batch_size, "batch_size", minimum=1)
    max_epochs = validation.integer(max_epochs, "max_epochs", minimum=1)
    validation.integer(seed, "seed")
    validation.finite(_numpy(responses), "responses")
    validation.finite(_numpy(orientation_deg), "orientation_deg")
    x = _numpy(responses).astype(np.float32)
    y = _numpy(orientation_deg).astype(np.float64)
    if x.ndim != 2:
        raise ValueError(f"responses must have shape (n_stimuli, n_neurons), got {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"orientation_deg must have shape (n_stimuli,) = ({len(x)},) to match responses "
            f"{x.shape}, got {y.shape}"
        )
    if not 0.0 < test_fraction < 1.0 or not 0.0 < validation_fraction < 1.0:
        raise ValueError(
            "test_fraction and validation_fraction must lie in (0, 1), got "
            f"{test_fraction} and {validation_fraction}"
        )
    n = len(x)
    n_test = int(round(test_fraction * n))
    n_validation = max(1, int(round(validation_fraction * n)))
    if n_test < 1 or n - n_test - n_validation < 2:
        raise ValueError(
            f"{n} stimuli are too few for test_fraction={test_fraction} and "
            f"validation_fraction={validation_fraction}"
        )
    if lower is None:
        lower = -period / 2 if np.any(y < 0) else 0.0
    y = wrap_orientation(y, period, lower)
    device = get_device(device)
    if lr is None:
        lr = min(3e-3, 3.0 / x.shape[1])

    order = np.random.default_rng(seed).permutation(n)
    test_index = np.sort(order[:n_test])
    validation_index = np.sort(order[n_test : n_test + n_validation])
    train_index = np.sort(order[n_test + n_validation :])
    x_train = torch.from_numpy(x[train_index]).to(device)
    y_train = torch.from_numpy(y[train_index]).float().to(device)
    x_validation = torch.from_numpy(x[validation_index]).to(device)
    y_validation = torch.from_numpy(y[validation_index]).float().to(device)

    with seeded(seed):
        decoder = OrientationDecoder(
            x.shape[1],
            hidden,
            target=target,
            n_classes=n_classes,
            dropout=dropout,
            period=period,
            lower=lower,
        ).to(device)
    decoder.input_mean.copy_(x_train.mean(0))
    std = x_train.std(0)
    decoder.input_std.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))

    def batch_loss(model: OrientationDecoder, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        responses_batch, orientation_batch = batch
        return model.loss(model(responses_batch), orientation_batch)

    def validation_score(model: OrientationDecoder) -> float:
        return -float(model.loss(model(x_validation), y_validation))

    loss_name = "cross_entropy" if target == "classes" else "mse"
    history = fit(
        decoder,
        TensorBatches(x_train, y_train, batch_size=batch_size),
        validation_score,
        loss=batch_loss,
        penalty=(lambda m: l1 * m.first_layer.weight.abs().sum()) if l1 > 0 else None,
        lr=lr,
        max_epochs=max_epochs,
        patience=patience,
        weight_decay=weight_decay,
        seed=seed,
        progress=progress,
        loss_name=loss_name,
        score_name=f"-{loss_name}",
    )
    predicted = decoder.predict(x[test_index])
    errors = circular_error(predicted, y[test_index], period)
    return DecoderResult(
        model=decoder,
        history=history,
        test_error_deg=float(errors.mean()),
        median_error_deg=float(np.median(errors)),
        predicted_deg=predicted,
        true_deg=y[test_index],
        train_index=train_index,
        validation_index=validation_index,
        test_index=test_index,
        chance_error_deg=period / 4,
        settings={
            "hidden": hidden,
            "target": target,
            "max_epochs": max_epochs,
            "patience": patience,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "dropout": dropout,
            "l1": l1,
            "seed": seed,
        },
    )
