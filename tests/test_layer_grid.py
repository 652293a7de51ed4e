"""Tests of the factorized readout and the layer x area grid runner."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from artiphys_course.layer_grid import (
    AreaData,
    evaluate_predictions,
    fit_factorized_readout,
    run_layer_grid,
)
from artiphys_course.metrics import correlation
from artiphys_course.models.readouts import FactorizedReadout
from artiphys_course.training import TrainHistory


def test_factorized_readout_recovers_a_factorized_neuron():
    rng = np.random.default_rng(0)
    n, c, h, w, m = 600, 8, 5, 5, 3
    feats = rng.normal(size=(n, c, h, w)).astype(np.float32)
    masks = np.zeros((m, h, w), np.float32)
    for k in range(m):
        masks[k, 1 + k, 1:3] = 1.0
    weights = rng.normal(size=(m, c)).astype(np.float32)
    rates = np.einsum("ncyx,kyx,kc->nk", feats, masks, weights) + 5.0
    y = rates + 0.3 * rng.normal(size=rates.shape).astype(np.float32)
    result = fit_factorized_readout(
        feats[:500], y[:500], seed=0, lr=3e-2, max_epochs=100, progress=False
    )
    model, history = result.model, result.history
    assert isinstance(model, FactorizedReadout) and isinstance(history, TrainHistory)
    assert history.score == "correlation" and history.best_validation_score > 0.9
    assert history.best_validation_score == max(history.validation_score)
    with torch.no_grad():
        pred = model(torch.as_tensor(feats[500:])).numpy()
    # raw units: the standardisation is folded into the parameters
    assert np.abs(pred.mean(0) - rates[500:].mean(0)).max() < 0.3
    assert correlation(rates[500:], pred).min() > 0.95
    with pytest.raises(ValueError, match="FactorizedReadout expects feature maps"):
        model(torch.zeros(2, c, h + 1, w))
    with pytest.raises(ValueError, match="cannot shift"):
        model(torch.zeros(2, c, h, w), shift=torch.zeros(2, 2))
    assert model.regularizer().ndim == 0 and model.regularizer() > 0


def _two_areas(seed=0):
    """Two areas read from different 'layers': area A = linear in layer a, B in layer b."""
    rng = np.random.default_rng(seed)
    n_img, n_train, n_test, reps = 260, 200, 60, 10
    layer_a = rng.normal(size=(n_img, 4, 3, 3)).astype(np.float32)
    layer_b = rng.normal(size=(n_img, 6, 2, 2)).astype(np.float32)
    test_ids = np.arange(n_train, n_img)

    def area(name, feats, m):
        w = rng.normal(size=(feats[0].size, m))
        rate = feats.reshape(n_img, -1) @ w
        rate = rate / rate.std(0)
        train = rate[:n_train] + rng.normal(size=(n_train, m))
        test = rate[test_ids][:, None] + rng.normal(size=(n_test, reps, m))
        return AreaData(name, np.arange(n_train), train, test_ids, test)

    return {"net": {"a": layer_a, "b": layer_b}}, [area("A", layer_a, 5), area("B", layer_b, 7)]


def test_grid_finds_the_generating_layer_and_writes_csv_only_where_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    features, areas = _two_areas()
    result = run_layer_grid(features, areas, progress=False)
    assert list(tmp_path.iterdir()) == []  # nothing written without csv_path
    assert [(r.layer, r.area) for r in result.rows] == [
        ("a", "A"),
        ("a", "B"),
        ("b", "A"),
        ("b", "B"),
    ]
    assert result.best_layers() == {"A": "a", "B": "b"}
    m = result.matrix(value="correlation")
    assert m.shape == (2, 2) and m[0, 0] > 0.5 and m[1, 1] > 0.5
    # fraction of ceiling of the right layer is near 1 (the oracle is a slight underestimate)
    frac = result.matrix(value="fraction_of_ceiling")
    assert 0.85 < frac[0, 0] < 1.15 and 0.85 < frac[1, 1] < 1.15
    path = result.to_csv(tmp_path / "out" / "grid.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 4 and float(rows[0]["correlation"]) == pytest.approx(
        result.rows[0].correlation
    )
    run_layer_grid(features, areas, progress=False, csv_path=tmp_path / "again.csv")
    assert (tmp_path / "again.csv").is_file()


def test_grid_parallel_backend_gives_the_same_table():
    features, areas = _two_areas(seed=3)
    serial = run_layer_grid(features, areas, progress=False)
    threaded = run_layer_grid(features, areas, n_jobs=2, backend="threading", progress=False)
    np.testing.assert_allclose(serial.matrix(), threaded.matrix())


def test_grid_factorized_readout_and_errors():
    features, areas = _two_areas(seed=4)
    result = run_layer_grid(
        features,
        areas[0],
        readouts=("ridge", "factorized"),
        factorized_options={"max_epochs": 60},
        progress=False,
    )
    assert result.matrix(readout="factorized").shape == (2, 1)
    assert result.best_layers(readout="factorized") == {"A": "a"}
    with pytest.raises(ValueError, match="several readouts"):
        result.matrix()
    with pytest.raises(KeyError, match="valid|choose"):
        result.matrix(readout="ridge", value="nope")
    with pytest.raises(ValueError, match="unknown readout"):
        run_layer_grid(features, areas, readouts=("svm",), progress=False)
    with pytest.raises(IndexError, match="only 10 images"):
        run_layer_grid({"n": {"l": features["net"]["a"][:10]}}, areas, progress=False)


def test_evaluation_without_repeats_has_no_ceiling():
    rng = np.random.default_rng(0)
    test = rng.normal(size=(12, 3))
    area = AreaData("avg", np.arange(5), rng.normal(size=(5, 3)), np.arange(12), test)
    assert not area.has_repeats
    corr, ceiling = evaluate_predictions(area, test * 2 + 1)
    np.testing.assert_allclose(corr, 1.0)
    assert np.isnan(ceiling).all()
    with pytest.raises(ValueError, match="predictions must be"):
        evaluate_predictions(area, test[:4])


@pytest.fixture(scope="module")
def hierarchy_grid():
    """Grid of V1 and V4 of the simulated hierarchy on AlexNet conv1-conv3 (untrained, and
    ImageNet-pretrained from the partial checkpoint when ../shared/data has it)."""
    from artiphys_course.features import ALEXNET_LAYERS, extract_features
    from artiphys_course.models.pretrained import load_pretrained
    from artiphys_course.simulate import make_visual_hierarchy
    from conftest import shared_data_dir

    hier = make_visual_hierarchy(n_neurons=40, n_train=500, n_test_images=40, areas=("V1", "V4"))
    nets = {"untrained": load_pretrained("alexnet", weights="untrained")}
    shared = shared_data_dir()
    checkpoint = shared / "alexnet_conv1-3_torchvision_imagenet.pth" if shared else None
    if checkpoint is not None and checkpoint.is_file():
        nets["pretrained"] = load_pretrained("alexnet", path=checkpoint, download=False)
    layers = {k: ALEXNET_LAYERS[k] for k in ("conv1", "conv2", "conv3")}
    features = {
        name: extract_features(
            net, hier.images, layers, image_shape=(72, 128), pool=(6, 8), progress=False
        )
        for name, net in nets.items()
    }
    areas = [AreaData.from_simulated(a) for a in hier.areas.values()]
    return run_layer_grid(features, areas, progress=False)


def _depth_gain(result, network):
    """How much more V4 than V1 gains from conv1 to its best deeper layer."""
    m = result.matrix(network, "fraction_of_ceiling")
    gain = m[1:].max(0) - m[0]
    return gain[1] - gain[0]


@pytest.mark.slow
def test_untrained_control_shows_the_higher_area_needs_deeper_layers(hierarchy_grid):
    # random filters: V4 (conjunctions of subunits over ~30 px) gains clearly more from depth
    # than V1 (single Gabors); both are predicted far above chance
    assert _depth_gain(hierarchy_grid, "untrained") > 0.03
    assert np.all(hierarchy_grid.matrix("untrained", "correlation").max(0) > 0.2)


@pytest.mark.slow
def test_pretrained_layers_order_the_simulated_hierarchy(hierarchy_grid):
    if "pretrained" not in hierarchy_grid.networks:
        pytest.skip("the partial AlexNet checkpoint (../shared/data) is not present")
    layers = hierarchy_grid.layers
    best = hierarchy_grid.best_layers("pretrained", "fraction_of_ceiling")
    assert layers.index(best["V1"]) < layers.index(best["V4"])
    assert _depth_gain(hierarchy_grid, "pretrained") > 0.03
