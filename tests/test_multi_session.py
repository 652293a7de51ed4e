"""Multi-session training: several digital-V1 sessions, their batches interleaved, one shared core.

SessionBatches covers every batch of every session once per pass in a round-robin or a seeded
proportional order; train_sessions sends the gradients of every session into the shared core
and those of a session only into its own readout and shifter; a trained two-session model
predicts both sessions; with one session train_sessions is train, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artiphys_course.data.sessions import (
    DIGITAL_V1_SESSIONS,
    SessionBatches,
    make_digital_v1_sessions,
)
from artiphys_course.data.static import dataloaders
from artiphys_course.metrics import correlation, model_predictions
from artiphys_course.models.cores import Stacked2dCore
from artiphys_course.models.encoders import Encoder
from artiphys_course.models.readouts import GaussianReadout
from artiphys_course.models.shifters import MLPShifter
from artiphys_course.runtime import seeded
from artiphys_course.training import train, train_sessions

SMALL = {
    "mouse_a": {
        "seed": 1,
        "n_neurons": 30,
        "image_shape": (18, 32),
        "n_train": 500,
        "n_validation": 100,
        "n_test_images": 20,
        "eye_shift_sd": 0.5,
        "mean_rate": 1.0,
    },
    "mouse_b": {
        "seed": 2,
        "n_neurons": 20,
        "image_shape": (18, 32),
        "n_train": 300,
        "n_validation": 100,
        "n_test_images": 20,
        "eye_shift_sd": 1.0,
        "mean_rate": 1.0,
    },
}


@pytest.fixture(scope="module")
def sessions():
    return make_digital_v1_sessions(SMALL, progress=False)


def _loaders(sessions):
    return {
        key: dataloaders(data, batch_size=64, seed=i)
        for i, (key, data) in enumerate(sessions.items())
    }


def _model(sessions, keys, loaders=None, seed=0):
    """One core, a readout and a shifter per key (readout bias at the mean response if given)."""
    with seeded(seed):
        core = Stacked2dCore(1, 8, layers=2, input_kernel=7, hidden_kernel=5, stack=None)
        shape = (1, 18, 32)
        readouts = {
            key: GaussianReadout(
                core.out_shape(shape),
                sessions[key].n_neurons,
                mean_response=None
                if loaders is None
                else loaders[key]["train"].dataset.responses.mean(0),
                gamma=0.01,
            )
            for key in keys
        }
        return Encoder(
            core, readouts, image_shape=shape, shifters={key: MLPShifter() for key in keys}
        )


# --- the sessions ------------------------------------------------------------------------------
def test_sessions_differ_in_neurons_sizes_and_eye_movements(sessions):
    a, b = sessions["mouse_a"], sessions["mouse_b"]
    assert list(sessions) == ["mouse_a", "mouse_b"]
    assert (a.n_neurons, b.n_neurons) == (30, 20)
    assert (a.tiers == "train").sum() == 500 and (b.tiers == "train").sum() == 300
    assert a.name.startswith("mouse_a") and a.truth.seed == 1
    assert not np.allclose(a.truth.neurons.orientation_deg[:20], b.truth.neurons.orientation_deg)
    shift_sd = [s.truth.eye_shift.std() for s in (a, b)]
    assert 0.4 < shift_sd[0] < 0.6 < 0.8 < shift_sd[1] < 1.1


def test_default_sessions_share_an_image_shape_and_have_one_small_session():
    sizes = {key: options["n_train"] for key, options in DIGITAL_V1_SESSIONS.items()}
    assert len(DIGITAL_V1_SESSIONS) == 3
    assert min(sizes.values()) * 2 < sorted(sizes.values())[1]
    assert len({options["seed"] for options in DIGITAL_V1_SESSIONS.values()}) == 3
    assert all("image_shape" not in options for options in DIGITAL_V1_SESSIONS.values())


def test_bad_session_options():
    with pytest.raises(ValueError, match="different seeds"):
        make_digital_v1_sessions({"a": {"seed": 1}, "b": {"seed": 1}}, progress=False)
    with pytest.raises(TypeError, match="'seed'"):
        make_digital_v1_sessions({"a": {"n_neurons": 3}}, progress=False)
    with pytest.raises(ValueError, match="empty"):
        make_digital_v1_sessions({}, progress=False)
    tiny = {"n_neurons": 2, "n_train": 5, "n_validation": 2, "n_test_images": 2}
    with pytest.raises(ValueError, match="image_shape"):
        make_digital_v1_sessions(
            {
                "a": {**tiny, "seed": 1, "image_shape": (8, 8)},
                "b": {**tiny, "seed": 2, "image_shape": (8, 10)},
            },
            progress=False,
        )


# --- interleaving ------------------------------------------------------------------------------
def _toy_loaders():
    return {"a": [("a", i) for i in range(4)], "b": [("b", 0)], "c": [("c", i) for i in range(2)]}


def test_round_robin_alternates_sessions_and_covers_every_batch_once():
    batches = SessionBatches(_toy_loaders())
    for _ in range(2):  # re-iterable
        items = list(batches)
        assert [key for key, _ in items] == ["a", "b", "c", "a", "c", "a", "a"]
        assert [batch for _, batch in items] == [
            ("a", 0), ("b", 0), ("c", 0), ("a", 1), ("c", 1), ("a", 2), ("a", 3)
        ]  # fmt: skip
        assert all(key == batch[0] for key, batch in items)
    assert len(batches) == 7 and batches.current_key == "a"


def test_proportional_order_is_seeded_mixed_and_covers_every_batch_once():
    loaders = {"a": [("a", i) for i in range(30)], "b": [("b", i) for i in range(10)]}
    batches = SessionBatches(loaders, order="proportional")
    with seeded(0):
        first, second = list(batches), list(batches)
    with seeded(0):
        again = list(batches)
    assert first == again  # the seed fixes the order
    assert first != second  # each pass draws a new one
    for items in (first, second):
        assert sorted(batch for _, batch in items) == sorted(loaders["a"] + loaders["b"])
        assert all(key == batch[0] for key, batch in items)
        keys = [key for key, _ in items]
        assert keys != sorted(keys) and keys[:10].count("b") < 10  # mixed, not blocked
        # within a session the loader's own order is kept
        assert [b for k, b in items if k == "a"] == loaders["a"]


def test_one_session_keeps_the_loaders_order_and_draws_no_random_number():
    with seeded(0):
        items = list(SessionBatches({"a": [1, 2, 3]}, order="proportional"))
        after = torch.rand(1)
    with seeded(0):
        reference = torch.rand(1)
    assert items == [("a", 1), ("a", 2), ("a", 3)]
    assert torch.equal(after, reference)


def test_bad_session_batches():
    with pytest.raises(ValueError, match="order"):
        SessionBatches({"a": [1]}, order="random")
    with pytest.raises(ValueError, match="non-empty"):
        SessionBatches({})
    with pytest.raises(ValueError, match=r"\['b'\]"):
        SessionBatches({"a": [1], "b": []})

    class Short(list):
        def __len__(self):
            return 3

    with pytest.raises(ValueError, match="fewer batches"):
        list(SessionBatches({"a": Short([1])}))


# --- training ----------------------------------------------------------------------------------
def test_core_learns_from_every_session_and_each_readout_only_from_its_own(sessions):
    """Log, for every training batch, which parameters received a gradient."""
    keys = list(sessions)
    model = _model(sessions, keys)
    steps: list[tuple[str, set[str]]] = []

    def log_batch(module, args, kwargs):
        if torch.is_grad_enabled() and module.training:
            steps.append((kwargs["data_key"], set()))

    model.register_forward_pre_hook(log_batch, with_kwargs=True)
    for name, parameter in model.named_parameters():
        parameter.register_hook(
            lambda grad, name=name: steps[-1][1].add(name) if grad.abs().sum() > 0 else None
        )
    train_sessions(model, _loaders(sessions), max_epochs=1, device="cpu", progress=False, seed=0)
    n_batches = {key: len(_loaders(sessions)[key]["train"]) for key in keys}
    assert [key for key, _ in steps] == ["mouse_a", "mouse_b"] * 5 + ["mouse_a"] * 3
    assert sum(n_batches.values()) == len(steps) == 13
    core = {name for name, _ in model.named_parameters() if name.startswith("core.")}
    for key, touched in steps:
        other = next(k for k in keys if k != key)
        assert core <= touched  # the shared core learns from every session
        assert any(name.startswith(f"readout.{key}.") for name in touched)
        assert any(name.startswith(f"shifter.{key}.") for name in touched)
        assert not any(
            name.startswith((f"readout.{other}.", f"shifter.{other}.")) for name in touched
        )


def test_a_trained_two_session_model_predicts_both_sessions(sessions):
    loaders = {
        key: dataloaders(data, batch_size=32, seed=i)
        for i, (key, data) in enumerate(sessions.items())
    }
    model = _model(sessions, list(sessions), loaders)
    history = train_sessions(
        model, loaders, lr=1e-2, max_epochs=8, device="cpu", progress=False, order="proportional"
    )
    assert history.score == "correlation" and history.best_epoch >= 1
    for key, data in sessions.items():
        y_true, y_pred = model_predictions(model, loaders[key]["test"], data_key=key)
        r = np.nanmean(correlation(y_true, y_pred))
        # chance: the same predictions paired with other test trials
        shuffled = np.random.default_rng(0).permutation(len(y_pred))
        chance = np.nanmean(correlation(y_true, y_pred[shuffled]))
        ceiling = data.truth.noise_ceiling().mean()
        assert r > 0.2 * ceiling and r > chance + 0.1, (key, r, chance, ceiling)
    # the validation score is the mean of the sessions' validation correlations
    scores = [
        np.mean(
            np.nan_to_num(
                correlation(*model_predictions(model, loaders[k]["validation"], data_key=k))
            )
        )
        for k in sessions
    ]
    assert history.best_validation_score == pytest.approx(np.mean(scores), abs=1e-5)


def test_one_session_is_exactly_train(sessions):
    key = "mouse_b"
    runs = []
    for trainer in ("train", "train_sessions"):
        model = _model(sessions, [key])
        loaders = dataloaders(sessions[key], batch_size=64, seed=3)
        options = {"max_epochs": 3, "device": "cpu", "progress": False, "seed": 5}
        if trainer == "train":
            history = train(model, loaders, data_key=key, **options)
        else:
            history = train_sessions(model, {key: loaders}, **options)
        runs.append((model.state_dict(), history))
    (state_a, history_a), (state_b, history_b) = runs
    assert all(torch.equal(state_a[name], state_b[name]) for name in state_a)
    assert history_a.train_loss == history_b.train_loss
    assert history_a.regularizer == history_b.regularizer
    assert history_a.validation_score == history_b.validation_score


def test_bad_multi_session_loaders(sessions):
    model = _model(sessions, list(sessions))
    loaders = _loaders(sessions)
    with pytest.raises(ValueError, match="non-empty"):
        train_sessions(model, {}, progress=False)
    with pytest.raises(KeyError, match="mouse_b"):
        train_sessions(
            model, {"mouse_a": loaders["mouse_a"], "mouse_b": {"train": 1}}, progress=False
        )
    with pytest.raises(ValueError, match="order"):
        train_sessions(model, loaders, order="random", progress=False)
