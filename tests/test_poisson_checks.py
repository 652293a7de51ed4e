"""The exercise checks of notebook 04 accept correct answers and reject wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artiphys_course.checks import poisson as checks


def _log_pmf(counts, rates):
    return counts * torch.log(rates) - rates - torch.lgamma(counts + 1)


def _bits(y_true, y_pred):
    null = y_true.mean(0)
    gain = (y_true * np.log(y_pred) - y_pred).sum(0) - (y_true * np.log(null) - null).sum(0)
    return gain / (y_true.sum(0) * np.log(2))


def test_correct_answers_pass():
    results = [
        checks.check_poisson_log_pmf(_log_pmf),
        checks.check_poisson_loss(lambda r, k: (r - k * torch.log(r + 1e-8)).mean()),
        checks.check_bits_per_spike(_bits),
    ]
    assert all(results) and all("correct" in str(r) for r in results)
    assert all(r.points == r.max_points == 1.0 and r.passed == r.total for r in results)


def test_wrong_and_missing_answers_fail(lenient):
    wrong = checks.check_poisson_log_pmf(lambda k, r: k * torch.log(r) - r)  # no log k!
    assert not wrong and "Hint" in wrong.message and wrong.points < wrong.max_points
    assert not checks.check_poisson_loss(lambda r, k: (r - k * torch.log(r + 1e-8)).sum())

    def unsolved(*args):
        raise NotImplementedError("Exercise: bits_per_spike")

    missing = checks.check_bits_per_spike(unsolved)
    assert not missing and "not implemented yet" in repr(missing) and missing.points == 0


def test_strict_checks_raise_on_a_wrong_answer_but_not_on_an_unsolved_one(monkeypatch):
    from artiphys_course.checks import STRICT_ENV, CheckFailed

    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(CheckFailed, match="poisson_log_pmf"):
        checks.check_poisson_log_pmf(lambda k, r: k * torch.log(r) - r)

    def unsolved(*args):
        raise NotImplementedError("Exercise: bits_per_spike")

    assert checks.check_bits_per_spike(unsolved).status == "not implemented"
