"""Checks for notebook 04 (Poisson loss): log-probabilities, the loss, one training step, bits
per spike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn

from artiphys_course.checks.core import CheckResult, Mistake, Observed, check_function
from artiphys_course.losses import poisson_loss
from artiphys_course.metrics import bits_per_spike
from artiphys_course.models.encoders import ln_model
from artiphys_course.runtime import seeded
from artiphys_course.training import LOSSES

__all__ = [
    "check_bits_per_spike",
    "check_poisson_log_pmf",
    "check_poisson_loss",
    "check_training_step",
]


def _rates_and_counts(seed: int, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    rates = torch.rand(shape, generator=g) * 4 + 0.05
    counts = torch.poisson(rates, generator=g)
    return rates, counts


def _scipy_log_pmf(counts: torch.Tensor, rates: torch.Tensor) -> torch.Tensor:
    """The independent reference: scipy's Poisson log-probability mass function."""
    return torch.from_numpy(stats.poisson.logpmf(counts.numpy(), rates.numpy())).float()


def _log_pmf_without_factorial(k: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    return k * torch.log(rate) - rate


_LOG_PMF_MISTAKES = [
    Mistake(
        "a missing log k!",
        _log_pmf_without_factorial,
        "A probability must sum to 1 over all counts; the k! of the distribution's formula "
        "matters here (it is only the loss that may drop it).",
    ),
    Mistake(
        "log (k - 1)! instead of log k!",
        lambda k, r: _log_pmf_without_factorial(k, r) - torch.lgamma(k),
        "The gamma function is shifted by one against the factorial: check your answer at k = 0 "
        "and k = 1, where 0! = 1! = 1.",
    ),
    Mistake(
        "the probability instead of its logarithm",
        lambda k, r: _scipy_log_pmf(k, r).exp(),
        "The function returns log p: numbers below 0, never above.",
    ),
    Mistake(
        "the negative log-probability",
        lambda k, r: -_scipy_log_pmf(k, r),
        "This is log p itself, not the loss: a likely count has a value close to 0 from below.",
    ),
    Mistake(
        "counts and rates swapped",
        lambda k, r: _scipy_log_pmf(r, k),
        "The arguments are (counts, rates), in that order.",
    ),
]


def check_poisson_log_pmf(student: Callable[[torch.Tensor, torch.Tensor], Any]) -> CheckResult:
    """Check ``student(counts, rates)`` -> element-wise ``log p(counts | rates)``.

    Compared with :data:`scipy.stats.poisson.logpmf` on fixed counts 0..12 and seeded random
    rates and counts.
    """
    cases = [
        (torch.tensor([0.0, 1.0, 2.0, 5.0]), torch.tensor([1.0, 1.0, 0.5, 4.0])),
        _rates_and_counts(1, (20, 3))[::-1],
        (torch.arange(13.0), torch.full((13,), 3.3)),
    ]
    return check_function(
        student,
        _scipy_log_pmf,
        cases,
        name="poisson_log_pmf",
        rtol=1e-4,
        atol=1e-4,
        mistakes=_LOG_PMF_MISTAKES,
        forbidden=[
            "artiphys_course.losses.poisson_loss",
            "artiphys_course.metrics.poisson_log_likelihood",
        ],
        hint="Take the logarithm of the probability term by term: the power, the exponential "
        "and the factorial each give one term (the factorial through the log-gamma function).",
        fallback="scipy.stats.poisson",
    )


def _elementwise(rates: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    return poisson_loss(rates, responses, reduction="none")


_LOSS_MISTAKES = [
    Mistake(
        "the sum instead of the mean",
        lambda r, k: _elementwise(r, k).sum(),
        "The loss is averaged over all trials and neurons, so it does not grow with the batch.",
    ),
    Mistake(
        "the sum over neurons (the training loss) instead of the mean",
        lambda r, k: _elementwise(r, k).sum(1).mean(),
        "This exercise averages over neurons too; summing over them is what the training "
        "step does later.",
    ),
    Mistake(
        "a missing epsilon inside the logarithm",
        lambda r, k: (r - k * torch.log(r)).mean(),
        "A rate of exactly 0 must give a finite loss: the logarithm needs a tiny offset.",
    ),
    Mistake(
        "rates and responses swapped",
        lambda r, k: _elementwise(k, r).mean(),
        "The arguments are (rates, responses): the logarithm is taken of the model's rate.",
    ),
    Mistake(
        "the log-likelihood instead of the loss (sign flipped)",
        lambda r, k: -_elementwise(r, k).mean(),
        "A loss is minimised: it is the negative log-likelihood.",
    ),
    Mistake(
        "the squared error instead of the Poisson loss",
        lambda r, k: ((r - k) ** 2).mean(),
        "The Poisson loss comes from the Poisson likelihood of section 3, not from a Gaussian.",
    ),
    Mistake(
        "a loss that keeps log k!",
        lambda r, k: (_elementwise(r, k) + torch.lgamma(k + 1)).mean(),
        "The log k! term does not depend on the model, so the loss drops it.",
    ),
]


def check_poisson_loss(student: Callable[[torch.Tensor, torch.Tensor], Any]) -> CheckResult:
    """Check ``student(rates, responses)`` against :func:`artiphys_course.losses.poisson_loss`.

    The loss is the mean over all elements of ``rate - response * log(rate + 1e-8)``; one case
    has a zero rate (where the epsilon matters).
    """
    rates, counts = _rates_and_counts(3, (64, 30))
    cases = [
        (torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 3.0]])),
        _rates_and_counts(2, (16, 5)),
        (rates, counts),
        (torch.tensor([[0.0, 0.5], [2.0, 0.0]]), torch.tensor([[0.0, 1.0], [4.0, 0.0]])),
    ]
    return check_function(
        student,
        poisson_loss,
        cases,
        name="poisson_loss",
        rtol=1e-5,
        atol=1e-5,
        mistakes=_LOSS_MISTAKES,
        forbidden=["artiphys_course.losses.poisson_loss"],
        hint="Start from the negative log-likelihood of section 3, keep only the terms that "
        "depend on the rate, and average over trials and neurons.",
        fallback="artiphys_course.losses.poisson_loss",
    )


