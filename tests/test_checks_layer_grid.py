"""Exercise checks of notebook 08: each accepts differently written correct answers, rejects
plausible wrong ones naming the mistake, and catches a call of the package's reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF

from artiphys_course.checks import layer_grid as checks
from artiphys_course.features import to_network_input
from artiphys_course.layer_grid import best_layers, evaluate_predictions, run_layer_grid
from artiphys_course.metrics import correlation
from artiphys_course.models.pretrained import IMAGENET_MEAN, IMAGENET_STD
from artiphys_course.ridge import fit_ridge


def _unsolved(*args, **kwargs):
    raise NotImplementedError("Exercise")


def _verdict(result, mistake: str | None = None) -> None:
    """A wrong verdict; ``mistake``: the words the message must name."""
    assert not result and result.status == "wrong" and "\u274c" in result.message
    if mistake is None:
        assert "Hint:" in result.message
    else:
        assert f"This looks like {mistake}" in result.message


# -- grey_to_network_input -----------------------------------------------------------------------


def _network_input_torch(images, image_shape):
    x = TF.resize((images.float() / 255.0).repeat(1, 3, 1, 1), list(image_shape), antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _network_input_numpy(images, image_shape):
    x = TF.resize(images / 255.0, list(image_shape), antialias=True).numpy()
    x = np.concatenate([x, x, x], axis=1)  # a grey channel copied after resizing
    mean = np.array(IMAGENET_MEAN)[None, :, None, None]
    return (x - mean) / np.array(IMAGENET_STD)[None, :, None, None]


@pytest.mark.parametrize("correct", [_network_input_torch, _network_input_numpy])
def test_network_input_check_accepts_correct_answers(correct):
    result = checks.check_to_network_input(correct)
    assert result and result.passed == result.total == 3


@pytest.mark.parametrize(
    "wrong,mistake",
    [
        (lambda images, shape: _network_input_torch(images * 255.0, shape), "grey levels not"),
        (
            lambda images, shape: TF.resize(images / 255.0, list(shape), antialias=True).expand(
                -1, 3, -1, -1
            ),
            "no standardisation",
        ),
        (
            lambda images, shape: (
                (
                    TF.resize(images.repeat(1, 3, 1, 1) / 255.0, list(shape), antialias=False)
                    - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
                )
                / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
            ),
            "resizing without antialiasing",
        ),
    ],
)
def test_network_input_check_names_the_mistakes(wrong, mistake, lenient):
    _verdict(checks.check_to_network_input(wrong), mistake)


def test_network_input_check_catches_the_reference_even_when_imported(lenient):
    namespace = {"to_network_input": to_network_input}
    exec(
        "def grey(images, image_shape):\n    return to_network_input(images, image_shape)\n",
        namespace,
    )
    result = checks.check_to_network_input(namespace["grey"])
    assert not result and "calls the package's `to_network_input`" in result.message
    assert "not implemented yet" in checks.check_to_network_input(_unsolved).message


# -- ridge_fit -----------------------------------------------------------------------------------


def _ridge_solve(x, y, alpha):
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
    return w, ym - xm @ w


def _ridge_augmented(x, y, alpha):
    """Least squares on the centred data augmented with sqrt(alpha) I (torch, float64)."""
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    xc, yc = xt - xt.mean(0), yt - yt.mean(0)
    p = x.shape[1]
    a = torch.cat([xc, alpha**0.5 * torch.eye(p, dtype=xt.dtype)])
    b = torch.cat([yc, torch.zeros(p, y.shape[1], dtype=yt.dtype)])
    w = torch.linalg.lstsq(a, b).solution
    return w, yt.mean(0) - xt.mean(0) @ w


@pytest.mark.parametrize("correct", [_ridge_solve, _ridge_augmented])
def test_ridge_check_accepts_correct_answers(correct):
    result = checks.check_ridge_fit(correct)
    assert result and result.passed == result.total == 4


def _ridge_penalising_the_intercept(x, y, alpha):
    x1 = np.hstack([x, np.ones((len(x), 1))])
    w = np.linalg.solve(x1.T @ x1 + alpha * np.eye(x1.shape[1]), x1.T @ y)
    return w[:-1], w[-1]


def _ridge_without_centring(x, y, alpha):
    w = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y)
    return w, y.mean(0) - x.mean(0) @ w


def _ridge_mean_intercept(x, y, alpha):
    return _ridge_solve(x, y, alpha)[0], y.mean(0)


@pytest.mark.parametrize(
    "wrong,mistake",
    [
        (_ridge_penalising_the_intercept, "a penalised intercept"),
        (_ridge_without_centring, "a fit without centring"),
        (_ridge_mean_intercept, "the mean response as the intercept"),
        (lambda x, y, a: (_ridge_solve(x, y, a)[0].T, _ridge_solve(x, y, a)[1]), "the weights"),
        (lambda x, y, a: _ridge_solve(x, y, 2 * a), None),
    ],
)
def test_ridge_check_names_the_mistakes(wrong, mistake, lenient):
    result = checks.check_ridge_fit(wrong)
    _verdict(result, mistake)
    assert "solve(" not in result.message and "mean(0)" not in result.message


def test_ridge_check_catches_the_reference(lenient):
    def calls_package(x, y, alpha):
        fit = fit_ridge(x, y, [alpha])
        return fit.coef, fit.intercept

    result = checks.check_ridge_fit(calls_package)
    assert not result and "calls the package's `fit_ridge`" in result.message


# -- best_layer_per_area -------------------------------------------------------------------------


def _best_loop(matrix, layers, areas):
    best = {}
    for j, area in enumerate(areas):
        column = np.where(np.isnan(matrix[:, j]), -np.inf, matrix[:, j])
        best[area] = layers[int(np.argmax(column))]
    return best


@pytest.mark.parametrize(
    "correct",
    [
        _best_loop,
        lambda m, layers, areas: dict(
            zip(areas, [layers[i] for i in np.nanargmax(m, 0)], strict=True)
        ),
    ],
)
def test_best_layer_check_accepts_correct_answers(correct):
    assert checks.check_best_layer_per_area(correct)


@pytest.mark.parametrize(
    "wrong,mistake",
    [
        (
            lambda m, la, ar: {a: la[int(np.argmax(m[:, j]))] for j, a in enumerate(ar)},
            "missing cells",
        ),
        (
            lambda m, la, ar: {a: la[int(np.nanargmin(m[:, j]))] for j, a in enumerate(ar)},
            "the worst layer",
        ),
        (
            lambda m, la, ar: {
                a: la[len(la) - 1 - int(np.nanargmax(m[::-1, j]))] for j, a in enumerate(ar)
            },
            "the last of tied layers",
        ),
        (lambda m, la, ar: {a: la[0] for a in ar}, None),
    ],
)
def test_best_layer_check_names_the_mistakes(wrong, mistake, lenient):
    _verdict(checks.check_best_layer_per_area(wrong), mistake)


def test_best_layer_check_catches_the_reference(lenient):
    result = checks.check_best_layer_per_area(lambda m, la, ar: best_layers(m, la, ar))
    assert not result and "calls the package's `best_layers`" in result.message


# -- layer_area_scores (chained: it calls the student's ridge_fit) -------------------------------

NOTEBOOK = """
import numpy as np
from artiphys_course.layer_grid import evaluate_predictions, run_layer_grid

