"""The exercise checks of notebook 04 accept correct answers, name wrong ones, catch references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from artiphys_course import training
from artiphys_course.checks import poisson as checks
from artiphys_course.losses import poisson_loss
from artiphys_course.metrics import bits_per_spike


def _unsolved(*args):
    raise NotImplementedError("Exercise")


# -- Exercise 1: poisson_log_pmf ---------------------------------------------------------------
def log_pmf_by_formula(counts, rates):
    return counts * torch.log(rates) - rates - torch.lgamma(counts + 1)


def log_pmf_by_distribution(counts, rates):
    return torch.distributions.Poisson(rates).log_prob(counts)


@pytest.mark.parametrize("correct", [log_pmf_by_formula, log_pmf_by_distribution])
def test_poisson_log_pmf_accepts_two_correct_answers(correct):
    result = checks.check_poisson_log_pmf(correct)
    assert result and result.points == result.max_points == 1.0


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (lambda k, r: k * torch.log(r) - r, "a missing log k!"),
        (lambda k, r: k * torch.log(r) - r - torch.lgamma(k), "log (k - 1)!"),
        (lambda k, r: -log_pmf_by_formula(k, r), "the negative log-probability"),
        (lambda k, r: log_pmf_by_formula(k, r).exp(), "the probability instead"),
    ],
)
def test_poisson_log_pmf_names_the_mistake(wrong, mistake, lenient):
    result = checks.check_poisson_log_pmf(wrong)
    assert not result and mistake in result.message and result.points < result.max_points
    assert "lgamma" not in result.message  # the hint never gives the formula


def test_poisson_log_pmf_catches_the_package(lenient):
    result = checks.check_poisson_log_pmf(lambda k, r: -poisson_loss(r, k, reduction="none"))
    assert not result and "calls the package's `poisson_loss`" in result.message


# -- Exercise 2: poisson_loss ------------------------------------------------------------------
@pytest.mark.parametrize(
    "correct",
    [
        lambda r, k: (r - k * torch.log(r + 1e-8)).mean(),
        lambda r, k: torch.nn.PoissonNLLLoss(log_input=False)(r, k),
    ],
)
def test_poisson_loss_accepts_two_correct_answers(correct):
    assert checks.check_poisson_loss(correct)


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (lambda r, k: (r - k * torch.log(r + 1e-8)).sum(), "the sum instead of the mean"),
        (lambda r, k: (r - k * torch.log(r)).mean(), "a missing epsilon"),
        (lambda r, k: ((r - k) ** 2).mean(), "the squared error"),
        (lambda r, k: (r - k * torch.log(r + 1e-8)).sum(1).mean(), "the sum over neurons"),
    ],
)
def test_poisson_loss_names_the_mistake(wrong, mistake, lenient):
    result = checks.check_poisson_loss(wrong)
    assert not result and mistake in result.message


def test_poisson_loss_catches_the_package(lenient):
    result = checks.check_poisson_loss(lambda r, k: poisson_loss(r, k))
    assert not result and "calls the package's `poisson_loss`" in result.message


# -- Exercise 3: training_step -----------------------------------------------------------------
STEPS = """
def poisson_loss_exercise(rates, responses):
    return (rates - responses * torch.log(rates + 1e-8)).mean()

def training_step(model, optimizer, images, responses):
    rates = model(images)
    loss = poisson_loss_exercise(rates, responses) * rates.shape[1] + model.regularizer()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
