"""Orientation decoder: far better than chance on the simulated population, seeded, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artiphys_course.decoding import OrientationDecoder, circular_error, train_decoder
from artiphys_course.simulate import simulate_orientation_population


@pytest.fixture(scope="module")
def population():
    return simulate_orientation_population(n_neurons=300, n_stimuli=180, seed=2)


def test_circular_error_wraps():
    np.testing.assert_allclose(circular_error([89.0, 10.0, 0.0], [-89.0, -10.0, 90.0]), [2, 20, 90])
    assert circular_error(torch.tensor([179.0]), np.array([1.0]))[0] == pytest.approx(2.0)


def test_decoder_beats_chance_by_far(population):
    res = train_decoder(population.resp, population.stimuli, max_epochs=40, progress=False)
    assert res.chance_error_deg == 45.0
    assert res.test_error_deg < 10.0  # chance: 45 degrees
    history = res.history
    assert history.n_epochs == len(history.validation_score) <= 40
    assert history.train_loss[-1] < history.train_loss[0] / 3
    # the kept weights are those of the best validation epoch
    assert history.best_validation_score == max(history.validation_score)
    assert history.score == "-mse"
    with torch.no_grad():
        validation_loss = res.model.loss(
            res.model(torch.as_tensor(population.resp[res.validation_index]).float()),
            torch.as_tensor(population.stimuli[res.validation_index]).float(),
        )
    assert float(validation_loss) == pytest.approx(-history.best_validation_score, rel=1e-5)
    assert len(res.test_index) == 36 and len(res.validation_index) == 18
    assert len(res.train_index) == 180 - 36 - 18
    split = np.concatenate([res.train_index, res.validation_index, res.test_index])
    assert sorted(split) == list(range(180))
    np.testing.assert_allclose(res.true_deg, population.stimuli[res.test_index], atol=1e-5)
    # predict() reproduces the stored test predictions
    np.testing.assert_allclose(
        res.model.predict(population.resp[res.test_index]), res.predicted_deg, atol=1e-4
    )


def test_circular_code_beats_naive_angle_regression(population):
    kw = dict(max_epochs=40, progress=False, seed=1)
    circular = train_decoder(population.resp, population.stimuli, **kw)
    angle = train_decoder(population.resp, population.stimuli, target="angle", **kw)
    assert circular.test_error_deg < angle.test_error_deg


def test_seeded_determinism_and_no_global_side_effect(population):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    kw = dict(max_epochs=5, dropout=0.3, progress=False, seed=7)
    a = train_decoder(population.resp, population.stimuli, **kw)
    assert torch.equal(torch.rand(3), expected_next)  # global RNG untouched
    b = train_decoder(population.resp, population.stimuli, **kw)
    np.testing.assert_array_equal(a.predicted_deg, b.predicted_deg)
    assert a.history.train_loss == b.history.train_loss
    c = train_decoder(population.resp, population.stimuli, **{**kw, "seed": 8})
    assert not np.array_equal(a.test_index, c.test_index)


@pytest.mark.parametrize("target", ["circular", "angle", "classes"])
def test_encode_decode_round_trip(target):
    dec = OrientationDecoder(5, 0, target=target, n_classes=36, lower=-90.0)
    theta = torch.linspace(-90, 89.9, 50)
    code = dec.encode(theta)
    if target == "classes":
        logits = torch.nn.functional.one_hot(code, 36).float()
        err = circular_error(dec.decode(logits), theta)
        assert err.max() <= 2.5 + 1e-4  # bin centre, bins of 5 degrees
    else:
        np.testing.assert_allclose(circular_error(dec.decode(code), theta), 0, atol=1e-3)


def test_l1_sparsifies_the_readout(population):
    kw = dict(hidden=0, max_epochs=30, patience=30, progress=False)  # no early stop
    dense = train_decoder(population.resp, population.stimuli, **kw)
    sparse = train_decoder(population.resp, population.stimuli, l1=1e-2, **kw)
    w_dense = dense.model.first_layer.weight.abs().sum().item()
    w_sparse = sparse.model.first_layer.weight.abs().sum().item()
    assert w_sparse < 0.75 * w_dense


def test_weight_decay_shrinks_weights(population):
    kw = dict(max_epochs=30, progress=False)
    plain = train_decoder(population.resp, population.stimuli, **kw)
    decayed = train_decoder(population.resp, population.stimuli, weight_decay=0.1, **kw)
    norm = lambda r: sum(p.norm() ** 2 for p in r.model.parameters()).item()  # noqa: E731
    assert norm(decayed) < norm(plain)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(responses=np.zeros((10, 3)), orientation_deg=np.zeros(9)),
        dict(responses=np.zeros(10), orientation_deg=np.zeros(10)),
        dict(responses=np.full((10, 3), np.nan), orientation_deg=np.zeros(10)),
        dict(responses=np.zeros((10, 3)), orientation_deg=np.zeros(10), target="vector"),
        dict(responses=np.zeros((10, 3)), orientation_deg=np.zeros(10), test_fraction=1.0),
        dict(responses=np.zeros((10, 3)), orientation_deg=np.zeros(10), dropout=1.0),
    ],
)
def test_clear_errors(kwargs):
    with pytest.raises(ValueError):
        train_decoder(progress=False, max_epochs=1, **kwargs)


@pytest.mark.parametrize("seed", [None, 1.5])
def test_seed_must_be_an_int(population, seed):
    with pytest.raises(TypeError):
        train_decoder(population.resp, population.stimuli, max_epochs=1, seed=seed, progress=False)


def test_predict_checks_shape(population):
    res = train_decoder(population.resp, population.stimuli, max_epochs=1, progress=False)
    with pytest.raises(ValueError, match="300"):
        res.model.predict(np.zeros((4, 299)))