def _step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    responses: torch.Tensor,
    *,
    data_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = LOSSES["poisson"],
    regularize: bool = True,
    zero_grad: bool = True,
    update: bool = True,
) -> float:
    """The training step of :func:`artiphys_course.training.train` (the keywords make mistakes)."""
    rates = model(images)
    loss = data_loss(rates, responses)
    if regularize:
        loss = loss + model.regularizer()
    if zero_grad:
        optimizer.zero_grad()
    loss.backward()
    if update:
        optimizer.step()
    return float(loss.detach())


def _after_step(
    loss: Any,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    responses: torch.Tensor,
) -> dict[str, Any]:
    """What a training step leaves behind: the loss it returned and the updated parameters."""
    return {
        "returned loss": loss,
        "parameters after the step": {k: p.detach() for k, p in model.named_parameters()},
    }


def _stale_gradients(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    responses: torch.Tensor,
) -> None:
    """Leave gradients of an earlier batch in the parameters (as after a previous step)."""
    (model(images.flip(0)) ** 2).sum().backward()


def _observed(step: Callable[..., Any]) -> Observed:
    """``step`` on a model with stale gradients, followed by what it left behind."""
    return Observed(step, _after_step, prepare=_stale_gradients)


_STEP_MISTAKES = [
    Mistake(
        "the squared error instead of the Poisson loss",
        _observed(lambda *a: _step(*a, data_loss=LOSSES["mse"])),
        "Spike counts are trained with the loss of this notebook.",
    ),
    Mistake(
        "gradients that are never cleared (the previous batch's gradients are added)",
        _observed(lambda *a: _step(*a, zero_grad=False)),
        "backward() adds to the gradients already stored in the parameters; clear them before "
        "computing the new ones.",
    ),
    Mistake(
        "the mean over neurons instead of the sum",
        _observed(lambda *a: _step(*a, data_loss=poisson_loss)),
        "The training loss is summed over neurons and averaged over the trials of the batch, so "
        "that the regulariser's weight does not depend on the number of neurons.",
    ),
    Mistake(
        "the sum over trials instead of the mean",
        _observed(lambda *a: _step(*a, data_loss=lambda r, k: poisson_loss(r, k, reduction="sum"))),
        "Average over the trials of the batch, so the step size does not depend on the batch size.",
    ),
    Mistake(
        "a missing regulariser",
        _observed(lambda *a: _step(*a, regularize=False)),
        "The model's penalty (its regularizer()) is part of the loss that is minimised.",
    ),
    Mistake(
        "no update of the parameters",
        _observed(lambda *a: _step(*a, update=False)),
        "The optimizer changes the parameters in its step, after backward() has computed the "
        "gradients; clearing them in between loses them.",
    ),
]