"""


def _notebook(source: str = STEPS) -> dict:
    """A notebook's globals: the student's poisson_loss_exercise and the step that uses it."""
    namespace = {"torch": torch}
    exec(source, namespace)
    return namespace


def step_written_out(model, optimizer, images, responses):
    optimizer.zero_grad(set_to_none=True)
    rates = model(images)
    data = (rates - responses * torch.log(rates + 1e-8)).sum() / len(rates)
    loss = data + model.regularizer()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


@pytest.mark.parametrize("correct", [_notebook()["training_step"], step_written_out])
def test_training_step_accepts_two_correct_answers(correct):
    result = checks.check_training_step(correct)
    assert result and result.passed == result.total == 3


def _variant(old: str, new: str):
    source = STEPS.replace(old, new)
    assert source != STEPS
    return _notebook(source)["training_step"]


@pytest.mark.parametrize(
    ("old", "new", "mistake"),
    [
        (
            "poisson_loss_exercise(rates, responses) * rates.shape[1]",
            "((rates - responses) ** 2).sum(1).mean()",
            "the squared error",
        ),
        ("    optimizer.zero_grad()\n", "", "gradients that are never cleared"),
        (" * rates.shape[1]", "", "the mean over neurons instead of the sum"),
        (" * rates.shape[1]", " * rates.numel()", "the sum over trials instead of the mean"),
        (" + model.regularizer()", "", "a missing regulariser"),
        ("    optimizer.step()\n", "", "no update of the parameters"),
    ],
)
def test_training_step_names_the_mistake(old, new, mistake, lenient):
    result = checks.check_training_step(_variant(old, new))
    assert not result and mistake in result.message


def test_training_step_blames_a_wrong_poisson_loss_exercise(lenient):
    notebook = _notebook(STEPS.replace(").mean()\n", ").sum()\n", 1))  # the loss sums
    result = checks.check_training_step(notebook["training_step"])
    assert result and "your `poisson_loss_exercise` is wrong" in result.message
    assert notebook["poisson_loss_exercise"].__name__ == "poisson_loss_exercise"  # put back


def test_training_step_catches_the_package(lenient):
    def calls_package(model, optimizer, images, responses):
        rates = model(images)
        loss = poisson_loss(rates, responses, reduction="sum") / len(rates) + model.regularizer()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss)

    result = checks.check_training_step(calls_package)
    assert not result and "calls the package's `poisson_loss`" in result.message

    def trains(model, optimizer, images, responses):
        return training.train(model, {"train": [], "validation": []})

    result = checks.check_training_step(trains)
    assert not result and "calls the package's `train`" in result.message


# -- Exercise 4: bits_per_spike ----------------------------------------------------------------
def bits_by_formula(y_true, y_pred):
    null = y_true.mean(0)
    gain = (y_true * np.log(y_pred) - y_pred).sum(0) - (y_true * np.log(null) - null).sum(0)
    return gain / (y_true.sum(0) * np.log(2))


def bits_by_scipy(y_true, y_pred):
    null = np.broadcast_to(y_true.mean(0), y_true.shape)
    gain = stats.poisson.logpmf(y_true, y_pred) - stats.poisson.logpmf(y_true, null)
    return np.log2(np.exp(1)) * gain.sum(0) / y_true.sum(0)


@pytest.mark.parametrize("correct", [bits_by_formula, bits_by_scipy])
def test_bits_per_spike_accepts_two_correct_answers(correct):
    assert checks.check_bits_per_spike(correct)


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (lambda k, r: bits_by_formula(k, r) * np.log(2), "nats per spike"),
        (lambda k, r: bits_by_formula(k, r) * k.sum(0) / len(k), "per trial instead of per spike"),
        (lambda k, r: bits_by_formula(k, r).mean(), None),  # a number, not one per neuron
    ],
)
def test_bits_per_spike_names_the_mistake(wrong, mistake, lenient):
    result = checks.check_bits_per_spike(wrong)
    assert not result
    assert mistake is None or mistake in result.message


def test_bits_per_spike_catches_the_package_and_an_unsolved_exercise(lenient):
    result = checks.check_bits_per_spike(lambda k, r: bits_per_spike(k, r))
    assert not result and "calls the package's `bits_per_spike`" in result.message
    missing = checks.check_bits_per_spike(_unsolved)
    assert not missing and "not implemented yet" in repr(missing) and missing.points == 0


def test_strict_checks_raise_on_a_wrong_answer_but_not_on_an_unsolved_one(monkeypatch):
    from artiphys_course.checks import STRICT_ENV, CheckFailed

    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(CheckFailed, match="poisson_log_pmf"):
        checks.check_poisson_log_pmf(lambda k, r: k * torch.log(r) - r)
    assert checks.check_training_step(_unsolved).status == "not implemented"
