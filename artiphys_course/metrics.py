"""How well a model predicts neural responses: correlations, oracle, explainable variance, FEVE.

Every function takes arrays (NumPy or torch, any device) and returns NumPy arrays with one value
per neuron. Axis 0 is trials (or images), axis 1 neurons.

Two input layouts are used:

* **single trials** ``y_true, y_pred``: shape ``(trials, neurons)``, as returned by
  :func:`model_predictions`;
* **repeats by image** ``responses_by_image``: a sequence with one array of shape
  ``(repeats_i, neurons)`` per test image (the number of repeats may differ between images),
  or one array of shape ``(images, repeats, neurons)``. :func:`group_by_image` builds it from
  single trials and their image ids.

Definitions follow Cadena et al. (2019, PLoS Comput Biol 15: e1006897), Lurz et al. (2021, ICLR,
"Generalization in data-driven models of primary visual cortex") and the SENSORIUM 2022
benchmark (Willeke et al. 2022, arXiv:2206.08666):

* *correlation*: Pearson correlation between single-trial responses and predictions;
* *correlation to average*: between the repeat-averaged response and the averaged prediction
  of each image;
* *oracle correlation*: between each trial and the mean of the other repeats of its image
  (leave-one-out, "jackknife"); a data-only estimate of the attainable correlation;
* *explainable variance*: total response variance minus the noise variance (the mean over images
  of the variance across repeats); *FEV*: the explainable fraction of the total variance;
* *FEVE*: fraction of the explainable variance that the model explains,
  ``1 - (MSE - noise variance) / (total variance - noise variance)``;
* *Poisson log-likelihood* and *bits per spike*: how probable the observed counts are under the
  predicted rates (see :mod:`artiphys_course.losses`), absolute or relative to the mean rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from artiphys_course import validation

__all__ = [
    "correlation",
    "correlation_score",
    "correlation_to_average",
    "oracle_correlation",
    "explainable_variance",
    "fev",
    "feve",
    "poisson_log_likelihood",
    "bits_per_spike",
    "group_by_image",
    "model_predictions",
]

ArrayLike = Any  # numpy array, torch tensor or nested sequence
ByImage = Sequence[ArrayLike] | np.ndarray


def _as_numpy(x: ArrayLike, name: str, *, finite: bool = True) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if finite:
        validation.finite(x, name)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (trials, neurons) or (trials,), got {x.shape}.")
    return x


def _pair(
    y_true: ArrayLike, y_pred: ArrayLike, *, finite: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    a = _as_numpy(y_true, "y_true", finite=finite)
    b = _as_numpy(y_pred, "y_pred", finite=finite)
    if a.shape != b.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape; got {a.shape} and {b.shape}."
        )
    if a.shape[0] < 2:
        raise ValueError(f"Need at least 2 trials along axis 0, got {a.shape[0]}.")
    return a, b


def _correlation(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation over axis 0 and the mask of neurons where it is undefined (NaN)."""
    constant = (np.ptp(a, axis=0) == 0) | (np.ptp(b, axis=0) == 0)
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    num = (a * b).sum(axis=0)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    undefined = constant | (den == 0)
    safe = np.where(undefined, 1.0, den)
    return np.where(undefined, np.nan, np.clip(num / safe, -1.0, 1.0)), undefined


_CONSTANT = "its responses or predictions do not vary, so no correlation is defined"


