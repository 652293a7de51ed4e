"""Tests of the factorized readout and the layer x area grid runner."""

from __future__ import annotations

import csv
import weakref

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
        feats[:500], y[:500], loss="mse", seed=0, lr=3e-2, max_epochs=100, progress=False
    )
    model, history = result.model, result.history
    assert isinstance(model, FactorizedReadout) and isinstance(history, TrainHistory)
    assert history.score == "correlation" and history.loss == "mse"
    assert history.best_validation_score > 0.9 and model.nonlinearity == "linear"
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


def _planted_poisson_population(seed=0):
    """Poisson counts of neurons that ARE factorized readouts: Gaussian masks x sparse weights."""
    rng = np.random.default_rng(seed)
    n, c, h, w, m = 1200, 16, 8, 8, 6
    feats = rng.normal(size=(n, c, h, w)).astype(np.float32)
    yy, xx = np.mgrid[:h, :w]
    centres = rng.uniform(2, 5, size=(m, 2))
    masks = np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 2)
    weights = np.zeros((m, c))
    for k in range(m):
        weights[k, rng.choice(c, 3, replace=False)] = rng.normal(size=3)
    drive = np.einsum("ncyx,kyx,kc->nk", feats, masks, weights) / 2 - 0.5
    rates = np.log1p(np.exp(drive)).astype(np.float32)  # softplus
    counts = rng.poisson(rates).astype(np.float32)
    filters = np.einsum("kyx,kc->kcyx", masks, weights).reshape(m, -1)
    return feats, rates, counts, filters


def _fit(feats, counts, **options):
    return fit_factorized_readout(
        feats[:1000], counts[:1000], seed=0, lr=3e-2, max_epochs=200, progress=False, **options
    ).model


def test_poisson_factorized_readout_recovers_planted_masks_and_weights():
    feats, rates, counts, filters = _planted_poisson_population()
    model = _fit(feats, counts)  # Poisson loss, softplus output (Cadena et al. 2019)
    assert model.nonlinearity == "softplus"
    with torch.no_grad():
        pred = model(torch.as_tensor(feats[1000:])).numpy()
    assert pred.min() > 0  # rates
    # the readout's filter mask x weights (its sign is free in each factor, not in the product)
    found = torch.einsum("kyx,kc->kcyx", model.mask, model.weights).detach().reshape(6, -1)
    r = np.array([np.corrcoef(found[k].numpy(), filters[k])[0, 1] for k in range(6)])
    # chance: about 0 +- 1/sqrt(1024) = 0.03 for filters of 1,024 values
    assert np.median(r) > 0.8 and r.min() > 0.3, r
    assert correlation(rates[1000:], pred).mean() > 0.6


def test_poisson_loss_beats_mse_on_poisson_counts_in_log_likelihood():
    from artiphys_course.losses import poisson_loss

    feats, _, counts, _ = _planted_poisson_population()
    test = torch.as_tensor(counts[1000:])
    log_likelihood = {}
    for loss, nonlinearity in [("poisson", "softplus"), ("mse", "softplus"), ("mse", "linear")]:
        model = _fit(feats, counts, loss=loss, nonlinearity=nonlinearity)
        with torch.no_grad():
            rates = model(torch.as_tensor(feats[1000:])).clamp_min(1e-6)  # linear: may be < 0
        log_likelihood[loss, nonlinearity] = -float(poisson_loss(rates, test, full=True))
    best = log_likelihood["poisson", "softplus"]
    assert best > log_likelihood["mse", "softplus"] + 0.02, log_likelihood
    assert best > log_likelihood["mse", "linear"] + 0.05, log_likelihood


