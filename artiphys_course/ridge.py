"""Closed-form ridge regression for many neurons, penalty chosen by leave-one-out per neuron.

:func:`fit_ridge` fits ``Y ~ X W + b`` for all neurons (columns of ``Y``) at once and chooses each
neuron's penalty from a grid by exact leave-one-out cross-validation, all from one
eigendecomposition of the centred Gram (or covariance) matrix: the same estimator as
scikit-learn's ``RidgeCV(alphas=..., alpha_per_target=True)``, and the coefficients equal
``sklearn.linear_model.Ridge`` at the chosen penalty. It is the readout of the layer x area grid
(:mod:`artiphys_course.layer_grid`); ``benchmarks/bench_ridge.py`` compares it with ``RidgeCV``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

__all__ = ["DEFAULT_RELATIVE_ALPHAS", "RidgeReadout", "fit_ridge"]

#: Default candidate penalties, relative to the mean eigenvalue of the centred Gram matrix
#: (``trace(Xc Xc^T) / rank``), so that the grid suits features of any scale.
DEFAULT_RELATIVE_ALPHAS = np.logspace(-3, 4, 15)


@dataclass
class RidgeReadout:
    """A fitted multi-output ridge regression ``Y ~ X @ coef + intercept``.

    Attributes
    ----------
    coef : np.ndarray
        ``(n_features, n_neurons)`` weights.
    intercept : np.ndarray
        ``(n_neurons,)`` unpenalised offsets.
    alpha : np.ndarray
        ``(n_neurons,)`` the penalty chosen for each neuron (absolute units of ``X``).
    alphas : np.ndarray
        ``(n_alphas,)`` the candidate penalties (absolute units).
    loo_mse : np.ndarray
        ``(n_alphas, n_neurons)`` exact leave-one-out mean squared error of every candidate.
    """

    coef: np.ndarray
    intercept: np.ndarray
    alpha: np.ndarray
    alphas: np.ndarray
    loo_mse: np.ndarray

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predict responses ``(n_samples, n_neurons)`` from features ``(n_samples, ...)``."""
        x = _as_matrix(features, "features")
        if x.shape[1] != self.coef.shape[0]:
            raise ValueError(
                f"features have {x.shape[1]} dimensions, the readout was fitted on "
                f"{self.coef.shape[0]}"
            )
        return x @ self.coef + self.intercept


def _as_matrix(x: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name} must be (n_samples, ...), 2 or more dimensions, got {x.shape}")
    return x.reshape(len(x), -1)


def _centred_gram(x: np.ndarray, mean: np.ndarray, block: int = 4096) -> np.ndarray:
    """``Xc Xc^T`` (float64, ``(n, n)``) with ``Xc = x - mean``, centred one column block at a time.

    Centring a block before its product keeps the accuracy of centring first (no cancellation
    of large means) while holding only ``n x block`` centred values instead of a copy of ``x``.
    """
    n, p = x.shape
    gram = np.zeros((n, n))
    for start in range(0, p, block):
        xc = x[:, start : start + block] - mean[start : start + block]
        gram += xc @ xc.T
    return gram


