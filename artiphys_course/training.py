"""Train an encoding model on image-response pairs: one function, :func:`train`.

The recipe is the one used for the SENSORIUM 2022 baselines and by neuralpredictors'
trainers (Adam, a learning rate that decays when the validation correlation stops improving,
early stopping, restoring the best weights), written as one short loop you can read.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader

from artiphys_course.losses import poisson_loss
from artiphys_course.metrics import correlation, model_predictions
from artiphys_course.runtime import get_device, progress_bar, seed_everything

__all__ = ["TrainHistory", "train", "LOSSES"]

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
    """What happened during :func:`train`, one entry per epoch (epochs are numbered from 1).

    Attributes
    ----------
    train_loss : list of float
        Mean data loss per trial over the epoch's batches (summed over neurons; without the
        regulariser).
    regularizer : list of float
        Mean value of ``model.regularizer()`` over the epoch's batches.
    validation_correlation : list of float
        Mean over neurons of the single-trial correlation on the validation set after the epoch.
    lr : list of float
        Learning rate used during the epoch.
    epoch_seconds : list of float
        Wall-clock duration of each epoch including validation (varies between runs).
    best_epoch : int
        The epoch whose weights were restored (highest validation correlation), 0 if none.
    best_validation_correlation : float
        The validation correlation of ``best_epoch``.
    stopped : str
        Why training ended: ``"early_stopping"``, ``"max_epochs"`` or ``"max_seconds"``.
    loss : str
        Name of the data loss (``"poisson"``, ``"mse"`` or the callable's name).
    """

    train_loss: list[float] = field(default_factory=list)
    regularizer: list[float] = field(default_factory=list)
    validation_correlation: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_validation_correlation: float = -math.inf
    stopped: str = "max_epochs"
    loss: str = "poisson"

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
    return float(np.mean(correlation(y_true, y_pred)))


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
    """Fit ``model`` to the training responses, choosing the stopping point on validation data.

    Each epoch runs Adam over the training batches, minimising
    ``data loss + model.regularizer(data_key=...)``, then computes the mean single-trial
    correlation on the validation set. When it has not improved by more than ``tolerance`` for
    ``patience`` epochs (a plateau, detected by
    :class:`torch.optim.lr_scheduler.ReduceLROnPlateau`), the best weights so far are restored
    and the learning rate is multiplied by ``lr_decay_factor``. The plateau after
    ``lr_decay_steps`` such decays ends training (early stopping; ``lr_decay_steps=0`` stops at
    the first plateau). At the end the weights of the best validation epoch are restored,
    whatever stopped training, and the model is left in eval mode.

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
        Seeds the random number generators before training, so that on CPU the same model,
        loaders (built afresh with the same seed) and arguments give identical weights.
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
        Per-epoch losses, validation correlations and learning rates, and the best epoch.

    Raises
    ------
    KeyError
        ``loaders`` lacks ``"train"`` or ``"validation"``.
    ValueError
        Non-finite responses (checked before training), an unknown loss, or invalid settings.
    FloatingPointError
        The training loss became NaN or infinite (diverged).
    """
    if max_epochs < 1 or patience < 1 or lr_decay_steps < 0:
        raise ValueError(
            "Need max_epochs >= 1, patience >= 1 and lr_decay_steps >= 0; got "
            f"{max_epochs}, {patience}, {lr_decay_steps}."
        )
    if not 0 < lr_decay_factor < 1:
        raise ValueError(f"lr_decay_factor must lie in (0, 1), got {lr_decay_factor}.")
    loss_fn, loss_name = _resolve_loss(loss)
    _check_loaders(loaders)

    device = get_device(device)
    seed_everything(seed, deterministic=False)
    model.to(device)
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
    history = TrainHistory(loss=loss_name)
    best_state = copy.deepcopy(model.state_dict())
    n_decays = 0
    start = time.perf_counter()

    for epoch in progress_bar(range(1, max_epochs + 1), progress, desc="epochs"):
        epoch_start = time.perf_counter()
        current_lr = optimizer.param_groups[0]["lr"]
        model.train()
        data_sum, reg_sum, n_batches = 0.0, 0.0, 0  # sums stay on the device: no sync per step
        out_of_time = False
        for batch in loaders["train"]:
            images = batch.images.to(device)
            responses = batch.responses.to(device)
            pupil = batch.pupil_center.to(device) if batch.pupil_center is not None else None
            rates = model(images, pupil_center=pupil, data_key=data_key)
            data_loss = loss_fn(rates, responses)
            reg = _regularizer(model, data_key)
            optimizer.zero_grad(set_to_none=True)
            (data_loss + reg).backward()
            optimizer.step()
            data_sum = data_sum + data_loss.detach()
            reg_sum = reg_sum + (reg.detach() if isinstance(reg, torch.Tensor) else reg)
            n_batches += 1
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                out_of_time = True
                break

        val_corr = _validation_correlation(model, loaders["validation"], device, data_key)
        history.train_loss.append(float(data_sum) / n_batches)
        history.regularizer.append(float(reg_sum) / n_batches)
        history.validation_correlation.append(val_corr)
        history.lr.append(current_lr)
        if not math.isfinite(history.train_loss[-1]):
            model.load_state_dict(best_state)
            raise FloatingPointError(
                f"The training loss became {history.train_loss[-1]} in epoch {epoch} (the best "
                "weights so far were restored); try a smaller learning rate."
            )
        if val_corr > history.best_validation_correlation:
            history.best_validation_correlation = val_corr
            history.best_epoch = epoch
            best_state = copy.deepcopy(model.state_dict())
        history.epoch_seconds.append(time.perf_counter() - epoch_start)

        if out_of_time:
            history.stopped = "max_seconds"
            break
        scheduler.step(val_corr)
        if optimizer.param_groups[0]["lr"] < current_lr:  # a plateau
            n_decays += 1
            if n_decays > lr_decay_steps:
                history.stopped = "early_stopping"
                break
            model.load_state_dict(best_state)

    model.load_state_dict(best_state)
    model.eval()
    return history
