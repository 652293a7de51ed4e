"""Notebook 06's checks accept correct answers written in different ways and diagnose wrong ones.

The chained exercises (the step calls ``fix_mean_std``; the loop calls both) are defined in a
namespace of their own, as in a notebook, so that the checks can swap the student's helpers.
"""

from __future__ import annotations

import pytest
import torch

from artiphys_course.checks.mei import (
    check_cross_activation_matrix,
    check_fix_mean_std,
    check_gradient_ascent_step,
    check_most_exciting_inputs,
)
from artiphys_course.mei import FixedMeanStd, compute_meis, cross_activation

FIX = """
def fix_mean_std(images, mean, std):
    centred = images - images.mean(dim=(1, 2, 3), keepdim=True)
    scale = centred.std(dim=(1, 2, 3), keepdim=True, unbiased=False)
    return mean + std * centred / scale
"""
STEP = """
def gradient_ascent_step(model, params, neurons, lr):
    x = params.detach().clone().requires_grad_(True)
    own = model(fix_mean_std(x, 0.0, 1.0))[torch.arange(len(neurons)), torch.as_tensor(neurons)]
    (grad,) = torch.autograd.grad(own.sum(), x)
    rms = grad.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
    return (params + lr * grad / rms).detach()
"""
LOOP = """
def most_exciting_inputs(model, neurons, image_shape, steps, lr, seed):
    neurons = torch.as_tensor(neurons)
    rows = torch.arange(len(neurons))
    params = fix_mean_std(neuron_noise(seed, neurons, image_shape), 0.0, 1.0)
    activations = []
    for _ in range(steps):
        with torch.no_grad():
            activations.append(model(fix_mean_std(params, 0.0, 1.0))[rows, neurons])
        params = gradient_ascent_step(model, params, neurons, lr)
    images = fix_mean_std(params, 0.0, 1.0).detach()
    with torch.no_grad():
        activations.append(model(images)[rows, neurons])
    return images, torch.stack(activations)
"""


def notebook(*sources: str) -> dict:
    """A notebook's globals after running the setup imports and the given cells."""
    namespace: dict = {}
    setup = "import torch\nfrom artiphys_course.mei import FixedMeanStd, compute_meis, neuron_noise"
    for source in (setup, *sources):
        exec(source, namespace)
    return namespace


# ------------------------------------------------------------------------ fix_mean_std
def fix_with_var_mean(images, mean, std):
    var, mu = torch.var_mean(images, dim=(1, 2, 3), keepdim=True, correction=0)
    return (images - mu) * (std / var.sqrt()) + mean


@pytest.mark.parametrize("correct", [notebook(FIX)["fix_mean_std"], fix_with_var_mean])
def test_fix_mean_std_accepts_differently_written_correct_answers(correct):
    result = check_fix_mean_std(correct)
    assert result and result.passed == result.total >= 3


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (
            lambda x, m, s: m + s * (x - x.mean((1, 2, 3), True)) / x.std((1, 2, 3), keepdim=True),
            "the unbiased s.d.",
        ),
        (lambda x, m, s: m + s * (x - x.mean()) / x.std(unbiased=False), "of the whole batch"),
        (
            lambda x, m, s: (
                m + s * (x - x.mean((2, 3), True)) / x.std((2, 3), keepdim=True, correction=0)
            ),
            "of each channel separately",
        ),
        (lambda x, m, s: fix_with_var_mean(x, 0.0, 1.0), "ignores `mean` and `std`"),
        (lambda x, m, s: s * (fix_with_var_mean(x, 0.0, 1.0) + m), "the mean added before"),
    ],
)
def test_fix_mean_std_names_the_mistake_without_the_solution(wrong, mistake, lenient):
    result = check_fix_mean_std(wrong)
    assert not result and mistake in result.message and "looks like" in result.message
    assert "unbiased=False" not in result.message and "dim=" not in result.message


def test_fix_mean_std_catches_the_package_reference(lenient):
    result = check_fix_mean_std(lambda x, m, s: FixedMeanStd(m, s)(x))
    assert not result and "calls the package's `FixedMeanStd`" in result.message


# ------------------------------------------------------------------------ gradient_ascent_step
def step_with_backward(model, params, neurons, lr):
    x = params.clone().requires_grad_()
    mu = x.mean(dim=(1, 2, 3), keepdim=True)
    sd = (x - mu).pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
    out = model((x - mu) / sd)
    out.gather(1, torch.tensor(neurons)[:, None]).sum().backward()
    grad = x.grad
    return (
        params
        + lr * grad / grad.flatten(1).norm(dim=1).div(grad[0].numel() ** 0.5)[:, None, None, None]
    )


