"""The checks of notebook 00: right answers pass, plausible wrong ones are named, cheats caught."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artiphys_course.checks import start_here as checks


def fano(responses_by_image):
    mean = responses_by_image.mean(axis=1)
    var = responses_by_image.var(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(mean > 0, var / mean, np.nan)
    return np.nanmean(ratio, axis=0)


def fano_with_a_mask(responses_by_image):
    n = responses_by_image.shape[1]
    mean = responses_by_image.sum(1) / n
    var = ((responses_by_image - mean[:, None]) ** 2).sum(1) / (n - 1)
    spiking = mean > 0
    total = np.where(spiking, var / np.where(spiking, mean, 1.0), 0.0).sum(0)
    return total / spiking.sum(0)


def ceiling(rates):
    var = rates.var(axis=0)
    return np.sqrt(var / (var + rates.mean(axis=0)))


def ceiling_in_torch(rates):
    r = torch.as_tensor(rates)
    var = r.var(dim=0, unbiased=False)
    return (1 + r.mean(0) / var) ** -0.5


def corr(x, y):
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    return (xc * yc).sum(axis=0) / np.sqrt((xc**2).sum(axis=0) * (yc**2).sum(axis=0))


def corr_by_corrcoef(x, y):
    return np.array([np.corrcoef(x[:, i], y[:, i])[0, 1] for i in range(x.shape[1])])


def _wrong(result, mistake: str | None = None) -> None:
    assert not result and result.status == "wrong" and result.points < result.max_points
    if mistake is not None:
        assert f"looks like {mistake}" in result.message, result.message


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (checks.check_fano_factor, fano),
        (checks.check_fano_factor, fano_with_a_mask),
        (checks.check_poisson_noise_ceiling, ceiling),
        (checks.check_poisson_noise_ceiling, ceiling_in_torch),
        (checks.check_response_correlation, corr),
        (checks.check_response_correlation, corr_by_corrcoef),
    ],
)
def test_differently_written_correct_answers_pass(check, answer):
    result = check(answer)
    assert result and result.passed == result.total >= 4 and result.points == 1.0


@pytest.mark.parametrize(
    ("answer", "mistake"),
    [
        (lambda r: np.nanmean(r.var(1) / r.mean(1), axis=0), "the population variance"),
        (lambda r: np.nanmean(r.std(1, ddof=1) / r.mean(1), axis=0), "the standard deviation"),
        (lambda r: np.nan_to_num(r.var(1, ddof=1) / r.mean(1)).mean(0), "images without a spike"),
        (lambda r: r.var(1, ddof=1).mean(0) / r.mean(1).mean(0), "a ratio of averages"),
    ],
)
def test_fano_factor_names_plausible_mistakes(answer, mistake, lenient):
    with np.errstate(invalid="ignore", divide="ignore"):
        result = checks.check_fano_factor(answer)
    _wrong(result, mistake)
    assert "ddof=1" not in result.message  # the hint never gives the solution


@pytest.mark.parametrize(
    ("answer", "mistake"),
    [
        (lambda r: np.sqrt(r.var(0, ddof=1) / (r.var(0, ddof=1) + r.mean(0))), "the sample var"),
        (lambda r: r.var(0) / (r.var(0) + r.mean(0)), "no square root"),
        (lambda r: np.sqrt(r.var(1) / (r.var(1) + r.mean(1))), "statistics over neurons"),
    ],
)
def test_noise_ceiling_names_plausible_mistakes(answer, mistake, lenient):
    result = checks.check_poisson_noise_ceiling(answer)
    _wrong(result, mistake)
    assert "sqrt" not in result.message


@pytest.mark.parametrize(
    ("answer", "mistake"),
    [
        (
            lambda x, y: (x * y).sum(0) / np.sqrt((x**2).sum(0) * (y**2).sum(0)),
            "no centring",
        ),
        (
            lambda x, y: (
                ((x - x.mean(0)) * (y - y.mean(0))).sum(0) / (len(x) - 1) / (x.std(0) * y.std(0))
            ),
            "mixed normalisations",
        ),
        (lambda x, y: ((x - x.mean(0)) * (y - y.mean(0))).mean(0), "the covariance"),
    ],
)
def test_correlation_names_plausible_mistakes(answer, mistake, lenient):
    _wrong(checks.check_response_correlation(answer), mistake)


def test_calling_the_package_is_caught(lenient):
    from artiphys_course import metrics, simulate

    assert "calls the package's `fano_factor`" in str(
        checks.check_fano_factor(lambda r: simulate.fano_factor(r))
    )
    assert "calls the package's `noise_ceiling_from_rates`" in str(
        checks.check_poisson_noise_ceiling(lambda r: simulate.noise_ceiling_from_rates(r, 0.0))
    )
    assert "calls the package's `correlation`" in str(
        checks.check_response_correlation(lambda x, y: metrics.correlation(x, y))
    )


@pytest.mark.parametrize(
    ("check", "mistakes"),
    [
        (checks.check_fano_factor, checks._FANO_MISTAKES),
        (checks.check_poisson_noise_ceiling, checks._CEILING_MISTAKES),
        (checks.check_response_correlation, checks._CORRELATION_MISTAKES),
    ],
)
def test_every_known_mistake_is_told_apart_from_the_answer(check, mistakes, lenient):
    for mistake in mistakes:
        with np.errstate(invalid="ignore", divide="ignore"):
            _wrong(check(mistake.answer), mistake.name)
