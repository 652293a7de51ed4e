"""fit() and its wrappers: train() recovers a known LN-Poisson model, stops early, restores the
best state, is deterministic without touching the caller's random state, and refuses NaN
responses before training; fit() runs any model, loss and score; train_tilt_cnn() learns."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from artiphys_course.data.static import Batch, StaticDataset, dataloaders
from artiphys_course.metrics import correlation, model_predictions
from artiphys_course.models.normative import TiltCNN
from artiphys_course.training import TensorBatches, TrainHistory, fit, train, train_tilt_cnn

SHAPE = (1, 6, 6)
N_NEURONS = 5


class LNPoisson(nn.Module):
    """exp(w . x + b): the linear-nonlinear Poisson model, with an optional ridge penalty."""

    def __init__(self, gamma: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.linear = nn.Linear(int(np.prod(SHAPE)), N_NEURONS)
        self.gamma = gamma

    def forward(self, images, pupil_center=None, data_key=None):
        return torch.exp(self.linear(images.flatten(1)))

    def regularizer(self, data_key=None):
        return self.gamma * self.linear.weight.pow(2).sum()


def _simulate(n_train=2000, n_val=300, noise_validation=False, seed=0):
    """Poisson counts of a known LN model to white-noise images."""
    rng = np.random.default_rng(seed)
    n = n_train + n_val
    images = rng.normal(size=(n, *SHAPE)).astype(np.float32)
    weights = rng.normal(scale=0.3, size=(N_NEURONS, int(np.prod(SHAPE))))
    bias = np.log(np.linspace(1.0, 4.0, N_NEURONS))
    rates = np.exp(images.reshape(n, -1) @ weights.T + bias)
    if noise_validation:  # validation responses unrelated to the images
        rates[n_train:] = rng.permutation(rates[n_train:])
    responses = rng.poisson(rates).astype(np.float32)
    tiers = np.array(["train"] * n_train + ["validation"] * (n_val - 100) + ["test"] * 100)
    data = StaticDataset(images, responses, np.arange(n), tiers)
    return data, weights, bias


def _loaders(data, seed=0):
    return dataloaders(data, batch_size=64, normalize=False, seed=seed)


@pytest.fixture(scope="module")
def ln_data():
    return _simulate()


@pytest.fixture(scope="module")
def noisy_validation():
    return _simulate(n_train=300, n_val=300, noise_validation=True)


def test_recovers_weights_of_a_known_ln_poisson_model(ln_data):
    data, weights, _ = ln_data
    model = LNPoisson()
    with torch.no_grad():  # start from the mean response, as the package's readouts do
        model.linear.bias.copy_(torch.from_numpy(np.log(data.responses.mean(0))))
    history = train(model, _loaders(data), max_epochs=12, lr=1e-2, progress=False)
    assert isinstance(history, TrainHistory)
    assert history.loss == "poisson" and history.score == "correlation"
    assert history.n_epochs == len(history.validation_score) == len(history.lr)
    learned = model.linear.weight.detach().numpy()
    for i in range(N_NEURONS):
        assert np.corrcoef(learned[i], weights[i])[0, 1] > 0.97
    np.testing.assert_allclose(learned, weights, atol=0.08)
    assert history.best_validation_score > 0.4
    assert history.train_loss[-1] < history.train_loss[0]


def test_early_stopping_stops_after_patience_and_restores_best(noisy_validation):
    data, _, _ = noisy_validation
    model = LNPoisson()
    loaders = _loaders(data)
    history = train(
        model, loaders, patience=2, lr_decay_steps=0, tolerance=0.0, max_epochs=60, progress=False
    )
    assert history.stopped == "early_stopping"
    assert history.n_epochs == history.best_epoch + 2 < 60
    assert history.best_validation_score == max(history.validation_score)
    assert history.validation_score[-1] < history.best_validation_score
    # the returned weights are those of the best epoch, not of the last one
    y, p = model_predictions(model, loaders["validation"])
    assert np.mean(correlation(y, p)) == pytest.approx(history.best_validation_score, abs=1e-6)
    assert not model.training


def test_learning_rate_decays_on_plateaus(noisy_validation):
    data, _, _ = noisy_validation
    history = train(
        LNPoisson(),
        _loaders(data),
        lr=1e-2,
        patience=1,
        lr_decay_steps=2,
        lr_decay_factor=0.5,
        max_epochs=60,
        progress=False,
    )
    assert history.stopped == "early_stopping"
    levels = sorted(set(history.lr), reverse=True)
    np.testing.assert_allclose(levels, [1e-2, 5e-3, 2.5e-3])
    assert history.lr == sorted(history.lr, reverse=True)


def test_two_runs_with_the_same_seed_give_identical_weights(ln_data):
    data, _, _ = ln_data
    states = []
    for _ in range(2):
        model = LNPoisson(seed=1)
        train(model, _loaders(data, seed=3), max_epochs=2, seed=5, progress=False)
        states.append(model.state_dict())
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key])
    other = LNPoisson(seed=1)
    train(other, _loaders(data, seed=4), max_epochs=2, seed=5, progress=False)
    assert not torch.equal(other.linear.weight, states[0]["linear.weight"])


def test_nan_responses_raise_before_training():
    images = torch.randn(8, *SHAPE)
    responses = torch.ones(8, N_NEURONS)
    responses[5, 2] = float("nan")
    batches = [Batch(images[:4], responses[:4]), Batch(images[4:], responses[4:])]
    model = LNPoisson()
    before = model.linear.weight.detach().clone()
    loaders = {"train": batches, "validation": batches[:1]}
    with pytest.raises(ValueError, match="non-finite responses.*batch 1, trial 1, neuron 2"):
        train(model, loaders, progress=False)
    assert torch.equal(model.linear.weight, before)


def test_nan_in_a_data_set_raises_before_training(ln_data):
    data, _, _ = ln_data
    loaders = _loaders(data)
    loaders["validation"].dataset.responses[7, 3] = float("nan")  # e.g. a lost frame
    model = LNPoisson()
    before = model.linear.weight.detach().clone()
    with pytest.raises(ValueError, match="'validation'.*non-finite.*trial 7, neuron 3"):
        train(model, loaders, progress=False)
    assert torch.equal(model.linear.weight, before)


def test_diverging_loss_raises_and_keeps_the_last_good_weights(ln_data):
    data, _, _ = ln_data
    model = LNPoisson()
    before = model.linear.weight.detach().clone()

    def nan_loss(rates, responses):
        return rates.sum() * float("nan")

    with pytest.raises(FloatingPointError, match="epoch 1"):
        train(model, _loaders(data), loss=nan_loss, progress=False)
    assert torch.equal(model.linear.weight, before)


def test_bad_arguments(ln_data):
    data, _, _ = ln_data
    loaders = _loaders(data)
    with pytest.raises(KeyError, match="validation"):
        train(LNPoisson(), {"train": loaders["train"]}, progress=False)
    with pytest.raises(ValueError, match="Unknown loss 'l1'.*mse.*poisson"):
        train(LNPoisson(), loaders, loss="l1", progress=False)
    with pytest.raises(ValueError, match="lr_decay_factor"):
        train(LNPoisson(), loaders, lr_decay_factor=1.5, progress=False)


def test_time_budget_stops_training(ln_data):
    data, _, _ = ln_data
    history = train(LNPoisson(), _loaders(data), max_seconds=0.0, progress=False)
    assert history.stopped == "max_seconds"
    assert history.n_epochs == 1


def test_regularizer_is_added_and_shrinks_weights(ln_data):
    data, _, _ = ln_data
    free, ridge = LNPoisson(), LNPoisson(gamma=20.0)
    train(free, _loaders(data), max_epochs=3, progress=False)
    history = train(ridge, _loaders(data), max_epochs=3, progress=False)
    assert all(r > 0 for r in history.regularizer)
    assert ridge.linear.weight.norm() < 0.5 * free.linear.weight.norm()


def test_mse_and_callable_losses(ln_data):
    data, _, _ = ln_data
    history = train(LNPoisson(), _loaders(data), loss="mse", max_epochs=2, progress=False)
    assert history.loss == "mse" and history.best_validation_score > 0.2

    calls = []

    def l1(rates, responses):
        calls.append(rates.shape)
        return (rates - responses).abs().mean()

    history = train(LNPoisson(), _loaders(data), loss=l1, max_epochs=1, progress=False)
    assert history.loss == "l1"
    assert len(calls) == len(_loaders(data)["train"])


def test_model_predictions_follow_loader_order_and_restore_mode(ln_data):
    data, _, _ = ln_data
    loader = _loaders(data)["validation"]
    model = LNPoisson().train()
    y_true, y_pred = model_predictions(model, loader)
    trials = loader.dataset.trial_indices
    np.testing.assert_array_equal(y_true, data.responses[trials])
    images = torch.from_numpy(data.images[data.trial_image_ids[trials]])
    np.testing.assert_allclose(y_pred, model(images).detach().numpy(), rtol=1e-6)
    assert model.training
    with pytest.raises(ValueError, match="no batches"):
        model_predictions(model, DataLoader([]))


def test_training_leaves_the_callers_random_state_untouched(ln_data):
    data, _, _ = ln_data
    loaders = _loaders(data)

    def draws():
        return torch.rand(4), np.random.rand(4), random.random()  # noqa: NPY002

    model = LNPoisson()
    torch.manual_seed(11)
    np.random.seed(11)  # noqa: NPY002
    random.seed(11)
    expected = draws()
    torch.manual_seed(11)
    np.random.seed(11)  # noqa: NPY002
    random.seed(11)
    train(model, loaders, max_epochs=2, seed=3, progress=False)
    got = draws()
    assert torch.equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert got[2] == expected[2]


def test_fit_trains_any_model_on_tensor_batches_and_picks_the_best_epoch():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(400, 3, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(400, generator=gen)
    x_val, y_val = x[300:], y[300:]
    model = nn.Linear(3, 1)
    scores = []

    def score(m):
        scores.append(-float(((m(x_val)[:, 0] - y_val) ** 2).mean().detach()))
        return scores[-1]

    history = fit(
        model,
        TensorBatches(x[:300], y[:300], batch_size=32),
        score,
        loss=lambda m, batch: ((m(batch[0])[:, 0] - batch[1]) ** 2).mean(),
        penalty=lambda m: 1e-3 * m.weight.pow(2).sum(),
        lr=5e-2,
        max_epochs=15,
        seed=0,
        progress=False,
        loss_name="mse",
        score_name="-mse",
    )
    assert history.validation_score == scores and history.n_epochs == len(history.lr)
    assert history.best_validation_score == max(scores) > -0.05
    assert history.best_epoch == 1 + int(np.argmax(scores))
    assert all(r > 0 for r in history.regularizer)
    assert score(model) == pytest.approx(history.best_validation_score)
    np.testing.assert_allclose(model.weight.detach()[0], [1.0, -2.0, 0.5], atol=0.1)
    with pytest.raises(TypeError, match="seed"):
        fit(model, [x], score, loss=lambda m, b: m(b).sum(), lr=1e-2, seed=None, progress=False)
    with pytest.raises(ValueError, match="lr"):
        fit(model, [x], score, loss=lambda m, b: m(b).sum(), lr=0.0, seed=0, progress=False)


def test_tensor_batches_cover_every_row_once_per_pass_in_a_new_order():
    rows = torch.arange(10)
    batches = TensorBatches(rows, rows * 2, batch_size=4)
    assert len(batches) == 3
    torch.manual_seed(0)
    first = torch.cat([a for a, _ in batches])
    second = torch.cat([a for a, _ in batches])
    assert sorted(first.tolist()) == list(range(10)) == sorted(second.tolist())
    assert not torch.equal(first, second)
    assert all(torch.equal(b, 2 * a) for a, b in batches)
    in_order = torch.cat([a for (a,) in TensorBatches(rows, batch_size=3, shuffle=False)])
    assert torch.equal(in_order, rows)
    with pytest.raises(ValueError, match="first dimension"):
        TensorBatches(rows, rows[:5], batch_size=2)


def test_tilt_cnn_training_is_seeded():
    nets = [TiltCNN() for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    kw = dict(n_train=96, n_validation=32, max_epochs=1, batch_size=32, seed=3, progress=False)
    histories = [train_tilt_cnn(net, **kw) for net in nets]
    assert histories[0].train_loss == histories[1].train_loss
    for (name, p), q in zip(
        nets[0].state_dict().items(), nets[1].state_dict().values(), strict=True
    ):
        assert torch.equal(p, q), name