@pytest.mark.parametrize(
    "correct", [notebook(FIX, STEP)["gradient_ascent_step"], step_with_backward]
)
def test_gradient_ascent_step_accepts_differently_written_correct_answers(correct):
    result = check_gradient_ascent_step(correct)
    assert result and result.passed == result.total >= 3 and "But" not in result.message


@pytest.mark.parametrize(
    ("change", "mistake"),
    [
        (("params + lr", "params - lr"), "gradient descent instead of ascent"),
        (("lr * grad / rms", "lr * grad"), "a step without normalising the gradient"),
        (("model(fix_mean_std(x, 0.0, 1.0))", "model(x)"), "the model shown the raw parameters"),
        (
            ("torch.arange(len(neurons)), torch.as_tensor(neurons)", ":, neurons"),
            "all the neurons summed in every image",
        ),
        (("(params + lr * grad / rms).detach()", "x + lr * grad / rms"), "forgetting to detach"),
        (
            ("(params + lr * grad / rms).detach()", "fix_mean_std(params + lr * grad / rms, 0, 1)"),
            "the constraint applied to the stepped parameters",
        ),
    ],
)
def test_gradient_ascent_step_names_the_mistake(change, mistake, lenient):
    wrong = notebook(FIX, STEP.replace(*change))["gradient_ascent_step"]
    result = check_gradient_ascent_step(wrong)
    assert not result and f"looks like {mistake}" in result.message
    assert "torch.autograd" not in result.message and "rms" not in result.message


def test_gradient_ascent_step_blames_a_wrong_fix_mean_std_not_itself(lenient):
    unbiased = FIX.replace("unbiased=False", "unbiased=True")
    result = check_gradient_ascent_step(notebook(unbiased, STEP)["gradient_ascent_step"])
    assert result.status == "correct" and result.points == result.max_points
    assert "your `fix_mean_std` is wrong" in result.message


def test_gradient_ascent_step_catches_a_loop_over_neurons_and_the_reference(lenient):
    looped = STEP.replace(
        "own = model(fix_mean_std(x, 0.0, 1.0))"
        "[torch.arange(len(neurons)), torch.as_tensor(neurons)]",
        "images = fix_mean_std(x, 0.0, 1.0)\n    "
        "own = torch.stack([model(images[k : k + 1])[0, n] for k, n in enumerate(neurons)])",
    )
    result = check_gradient_ascent_step(notebook(FIX, looped)["gradient_ascent_step"])
    assert not result and "where 1 batched call is asked" in result.message

    def package(model, params, neurons, lr):
        result = compute_meis(model, neurons, image_shape=params.shape[1:], steps=1, lr=lr)
        return result.images

    result = check_gradient_ascent_step(package)
    assert not result and "calls the package's `compute_meis`" in result.message


# ------------------------------------------------------------------------ most_exciting_inputs
LOOP_WITH_OWN_STEPS = """
def most_exciting_inputs(model, neurons, image_shape, steps, lr, seed):
    index = torch.tensor(list(neurons))[:, None]
    params = FixedMeanStd(0.0, 1.0)(neuron_noise(seed, index[:, 0], image_shape))
    trace = []
    for _ in range(steps):
        params.requires_grad_(True)
        responses = model(fix_mean_std(params, 0.0, 1.0)).gather(1, index)[:, 0]
        trace.append(responses.detach())
        (grad,) = torch.autograd.grad(responses.sum(), params)
        size = grad.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
        params = (params + lr * grad / size).detach()
    images = fix_mean_std(params, 0.0, 1.0)
    with torch.no_grad():
        trace.append(model(images).gather(1, index)[:, 0])
    return images, torch.stack(trace)
"""


@pytest.mark.parametrize(
    "sources", [(FIX, STEP, LOOP), (FIX, LOOP_WITH_OWN_STEPS)], ids=["with-step", "inline"]
)
def test_most_exciting_inputs_accepts_differently_written_correct_loops(sources):
    result = check_most_exciting_inputs(notebook(*sources)["most_exciting_inputs"])
    assert result and result.passed == result.total >= 3 and "But" not in result.message