def _written_out_poisson_loss(rates: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """The mean Poisson loss without the package's function, which the training step may not call
    (a reference for the student's ``poisson_loss_exercise`` inside the step)."""
    return (rates - responses * torch.log(rates + 1e-8)).mean()


def _step_case(seed: int, optimizer: str) -> tuple[Any, ...]:
    """A tiny LN model in training mode, its optimizer and one batch."""
    with seeded(seed):
        model = ln_model((6, 8), 5, gamma=0.05, gamma_smooth=0.2).train()
        images = torch.randn(12, 1, 6, 8)
        responses = torch.poisson(torch.rand(12, 5) * 3)
        if optimizer == "adam":
            opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
            model(images).sum().backward()
            opt.step()  # one earlier step: Adam has a state
        else:
            opt = torch.optim.SGD(model.parameters(), lr=0.05)
    return model, opt, images, responses


def check_training_step(
    student: Callable[[nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor], Any],
) -> CheckResult:
    """Check ``student(model, optimizer, images, responses)``: one step of Poisson training.

    On tiny LN models (with stale gradients, SGD and Adam) the parameters after the student's
    step and the returned loss must equal those of the step of
    :func:`artiphys_course.training.train`: Poisson loss summed over neurons and averaged over
    trials, plus ``model.regularizer()``, gradients cleared, backward, optimizer step. A wrong
    ``poisson_loss_exercise`` used inside is blamed on that exercise.
    """
    cases = [_step_case(0, "sgd"), _step_case(1, "sgd"), _step_case(2, "adam")]
    return check_function(
        _observed(student),
        _observed(_step),
        cases,
        name="training_step",
        rtol=1e-4,
        atol=1e-6,
        mistakes=_STEP_MISTAKES,
        forbidden=[  # the loss too, as when grading (your poisson_loss_exercise is the loss)
            "artiphys_course.losses.poisson_loss",
            "artiphys_course.training.train",
            "artiphys_course.training.fit",
        ],
        uses={"poisson_loss_exercise": _written_out_poisson_loss},
        hint="Follow the four steps of the docstring in order, with the loss summed over neurons "
        "and averaged over trials, plus the model's penalty.",
        fallback="artiphys_course.training.train",
    )


def _bits(k: np.ndarray, rate: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Log-likelihood gain (nats) of ``rate`` over ``null``, summed over trials, per neuron."""
    return (k * np.log(rate) - rate).sum(0) - (k * np.log(null) - null).sum(0)


_BITS_MISTAKES = [
    Mistake(
        "nats per spike instead of bits",
        lambda k, r: bits_per_spike(k, r) * np.log(2),
        "A bit is the information of one binary choice: convert the natural logarithm's units.",
    ),
    Mistake(
        "bits per trial instead of per spike",
        lambda k, r: _bits(k, r, k.mean(0)) / (len(k) * np.log(2)),
        "Divide by the neuron's number of spikes, not by the number of trials.",
    ),
    Mistake(
        "the null model's rate taken from the predictions",
        lambda k, r: _bits(k, r, r.mean(0)) / (k.sum(0) * np.log(2)),
        "The null model knows only the neuron's observed mean count.",
    ),
    Mistake(
        "one number for all neurons",
        lambda k, r: _bits(k, r, k.mean(0)).sum() / (k.sum() * np.log(2)),
        "The result has one value per neuron: keep the neuron axis.",
    ),
]


def check_bits_per_spike(student: Callable[[np.ndarray, np.ndarray], Any]) -> CheckResult:
    """Check ``student(y_true, y_pred)`` against :func:`artiphys_course.metrics.bits_per_spike`.

    A fixed case and two seeded random ones, all with spikes for every neuron.
    """
    cases = [
        (
            np.array([[0.0, 2.0], [1.0, 3.0], [2.0, 0.0]]),
            np.array([[0.5, 2.5], [1.0, 2.0], [1.5, 0.5]]),
        )
    ]
    for seed, shape in ((4, (50, 3)), (5, (200, 8))):
        rates, counts = _rates_and_counts(seed, shape)
        cases.append((counts.numpy().astype(np.float64), rates.numpy().astype(np.float64)))
    return check_function(
        student,
        bits_per_spike,
        cases,
        name="bits_per_spike",
        rtol=1e-4,
        atol=1e-5,
        mistakes=_BITS_MISTAKES,
        forbidden=[
            "artiphys_course.metrics.bits_per_spike",
            "artiphys_course.metrics.poisson_log_likelihood",
        ],
        hint="Per neuron: how much more likely the model makes the observed counts than a model "
        "that always predicts the neuron's mean, relative to how many spikes there were, in "
        "bits.",
        fallback="artiphys_course.metrics.bits_per_spike",
    )
