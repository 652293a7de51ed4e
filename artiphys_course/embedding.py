"""Low-dimensional views of population responses: PCA and t-SNE (scikit-learn).

Both take responses ``(n_stimuli, n_units)`` -- neurons or flattened model activations -- and
return coordinates ``(n_stimuli, n_components)``, one point per stimulus. Colour the points by
stimulus orientation (:func:`artiphys_course.plotting.representations.plot_embedding`) to see
whether the representation is organised by orientation: a ring for a population of
orientation-tuned units (orientation is periodic), a line or blob otherwise.

PCA is linear and its axes mean something (directions of largest variance); t-SNE (van der Maaten &
Hinton 2008, JMLR 9:2579) is nonlinear, preserves neighbourhoods rather than distances, and its
cost grows quickly with the number of points, so embed a few hundred stimuli or tuning-curve bins,
not thousands of trials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["PCAResult", "pca", "tsne"]


def _matrix(responses: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(responses, torch.Tensor):
        responses = responses.detach().cpu().numpy()
    x = np.asarray(responses, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"responses must have shape (n_stimuli, n_units), got {x.shape}")
    x = x.reshape(len(x), -1)
    if not np.all(np.isfinite(x)):
        raise ValueError("responses contain NaN or infinite values")
    return x


@dataclass
class PCAResult:
    """Principal component analysis of responses.

    Attributes
    ----------
    coordinates : np.ndarray, shape (n_stimuli, n_components)
        Projections of the centred responses on the components (the principal component scores).
    components : np.ndarray, shape (n_components, n_units)
        Unit-length principal axes, by decreasing variance. The sign of each is fixed so that its
        largest-magnitude loading is positive (PCA itself leaves the sign arbitrary).
    explained_variance_ratio : np.ndarray, shape (n_components,)
        Fraction of the total variance along each component.
    mean : np.ndarray, shape (n_units,)
        The mean response that was subtracted.
    """

    coordinates: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray
    mean: np.ndarray


def pca(responses: np.ndarray | torch.Tensor, n_components: int = 2, *, seed: int = 0) -> PCAResult:
    """Principal components of responses (``sklearn.decomposition.PCA``).

    Parameters
    ----------
    responses : array, shape (n_stimuli, n_units) or (n_stimuli, ...)
        Trailing dimensions are flattened.
    n_components : int
        Number of components, at most ``min(n_stimuli, n_units)``.
    seed : int
        Seeds the randomized SVD scikit-learn uses for large matrices.

    Returns
    -------
    PCAResult
    """
    from sklearn.decomposition import PCA

    x = _matrix(responses)
    if not 1 <= n_components <= min(x.shape):
        raise ValueError(
            f"n_components must lie in [1, {min(x.shape)}] for responses of shape {x.shape}, "
            f"got {n_components}"
        )
    model = PCA(n_components=n_components, random_state=seed).fit(x)
    components = model.components_.copy()
    signs = np.sign(components[np.arange(n_components), np.abs(components).argmax(axis=1)])
    components *= np.where(signs == 0, 1.0, signs)[:, None]
    coordinates = (x - model.mean_) @ components.T
    return PCAResult(coordinates, components, model.explained_variance_ratio_.copy(), model.mean_)


def tsne(
    responses: np.ndarray | torch.Tensor,
    n_components: int = 2,
    *,
    perplexity: float = 30.0,
    pca_components: int | None = 50,
    seed: int = 0,
) -> np.ndarray:
    """t-SNE embedding of responses (``sklearn.manifold.TSNE``, PCA initialisation).

    Parameters
    ----------
    responses : array, shape (n_stimuli, n_units) or (n_stimuli, ...)
        Keep ``n_stimuli`` to a few hundred: the cost grows faster than linearly.
    n_components : int
        Dimensions of the embedding (2 for plots).
    perplexity : float
        Effective number of neighbours; lowered to ``(n_stimuli - 1) / 3`` when there are few
        stimuli (scikit-learn requires it to be below ``n_stimuli``).
    pca_components : int, optional
        Reduce to this many principal components first (the usual denoising and speed-up);
        ``None`` uses all units.
    seed : int
        Seeds the embedding; same inputs and seed give the same coordinates.

    Returns
    -------
    np.ndarray, shape (n_stimuli, n_components)
    """
    from sklearn.manifold import TSNE

    x = _matrix(responses)
    if len(x) < 4:
        raise ValueError(f"t-SNE needs at least 4 stimuli, got {len(x)}")
    if pca_components is not None and pca_components < min(x.shape):
        x = pca(x, pca_components, seed=seed).coordinates
    perplexity = float(min(perplexity, (len(x) - 1) / 3))
    model = TSNE(n_components, perplexity=perplexity, init="pca", random_state=seed)
    return model.fit_transform(x)
