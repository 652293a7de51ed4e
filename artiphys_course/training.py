"""The one training loop of the course, :func:`fit`, and the trainers built on it.

The recipe is the one used for the SENSORIUM 2022 baselines and by neuralpredictors'
trainers (Adam, a learning rate that decays when the validation score stops improving,
early stopping, restoring the best weights), written as one short loop you can read.

- :func:`fit`: the generic loop. It takes the model, re-iterable training batches, a callable
  giving the loss of one batch and a callable giving the validation score (higher is better),
  and returns a :class:`TrainHistory`. Randomness (shuffling, dropout, sampling) comes only from
  its ``seed``; the caller's global random state is left as it was.
- :func:`train`: encoding models on ``Batch(images, responses, pupil_center)`` loaders (Poisson or
  MSE loss, validation correlation).
- :func:`train_sessions`: multi-session encoding models (one shared core, a readout per data key)
  on the interleaved batches of several sessions' loaders.
- :func:`train_tilt_cnn`: the normative tilt CNN of :mod:`artiphys_course.models.normative` on its
  task (cross-entropy, validation accuracy).
- :class:`TensorBatches`: shuffled mini-batches of in-memory tensors, for :func:`fit`.

Other trainers use :func:`fit` too: :func:`artiphys_course.decoding.train_decoder` and
:func:`artiphys_course.layer_grid.fit_factorized_readout`. A trainer given a model trains it in
place and returns the :class:`TrainHistory`; one that builds the model from the data returns a
result holding ``.model`` and ``.history`` (:class:`TrainResult`).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from artiphys_course.data.sessions import SessionBatches
from artiphys_course.losses import poisson_loss
from artiphys_course.metrics import correlation_score, model_predictions
from artiphys_course.models.normative import TiltCNN, make_tilt_task
from artiphys_course.runtime import get_device, progress_bar, seeded

__all__ = [
    "LOSSES",
    "TensorBatches",
    "TrainHistory",
    "TrainResult",
    "fit",
    "train",
    "train_sessions",
    "train_tilt_cnn",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _poisson(rates: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    return poisson_loss(rates, responses, reduction="sum") / rates.shape[0]


def _mse(rates: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    return ((rates - responses) ** 2).sum() / rates.shape[0]


LOSSES: dict[str, LossFn] = {"poisson": _poisson, "mse": _mse}
"""Named data losses for :func:`train`: summed over neurons, averaged over the trials of a batch."""

_NAN_ADVICE = "Remove or impute these trials before training; the loss would become NaN."


@dataclass
class TrainHistory:
    """What happened during :func:`fit`, one entry per epoch (epochs are numbered from 1).

    Attributes
    ----------
    train_loss : list of float
        Mean over the epoch's batches of the data loss (without the penalty).
    regularizer : list of float
        Mean over the epoch's batches of the penalty added to the loss (0 without one).
    validation_score : list of float
        The validation score after each epoch (higher is better; its meaning is ``score``).
    lr : list of float
        Learning rate used during the epoch.
    epoch_seconds : list of float
        Wall-clock duration of each epoch including validation (varies between runs).
    best_epoch : int
        The epoch whose weights were restored (highest validation score), 0 if none.
    best_validation_score : float
        The validation score of ``best_epoch``.
    stopped : str
        Why training ended: ``"early_stopping"``, ``"max_epochs"`` or ``"max_seconds"``.
    loss : str
        Name of the data loss, e.g. ``"poisson"``, ``"mse"``, ``"cross_entropy"``.
    score : str
        Name of the validation score, e.g. ``"correlation"``, ``"accuracy"``.
    """

    train_loss: list[float] = field(default_factory=list)
    regularizer: list[float] = field(default_factory=list)
    validation_score: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_validation_score: float = -math.inf
    stopped: str = "max_epochs"
    loss: str = "loss"
    score: str = "score"

    @property
    def epochs(self) -> np.ndarray:
        """Epoch numbers ``1..n`` (x axis for plots)."""
        return np.arange(1, len(self.train_loss) + 1)

    @property
    def n_epochs(self) -> int:
        """How many epochs were run."""
        return len(self.train_loss)

    @property
    def seconds(self) -> float:
        """Total training time in seconds."""
        return float(sum(self.epoch_seconds))


@dataclass
class TrainResult:
    """What a trainer that builds its own model returns: the trained model and its history.

    Attributes
    ----------
    model : torch.nn.Module
        Trained, best weights restored, in eval mode.
    history : TrainHistory
    """

    model: nn.Module
    history: TrainHistory


class TensorBatches:
    """Mini-batches of tensors that share their first dimension, reshuffled on every pass.

    Iterating yields tuples ``(t0[idx], t1[idx], ...)``; each pass draws a new order from
    torch's global random generator, which :func:`fit` seeds, so shuffling is reproducible
    without a generator argument.

    Parameters
    ----------
    *tensors : torch.Tensor
        Tensors of shape ``(n, ...)`` (on any device; indices follow the first tensor's).
    batch_size : int
        Rows per batch (the last batch may be smaller).
    shuffle : bool
        Draw a random order per pass (default) or keep the row order.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = True) -> None:
        if not tensors:
            raise ValueError("TensorBatches needs at least one tensor.")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ValueError(
                f"tensors must share their first dimension, got {[len(t) for t in tensors]}."
            )
        if n == 0:
            raise ValueError("tensors have no rows.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.tensors = tensors
        self.batch_size = int(batch_size)
        self.shuffle = shuffle

    def __len__(self) -> int:
        return math.ceil(len(self.tensors[0]) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.tensors[0])
        order = torch.randperm(n) if self.shuffle else torch.arange(n)
        order = order.to(self.tensors[0].device)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield tuple(t[idx] for t in self.tensors)


def _check_settings(
    lr: float, max_epochs: int, patience: int, lr_decay_steps: int, lr_decay_factor: float
) -> None:
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}.")
    if max_epochs < 1 or patience < 1 or lr_decay_steps < 0:
        raise ValueError(
            "Need max_epochs >= 1, patience >= 1 and lr_decay_steps >= 0; got "
            f"{max_epochs}, {patience}, {lr_decay_steps}."
        )
    if not 0 < lr_decay_factor < 1:
        raise ValueError(f"lr_decay_factor must lie in (0, 1), got {lr_decay_factor}.")


