"""Notebook 05's checks accept correct answers written in different ways and diagnose wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from artiphys_course.checks.gradient_rf import check_batched_gradient_rf, check_ln_gradient_rf
from artiphys_course.gradient_rf import gradient_rf


# ------------------------------------------------------------------------ ln_gradient_rf
def ln_by_formula(weight, bias, image):
    drive = (weight * image).flatten(1).sum(dim=1) + bias
    slope = torch.where(drive > 0, torch.ones_like(drive), torch.exp(drive))
    return slope[:, None, None, None] * weight


def ln_by_einsum_and_clamp(weight, bias, image):
    drive = torch.einsum("nchw,chw->n", weight, image) + bias
    return weight * drive.clamp(max=0).exp().reshape(-1, 1, 1, 1)


def ln_by_autograd(weight, bias, image):
    x = image.clone().requires_grad_(True)
    drive = (weight * x).flatten(1).sum(dim=1) + bias
    responses = nn.functional.elu(drive) + 1
    rows = [torch.autograd.grad(r, x, retain_graph=True)[0] for r in responses]
    return torch.stack(rows)


@pytest.mark.parametrize("correct", [ln_by_formula, ln_by_einsum_and_clamp, ln_by_autograd])
def test_ln_gradient_rf_accepts_differently_written_correct_answers(correct):
    result = check_ln_gradient_rf(correct)
    assert result and result.passed == result.total >= 3


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (lambda w, b, x: w, "the filter without the slope"),
        (lambda w, b, x: ln_by_formula(w, torch.zeros_like(b), x), "the drive without the bias"),
        (
            lambda w, b, x: (
                w * (nn.functional.elu((w * x).flatten(1).sum(1) + b) + 1)[:, None, None, None]
            ),
            "the response instead of its slope",
        ),
        (
            lambda w, b, x: w * ((w * x).flatten(1).sum(1) + b).exp()[:, None, None, None],
            "the slope of the ELU's left branch everywhere",
        ),
    ],
)
def test_ln_gradient_rf_names_the_mistake_without_the_solution(wrong, mistake, lenient):
    result = check_ln_gradient_rf(wrong)
    assert not result and result.points < 1
    assert f"looks like {mistake}" in result.message
    assert "exp(" not in result.message and "torch." not in result.message


def test_ln_gradient_rf_rejects_an_unknown_mistake_with_the_general_hint(lenient):
    result = check_ln_gradient_rf(lambda w, b, x: 2 * ln_by_formula(w, b, x))
    assert not result and "Hint:" in result.message and "looks like" not in result.message


def test_ln_gradient_rf_catches_the_package_reference(lenient):
    class LN(nn.Module):
        def __init__(self, weight, bias):
            super().__init__()
            self.weight, self.bias = weight, bias

        def forward(self, x):
            drive = torch.einsum("bchw,nchw->bn", x, self.weight) + self.bias
            return nn.functional.elu(drive) + 1

    result = check_ln_gradient_rf(lambda w, b, x: gradient_rf(LN(w, b), image=x, progress=False))
    assert not result and result.passed == 0
    assert "calls the package's `gradient_rf`" in result.message


# ------------------------------------------------------------------------ batched_gradient_rf
def batched_in_eval_mode(model, image, neurons):
    image = image.reshape(1, *image.shape[-3:])
    was_training = model.training
    model.eval()
    try:
        copies = image.repeat(len(neurons), 1, 1, 1).requires_grad_(True)
        own = model(copies)[torch.arange(len(neurons)), torch.as_tensor(neurons)]
        (grad,) = torch.autograd.grad(own.sum(), copies)
    finally:
        model.train(was_training)
    return grad


def batched_with_gather_and_backward(model, image, neurons):
    model.eval()
    x = image.expand(len(neurons), *image.shape[-3:]).clone().requires_grad_()
    index = torch.tensor(neurons)[:, None]
    model(x).gather(1, index).sum().backward()
    return x.grad


def training_mode(model, image, neurons):
    x = image.reshape(1, *image.shape[-3:]).repeat(len(neurons), 1, 1, 1).requires_grad_(True)
    own = model(x)[torch.arange(len(neurons)), torch.as_tensor(neurons)]
    return torch.autograd.grad(own.sum(), x)[0]


@pytest.mark.parametrize("correct", [batched_in_eval_mode, batched_with_gather_and_backward])
def test_batched_gradient_rf_accepts_differently_written_correct_answers(correct):
    result = check_batched_gradient_rf(correct)
    assert result and result.passed == result.total >= 3


def summed_in_every_copy(model, image, neurons):
    model.eval()
    x = image.reshape(1, *image.shape[-3:]).repeat(len(neurons), 1, 1, 1).requires_grad_(True)
    return torch.autograd.grad(model(x)[:, neurons].sum(), x)[0]


def output_k_for_copy_k(model, image, neurons):
    model.eval()
    x = image.reshape(1, *image.shape[-3:]).repeat(len(neurons), 1, 1, 1).requires_grad_(True)
    return torch.autograd.grad(model(x).diagonal().sum(), x)[0]


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (training_mode, "the model left in training mode"),
        (summed_in_every_copy, "the gradient of all the neurons summed"),
        (output_k_for_copy_k, "output k for copy k"),
        (lambda m, x, n: batched_in_eval_mode(m, x, n)[::-1].contiguous(), None),
    ],
)
def test_batched_gradient_rf_rejects_wrong_answers_and_names_known_mistakes(
    wrong, mistake, lenient
):
    result = check_batched_gradient_rf(wrong)
    assert not result and result.passed < result.total
    if mistake:
        assert f"looks like {mistake}" in result.message
    assert "repeat(" not in result.message and "autograd" not in result.message


def test_batched_gradient_rf_catches_a_loop_over_neurons_and_the_reference(lenient):
    def loop(model, image, neurons):
        return torch.cat([batched_in_eval_mode(model, image, [n]) for n in neurons])

    result = check_batched_gradient_rf(loop)
    assert not result and "called the model 6 times where 1 batched call is asked" in result.message

    def package(model, image, neurons):
        return gradient_rf(model, neurons, image=image, progress=False)

    result = check_batched_gradient_rf(package)
    assert not result and "calls the package's `gradient_rf`" in result.message


def test_batched_gradient_rf_reports_an_unsolved_exercise_and_leaves_the_rng_alone():
    def unsolved(model, image, neurons):
        raise NotImplementedError("Exercise: batched_gradient_rf")

    assert "not implemented yet" in check_batched_gradient_rf(unsolved).message
    torch.manual_seed(12345)  # a state the check would not end in by chance
    state = torch.get_rng_state()
    check_batched_gradient_rf(batched_in_eval_mode)
    assert torch.equal(torch.get_rng_state(), state)