def ridge_fit(X, Y, alpha):
    x_mean, y_mean = X.mean(0), Y.mean(0)
    xc, yc = X - x_mean, Y - y_mean
    W = np.linalg.solve(xc.T @ xc + alpha * np.eye(X.shape[1]), xc.T @ yc)
    return W, y_mean - x_mean @ W

def layer_area_scores(layer_features, areas, alpha):
    scores = np.zeros((len(layer_features), len(areas)))
    for i, feats in enumerate(layer_features.values()):
        x = feats.reshape(len(feats), -1)
        for j, area in enumerate(areas):
            W, b = ridge_fit(x[area.train_image_ids], area.train_responses, alpha)
            corr, _ = evaluate_predictions(area, x[area.test_image_ids] @ W + b)
            scores[i, j] = corr.mean()
    return scores

def layer_area_scores_by_layer_name(layer_features, areas, alpha):
    layers = list(layer_features)
    table = {}
    for area in areas:
        for layer in layers:
            x = np.asarray(layer_features[layer]).reshape(len(layer_features[layer]), -1)
            W, b = ridge_fit(x[area.train_image_ids], area.train_responses, alpha)
            table[layer, area.name] = float(np.mean(
                evaluate_predictions(area, x[area.test_image_ids] @ W + b)[0]
            ))
    return np.array([[table[layer, area.name] for area in areas] for layer in layers])

