"""Exercise checks for notebook 08 (which layer models which area?).

Each check runs the student's function on fixed and seeded random inputs, compares with the
package's reference, names the common mistakes of its exercise and returns a
:class:`~artiphys_course.checks.core.CheckResult` (see :mod:`artiphys_course.checks.core`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from artiphys_course.checks.core import CheckResult, Mistake, check_function
from artiphys_course.features import to_network_input
from artiphys_course.layer_grid import AreaData, best_layers, run_layer_grid
from artiphys_course.models.pretrained import IMAGENET_MEAN, IMAGENET_STD, imagenet_normalize
from artiphys_course.ridge import fit_ridge

__all__ = [
    "check_best_layer_per_area",
    "check_layer_area_scores",
    "check_ridge_fit",
    "check_to_network_input",
]


# -- images as the network expects them ----------------------------------------------------------


def _network_input(
    images: torch.Tensor,
    image_shape: tuple[int, int],
    *,
    scale: float = 255.0,
    antialias: bool = True,
    swap: bool = False,
    normalize: bool = True,
) -> np.ndarray:
    """The exercise's computation with one step changed (for the known mistakes)."""
    import torchvision.transforms.v2.functional as TF

    x = TF.resize((images / scale).repeat(1, 3, 1, 1), list(image_shape), antialias=antialias)
    if not normalize:
        return x.numpy()
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    if swap:
        mean, std = std, mean
    return ((x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)).numpy()


_NETWORK_INPUT_MISTAKES = [
    Mistake(
        "grey levels not scaled to [0, 1]",
        lambda images, shape: _network_input(images, shape, scale=1.0),
        "The ImageNet statistics are those of images in [0, 1]; ours are grey levels 0..255.",
    ),
    Mistake(
        "no standardisation",
        lambda images, shape: _network_input(images, shape, normalize=False),
        "The network was trained on images standardised channel by channel with the ImageNet "
        "statistics.",
    ),
    Mistake(
        "the ImageNet mean and s.d. swapped",
        lambda images, shape: _network_input(images, shape, swap=True),
        "Standardising subtracts the mean and divides by the standard deviation; check which "
        "constant is which.",
    ),
    Mistake(
        "resizing without antialiasing",
        lambda images, shape: _network_input(images, shape, antialias=False),
        "Shrinking an image without low-pass filtering aliases fine detail; the resize has an "
        "option for that.",
    ),
]


def check_to_network_input(student: Callable) -> CheckResult:
    """Exercise: ``grey_to_network_input(images, image_shape)`` -> ``(B, 3, height, width)``.

    Grey levels 0..255 -> [0, 1] -> three identical channels -> resized to ``image_shape =
    (height, width)`` (bilinear, antialiased) -> ImageNet-standardised. Inputs: a fixed ramp
    image enlarged, two seeded random batches enlarged and shrunk.
    """
    rng = np.random.default_rng(0)
    ramp = torch.linspace(0.0, 255.0, 16 * 12).reshape(1, 1, 16, 12)
    cases = [
        (ramp, (32, 24)),
        (torch.from_numpy(rng.uniform(0, 255, (2, 1, 31, 31)).astype(np.float32)), (64, 64)),
        (torch.from_numpy(rng.uniform(0, 255, (3, 1, 36, 64)).astype(np.float32)), (24, 40)),
    ]
    return check_function(
        student,
        lambda images, image_shape: to_network_input(images, image_shape).numpy(),
        cases,
        name="grey_to_network_input",
        rtol=1e-4,
        atol=1e-4,
        mistakes=_NETWORK_INPUT_MISTAKES,
        forbidden=[to_network_input, imagenet_normalize],
        hint="Check the shape (B, 3, height, width), then one pixel by hand: a grey level of "
        "255 in the red channel should end near (1 - 0.485) / 0.229.",
        fallback="artiphys_course.features.to_network_input",
    )


# -- closed-form ridge ---------------------------------------------------------------------------