def correlation(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    """Pearson correlation per neuron between responses and predictions, over trials.

    Parameters
    ----------
    y_true, y_pred : array-like
        Shape ``(trials, neurons)`` (or ``(trials,)`` for a single neuron), NumPy or torch;
        finite (NaN or Inf is a ``ValueError``).

    Returns
    -------
    np.ndarray
        Shape ``(neurons,)`` (a 0-d array for 1-D input), values in [-1, 1]. A neuron whose
        responses or predictions are constant over trials has no correlation: it gets **NaN**,
        with an :class:`~artiphys_course.runtime.ArtiphysWarning` (average with ``np.nanmean``).
    """
    a, b = _pair(y_true, y_pred)
    corr, undefined = _correlation(a, b)
    validation.notice_undefined(undefined, "correlation", _CONSTANT)
    return corr


def correlation_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean :func:`correlation` over neurons as a training score, a constant neuron counting 0.

    Early stopping needs a number at every epoch, also when some neuron's predictions are still
    constant; such a neuron (NaN in :func:`correlation`) adds 0 to the mean here, silently.

    Parameters
    ----------
    y_true, y_pred : array-like
        Shape ``(trials, neurons)``.

    Returns
    -------
    float
        NaN when a value is not finite (a diverged model): the trainer's divergence check
        (:func:`artiphys_course.training.fit`) then reports it.
    """
    a, b = _pair(y_true, y_pred, finite=False)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan")
    corr, _ = _correlation(a, b)
    return float(np.mean(np.nan_to_num(corr, nan=0.0)))


def _by_image(responses_by_image: ByImage, name: str = "responses_by_image") -> list[np.ndarray]:
    if isinstance(responses_by_image, torch.Tensor):
        responses_by_image = responses_by_image.detach().cpu().numpy()
    if isinstance(responses_by_image, np.ndarray):
        if responses_by_image.ndim != 3:
            raise ValueError(
                f"{name} as one array must have shape (images, repeats, neurons), "
                f"got {responses_by_image.shape}."
            )
        validation.finite(responses_by_image, name)
        groups = list(responses_by_image.astype(np.float64))
    else:
        groups = []
        for i, g in enumerate(responses_by_image):
            g = _as_numpy(g, f"{name}[{i}]")
            groups.append(g[:, None] if g.ndim == 1 else g)
    if len(groups) < 2:
        raise ValueError(f"{name} must hold at least 2 images, got {len(groups)}.")
    n = {g.shape[1] for g in groups}
    if len(n) != 1:
        raise ValueError(f"Every image in {name} must have the same number of neurons, got {n}.")
    return groups


def _check_repeats(groups: list[np.ndarray], name: str = "responses_by_image") -> None:
    few = [i for i, g in enumerate(groups) if g.shape[0] < 2]
    if few:
        raise ValueError(
            f"{name} needs at least 2 repeats per image; images {few[:10]} have fewer."
        )


def _check_same_layout(groups: list[np.ndarray], preds: list[np.ndarray]) -> None:
    if len(groups) != len(preds):
        raise ValueError(
            f"Got responses for {len(groups)} images but predictions for {len(preds)}."
        )
    if groups[0].shape[1] != preds[0].shape[1]:
        raise ValueError(
            f"Responses have {groups[0].shape[1]} neurons but predictions {preds[0].shape[1]}."
        )


def _predictions_by_image(predictions_by_image: ByImage) -> list[np.ndarray]:
    """Per-image predictions as a list of (k_i, n) arrays; an (images, neurons) array is k_i=1."""
    if isinstance(predictions_by_image, torch.Tensor):
        predictions_by_image = predictions_by_image.detach().cpu().numpy()
    elif not isinstance(predictions_by_image, np.ndarray):
        items = [_as_numpy(p, "predictions_by_image[i]") for p in predictions_by_image]
        if items and all(p.ndim == 1 for p in items):  # one (neurons,) vector per image
            predictions_by_image = np.stack(items)
        else:
            predictions_by_image = items
    if isinstance(predictions_by_image, np.ndarray) and predictions_by_image.ndim == 2:
        validation.finite(predictions_by_image, "predictions_by_image")
        return list(predictions_by_image.astype(np.float64)[:, None, :])
    return _by_image(predictions_by_image, "predictions_by_image")


def correlation_to_average(
    responses_by_image: ByImage, predictions_by_image: ByImage
) -> np.ndarray:
    """Correlation between repeat-averaged responses and predictions, over images.

    Averaging over repeats removes most trial-to-trial noise, so this is higher than the
    single-trial :func:`correlation` (SENSORIUM's "correlation to average").

    Parameters
    ----------
    responses_by_image : sequence of array-like or np.ndarray
        One ``(repeats_i, neurons)`` array per image, or ``(images, repeats, neurons)``.
    predictions_by_image : sequence of array-like or np.ndarray
        The model's predictions in the same layout (they are averaged per image too, which
        matters for models whose prediction depends on the trial, e.g. through eye position),
        or one prediction per image: an ``(images, neurons)`` array or a sequence of
        ``(neurons,)`` vectors.

    Returns
    -------
    np.ndarray
        Shape ``(neurons,)``; NaN, with a warning, for neurons with constant averages (see
        :func:`correlation`).
    """
    groups = _by_image(responses_by_image)
    preds = _predictions_by_image(predictions_by_image)
    _check_same_layout(groups, preds)
    mean_resp = np.stack([g.mean(axis=0) for g in groups])
    mean_pred = np.stack([p.mean(axis=0) for p in preds])
    corr, undefined = _correlation(mean_resp, mean_pred)
    validation.notice_undefined(undefined, "correlation_to_average", _CONSTANT)
    return corr


def oracle_correlation(responses_by_image: ByImage) -> np.ndarray:
    """Leave-one-out (jackknife) oracle correlation per neuron.

    Each trial is predicted by the mean of the *other* repeats of the same image; the oracle is
    the correlation between all trials and these predictions. It needs no model and estimates how
    well a perfect model could do. Because the leave-one-out mean is itself noisy it slightly
    *underestimates* the true single-trial ceiling ``corr(true rate, response)``; the gap closes
    as the number of repeats grows.

    Parameters
    ----------
    responses_by_image : sequence of array-like or np.ndarray
        One ``(repeats_i, neurons)`` array per image (``repeats_i >= 2``), or
        ``(images, repeats, neurons)``.

    Returns
    -------
    np.ndarray
        Shape ``(neurons,)``; NaN, with a warning, for a neuron whose responses do not vary.
    """
    groups = _by_image(responses_by_image)
    _check_repeats(groups)
    trials, loo = [], []
    for g in groups:
        k = g.shape[0]
        trials.append(g)
        loo.append((g.sum(axis=0, keepdims=True) - g) / (k - 1))
    corr, undefined = _correlation(np.concatenate(trials), np.concatenate(loo))
    validation.notice_undefined(
        undefined, "oracle_correlation", "its responses (or their leave-one-out means) are constant"
    )
    return corr


def _variances(groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Total variance over all trials and noise variance (mean over images), both ddof=1."""
    total = np.concatenate(groups).var(axis=0, ddof=1)
    noise = np.mean([g.var(axis=0, ddof=1) for g in groups], axis=0)
    return total, noise


def explainable_variance(responses_by_image: ByImage) -> np.ndarray:
    """Explainable variance per neuron: total variance minus noise variance.

    The total variance is taken over all trials, the noise variance is the variance across
    repeats of one image averaged over images (both with ``ddof=1``), following Cadena et al.
    (2019). Units: response units squared. It can be slightly negative for neurons without
    stimulus-driven variance (estimation noise).

    Parameters
    ----------
    responses_by_image : sequence of array-like or np.ndarray
        One ``(repeats_i, neurons)`` array per image (``repeats_i >= 2``), or
        ``(images, repeats, neurons)``.

    Returns
    -------
    np.ndarray
        Shape ``(neurons,)``.
    """
    groups = _by_image(responses_by_image)
    _check_repeats(groups)
    total, noise = _variances(groups)
    return total - noise


def fev(responses_by_image: ByImage) -> np.ndarray:
    """Fraction of explainable variance (FEV): explainable variance / total variance.

    1 for noiseless responses, 0 for pure noise; Cadena et al. (2019) kept neurons with an
    FEV above 0.15. A neuron with zero total variance has no FEV: NaN, with a warning.

    Parameters
    ----------
    responses_by_image : sequence of array-like or np.ndarray
        One ``(repeats_i, neurons)`` array per image (``repeats_i >= 2``), or
        ``(images, repeats, neurons)``.

    Returns
    -------
    np.ndarray
        Shape ``(neurons,)``, at most 1; NaN where the responses do not vary at all.
    """
    groups = _by_image(responses_by_image)
    _check_repeats(groups)
    total, noise = _variances(groups)
    validation.notice_undefined(total <= 0, "fev", "its responses do not vary at all")
    safe = np.where(total > 0, total, 1.0)
    return np.where(total > 0, (total - noise) / safe, np.nan)


def feve(responses_by_image: ByImage, predictions_by_image: ByImage) -> np.ndarray:
    """Fraction of explainable variance explained (FEVE) per neuron.

    ``FEVE = 1 - (MSE - noise variance) / (total variance - noise variance)``, where the mean
    squared error is taken between single-trial responses and predictions (Cadena et al. 2019;
    SENSORIUM 2022). A model predicting the true mean response of each image has FEVE close
    to 1, the constant mean response gives about 0, and worse models are negative.

    Parameters
    ----------
    responses_by_image : sequence of array-like or np.ndarray
        One ``(repeats_i, neurons)`` array per image (``repeats_i >= 2``), or
        ``(images, repeats, neurons)``.
    predictions_by_image : sequence of array-like or np.ndarray
        Predictions in the same layout, or one ``(images, neurons)`` array (one prediction per
        image, used for every repeat).

    Returns
    -------
    np.ndarray
        Shape ``(neurons,)``. NaN, with a warning, where the explainable variance is not
        positive (FEVE is undefined there; select neurons with :func:`fev` first).
    """
    groups = _by_image(responses_by_image)
    _check_repeats(groups)
    preds = _predictions_by_image(predictions_by_image)
    _check_same_layout(groups, preds)
    for i, (g, p) in enumerate(zip(groups, preds, strict=True)):
        if p.shape[0] not in (1, g.shape[0]):
            raise ValueError(
                f"Image {i} has {g.shape[0]} repeats but {p.shape[0]} predictions "
                "(give one prediction per repeat or one per image)."
            )
    total, noise = _variances(groups)
    mse = np.concatenate([(g - p) ** 2 for g, p in zip(groups, preds, strict=True)]).mean(axis=0)
    explainable = total - noise
    positive = explainable > 0
    validation.notice_undefined(~positive, "feve", "its explainable variance is not positive")
    safe = np.where(positive, explainable, 1.0)
    return np.where(positive, 1.0 - (mse - noise) / safe, np.nan)


def poisson_log_likelihood(
    y_true: ArrayLike, y_pred: ArrayLike, *, eps: float = 1e-8
) -> np.ndarray:
    """Mean Poisson log-likelihood per trial of the responses under the predicted rates.

    ``log p(k | rate) = k log(rate) - rate - log k!``, with the exact ``log k! = lgamma(k + 1)``
    (defined for non-integer responses too), averaged over trials. Units: nats per trial.
    Higher is better; compare models on the same data only.

    Parameters
    ----------
    y_true : array-like
        Observed responses (counts), shape ``(trials, neurons)``, non-negative.
    y_pred : array-like
        Predicted rates, same shape, non-negative.
    eps : float
        Added to the rates inside the logarithm (as in :func:`artiphys_course.losses.poisson_loss`).

    Returns
    -------
    np.ndarray
        Shape ``(neurons,)``.
    """
    from scipy.special import gammaln

    k, rate = _pair(y_true, y_pred)
    if (rate < 0).any():
        raise ValueError(f"Predicted rates must be non-negative; the smallest is {rate.min():.3g}.")
    if (k < 0).any():
        raise ValueError(f"Responses must be non-negative counts; the smallest is {k.min():.3g}.")
    return (k * np.log(rate + eps) - rate - gammaln(k + 1)).mean(axis=0)


def bits_per_spike(y_true: ArrayLike, y_pred: ArrayLike, *, eps: float = 1e-8) -> np.ndarray:
    """Poisson log-likelihood gain over a constant-rate model, in bits per spike, per neuron.

    ``(log L(model) - log L(null)) / (n_spikes * log 2)`` where the null model predicts each
    neuron's mean response on these trials (Pillow et al. 2008, Nature 454: 995; Pei et al. 2021,
    Neural Latents Benchmark). 0 means no better than the mean rate; positive is better. The
    ``log k!`` terms cancel, so non-integer responses are fine.

    Parameters
    ----------
    y_true : array-like
        Observed responses (counts), shape ``(trials, neurons)``, non-negative.
    y_pred : array-like
        Predicted rates, same shape, non-negative.
    eps : float
        Added to rates inside the logarithm.

    Returns
    -------
    np.ndarray
        Shape ``(neurons,)``; NaN, with a warning, for neurons without any spike.
    """
    k, rate = _pair(y_true, y_pred)
    if (rate < 0).any() or (k < 0).any():
        raise ValueError("Responses and predicted rates must be non-negative.")
    null = k.mean(axis=0)
    gain = (k * np.log(rate + eps) - rate).sum(axis=0) - (k * np.log(null + eps) - null).sum(axis=0)
    spikes = k.sum(axis=0)
    validation.notice_undefined(spikes <= 0, "bits_per_spike", "it has no spike on these trials")
    safe = np.where(spikes > 0, spikes, 1.0)
    return np.where(spikes > 0, gain / (safe * np.log(2)), np.nan)


def group_by_image(values: ArrayLike, image_ids: ArrayLike) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group single trials by the image shown: the ``responses_by_image`` layout.

    The one grouping of repeated trials in the package (the digital V1's
    ``DigitalV1.test_repeats`` and the data sets' ``data.static.test_repeats`` use it).

    Parameters
    ----------
    values : array-like
        Shape ``(trials, ...)``, e.g. ``(trials, neurons)`` responses or predictions; NumPy or
        torch (any device). The dtype is kept.
    image_ids : array-like
        Shape ``(trials,)``, the image shown on each trial.

    Returns
    -------
    images : np.ndarray
        ``(n_images,)`` the distinct image ids, increasing.
    groups : list of np.ndarray
        ``groups[k]`` is ``(repeats_k, ...)``: the values of every trial that showed
        ``images[k]``, in trial order. When every image has the same number of repeats,
        ``np.stack(groups)`` is the ``(n_images, repeats, ...)`` array.
    """
    x = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    ids = np.asarray(image_ids.detach().cpu() if isinstance(image_ids, torch.Tensor) else image_ids)
    if x.ndim < 1 or ids.shape != (x.shape[0],):
        raise ValueError(
            f"values must be (trials, ...) and image_ids (trials,); got {x.shape} and {ids.shape}."
        )
    order = np.argsort(ids, kind="stable")
    images, starts = np.unique(ids[order], return_index=True)
    return images, np.split(x[order], starts[1:])


@torch.no_grad()
def model_predictions(
    model: torch.nn.Module,
    loader: DataLoader,
    *,
    device: str | torch.device | None = None,
    data_key: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``model`` over every batch of ``loader`` and collect responses and predictions.

    The model is evaluated in eval mode (its previous mode is restored) without gradients.

    Parameters
    ----------
    model : torch.nn.Module
        An encoding model called as ``model(images, pupil_center=..., data_key=...)``.
    loader : DataLoader
        Yields ``Batch(images, responses, pupil_center)`` named tuples
        (:func:`artiphys_course.data.static.dataloaders`).
    device : str or torch.device, optional
        Where to compute; default: the device of the model's parameters (CPU if it has none).
    data_key : str, optional
        The session whose readout to use (multi-session models).

    Returns
    -------
    y_true, y_pred : np.ndarray
        Both ``(trials, neurons)`` float32, trials in the loader's order.
    """
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    was_training = model.training
    model.eval()
    true, pred = [], []
    try:
        for batch in loader:
            images = batch.images.to(device)
            pupil = batch.pupil_center.to(device) if batch.pupil_center is not None else None
            out = model(images, pupil_center=pupil, data_key=data_key)
            true.append(batch.responses.detach().cpu().float().numpy())
            pred.append(out.detach().cpu().float().numpy())
    finally:
        model.train(was_training)
    if not true:
        raise ValueError("The loader yielded no batches.")
    return np.concatenate(true), np.concatenate(pred)
