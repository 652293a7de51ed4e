"""Representational dissimilarity matrices (RDMs) and representational similarity analysis (RSA).

An RDM summarises a representation by how differently it responds to every pair of stimuli
(Kriegeskorte, Mur & Bandettini 2008, Front. Syst. Neurosci. 2:4). Two systems -- a brain area and a
network layer, say -- are compared by correlating their RDMs, which needs no mapping between their
units.

Constant patterns
-----------------
The correlation distance ``1 - r`` between two response patterns is undefined when a pattern has no
variance across units (a stimulus that leaves every unit at the same value, e.g. all-zero ReLU
activity); ``scipy`` and ``rsatoolbox`` return NaN there. Here such a pattern gets

- distance **1** (correlation 0, "unrelated") to every non-constant pattern, and
- distance **0** to itself and to every other constant pattern.

This is the natural limit of the correlation distance, which ignores offset and scale: all constant
patterns are the same pattern up to an offset. Constant *units* (a unit that never changes across
stimuli) need no special care: they add the same value to every pattern.

Such patterns are reported with an :class:`~artiphys_course.runtime.ArtiphysWarning`. Comparing
RDMs one of whose upper triangles is constant (no rank order) is undefined: the similarity is NaN,
with a warning (see "Bad input" in docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from scipy.stats import rankdata

from artiphys_course import validation
from artiphys_course.runtime import notice

__all__ = [
    "RSAResult",
    "compare_rdms",
    "rdm",
    "rsa",
    "upper_triangle",
]

Metric = Literal["correlation", "euclidean"]
Method = Literal["spearman", "pearson"]

_METRICS = ("correlation", "euclidean")
_METHODS = ("spearman", "pearson")


def _as_patterns(responses: np.ndarray | torch.Tensor) -> np.ndarray:
    """Responses ``(n_stimuli, ...)`` as a float64 matrix ``(n_stimuli, n_features)``."""
    if isinstance(responses, torch.Tensor):
        responses = responses.detach().cpu().numpy()
    x = np.asarray(responses, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(
            f"responses must have shape (n_stimuli, n_units) (or (n_stimuli, ...) for layer "
            f"activations), got shape {x.shape}"
        )
    if x.shape[0] < 2:
        raise ValueError(f"an RDM needs at least 2 stimuli, got {x.shape[0]}")
    x = x.reshape(x.shape[0], -1)
    validation.finite(x, "responses")
    return x


def rdm(responses: np.ndarray | torch.Tensor, metric: Metric = "correlation") -> np.ndarray:
    """Representational dissimilarity matrix of a set of response patterns.

    Parameters
    ----------
    responses : array or tensor, shape (n_stimuli, n_units) or (n_stimuli, ...)
        One response pattern per stimulus (row). Trailing dimensions, e.g. the
        ``(channels, height, width)`` of a convolutional layer, are flattened into units.
    metric : {"correlation", "euclidean"}
        ``"correlation"`` (default): ``1 - Pearson r`` between the two patterns (range 0..2).
        Constant patterns are handled as described in the module docstring (never NaN).
        ``"euclidean"``: Euclidean distance between the patterns, in response units.

    Returns
    -------
    np.ndarray, shape (n_stimuli, n_stimuli), float64
        Symmetric, zero diagonal. For non-constant patterns it equals
        ``scipy.spatial.distance.squareform(pdist(responses, metric))``.
    """
    if metric not in _METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {_METRICS}")
    x = _as_patterns(responses)
    if metric == "euclidean":
        sq = np.sum(x**2, axis=1)
        d2 = sq[:, None] + sq[None, :] - 2.0 * x @ x.T
        d = np.sqrt(np.clip(d2, 0.0, None))
    else:
        centred = x - x.mean(axis=1, keepdims=True)
        norm = np.sqrt(np.sum(centred**2, axis=1))
        constant = norm <= 1e-12 * np.maximum(1.0, np.abs(x).max(axis=1))
        unit = np.divide(
            centred, norm[:, None], out=np.zeros_like(centred), where=~constant[:, None]
        )
        corr = np.clip(unit @ unit.T, -1.0, 1.0)
        d = 1.0 - corr  # constant rows of `unit` are zero: distance 1 to every other pattern
        d[np.ix_(constant, constant)] = 0.0
        if constant.any():
            notice(
                f"{int(constant.sum())} of {len(x)} response patterns are constant across units "
                f"(first stimuli {np.flatnonzero(constant)[:5].tolist()}): their correlation "
                "distance is undefined and set to 1 to every other pattern, 0 among themselves "
                "(see the rsa module docstring)."
            )
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    return d


def _check_rdm(r: np.ndarray | torch.Tensor, name: str = "rdm") -> np.ndarray:
    if isinstance(r, torch.Tensor):
        r = r.detach().cpu().numpy()
    r = np.asarray(r, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != r.shape[1]:
        raise ValueError(f"{name} must be a square (n_stimuli, n_stimuli) matrix, got {r.shape}")
    if r.shape[0] < 3:
        raise ValueError(f"comparing RDMs needs at least 3 stimuli, {name} has {r.shape[0]}")
    validation.finite(r, name)
    return r


def upper_triangle(rdm_matrix: np.ndarray | torch.Tensor) -> np.ndarray:
    """Entries above the diagonal, row by row (the same order as ``scipy``'s ``pdist``).

    Parameters
    ----------
    rdm_matrix : array, shape (n_stimuli, n_stimuli)

    Returns
    -------
    np.ndarray, shape (n_stimuli * (n_stimuli - 1) / 2,)
    """
    if isinstance(rdm_matrix, torch.Tensor):
        rdm_matrix = rdm_matrix.detach().cpu().numpy()
    r = np.asarray(rdm_matrix, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != r.shape[1]:
        raise ValueError(f"expected a square (n_stimuli, n_stimuli) matrix, got shape {r.shape}")
    return r[np.triu_indices(r.shape[0], k=1)]


def _correlate(a: np.ndarray, b: np.ndarray, method: Method) -> float:
    """Spearman or Pearson correlation of two vectors; NaN when either is constant."""
    if method == "spearman":
        a, b = rankdata(a), rankdata(b)
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt(np.sum(a**2) * np.sum(b**2))
    if denom <= 1e-12 * max(1.0, float(np.abs(a).max(initial=0) * np.abs(b).max(initial=0))):
        return float("nan")
    return float(np.clip(np.sum(a * b) / denom, -1.0, 1.0))


def compare_rdms(
    rdm_a: np.ndarray | torch.Tensor, rdm_b: np.ndarray | torch.Tensor, method: Method = "spearman"
) -> float:
    """Similarity of two RDMs: correlation of their upper triangles.

    Parameters
    ----------
    rdm_a, rdm_b : array, shape (n_stimuli, n_stimuli)
        RDMs over the same stimuli in the same order.
    method : {"spearman", "pearson"}
        Spearman (default) assumes only a monotonic relation between the two sets of
        dissimilarities, which suits comparisons of different systems; Pearson assumes a linear one.

    Returns
    -------
    float
        Correlation in [-1, 1]; equals ``scipy.stats.spearmanr`` (or ``pearsonr``) of the upper
        triangles. NaN, with an ArtiphysWarning, when either upper triangle is constant.
    """
    if method not in _METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {_METHODS}")
    a, b = _check_rdm(rdm_a, "rdm_a"), _check_rdm(rdm_b, "rdm_b")
    if a.shape != b.shape:
        raise ValueError(
            f"the RDMs must cover the same stimuli: shapes {a.shape} and {b.shape} differ"
        )
    iu = np.triu_indices(a.shape[0], k=1)
    similarity = _correlate(a[iu], b[iu], method)
    if np.isnan(similarity):
        notice(
            "compare_rdms is NaN: an RDM's dissimilarities are all equal, so they have no order "
            "to correlate."
        )
    return similarity


@dataclass
class RSAResult:
    """Outcome of :func:`rsa`.

    Attributes
    ----------
    similarity : float
        Correlation of the two RDMs' upper triangles (all stimuli).
    ci_low, ci_high : float
        Percentile bootstrap confidence interval of the similarity, resampling stimuli.
    p_value : float
        One-sided permutation p-value for ``similarity > 0`` (stimulus labels of one RDM shuffled),
        ``(1 + #{null >= observed}) / (1 + n_permutations)``.
    bootstrap : np.ndarray, shape (n_bootstrap,)
        Bootstrap distribution of the similarity.
    null : np.ndarray, shape (n_permutations,)
        Permutation null distribution.
    method : str
        ``"spearman"`` or ``"pearson"``.
    confidence : float
        Level of the interval, e.g. 0.95.
    """

    similarity: float
    ci_low: float
    ci_high: float
    p_value: float
    bootstrap: np.ndarray
    null: np.ndarray
    method: str
    confidence: float


def rsa(
    rdm_a: np.ndarray | torch.Tensor,
    rdm_b: np.ndarray | torch.Tensor,
    *,
    method: Method = "spearman",
    n_bootstrap: int = 1000,
    n_permutations: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RSAResult:
    """Compare two RDMs with a bootstrap confidence interval and a permutation p-value.

    Parameters
    ----------
    rdm_a, rdm_b : array, shape (n_stimuli, n_stimuli)
        RDMs over the same stimuli in the same order.
    method : {"spearman", "pearson"}
        How the upper triangles are correlated (see :func:`compare_rdms`).
    n_bootstrap : int
        Bootstrap samples. Each draws ``n_stimuli`` stimuli with replacement and correlates the
        dissimilarities of all pairs of *distinct* draws; pairs of a stimulus with its own copy
        (distance 0 in both RDMs by construction) are left out, as they would inflate the
        similarity. 0 skips the interval (NaN bounds).
    n_permutations : int
        Permutations of the stimulus labels of ``rdm_b`` (rows and columns together) for the null
        distribution. 0 skips the test (p-value NaN).
    confidence : float
        Level of the percentile interval, in (0, 1).
    seed : int
        Seed of the resampling; the result is a deterministic function of the inputs and ``seed``.

    Returns
    -------
    RSAResult
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    n_bootstrap = validation.integer(n_bootstrap, "n_bootstrap", minimum=0)
    n_permutations = validation.integer(n_permutations, "n_permutations", minimum=0)
    validation.integer(seed, "seed")
    similarity = compare_rdms(rdm_a, rdm_b, method)
    a, b = _check_rdm(rdm_a), _check_rdm(rdm_b)
    n = a.shape[0]
    rng = np.random.default_rng(seed)

    boot = np.empty(n_bootstrap)
    iu = np.triu_indices(n, k=1)
    for k in range(n_bootstrap):
        idx = rng.integers(0, n, size=n)
        i, j = idx[iu[0]], idx[iu[1]]
        keep = i != j
        boot[k] = _correlate(a[i[keep], j[keep]], b[i[keep], j[keep]], method)
    if n_bootstrap and not np.isnan(boot).all():
        alpha = (1.0 - confidence) / 2.0
        # a resample that repeats one stimulus throughout has no defined similarity (NaN)
        ci_low, ci_high = (float(q) for q in np.nanquantile(boot, [alpha, 1.0 - alpha]))
    else:
        ci_low = ci_high = float("nan")

    null = np.empty(n_permutations)
    upper_a = a[iu]
    for k in range(n_permutations):
        perm = rng.permutation(n)
        null[k] = _correlate(upper_a, b[np.ix_(perm, perm)][iu], method)
    p_value = (
        float((1 + np.sum(null >= similarity - 1e-12)) / (1 + n_permutations))
        if n_permutations and not np.isnan(similarity)
        else float("nan")
    )
    return RSAResult(
        similarity=similarity,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        bootstrap=boot,
        null=null,
        method=method,
        confidence=confidence,
    )