def _ridge_reference(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    fit = fit_ridge(x, y, [alpha])
    return fit.coef, fit.intercept


def _ridge_closed_form(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple:
    """The exercise's answer in NumPy (stands in for the student's ``ridge_fit`` in chained
    exercises; no package function, so it also works while grading disables them)."""
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc, yc = x - x_mean, y - y_mean
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
    return w, y_mean - x_mean @ w


def _ridge_uncentred(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    w = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y)
    return w, y.mean(0) - x.mean(0) @ w


def _ridge_penalised_intercept(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple:
    x1 = np.hstack([x, np.ones((len(x), 1))])
    w = np.linalg.solve(x1.T @ x1 + alpha * np.eye(x1.shape[1]), x1.T @ y)
    return w[:-1], w[-1]


def _ridge_no_intercept(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple:
    w = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y)
    return w, np.zeros(y.shape[1])


def _ridge_intercept_mean(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple:
    w, _ = _ridge_reference(x, y, alpha)
    return w, y.mean(0)


def _ridge_penalty_everywhere(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple:
    xc, yc = x - x.mean(0), y - y.mean(0)
    w = np.linalg.solve(xc.T @ xc + alpha, xc.T @ yc)
    return w, y.mean(0) - x.mean(0) @ w


_RIDGE_MISTAKES = [
    Mistake(
        "the weights transposed (neurons x features)",
        lambda x, y, alpha: (_ridge_reference(x, y, alpha)[0].T, _ridge_reference(x, y, alpha)[1]),
        "W maps features to neurons: one row per feature, one column per neuron.",
    ),
    Mistake(
        "a fit without centring",
        _ridge_uncentred,
        "Without centring, the penalty also pulls on the part of the weights that explains the "
        "means; the intercept must be free.",
    ),
    Mistake(
        "a penalised intercept (a column of ones)",
        _ridge_penalised_intercept,
        "The penalty should shrink the weights only, never the offset.",
    ),
    Mistake(
        "no intercept",
        _ridge_no_intercept,
        "Features and responses have non-zero means: the model needs its offset b.",
    ),
    Mistake(
        "the mean response as the intercept",
        _ridge_intercept_mean,
        "The offset is what the model predicts for the mean image, and the features' mean is "
        "not zero.",
    ),
    Mistake(
        "the penalty added to every entry of the matrix",
        _ridge_penalty_everywhere,
        "The penalty adds alpha to the diagonal only (alpha times the identity).",
    ),
]


def check_ridge_fit(student: Callable) -> CheckResult:
    """Exercise: ``ridge_fit(X, Y, alpha)`` -> ``(coef (p, n), intercept (n,))``.

    Minimises ``||Y - X W - b||^2 + alpha ||W||^2`` with the intercept not penalised. Inputs: a
    fixed 6 x 2 design and three seeded random problems (more samples than features, fewer, and
    a strong penalty).
    """
    rng = np.random.default_rng(1)
    fixed_x = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 5.0], [4.0, 3.0], [5.0, 4.0], [6.0, 8.0]])
    fixed_y = np.array([[1.0, 0.0], [2.0, 1.0], [2.5, 3.0], [4.0, 2.0], [5.5, 4.0], [6.0, 7.0]])
    cases = [(fixed_x, fixed_y, 2.0)]
    for n, p, alpha in [(40, 10, 1.0), (30, 60, 5.0), (50, 5, 100.0)]:
        x = rng.normal(size=(n, p)) + 2.0
        y = x @ rng.normal(size=(p, 3)) + rng.normal(size=(n, 3)) + 1.0
        cases.append((x, y, alpha))
    return check_function(
        student,
        _ridge_reference,
        cases,
        name="ridge_fit",
        rtol=1e-6,
        atol=1e-8,
        mistakes=_RIDGE_MISTAKES,
        forbidden=[fit_ridge],
        hint="With alpha = 0 and more samples than features your weights should equal "
        "np.linalg.lstsq's on the centred data; the offset b makes the mean prediction equal "
        "the mean response.",
        fallback="artiphys_course.ridge.fit_ridge",
    )


# -- best layer per area -------------------------------------------------------------------------

_BEST_LAYER_MISTAKES = [
    Mistake(
        "missing cells (NaN) taken as the best",
        lambda m, layers, areas: {a: layers[int(np.argmax(m[:, j]))] for j, a in enumerate(areas)},
        "A NaN cell is missing, not a high score: skip it.",
    ),
    Mistake(
        "the worst layer",
        lambda m, layers, areas: {
            a: layers[int(np.nanargmin(m[:, j]))] for j, a in enumerate(areas)
        },
        "Higher scores are better.",
    ),
    Mistake(
        "the last of tied layers",
        lambda m, layers, areas: {
            a: layers[len(layers) - 1 - int(np.nanargmax(m[::-1, j]))] for j, a in enumerate(areas)
        },
        "When two layers tie, the shallower one (the first) is the answer.",
    ),
    Mistake(
        "rows and columns swapped",
        lambda m, layers, areas: {a: layers[int(np.nanargmax(m[j]))] for j, a in enumerate(areas)},
        "Rows are layers and columns are areas: each area is one column.",
    ),
]


def check_best_layer_per_area(student: Callable) -> CheckResult:
    """Exercise: ``best_layer_per_area(matrix, layers, areas)`` -> ``{area: layer}``.

    Inputs: three fixed matrices (two areas, a tie, missing cells) and a seeded random one.
    """
    layers = ["conv1", "conv2", "conv3", "conv4"]
    rng = np.random.default_rng(2)
    cases = [
        (np.array([[0.5, 0.2], [0.4, 0.3], [0.1, 0.35], [0.0, 0.1]]), layers, ["V1", "V4"]),
        (np.array([[0.1], [0.2], [0.2], [0.15]]), layers, ["IT"]),
        (np.array([[np.nan, 0.3], [0.2, 0.1], [0.4, np.nan], [0.1, 0.2]]), layers, ["A", "B"]),
        (rng.uniform(0, 1, (4, 3)), layers, ["V1", "V2", "V4"]),
    ]
    return check_function(
        student,
        best_layers,
        cases,
        name="best_layer_per_area",
        mistakes=_BEST_LAYER_MISTAKES,
        forbidden=[best_layers],
        hint="Try a 2 x 2 matrix by hand: the answer has one entry per area, naming a layer.",
        fallback="artiphys_course.layer_grid.best_layers",
    )


# -- the layer x area loop -----------------------------------------------------------------------


def _grid_problem(seed: int) -> tuple[dict[str, np.ndarray], list[AreaData]]:
    """Three layers of features of 100 images and two areas read from the first two layers.

    V1 (5 neurons) responds linearly to layer ``"a"`` and V4 (4 neurons) to layer ``"b"``, with
    noise; each area sees its own 80 training trials (images 0-59, some repeated) and the 20
    test images 60-79, V1 with 4 repeats per test image, V4 as trial averages.
    """
    rng = np.random.default_rng(seed)
    n_images = 100
    features = {
        "a": rng.normal(size=(n_images, 3, 3, 3)),
        "b": rng.normal(size=(n_images, 16)),
        "c": rng.normal(size=(n_images, 2, 4, 4)),
    }
    areas = []
    for name, layer, n_neurons, repeats in [("V1", "a", 5, 4), ("V4", "b", 4, 0)]:
        x = features[layer].reshape(n_images, -1)
        rates = x @ rng.normal(size=(x.shape[1], n_neurons)) + 3.0
        train_ids = rng.integers(0, 60, size=80)
        test_ids = np.arange(60, 80)
        train = rates[train_ids] + 2.0 * rng.normal(size=(80, n_neurons))
        if repeats:
            test = rates[test_ids][:, None] + 2.0 * rng.normal(size=(20, repeats, n_neurons))
        else:
            test = rates[test_ids] + 0.5 * rng.normal(size=(20, n_neurons))
        areas.append(AreaData(name, train_ids, train, test_ids, test))
    return features, areas


def _grid_reference(
    layer_features: dict[str, np.ndarray], areas: list[AreaData], alpha: float
) -> np.ndarray:
    return run_layer_grid({"net": layer_features}, areas, alphas=[alpha], progress=False).matrix(
        "net", "correlation"
    )


def _mean_correlation(responses: np.ndarray, predictions: np.ndarray, average: Callable) -> float:
    """``average`` over neurons of the Pearson correlation of two ``(trials, neurons)`` tables."""
    a = responses - responses.mean(0)
    b = predictions - predictions.mean(0)
    return float(average((a * b).sum(0) / np.sqrt((a**2).sum(0) * (b**2).sum(0))))


def _grid_loop(
    layer_features: dict[str, np.ndarray], areas: list[AreaData], alpha: float, *, mistake: str
) -> np.ndarray:
    """The layer x area loop with one mistake (for diagnosis); NumPy only, so that grading,
    which disables the package functions checks use, leaves the student's tools alone."""
    average = np.median if mistake == "median" else np.mean
    scores = np.zeros((len(layer_features), len(areas)))
    for i, feats in enumerate(layer_features.values()):
        x = feats.reshape(len(feats), -1)
        for j, area in enumerate(areas):
            in_order = mistake in ("order", "training order")
            train = np.arange(len(area.train_image_ids)) if in_order else area.train_image_ids
            in_order = mistake == "order"
            test = np.arange(len(area.test_image_ids)) if in_order else area.test_image_ids
            coef, intercept = _ridge_closed_form(x[train], area.train_responses, alpha)
            if mistake == "training":
                scores[i, j] = _mean_correlation(
                    area.train_responses, x[train] @ coef + intercept, average
                )
                continue
            predicted, observed = x[test] @ coef + intercept, area.test_responses
            if observed.ndim == 3 and mistake == "averaged":
                observed = observed.mean(1)
            elif observed.ndim == 3:
                predicted = np.repeat(predicted, observed.shape[1], axis=0)
                observed = observed.reshape(-1, area.n_neurons)
            scores[i, j] = _mean_correlation(observed, predicted, average)
    return scores


_GRID_MISTAKES = [
    Mistake(
        "the table transposed (areas x layers)",
        lambda f, a, alpha: _grid_reference(f, a, alpha).T,
        "One row per layer (in the order of the features' dict), one column per area.",
    ),
    Mistake(
        "scores on the training trials",
        lambda f, a, alpha: _grid_loop(f, a, alpha, mistake="training"),
        "A readout is judged on images it was not fitted to: the area's test images.",
    ),
    Mistake(
        "features taken in order instead of by image id",
        lambda f, a, alpha: _grid_loop(f, a, alpha, mistake="order"),
        "Trial k showed image train_image_ids[k]: select the feature rows with the image ids.",
    ),
    Mistake(
        "training features taken in order instead of by image id",
        lambda f, a, alpha: _grid_loop(f, a, alpha, mistake="training order"),
        "Trial k showed image train_image_ids[k]: select the feature rows with the image ids.",
    ),
    Mistake(
        "test responses averaged over repeats",
        lambda f, a, alpha: _grid_loop(f, a, alpha, mistake="averaged"),
        "The grid scores single test trials when repeats exist (that is what the noise ceiling "
        "refers to); the package's evaluation handles both kinds of test data.",
    ),
    Mistake(
        "the median over neurons",
        lambda f, a, alpha: _grid_loop(f, a, alpha, mistake="median"),
        "Each cell is the mean over the area's neurons.",
    ),
]


def check_layer_area_scores(student: Callable) -> CheckResult:
    """Exercise: ``layer_area_scores(layer_features, areas, alpha)`` -> ``(n_layers, n_areas)``.

    For every layer (rows, in the dict's order) and every area (columns): a ridge readout of
    all the area's neurons with the student's ``ridge_fit`` (penalty ``alpha``), fitted on the
    features of the training trials' images, scored by the mean over neurons of the held-out
    correlation (``evaluate_predictions``). Compared with the package's runner
    ``run_layer_grid`` (``alphas=[alpha]``), which the student must not call; a wrong
    ``ridge_fit`` is blamed, not this loop. Inputs: three seeded problems of 3 layers x 2 areas.
    """
    cases = [(*_grid_problem(seed), alpha) for seed, alpha in [(0, 10.0), (1, 1.0), (2, 100.0)]]
    return check_function(
        student,
        _grid_reference,
        cases,
        name="layer_area_scores",
        rtol=1e-4,
        atol=1e-5,
        mistakes=_GRID_MISTAKES,
        forbidden=[run_layer_grid],
        uses={"ridge_fit": _ridge_closed_form},
        hint="Check one cell by hand: fit the readout of one area on one layer, predict its test "
        "images and compare your cell with the mean of the per-neuron correlations.",
        fallback="artiphys_course.layer_grid.run_layer_grid",
    )
