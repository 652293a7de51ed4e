"""The shared check machinery: verdicts, known mistakes, forbidden references, batching, blame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artiphys_course import metrics
from artiphys_course.checks.core import CheckFailed, Mistake, adapt, check_function, tiny_cnn

CASES = [(np.arange(6.0),), (np.array([3.0, -1.0, 4.0, 1.0, 5.0]),), (np.linspace(-2, 7, 9),)]


def reference_std(x):
    return np.std(x)


def unbiased_std(x):
    return np.std(x, ddof=1)


MISTAKES = [
    Mistake("the variance instead of the s.d.", lambda x: np.var(x), "Look at the units."),
    Mistake("the unbiased s.d. (ddof=1)", unbiased_std, "Which N divides the sum of squares?"),
]


def check_std(student):
    return check_function(
        student, reference_std, CASES, mistakes=MISTAKES, hint="Compare with the definition."
    )


@pytest.mark.parametrize(
    "correct",
    [
        lambda x: np.sqrt(np.mean((x - x.mean()) ** 2)),
        lambda x: float(torch.tensor(x).std(0, False)),
    ],
)
def test_two_differently_written_correct_answers_pass_with_full_points(correct, lenient):
    result = check_std(correct)
    assert result and result.passed == result.total == 3 and result.points == 1.0
    assert "correct on 3 test inputs" in str(result)


def test_a_known_mistake_is_named_with_its_hint_and_never_the_solution(lenient):
    result = check_std(unbiased_std)
    assert not result and result.passed == 0 and result.points == 0.0
    assert "unbiased s.d. (ddof=1)" in result.message
    assert "Which N divides" in result.message
    assert "ddof=0" not in result.message and "np.std" not in result.message
    result = check_std(lambda x: np.var(x))
    assert "the variance instead" in result.message


def test_an_unknown_mistake_gets_the_general_hint_and_partial_points(lenient):
    def half_right(x):  # right on the first input only
        return np.std(x) if len(x) == 6 else 0.0

    result = check_std(half_right)
    assert result.status == "wrong" and result.passed == 1
    assert result.points == pytest.approx(1 / 3)
    assert "Hint: Compare with the definition." in result.message
    assert "looks like" not in result.message


def test_strict_mode_raises_on_a_wrong_answer_but_not_on_an_unsolved_one(monkeypatch):
    monkeypatch.setenv("ARTIPHYS_STRICT_CHECKS", "1")
    with pytest.raises(CheckFailed, match="unbiased"):
        check_std(unbiased_std)

    def unsolved(x):
        raise NotImplementedError

    assert check_std(unsolved).status == "not implemented"


def test_calling_a_forbidden_reference_is_reported_and_scores_zero(lenient):
    def calls_package(x):
        return metrics.correlation(x, x)

    def reference(x):
        return metrics.correlation(x, x)

    cases = [(np.arange(5.0)[:, None] * np.ones((1, 2)),)]
    result = check_function(
        calls_package, reference, cases, forbidden=["artiphys_course.metrics.correlation"]
    )
    assert not result and "calls the package's `correlation`" in result.message
    # the reference works again after the check (nothing left patched)
    assert np.allclose(metrics.correlation(cases[0][0], cases[0][0]), 1.0)
    allowed = check_function(calls_package, reference, cases)
    assert allowed


def test_a_loop_over_neurons_fails_where_one_batched_call_is_asked(lenient):
    model = tiny_cnn(0, (5, 6), 4)
    images = torch.randn(3, 1, 5, 6, generator=torch.Generator().manual_seed(0))

    def batched(model, images):
        return model(images)

    def looped(model, images):
        return torch.cat([model(image[None]) for image in images])

    cases = [(model, images)]
    assert check_function(batched, batched, cases, max_calls=1)
    result = check_function(looped, batched, cases, max_calls=1)
    assert not result and "called the model 3 times" in result.message


def test_a_chained_exercise_blames_the_wrong_helper_not_itself(lenient):
    namespace: dict = {}
    exec(  # a notebook's globals: the student's helper and the exercise that calls it
        "def square(x):\n    return x * 2\n\ndef sum_of_squares(x):\n    return square(x).sum()\n",
        namespace,
    )
    cases = [(np.arange(4.0),), (np.array([1.5, -2.0]),)]
    result = check_function(
        namespace["sum_of_squares"],
        lambda x: (x**2).sum(),
        cases,
        uses={"square": lambda x: x**2},
    )
    assert result.status == "correct" and result.points == 1.0
    assert "your `square` is wrong" in result.message
    assert namespace["square"](3.0) == 6.0  # the student's helper is back in place

    exec("def sum_of_squares(x):\n    return square(x).mean()\n", namespace)
    wrong = check_function(
        namespace["sum_of_squares"], lambda x: (x**2).sum(), cases, uses={"square": lambda x: x**2}
    )
    assert wrong.status == "wrong" and "your `square`" not in wrong.message


def test_the_student_cannot_change_the_inputs_the_reference_sees(lenient):
    def in_place(x):
        x -= x.mean()
        return np.sqrt((x**2).mean())

    assert check_std(in_place)


def test_adapt_transforms_the_answer_and_keeps_the_students_globals(lenient):
    namespace: dict = {"correlation": metrics.correlation, "np": np}  # the notebook's imports
    exec(
        "def calls(x):\n    return correlation(x, x)\n\n"
        "def writes(x):\n    return np.ones(x.shape[1])\n",
        namespace,
    )
    cases = [(np.arange(5.0)[:, None] * np.ones((1, 2)),)]

    def reference(x):
        return 2.0 * np.ones(2)

    def doubled(student, x):
        return 2.0 * np.asarray(student(x))

    forbidden = ["artiphys_course.metrics.correlation"]
    result = check_function(
        adapt(namespace["calls"], doubled), reference, cases, forbidden=forbidden
    )
    assert not result and "calls the package's `correlation`" in result.message
    assert check_function(
        adapt(namespace["writes"], doubled), reference, cases, forbidden=forbidden
    )
    assert adapt(namespace["writes"], doubled).__name__ == "writes"
    # a lambda wrapper hides the notebook's globals: the same call goes unnoticed
    hidden = lambda x: doubled(namespace["calls"], x)  # noqa: E731
    assert check_function(hidden, reference, cases, forbidden=forbidden)


def test_observed_compares_what_a_function_changes_on_prepared_copies(lenient):
    from artiphys_course.checks.core import Observed

    def scale_in_place(x):
        x *= 2.0

    def summary(_result, x):
        return x

    def prepare(x):  # state the per-call deep copy loses, restored before each call
        x += 1.0

    cases = [(np.arange(3.0),), (np.array([-1.0, 4.0]),)]
    reference = Observed(lambda x: x.__imul__(2.0), summary, prepare=prepare)
    result = check_function(Observed(scale_in_place, summary, prepare=prepare), reference, cases)
    assert result and result.name == "scale_in_place"
    wrong = check_function(Observed(scale_in_place, summary), reference, cases)
    assert not wrong and "differs from the reference" in wrong.message
    assert np.array_equal(cases[0][0], np.arange(3.0))  # the check's inputs are untouched

    before = torch.random.get_rng_state()
    draws = Observed(lambda: torch.rand(2), lambda result: result)
    assert torch.equal(draws(), draws())  # seeded: the same draws on every call ...
    assert torch.equal(torch.random.get_rng_state(), before)  # ... and the caller's RNG kept
