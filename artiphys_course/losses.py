"""Loss functions for encoding models of spiking neurons.

The Poisson loss is the negative log-likelihood of observed spike counts under a Poisson
distribution whose mean is the model's predicted rate. For a count :math:`k` and rate
:math:`\\lambda > 0`

.. math::

    -\\log p(k \\mid \\lambda) = \\lambda - k \\log \\lambda + \\log k!

The last term does not depend on the model, so training drops it (``full=False``); with
``full=True`` it is approximated, as in :class:`torch.nn.PoissonNLLLoss`, by Stirling's formula
:math:`k \\log k - k + \\tfrac12 \\log(2 \\pi k)` for :math:`k > 1` (and 0 for :math:`k \\le 1`).
Notebook 04 derives the loss step by step.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from artiphys_course import validation

__all__ = ["poisson_loss"]

Reduction = Literal["mean", "sum", "none"]
_REDUCTIONS = ("mean", "sum", "none")


def poisson_loss(
    rates: torch.Tensor,
    responses: torch.Tensor,
    *,
    eps: float = 1e-8,
    full: bool = False,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Poisson negative log-likelihood of ``responses`` given predicted ``rates``.

    Equal to ``torch.nn.PoissonNLLLoss(log_input=False, full=full, eps=eps, reduction=...)``
    on the same input, written out so that it can be read (and derived in notebook 04).

    Parameters
    ----------
    rates : torch.Tensor
        Predicted mean responses, shape ``(trials, neurons)`` (any shape works), non-negative.
        Units: expected counts per trial (the same units as ``responses``).
    responses : torch.Tensor
        Observed responses, same shape as ``rates`` (finite non-negative counts; non-integer
        values such as normalised responses are allowed). A negative count is an error: the
        loss would have no minimum.
    eps : float
        Added to the rates inside the logarithm so that a zero rate gives a finite loss.
    full : bool
        Add the model-independent :math:`\\log k!` term, approximated by Stirling's formula for
        counts above 1 (exactly torch's ``full=True``). Use it to report a likelihood, not to train.
    reduction : {"mean", "sum", "none"}
        Mean over all elements (default, like torch), their sum, or the element-wise loss.

    Returns
    -------
    torch.Tensor
        A scalar, or a tensor shaped like ``rates`` when ``reduction="none"``.

    Raises
    ------
    ValueError
        Shapes differ, a rate or a response is negative, NaN or infinite, ``reduction`` is
        unknown, or the mean of no elements is asked for.

    Examples
    --------
    >>> rates = torch.tensor([[1.0, 2.0]])
    >>> responses = torch.tensor([[0.0, 3.0]])
    >>> poisson_loss(rates, responses, reduction="none")
    tensor([[1.0000, -0.0794]])
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")
    if rates.shape != responses.shape:
        raise ValueError(
            f"rates and responses must have the same shape (trials, neurons); got rates "
            f"{tuple(rates.shape)} and responses {tuple(responses.shape)}."
        )
    if reduction == "mean" and rates.numel() == 0:
        raise ValueError("rates and responses are empty: their mean loss is undefined.")
    validation.finite(rates, "rates")
    validation.finite(responses, "responses")
    if bool((responses < 0).any()):
        raise ValueError(
            "responses must be non-negative counts, but the smallest is "
            f"{responses.min().item():.3g} (with a negative count the loss has no minimum)."
        )
    if bool((rates < 0).any()):
        raise ValueError(
            "Poisson rates must be non-negative, but the smallest rate is "
            f"{rates.min().item():.3g}. End the model with a positive nonlinearity such as "
            "ELU + 1 or softplus."
        )
    loss = rates - responses * torch.log(rates + eps)
    if full:
        stirling = (
            responses * torch.log(responses) - responses + 0.5 * torch.log(2 * math.pi * responses)
        )
        loss = loss + stirling.masked_fill(responses <= 1, 0.0)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