@pytest.mark.parametrize(
    ("change", "mistake"),
    [
        (("params + lr", "params - lr"), "gradient descent instead of ascent"),
        (("lr * grad / size", "lr * grad"), "steps without normalising the gradient"),
        (("FixedMeanStd(0.0, 1.0)(neuron_noise", "(neuron_noise"), "the starting noise not put"),
        (("images = fix_mean_std(params, 0.0, 1.0)", "images = params"), "the raw parameters"),
        (("torch.stack(trace)", "torch.stack(trace).T"), "the responses as (neurons, steps + 1)"),
        (
            (
                "neuron_noise(seed, index[:, 0], image_shape)",
                "torch.randn(len(index), *image_shape,"
                " generator=torch.Generator().manual_seed(seed))",
            ),
            "one random stream for the whole batch",
        ),
        (
            ("params = (params + lr * grad / size).detach()", "params = params + lr * grad / size"),
            "forgetting to detach",
        ),
    ],
)
def test_most_exciting_inputs_names_the_mistake(change, mistake, lenient):
    wrong = notebook(FIX, LOOP_WITH_OWN_STEPS.replace(*change))["most_exciting_inputs"]
    result = check_most_exciting_inputs(wrong)
    assert not result and f"looks like {mistake}" in result.message


def test_most_exciting_inputs_blames_a_wrong_step_not_itself(lenient):
    descent = STEP.replace("params + lr", "params - lr")
    result = check_most_exciting_inputs(notebook(FIX, descent, LOOP)["most_exciting_inputs"])
    assert result.status == "correct" and "your `gradient_ascent_step` is wrong" in result.message


def test_most_exciting_inputs_catches_one_neuron_at_a_time_and_the_reference(lenient):
    one_at_a_time = LOOP + (
        "\n_batched = most_exciting_inputs\n"
        "def most_exciting_inputs(model, neurons, image_shape, steps, lr, seed):\n"
        "    parts = [_batched(model, [n], image_shape, steps, lr, seed) for n in neurons]\n"
        "    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts], dim=1)\n"
    )
    result = check_most_exciting_inputs(notebook(FIX, STEP, one_at_a_time)["most_exciting_inputs"])
    assert not result and "batched calls are asked" in result.message

    def package(model, neurons, image_shape, steps, lr, seed):
        run = compute_meis(model, neurons, image_shape=image_shape, steps=steps, lr=lr, seed=seed)
        return run.images, torch.cat([run.activations, run.final_activation[None]])

    result = check_most_exciting_inputs(package)
    assert not result and "calls the package's `compute_meis`" in result.message


# ------------------------------------------------------------------------ cross_activation_matrix
def matrix_by_transpose(model, meis):
    with torch.no_grad():
        responses = model(meis).T
    return responses / responses.diagonal()[:, None]


def matrix_by_division(model, meis):
    responses = model(meis).detach()
    return (responses / torch.diag(responses)).T


@pytest.mark.parametrize("correct", [matrix_by_transpose, matrix_by_division])
def test_cross_activation_matrix_accepts_differently_written_correct_answers(correct):
    result = check_cross_activation_matrix(correct)
    assert result and result.passed == result.total >= 3


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (lambda m, x: matrix_by_transpose(m, x).T, "the transposed matrix"),
        (lambda m, x: m(x).detach().T, "raw responses, not normalised"),
        (lambda m, x: (r := m(x).detach()) / r.diagonal()[:, None], "rows that are MEIs"),
        (lambda m, x: (r := m(x).detach().T) / r.diagonal(), "each column divided"),
    ],
)
def test_cross_activation_matrix_names_the_mistake(wrong, mistake, lenient):
    result = check_cross_activation_matrix(wrong)
    assert not result and f"looks like {mistake}" in result.message


def test_cross_activation_matrix_catches_a_loop_and_the_reference(lenient):
    def looped(model, meis):
        responses = torch.cat([model(mei[None]) for mei in meis]).detach().T
        return responses / responses.diagonal()[:, None]

    result = check_cross_activation_matrix(looped)
    assert not result and "where 1 batched call is asked" in result.message
    result = check_cross_activation_matrix(lambda model, meis: cross_activation(model, meis))
    assert not result and "calls the package's `cross_activation`" in result.message


def test_checks_report_unsolved_exercises_and_leave_the_rng_alone():
    def unsolved(*args):
        raise NotImplementedError("Exercise")

    for check in (
        check_fix_mean_std,
        check_gradient_ascent_step,
        check_most_exciting_inputs,
        check_cross_activation_matrix,
    ):
        assert "not implemented yet" in check(unsolved).message
    torch.manual_seed(12345)  # a state the check would not end in by chance
    state = torch.get_rng_state()
    check_most_exciting_inputs(notebook(FIX, STEP, LOOP)["most_exciting_inputs"])
    assert torch.equal(torch.get_rng_state(), state)
