"""Checks for notebook 04 (Poisson loss): log-probabilities, the loss, bits per spike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import stats

from artiphys_course.checks.core import CheckResult, check_function
from artiphys_course.losses import poisson_loss
from artiphys_course.metrics import bits_per_spike

__all__ = ["check_poisson_log_pmf", "check_poisson_loss", "check_bits_per_spike"]


def _rates_and_counts(seed: int, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    rates = torch.rand(shape, generator=g) * 4 + 0.05
    counts = torch.poisson(rates, generator=g)
    return rates, counts


def _scipy_log_pmf(counts: torch.Tensor, rates: torch.Tensor) -> torch.Tensor:
    """The independent reference: scipy's Poisson log-probability mass function."""
    return torch.from_numpy(stats.poisson.logpmf(counts.numpy(), rates.numpy())).float()


def check_poisson_log_pmf(student: Callable[[torch.Tensor, torch.Tensor], Any]) -> CheckResult:
    """Check ``student(counts, rates)`` -> element-wise ``log p(counts | rates)``.

    Compared with :data:`scipy.stats.poisson.logpmf` on counts 0..12 and random rates.
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
        hint="log p(k | rate) = k * log(rate) - rate - log(k!), and log(k!) = torch.lgamma(k + 1).",
        fallback="scipy.stats.poisson",
    )


def check_poisson_loss(student: Callable[[torch.Tensor, torch.Tensor], Any]) -> CheckResult:
    """Check ``student(rates, responses)`` against :func:`artiphys_course.losses.poisson_loss`.

    The loss is the mean over all elements of ``rate - response * log(rate + 1e-8)``.
    """
    cases = [
        (torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 3.0]])),
        _rates_and_counts(2, (16, 5)),
        _rates_and_counts(3, (64, 30)),
    ]
    return check_function(
        student,
        poisson_loss,
        cases,
        name="poisson_loss",
        rtol=1e-5,
        atol=1e-5,
        hint="Drop log(k!) (it does not depend on the model), keep rate - k * log(rate + eps), "
        "and average over trials and neurons.",
        fallback="artiphys_course.losses.poisson_loss",
    )


def check_bits_per_spike(student: Callable[[np.ndarray, np.ndarray], Any]) -> CheckResult:
    """Check ``student(y_true, y_pred)`` against :func:`artiphys_course.metrics.bits_per_spike`."""
    cases = []
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
        hint="Per neuron: (log-likelihood of the model - log-likelihood of the mean rate), summed "
        "over trials, divided by (number of spikes * log 2). The log(k!) terms cancel.",
        fallback="artiphys_course.metrics.bits_per_spike",
    )
