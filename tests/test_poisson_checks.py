"""The exercise checks of notebook 04 accept correct answers and reject wrong ones."""

from __future__ import annotations

import numpy as np
import torch

from artiphys_course.checks import poisson as checks


def _log_pmf(counts, rates):
    return counts * torch.log(rates) - rates - torch.lgamma(counts + 1)


def _bits(y_true, y_pred):
    null = y_true.mean(0)
    gain = (y_true * np.log(y_pred) - y_pred).sum(0) - (y_true * np.log(null) - null).sum(0)
    return gain / (y_true.sum(0) * np.log(2))


def test_correct_answers_pass(capsys):
    assert checks.check_poisson_log_pmf(_log_pmf)
    assert checks.check_poisson_loss(lambda r, k: (r - k * torch.log(r + 1e-8)).mean())
    assert checks.check_bits_per_spike(_bits)
    assert capsys.readouterr().out.count("correct") == 3


def test_wrong_and_missing_answers_fail(capsys):
    assert not checks.check_poisson_log_pmf(lambda k, r: k * torch.log(r) - r)  # no log k!
    assert not checks.check_poisson_loss(lambda r, k: (r - k * torch.log(r + 1e-8)).sum())

    def unsolved(*args):
        raise NotImplementedError("Exercise: bits_per_spike")

    assert not checks.check_bits_per_spike(unsolved)
    out = capsys.readouterr().out
    assert "Hint" in out and "not implemented yet" in out