def fit(
    model: nn.Module,
    train_batches: Iterable[Any],
    validation_score: Callable[[nn.Module], float],
    *,
    loss: Callable[[nn.Module, Any], torch.Tensor],
    penalty: Callable[[nn.Module], torch.Tensor | float] | None = None,
    lr: float,
    max_epochs: int = 50,
    patience: int = 5,
    lr_decay_steps: int = 3,
    lr_decay_factor: float = 0.3,
    tolerance: float = 1e-4,
    weight_decay: float = 0.0,
    max_seconds: float | None = None,
    seed: int,
    progress: bool = True,
    loss_name: str = "loss",
    score_name: str = "score",
) -> TrainHistory:
    """Train ``model`` in place with Adam, stopping and decaying on a validation score.

    Each epoch runs Adam over ``train_batches``, minimising ``loss(model, batch) +
    penalty(model)``, then computes ``validation_score(model)`` (model in eval mode, no
    gradients; higher is better). When the score has not improved by more than ``tolerance``
    for ``patience`` epochs (a plateau, detected by
    :class:`torch.optim.lr_scheduler.ReduceLROnPlateau`), the best weights so far are restored
    and the learning rate is multiplied by ``lr_decay_factor``. The plateau after
    ``lr_decay_steps`` such decays ends training (early stopping; ``lr_decay_steps=0`` stops at
    the first plateau). At the end the weights of the best validation epoch are restored,
    whatever stopped training, and the model is left in eval mode.

    The whole loop runs inside :func:`artiphys_course.runtime.seeded` ``(seed)``: shuffling,
    dropout and sampling are reproducible, and the caller's global random state is the same
    after the call as before it.

    Parameters
    ----------
    model : torch.nn.Module
        Already on the device the batches are moved to; trained in place.
    train_batches : iterable
        Iterated once per epoch (a ``DataLoader``, :class:`TensorBatches`, a list); each item is
        passed to ``loss``.
    validation_score : callable
        ``validation_score(model) -> float``, higher is better (e.g. a correlation, an accuracy,
        minus an error).
    loss : callable
        ``loss(model, batch) -> scalar tensor``, the data loss of one batch.
    penalty : callable, optional
        ``penalty(model) -> scalar tensor or float`` added to every batch's loss (a
        regulariser); recorded separately in :attr:`TrainHistory.regularizer`.
    lr : float
        Initial learning rate of Adam.
    max_epochs : int
        Upper limit on the number of passes through ``train_batches``.
    patience : int
        Epochs without improvement of the validation score before the learning rate decays (or
        training stops).
    lr_decay_steps : int
        How many times the learning rate may decay before the next plateau stops training.
    lr_decay_factor : float
        Factor (between 0 and 1) applied to the learning rate at each decay.
    tolerance : float
        Minimal increase of the validation score that counts as an improvement.
    weight_decay : float
        Adam's L2 weight decay.
    max_seconds : float, optional
        Time budget: training stops after the batch during which it is exceeded (the partial
        epoch is still validated).
    seed : int
        Seeds every random draw inside the loop (an int; ``None`` or a float raise
        ``TypeError``).
    progress : bool
        Show a progress bar over epochs.
    loss_name, score_name : str
        Recorded in the history (``loss``, ``score``) for plots.

    Returns
    -------
    TrainHistory

    Raises
    ------
    ValueError
        Invalid settings.
    FloatingPointError
        The training loss became NaN or infinite (diverged); the best weights so far are
        restored first.
    """
    _check_settings(lr, max_epochs, patience, lr_decay_steps, lr_decay_factor)
    with seeded(seed):
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="max",
            factor=lr_decay_factor,
            patience=patience - 1,  # torch decays after `patience + 1` bad epochs
            threshold=tolerance,
            threshold_mode="abs",
            eps=0.0,
        )
        history = TrainHistory(loss=loss_name, score=score_name)
        best_state = copy.deepcopy(model.state_dict())
        n_decays = 0
        start = time.perf_counter()
        for epoch in progress_bar(range(1, max_epochs + 1), progress, desc="epochs"):
            epoch_start = time.perf_counter()
            current_lr = optimizer.param_groups[0]["lr"]
            model.train()
            data_sum, reg_sum, n_batches = 0.0, 0.0, 0  # sums stay on the device: no sync per step
            out_of_time = False
            for batch in train_batches:
                data_loss = loss(model, batch)
                reg = penalty(model) if penalty is not None else 0.0
                optimizer.zero_grad(set_to_none=True)
                (data_loss + reg).backward()
                optimizer.step()
                data_sum = data_sum + data_loss.detach()
                reg_sum = reg_sum + (reg.detach() if isinstance(reg, torch.Tensor) else reg)
                n_batches += 1
                if max_seconds is not None and time.perf_counter() - start > max_seconds:
                    out_of_time = True
                    break
            if n_batches == 0:
                raise ValueError("train_batches yielded no batches.")

            model.eval()
            with torch.no_grad():
                score = float(validation_score(model))
            history.train_loss.append(float(data_sum) / n_batches)
            history.regularizer.append(float(reg_sum) / n_batches)
            history.validation_score.append(score)
            history.lr.append(current_lr)
            if not math.isfinite(history.train_loss[-1]):
                model.load_state_dict(best_state)
                raise FloatingPointError(
                    f"The training loss became {history.train_loss[-1]} in epoch {epoch} (the "
                    "best weights so far were restored); try a smaller learning rate."
                )
            if score > history.best_validation_score:
                history.best_validation_score = score
                history.best_epoch = epoch
                best_state = copy.deepcopy(model.state_dict())
            history.epoch_seconds.append(time.perf_counter() - epoch_start)

            if out_of_time:
                history.stopped = "max_seconds"
                break
            scheduler.step(score)
            if optimizer.param_groups[0]["lr"] < current_lr:  # a plateau
                n_decays += 1
                if n_decays > lr_decay_steps:
                    history.stopped = "early_stopping"
                    break
                model.load_state_dict(best_state)

    model.load_state_dict(best_state)
    model.eval()
    return history