def with_runner(layer_features, areas, alpha):
    return run_layer_grid({"net": layer_features}, areas, alphas=[alpha], progress=False).matrix()
"""


@pytest.fixture
def notebook() -> dict:
    """A notebook's globals: the student's ridge_fit and loops that call it."""
    namespace: dict = {}
    exec(NOTEBOOK, namespace)
    return namespace


@pytest.mark.parametrize("correct", ["layer_area_scores", "layer_area_scores_by_layer_name"])
def test_grid_check_accepts_correct_loops(correct, notebook):
    result = checks.check_layer_area_scores(notebook[correct])
    assert result and result.passed == result.total == 3
    assert "helpers" not in result.message


def _loop(layer_features, areas, alpha, *, transform=None, train_rows=None, score=np.mean):
    """The loop with the package's ridge; ``transform`` changes what is correlated."""
    scores = np.zeros((len(layer_features), len(areas)))
    for i, feats in enumerate(layer_features.values()):
        x = feats.reshape(len(feats), -1)
        for j, area in enumerate(areas):
            rows = area.train_image_ids if train_rows is None else train_rows(area)
            fit = fit_ridge(x[rows], area.train_responses, [alpha])
            if transform is None:
                corr, _ = evaluate_predictions(area, fit.predict(x[area.test_image_ids]))
            else:
                corr = transform(area, fit, x)
            scores[i, j] = score(corr)
    return scores


@pytest.mark.parametrize(
    "wrong,mistake",
    [
        (
            lambda f, a, alpha: _loop(
                f,
                a,
                alpha,
                transform=lambda ar, fit, x: correlation(
                    ar.train_responses, fit.predict(x[ar.train_image_ids])
                ),
            ),
            "scores on the training trials",
        ),
        (
            lambda f, a, alpha: _loop(f, a, alpha, train_rows=lambda ar: np.arange(80)),
            "training features taken in order",
        ),
        (lambda f, a, alpha: _loop(f, a, alpha, score=np.median), "the median over neurons"),
        (lambda f, a, alpha: _loop(f, a, alpha).T, "the table transposed"),
        (lambda f, a, alpha: _loop(f, a, 10 * alpha), None),
    ],
)
def test_grid_check_names_the_mistakes(wrong, mistake, lenient):
    _verdict(checks.check_layer_area_scores(wrong), mistake)


def test_grid_check_catches_the_runner(notebook, lenient):
    result = checks.check_layer_area_scores(notebook["with_runner"])
    assert not result and "calls the package's `run_layer_grid`" in result.message
    assert run_layer_grid is checks.run_layer_grid  # restored after the check


def test_grid_check_blames_a_wrong_ridge_fit_not_the_loop(notebook, lenient):
    exec(
        "def ridge_fit(X, Y, alpha):\n"
        "    W = np.linalg.solve(X.T @ X + alpha * np.eye(X.shape[1]), X.T @ Y)\n"
        "    return W, np.zeros(Y.shape[1])\n",
        notebook,
    )
    result = checks.check_layer_area_scores(notebook["layer_area_scores"])
    assert result and "your `ridge_fit` is wrong" in result.message
    exec("def ridge_fit(X, Y, alpha):\n    raise NotImplementedError\n", notebook)
    assert (
        "your `ridge_fit`" in checks.check_layer_area_scores(notebook["layer_area_scores"]).message
    )
    assert "not implemented yet" in checks.check_layer_area_scores(_unsolved).message
