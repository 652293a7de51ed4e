"""Poisson loss: equal to torch's PoissonNLLLoss, minimised by the mean, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from artiphys_course.losses import poisson_loss


@pytest.fixture
def rates_and_counts() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    rates = torch.rand(64, 7, generator=g, dtype=torch.float64) * 5
    counts = torch.poisson(rates, generator=g)
    rates[0, 0] = 0.0  # a zero rate stays finite thanks to eps
    counts[1, :] = torch.tensor([0.0, 1.0, 2.0, 0.5, 1.5, 10.0, 30.0])  # around the Stirling mask
    return rates, counts


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_equals_torch_poisson_nll(rates_and_counts, full, reduction):
    rates, counts = rates_and_counts
    ours = poisson_loss(rates, counts, full=full, reduction=reduction)
    ref = torch.nn.PoissonNLLLoss(log_input=False, full=full, reduction=reduction)(rates, counts)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_gradient_equals_torch(rates_and_counts):
    rates, counts = rates_and_counts
    a = (rates + 0.1).requires_grad_(True)
    b = (rates + 0.1).requires_grad_(True)
    poisson_loss(a, counts).backward()
    torch.nn.PoissonNLLLoss(log_input=False)(b, counts).backward()
    torch.testing.assert_close(a.grad, b.grad)


def test_full_loss_approximates_exact_negative_log_likelihood():
    counts = torch.arange(2, 60, dtype=torch.float64)[:, None]
    rates = torch.full_like(counts, 7.3)
    full = poisson_loss(rates, counts, eps=0.0, full=True, reduction="none").numpy().ravel()
    exact = -stats.poisson.logpmf(counts.numpy().ravel(), 7.3)
    # Stirling's formula overestimates log k! by less than 1 / (12 k)
    err = exact - full
    assert np.all(err > 0)
    assert np.all(err < 1 / (12 * counts.numpy().ravel()))


def test_minimised_by_the_mean_response():
    """The maximum-likelihood constant rate of Poisson counts is their mean."""
    counts = torch.poisson(torch.full((500, 3), 2.5), generator=torch.Generator().manual_seed(1))
    grid = torch.linspace(1.5, 3.5, 2001, dtype=torch.float64)
    losses = torch.stack(
        [
            poisson_loss(torch.full_like(counts, float(r)), counts, reduction="none").mean(0)
            for r in grid
        ]
    )
    best = grid[losses.argmin(dim=0)]
    torch.testing.assert_close(best, counts.mean(0).double(), atol=1e-3, rtol=0)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="same shape"):
        poisson_loss(torch.ones(4, 3), torch.ones(4, 2))
    with pytest.raises(ValueError, match="non-negative"):
        poisson_loss(torch.tensor([[1.0, -0.5]]), torch.ones(1, 2))
    with pytest.raises(ValueError, match="reduction"):
        poisson_loss(torch.ones(2, 2), torch.ones(2, 2), reduction="avg")