# --------------------------------------------------------------------------------------------
# Encoding models
# --------------------------------------------------------------------------------------------
def _resolve_loss(loss: str | LossFn) -> tuple[LossFn, str]:
    if callable(loss):
        return loss, getattr(loss, "__name__", "custom")
    if loss not in LOSSES:
        raise ValueError(
            f"Unknown loss {loss!r}; choose one of {sorted(LOSSES)} or pass a callable."
        )
    return LOSSES[loss], loss


def _check_loaders(loaders: Mapping[str, DataLoader]) -> None:
    """Keys present, batches well formed, responses finite: fail before any training."""
    if not isinstance(loaders, Mapping):
        raise TypeError(
            "loaders must be a dict of DataLoaders with keys 'train' and 'validation' "
            f"(artiphys_course.data.static.dataloaders), got {type(loaders).__name__}."
        )
    missing = [k for k in ("train", "validation") if k not in loaders]
    if missing:
        raise KeyError(f"loaders lacks {missing}; it has {sorted(loaders)}.")
    for key in ("train", "validation"):
        stored = getattr(getattr(loaders[key], "dataset", None), "responses", None)
        if isinstance(stored, (torch.Tensor, np.ndarray)):  # in-memory data: check at once
            if len(loaders[key]) == 0:
                raise ValueError(f"loaders[{key!r}] yields no batches.")
            bad = ~np.isfinite(np.asarray(stored.cpu() if torch.is_tensor(stored) else stored))
            if bad.any():
                trial, neuron = np.argwhere(bad)[0]
                raise ValueError(
                    f"loaders[{key!r}] has non-finite responses (NaN or inf), first at trial "
                    f"{trial}, neuron {neuron} of its data set. {_NAN_ADVICE}"
                )
            continue
        n_batches = 0
        for i, batch in enumerate(loaders[key]):
            n_batches += 1
            if not hasattr(batch, "responses") or not hasattr(batch, "images"):
                raise TypeError(
                    f"Batches must be Batch(images, responses, pupil_center) named tuples "
                    f"(artiphys_course.data.static.Batch); loaders[{key!r}] gave "
                    f"{type(batch).__name__}."
                )
            bad = ~torch.isfinite(batch.responses)
            if bool(bad.any()):
                trial, neuron = (int(v) for v in bad.nonzero()[0])
                raise ValueError(
                    f"loaders[{key!r}] has non-finite responses (NaN or inf), first in batch {i}, "
                    f"trial {trial}, neuron {neuron}. {_NAN_ADVICE}"
                )
        if n_batches == 0:
            raise ValueError(f"loaders[{key!r}] yields no batches.")