def test_factorized_readout_arguments_and_penalties():
    feats = torch.randn(20, 3, 4, 4)
    with pytest.raises(ValueError, match="needs positive rates"):
        fit_factorized_readout(feats, torch.ones(20, 2), nonlinearity="linear", progress=False)
    with pytest.raises(ValueError, match=">= 0 for loss='poisson'"):
        fit_factorized_readout(feats, -torch.ones(20, 2), progress=False)
    with pytest.raises(ValueError, match="loss must be"):
        fit_factorized_readout(feats, torch.ones(20, 2), loss="l1", progress=False)
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        FactorizedReadout((3, 4, 4), 2, nonlinearity="exp")
    with pytest.raises(ValueError, match="group_sparsity must be"):
        FactorizedReadout((3, 4, 4), 2, group_sparsity=-1.0)
    off = {"smoothness": 0.0, "mask_sparsity": 0.0, "feature_sparsity": 0.0, "group_sparsity": 0.0}
    readout = FactorizedReadout((3, 4, 4), 2, **off).requires_grad_(False)
    assert float(readout.regularizer()) == 0.0
    with torch.no_grad():
        readout.weights.copy_(torch.tensor([[3.0, 0.0, 0.0], [4.0, 0.0, 0.0]]))
    # group sparsity: L2 over neurons per channel (5 for channel 0), summed, / sqrt(2)
    readout.group_sparsity = 1.0
    assert float(readout.regularizer()) == pytest.approx(5 / np.sqrt(2), rel=1e-5)
    readout.group_sparsity, readout.feature_sparsity = 0.0, 1.0
    assert float(readout.regularizer()) == pytest.approx(3.5)  # mean over neurons of L1
    readout.feature_sparsity, readout.mask_sparsity = 0.0, 1.0
    assert float(readout.regularizer()) == pytest.approx(1.0)  # masks start at 1 / (h w)
    readout.mask_sparsity, readout.smoothness = 0.0, 1.0
    assert float(readout.regularizer()) == pytest.approx(0.0, abs=1e-10)  # flat masks are smooth
    with torch.no_grad():
        readout.mask[:, 1, 1] += 1.0  # a spike: Laplacian 4 there, -1 at 4 neighbours
    assert float(readout.regularizer()) == pytest.approx(16 + 4, rel=1e-4)
    x = torch.randn(5, 3, 4, 4)
    drive = readout.drive(x)
    readout.nonlinearity = "elu1"
    torch.testing.assert_close(readout(x), torch.nn.functional.elu(drive) + 1)


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


def test_grid_computes_lazy_networks_one_at_a_time_with_the_same_table():
    features, areas = _two_areas(seed=5)
    eager = run_layer_grid({"n1": features["net"], "n2": features["net"]}, areas, progress=False)
    calls, alive = [], []

    def source(name):
        def make():
            calls.append(name)
            alive.append(sum(1 for ref in weakrefs if ref() is not None))
            layers = {k: v.copy() for k, v in features["net"].items()}
            weakrefs.append(weakref.ref(layers["a"]))
            return layers

        return make

    weakrefs = []
    lazy = run_layer_grid({"n1": source("n1"), "n2": source("n2")}, areas, progress=False)
    assert calls == ["n1", "n2"] and alive == [0, 0]  # n1's features were freed before n2's
    assert [(r.network, r.layer, r.area) for r in lazy.rows] == [
        (r.network, r.layer, r.area) for r in eager.rows
    ]
    np.testing.assert_array_equal(lazy.matrix("n2"), eager.matrix("n2"))
    # training images that are not a contiguous run give the same fit as a permuted copy
    order = np.random.default_rng(0).permutation(len(areas[0].train_image_ids))
    shuffled = [
        AreaData(
            a.name,
            a.train_image_ids[order],
            a.train_responses[order],
            a.test_image_ids,
            a.test_responses,
        )
        for a in areas
    ]
    again = run_layer_grid({"n1": features["net"]}, shuffled, progress=False)
    np.testing.assert_allclose(again.matrix(), eager.matrix("n1"), rtol=1e-4)
    with pytest.raises(TypeError, match=r"features\['n'\] must be"):
        run_layer_grid({"n": [1, 2]}, areas, progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        run_layer_grid({"n": lambda: None}, areas, progress=False)
    with pytest.raises(ValueError, match=r"features\['n'\] must give a non-empty"):
        run_layer_grid({"n": {}}, areas, progress=False)


def test_grid_factorized_readout_and_errors():
    features, areas = _two_areas(seed=4)
    result = run_layer_grid(
        features,
        areas[0],
        readouts=("ridge", "factorized"),
        factorized_options={"max_epochs": 60, "loss": "mse"},  # Gaussian responses
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


def test_layer_readout_model_equals_features_then_readout_and_has_gradients():
    from artiphys_course.features import extract_features
    from artiphys_course.layer_grid import LayerReadoutModel
    from artiphys_course.models.pretrained import load_pretrained

    net = load_pretrained("alexnet", weights="untrained", seed=0)
    images = torch.as_tensor(np.random.default_rng(0).uniform(0, 255, size=(3, 1, 36, 64)))
    feats = extract_features(
        net, images, ["features.4"], image_shape=(72, 128), pool=(3, 5), progress=False
    )["features.4"]
    assert feats.shape == (3, 192, 3, 5)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        readout = FactorizedReadout(feats.shape[1:], 4, nonlinearity="softplus")
    model = LayerReadoutModel(net, "features.4", readout, image_shape=(72, 128), pool=(3, 5))
    with torch.no_grad():
        expected = readout(torch.as_tensor(feats))
    x = images.float().requires_grad_(True)
    out = model(x)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    out[:, 0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(KeyError, match="no layer"):
        LayerReadoutModel(net, "features.99", readout)