def _eigh(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return scipy.linalg.eigh(a, driver="evr", overwrite_a=True, check_finite=False)


def fit_ridge(
    features: np.ndarray | torch.Tensor,
    responses: np.ndarray | torch.Tensor,
    alphas: Sequence[float] | np.ndarray | None = None,
    *,
    alpha_per_neuron: bool = True,
) -> RidgeReadout:
    """Ridge regression for all neurons, penalty chosen by exact leave-one-out CV.

    Minimises ``||Y - X W - b||^2 + alpha ||W||^2`` (intercept ``b`` not penalised). One
    eigendecomposition of the centred Gram matrix (``n_samples x n_samples`` when there are more
    features than samples, else the ``n_features x n_features`` covariance) gives the
    leave-one-out residuals of every candidate penalty in closed form
    (``e_i / (1 - h_ii)``, the hat-matrix identity), as in scikit-learn's ``RidgeCV``.

    Parameters
    ----------
    features : array or tensor
        ``(n_samples, ...)``; trailing dimensions are flattened.
    responses : array or tensor
        ``(n_samples, n_neurons)`` (or ``(n_samples,)`` for one neuron).
    alphas : sequence of float, optional
        Candidate penalties in the units of ``features``. Default: ``DEFAULT_RELATIVE_ALPHAS``
        times the mean non-zero eigenvalue of the centred Gram matrix (scale-free).
    alpha_per_neuron : bool
        Choose the penalty for each neuron (default) or one for all (lowest mean LOO error).

    Returns
    -------
    RidgeReadout
    """
    x = _as_matrix(features, "features")
    # the O(n^2 p) Gram / covariance product runs in the features' precision (float32 features:
    # twice as fast, plenty for a penalised fit); everything after it in float64
    work = np.float32 if x.dtype == np.float32 else np.float64
    y = responses.detach().cpu().numpy() if isinstance(responses, torch.Tensor) else responses
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or len(y) != len(x):
        raise ValueError(
            f"responses must be (n_samples, n_neurons) with n_samples = {len(x)} (the features'), "
            f"got {y.shape}"
        )
    n, p = x.shape
    if n < 3:
        raise ValueError(f"need at least 3 samples for leave-one-out, got {n}")
    x_mean, y_mean = x.mean(0, dtype=np.float64), y.mean(0)
    yc = y - y_mean

    dual = n <= p
    # LAPACK's MRRR driver (evr) is several times faster here than numpy's default (evd)
    if dual:  # Gram matrix Xc Xc^T = U diag(lam) U^T; Xc is never held whole (see _centred_gram)
        lam, u = _eigh(_centred_gram(x, x_mean.astype(work)))
    else:  # covariance Xc^T Xc = V diag(lam) V^T, U = Xc V / sqrt(lam)
        xc = x - x_mean.astype(work)
        lam, v = _eigh((xc.T @ xc).astype(np.float64))
    keep = lam > max(lam.max(initial=0.0), 0.0) * 1e-10
    if not keep.any():
        raise ValueError("features are constant across samples: nothing to regress on")
    lam = lam[keep]
    if dual:
        u = u[:, keep]
    else:
        v = v[:, keep]
        u = (xc @ v) / np.sqrt(lam)

    if alphas is None:
        alphas = DEFAULT_RELATIVE_ALPHAS * lam.mean()
    alphas = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    if alphas.ndim != 1 or np.any(alphas <= 0):
        raise ValueError(f"alphas must be a 1-d sequence of positive numbers, got {alphas}")

    uty = u.T @ yc  # (rank, n_neurons)
    u2 = u**2
    loo = np.empty((len(alphas), y.shape[1]))
    for i, alpha in enumerate(alphas):
        shrink = lam / (lam + alpha)
        fitted = u @ (shrink[:, None] * uty)
        leverage = 1.0 / n + u2 @ shrink  # the intercept adds 1/n to every h_ii
        resid = (yc - fitted) / np.maximum(1.0 - leverage, 1e-12)[:, None]
        loo[i] = np.mean(resid**2, axis=0)

    if alpha_per_neuron:
        best = np.argmin(loo, axis=0)
    else:
        best = np.full(y.shape[1], np.argmin(loo.mean(1)))
    # W = Xc^T U diag(1 / (lam + alpha)) U^T Yc  (dual) = V diag(sqrt(lam) / (lam + alpha)) U^T Yc
    scaled = np.empty_like(uty)
    for i in np.unique(best):
        cols = best == i
        scaled[:, cols] = uty[:, cols] / (lam + alphas[i])[:, None]
    if dual:  # Xc^T M = X^T M - mean (1^T M), without forming Xc
        m = (u @ scaled).astype(work)
        coef = (x.T @ m).astype(np.float64) - np.outer(x_mean, m.sum(0, dtype=np.float64))
    else:
        coef = v @ (np.sqrt(lam)[:, None] * scaled)
    intercept = y_mean - x_mean @ coef
    return RidgeReadout(
        coef=coef, intercept=intercept, alpha=alphas[best], alphas=alphas, loo_mse=loo
    )