def _validation_correlation(
    model: torch.nn.Module, loader: DataLoader, device: torch.device, data_key: str | None
) -> float:
    y_true, y_pred = model_predictions(model, loader, device=device, data_key=data_key)
    return correlation_score(y_true, y_pred)


def _batch_loss(
    model: nn.Module, batch: Any, loss_fn: LossFn, device: torch.device, data_key: str | None
) -> torch.Tensor:
    """The data loss of one ``Batch`` for the readout of ``data_key``."""
    images = batch.images.to(device)
    pupil = batch.pupil_center.to(device) if batch.pupil_center is not None else None
    rates = model(images, pupil_center=pupil, data_key=data_key)
    return loss_fn(rates, batch.responses.to(device))


def _regularizer(model: torch.nn.Module, data_key: str | None) -> torch.Tensor | float:
    reg = getattr(model, "regularizer", None)
    return reg(data_key=data_key) if callable(reg) else 0.0


def train(
    model: torch.nn.Module,
    loaders: Mapping[str, DataLoader],
    *,
    loss: str | LossFn = "poisson",
    lr: float = 5e-3,
    max_epochs: int = 50,
    patience: int = 5,
    lr_decay_steps: int = 3,
    lr_decay_factor: float = 0.3,
    tolerance: float = 1e-4,
    weight_decay: float = 0.0,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
    max_seconds: float | None = None,
    data_key: str | None = None,
) -> TrainHistory:
    """Fit an encoding model to the training responses, stopping on the validation correlation.

    :func:`fit` with the data loss of each ``Batch`` (``loss``), the model's
    ``regularizer(data_key=...)`` as penalty and the mean single-trial correlation on the
    validation set as score: Adam, learning-rate decay on plateaus, early stopping, best weights
    restored, model left in eval mode (see :func:`fit` for the schedule).

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(images, pupil_center=..., data_key=...)`` and returning positive rates
        ``(batch, neurons)``. Its ``regularizer(data_key=...)``, if it has one, is added to the
        loss. Trained in place and moved to ``device``.
    loaders : dict of DataLoader
        With keys ``"train"`` and ``"validation"`` yielding ``Batch(images, responses,
        pupil_center)`` (:func:`artiphys_course.data.static.dataloaders`).
    loss : {"poisson", "mse"} or callable
        The data loss. The named losses are summed over neurons and averaged over the trials of
        a batch (so regulariser strengths do not depend on the batch size). A callable gets
        ``(rates, responses)`` and returns a scalar tensor.
    lr : float
        Initial learning rate of Adam.
    max_epochs : int
        Upper limit on the number of passes through the training data.
    patience : int
        Epochs without improvement of the validation correlation before the learning rate
        decays (or training stops).
    lr_decay_steps : int
        How many times the learning rate may decay before the next plateau stops training.
    lr_decay_factor : float
        Factor (between 0 and 1) applied to the learning rate at each decay.
    tolerance : float
        Minimal increase of the validation correlation that counts as an improvement.
    weight_decay : float
        Adam's L2 weight decay.
    device : str or torch.device, optional
        Where to train (default: :func:`artiphys_course.runtime.get_device`).
    seed : int
        Seeds batch order and sampling during training (the caller's random state is left
        untouched), so that on CPU the same model, loaders (built afresh with the same seed)
        and arguments give identical weights.
    progress : bool
        Show a progress bar over epochs.
    max_seconds : float, optional
        Time budget: training stops after the batch during which it is exceeded (the partial
        epoch is still validated).
    data_key : str, optional
        The session to train (multi-session models); passed to the model and its regulariser.

    Returns
    -------
    TrainHistory
        Per-epoch losses, validation correlations (``score="correlation"``) and learning rates,
        and the best epoch.

    Raises
    ------
    KeyError
        ``loaders`` lacks ``"train"`` or ``"validation"``.
    ValueError
        Non-finite responses (checked before training), an unknown loss, or invalid settings.
    FloatingPointError
        The training loss became NaN or infinite (diverged).
    """
    _check_settings(lr, max_epochs, patience, lr_decay_steps, lr_decay_factor)
    loss_fn, loss_name = _resolve_loss(loss)
    _check_loaders(loaders)
    device = get_device(device)
    model.to(device)

    return fit(
        model,
        loaders["train"],
        lambda m: _validation_correlation(m, loaders["validation"], device, data_key),
        loss=lambda m, batch: _batch_loss(m, batch, loss_fn, device, data_key),
        penalty=lambda m: _regularizer(m, data_key),
        lr=lr,
        max_epochs=max_epochs,
        patience=patience,
        lr_decay_steps=lr_decay_steps,
        lr_decay_factor=lr_decay_factor,
        tolerance=tolerance,
        weight_decay=weight_decay,
        max_seconds=max_seconds,
        seed=seed,
        progress=progress,
        loss_name=loss_name,
        score_name="correlation",
    )


def train_sessions(
    model: torch.nn.Module,
    loaders: Mapping[str, Mapping[str, DataLoader]],
    *,
    order: str = "round_robin",
    loss: str | LossFn = "poisson",
    lr: float = 5e-3,
    max_epochs: int = 50,
    patience: int = 5,
    lr_decay_steps: int = 3,
    lr_decay_factor: float = 0.3,
    tolerance: float = 1e-4,
    weight_decay: float = 0.0,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
    max_seconds: float | None = None,
) -> TrainHistory:
    """Fit a multi-session encoding model: one shared core, a readout (and shifter) per session.

    :func:`train` over several sessions at once. Each epoch runs :func:`fit` over the training
    batches of all sessions, interleaved (:class:`~artiphys_course.data.sessions.SessionBatches`:
    every batch of every session once per epoch). A batch of session ``k`` goes through the
    shared core and the readout and shifter of ``k``; its loss is the data loss plus
    ``model.regularizer(data_key=k)``. So the core learns from every session and each readout
    only from its own. The validation score is the mean over sessions of each session's mean
    validation correlation (every session counts equally, whatever its size).

    With one session and ``order="round_robin"`` this is exactly :func:`train` with
    ``data_key`` set to that session (same batches, same random draws, same weights).

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(images, pupil_center=..., data_key=key)`` for every key of
        ``loaders`` (e.g. an :class:`~artiphys_course.models.encoders.Encoder` with one readout
        per data key). Trained in place and moved to ``device``.
    loaders : dict of str to dict of DataLoader
        Data key -> that session's loaders with keys ``"train"`` and ``"validation"``
        (:func:`artiphys_course.data.static.dataloaders` of each session).
    order : {"round_robin", "proportional"}
        How the sessions' batches are interleaved (see
        :class:`~artiphys_course.data.sessions.SessionBatches`); ``"proportional"`` draws its
        order from ``seed``.
    loss, lr, max_epochs, patience, lr_decay_steps, lr_decay_factor, tolerance, weight_decay
        As for :func:`train`.
    device : str or torch.device, optional
        Where to train (default: :func:`artiphys_course.runtime.get_device`).
    seed : int
        Seeds the interleaving order, sampling and dropout (each loader's shuffling follows its
        own seed); the caller's random state is left untouched.
    progress : bool
        Show a progress bar over epochs.
    max_seconds : float, optional
        Time budget (see :func:`fit`).

    Returns
    -------
    TrainHistory
        ``score="correlation"``: the validation correlation averaged over sessions.

    Raises
    ------
    KeyError
        A session's loaders lack ``"train"`` or ``"validation"``.
    ValueError
        No session, non-finite responses, an unknown loss or order, or invalid settings.
    """
    _check_settings(lr, max_epochs, patience, lr_decay_steps, lr_decay_factor)
    loss_fn, loss_name = _resolve_loss(loss)
    if not isinstance(loaders, Mapping) or not loaders:
        raise ValueError(
            "loaders must be a non-empty dict of data key -> {'train': ..., 'validation': ...}, "
            f"got {type(loaders).__name__}."
        )
    for key, session in loaders.items():
        try:
            _check_loaders(session)
        except (KeyError, TypeError, ValueError) as error:
            raise type(error)(f"session {key!r}: {error}") from None
    device = get_device(device)
    model.to(device)
    batches = SessionBatches({key: s["train"] for key, s in loaders.items()}, order=order)

    def score(m: nn.Module) -> float:
        return float(
            np.mean(
                [
                    _validation_correlation(m, session["validation"], device, key)
                    for key, session in loaders.items()
                ]
            )
        )

    return fit(
        model,
        batches,
        score,
        loss=lambda m, item: _batch_loss(m, item[1], loss_fn, device, item[0]),
        penalty=lambda m: _regularizer(m, batches.current_key),
        lr=lr,
        max_epochs=max_epochs,
        patience=patience,
        lr_decay_steps=lr_decay_steps,
        lr_decay_factor=lr_decay_factor,
        tolerance=tolerance,
        weight_decay=weight_decay,
        max_seconds=max_seconds,
        seed=seed,
        progress=progress,
        loss_name=loss_name,
        score_name="correlation",
    )


# --------------------------------------------------------------------------------------------
# The normative tilt CNN
# --------------------------------------------------------------------------------------------
def _accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int) -> float:
    correct = 0
    for i in range(0, len(images), batch):
        correct += int((model(images[i : i + batch]).argmax(1) == labels[i : i + batch]).sum())
    return correct / len(images)


def train_tilt_cnn(
    model: TiltCNN,
    *,
    n_train: int = 2000,
    n_validation: int = 500,
    max_epochs: int = 5,
    batch_size: int = 64,
    lr: float = 3e-3,
    patience: int = 3,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> TrainHistory:
    """Train a :class:`~artiphys_course.models.normative.TiltCNN` on the tilt task, in place.

    :func:`fit` with the cross-entropy of fresh seeded gratings
    (:func:`~artiphys_course.models.normative.make_tilt_task`) and the accuracy on held-out
    gratings as validation score.

    Parameters
    ----------
    model : TiltCNN
        The network; trained in place, moved to ``device``, left in eval mode with the weights
        of the best validation epoch.
    n_train, n_validation : int
        Number of training and held-out gratings (drawn with different seeds).
    max_epochs, batch_size, lr, patience : int, int, float, int
        Optimisation settings (see :func:`fit`).
    seed : int
        Seeds the gratings and the batch order; training is deterministic on CPU and the
        caller's random state is left untouched.
    device : str or torch.device, optional
        Default :func:`artiphys_course.runtime.get_device`.
    progress : bool
        Progress bar over epochs.

    Returns
    -------
    TrainHistory
        ``score="accuracy"``: the fraction of held-out gratings classified correctly.
    """
    if n_train < 1 or n_validation < 1:
        raise ValueError(
            f"n_train and n_validation must be >= 1, got {n_train} and {n_validation}."
        )
    device = get_device(device)
    model.to(device)
    shape = model.image_shape
    train_task = make_tilt_task(n_train, seed=seed, image_shape=shape, device=device)
    held_out = make_tilt_task(n_validation, seed=seed + 1_000_003, image_shape=shape, device=device)
    y_train = torch.as_tensor(train_task.labels, device=device)
    y_held_out = torch.as_tensor(held_out.labels, device=device)

    def batch_loss(m: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, labels = batch
        return nn.functional.cross_entropy(m(images), labels)

    return fit(
        model,
        TensorBatches(train_task.images, y_train, batch_size=batch_size),
        lambda m: _accuracy(m, held_out.images, y_held_out, 4 * batch_size),
        loss=batch_loss,
        lr=lr,
        max_epochs=max_epochs,
        patience=patience,
        seed=seed,
        progress=progress,
        loss_name="cross_entropy",
        score_name="accuracy",
    )
