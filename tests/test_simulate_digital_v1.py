"""The digital V1: ground truth is consistent and recoverable, options are checked."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from artiphys_course.metrics import group_by_image
from artiphys_course.simulate import (
    DigitalV1,
    DigitalV1Config,
    DigitalV1Model,
    gabor,
    make_digital_v1,
    sample_responses,
)
from artiphys_course.stimuli import make_gratings

SMALL = dict(n_neurons=120, n_train=300, n_validation=40, n_test_images=40, n_repeats=10)


@pytest.fixture(scope="module")
def dv1() -> DigitalV1:
    return make_digital_v1(seed=3, **SMALL)


def _arrays(d: DigitalV1) -> dict[str, np.ndarray]:
    out = {
        name: getattr(d, name)
        for name in (
            "images",
            "trial_image_ids",
            "tiers",
            "responses",
            "true_rates",
            "pupil_center",
            "eye_shift",
            "cell_motor_coordinates",
            "filters",
        )
    }
    out.update({f"neurons.{k}": v for k, v in vars(d.neurons).items()})
    return out


def test_same_seed_same_data_other_seed_other_data(dv1):
    again = _arrays(make_digital_v1(seed=3, **SMALL))
    for name, value in _arrays(dv1).items():
        np.testing.assert_array_equal(value, again[name], err_msg=name)
    other = _arrays(make_digital_v1(seed=4, **SMALL))
    for name in ("images", "responses", "true_rates", "eye_shift", "neurons.orientation_deg"):
        assert not np.array_equal(_arrays(dv1)[name], other[name]), name


def test_contract_shapes_and_tiers(dv1):
    n, t = SMALL["n_neurons"], 300 + 40 + 40 * 10
    assert dv1.images.shape == (300 + 40 + 40, 1, 36, 64) and dv1.images.dtype == np.float32
    assert dv1.images.min() >= 0 and dv1.images.max() <= 255
    assert dv1.responses.shape == dv1.true_rates.shape == (t, n)
    assert dv1.trial_image_ids.dtype == np.int64 and dv1.trial_image_ids.shape == (t,)
    assert dv1.pupil_center.shape == dv1.eye_shift.shape == (t, 2)
    assert dv1.cell_motor_coordinates.shape == (n, 3) and dv1.filters.shape == (n, 36, 64)
    assert dv1.n_neurons == n and dv1.n_trials == t and dv1.image_shape == (36, 64)
    assert np.all(dv1.true_rates > 0)
    # train and validation images shown once, each test image n_repeats times, no sharing
    for tier, repeats in (("train", 1), ("validation", 1), ("test", 10)):
        ids = dv1.trial_image_ids[dv1.tier_mask(tier)]
        assert set(np.unique(ids, return_counts=True)[1]) == {repeats}
    tiers_of_image = {}
    for i, tier in zip(dv1.trial_image_ids, dv1.tiers, strict=True):
        assert tiers_of_image.setdefault(i, tier) == tier
    image_ids, grouped = dv1.test_repeats("responses")
    assert grouped.shape == (40, 10, n)
    _, shown = dv1.test_repeats("eye_shift")
    assert shown.shape == (40, 10, 2)
    with pytest.raises(KeyError, match="tier"):
        dv1.tier_mask("training")


def test_trial_average_converges_to_true_rates(dv1):
    rates = dv1.true_rates[dv1.tier_mask("test")][:, :40].astype(np.float64)
    n_draws = 300
    draws, _ = sample_responses(np.tile(rates, (n_draws, 1)), gain_cv=dv1.gain_cv, seed=1)
    mean = draws.reshape(n_draws, *rates.shape).mean(axis=0)
    se = np.sqrt((rates + dv1.gain_cv**2 * rates**2) / n_draws)
    z = (mean - rates) / se
    assert np.abs(z).max() < 5.5
    assert abs(z.mean()) < 0.05 and 0.9 < z.std() < 1.1
    # and the stored responses scatter around the true rates the same way
    z_data = (dv1.responses - dv1.true_rates) / np.sqrt(
        dv1.true_rates + dv1.gain_cv**2 * dv1.true_rates**2
    )
    assert abs(z_data.mean()) < 0.02 and 0.9 < z_data.std() < 1.1


def test_model_reproduces_true_rates_on_stored_trials(dv1):
    idx = np.arange(0, dv1.n_trials, 7)
    with torch.no_grad():
        rates = dv1.model(
            torch.from_numpy(dv1.images[dv1.trial_image_ids[idx]]),
            torch.from_numpy(dv1.eye_shift[idx]),
        )
    np.testing.assert_allclose(rates.numpy(), dv1.true_rates[idx], rtol=1e-4, atol=1e-6)
    # the eye shift matters: without it the rates differ
    with torch.no_grad():
        unshifted = dv1.model(torch.from_numpy(dv1.images[dv1.trial_image_ids[idx]]))
    assert np.abs(unshifted.numpy() - dv1.true_rates[idx]).max() > 1e-2


def _numpy_gabor(shape, center, ori, sf, phase, sigma, aspect):
    """Independent implementation of the convention: stripes along (d_row, d_col) = (-sin, cos)."""
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    t = math.radians(ori)
    d_row, d_col = rows - center[0], cols - center[1]
    along = -math.sin(t) * d_row + math.cos(t) * d_col
    across = -math.cos(t) * d_row - math.sin(t) * d_col  # 90 degrees counter-clockwise
    env = np.exp(-(across**2 + (along / aspect) ** 2) / (2 * sigma**2))
    return env * np.cos(2 * math.pi * sf * across + math.radians(phase))


def test_filters_equal_gabors_built_from_params(dv1):
    p = dv1.neurons
    bank = gabor(
        (36, 64),
        p.orientation_deg,
        p.spatial_frequency,
        p.phase_deg,
        p.sigma,
        p.rf_center,
        aspect_ratio=p.aspect_ratio,
    ).numpy()
    np.testing.assert_allclose(dv1.filters, bank, atol=1e-6)
    for i in np.flatnonzero(p.cell_type == "simple")[:5]:
        raw = _numpy_gabor(
            (36, 64),
            p.rf_center[i],
            p.orientation_deg[i],
            p.spatial_frequency[i],
            p.phase_deg[i],
            p.sigma[i],
            p.aspect_ratio[i],
        )
        scale = dv1.filters[i].ravel() @ raw.ravel() / (raw.ravel() @ raw.ravel())
        np.testing.assert_allclose(dv1.filters[i], scale * raw, atol=1e-5)


def test_eye_shift_translates_receptive_fields_exactly(dv1):
    p = dv1.neurons
    images = torch.from_numpy(dv1.images[:6])
    shift = torch.tensor(
        [[0.0, 0.0], [0.37, -1.61], [2.5, 2.9], [-2.9, 0.2], [-1.3, 2.2], [-3.0, -3.0]]
    )
    drive = dv1.model.linear_drive(images, shift)[:, : dv1.n_neurons]
    contrast = (images[:, 0] - 127.5) / 127.5
    expected = torch.stack(
        [
            torch.einsum(
                "nhw,hw->n",
                gabor(
                    (36, 64),
                    p.orientation_deg,
                    p.spatial_frequency,
                    p.phase_deg,
                    p.sigma,
                    p.rf_center + shift[b].numpy(),
                    aspect_ratio=p.aspect_ratio,
                ),
                contrast[b],
            )
            for b in range(len(images))
        ]
    )
    error = (drive - expected).abs().max() / expected.abs().max()
    assert error < 1e-3
    np.testing.assert_allclose(
        dv1.model.linear_drive(images).numpy(),
        dv1.model.linear_drive(images, 0 * shift).numpy(),
        atol=1e-5,
    )


def test_model_is_differentiable_and_checks_shapes(dv1):
    images = torch.from_numpy(dv1.images[:4]).requires_grad_(True)
    rates = dv1.model(images, torch.zeros(4, 2))
    rates[:, :10].sum().backward()
    assert torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0
    double = DigitalV1Model(dv1.neurons, (36, 64)).double()
    out = double(torch.from_numpy(dv1.images[:3]).double())
    assert out.dtype == torch.float64
    np.testing.assert_allclose(
        out.numpy(), dv1.model(torch.from_numpy(dv1.images[:3])).detach(), rtol=1e-4
    )
    with pytest.raises(ValueError, match="images must be"):
        dv1.model(torch.zeros(2, 36, 64))
    with pytest.raises(ValueError, match="eye_shift must be"):
        dv1.model(torch.zeros(2, 1, 36, 64), torch.zeros(3, 2))


def test_subset_model_matches_full_model(dv1):
    pick = [3, 10, 57, 99]
    small = DigitalV1Model(dv1.neurons.select(pick), (36, 64))
    images = torch.from_numpy(dv1.images[:5])
    shift = torch.from_numpy(dv1.eye_shift[:5])
    with torch.no_grad():
        np.testing.assert_allclose(
            small(images, shift).numpy(), dv1.model(images, shift)[:, pick].numpy(), rtol=1e-5
        )


def test_neurons_prefer_their_orientation_over_the_orthogonal(dv1):
    p = dv1.neurons
    phases = np.arange(0, 360, 30)
    responses = {}
    with torch.no_grad():
        for name, offset in (("preferred", 0.0), ("orthogonal", 90.0)):
            ori = np.repeat(p.orientation_deg + offset, len(phases))
            sf = np.repeat(p.spatial_frequency, len(phases))
            ph = np.tile(phases, dv1.n_neurons)
            grating = make_gratings((36, 64), ori, sf, ph, mean=127.5, contrast=100.0)
            rates = dv1.model(grating).reshape(dv1.n_neurons, len(phases), dv1.n_neurons)
            diag = rates[np.arange(dv1.n_neurons), :, np.arange(dv1.n_neurons)]
            responses[name] = diag.max(dim=1).values.numpy()
    assert np.all(responses["preferred"] > responses["orthogonal"])


def test_retinotopy_rf_centres_follow_cortical_position(dv1):
    xy = dv1.cell_motor_coordinates[:, :2].astype(np.float64)
    design = np.column_stack([xy, np.ones(len(xy))])
    for k in range(2):
        target = dv1.neurons.rf_center[:, k]
        coef, *_ = np.linalg.lstsq(design, target, rcond=None)
        r2 = 1 - np.var(target - design @ coef) / np.var(target)
        assert r2 > 0.85
    assert np.corrcoef(dv1.neurons.rf_center[:, 1], xy[:, 0])[0, 1] > 0.9


def test_pupil_center_is_affine_in_eye_shift(dv1):
    design = np.column_stack([dv1.eye_shift, np.ones(dv1.n_trials)])
    coef, *_ = np.linalg.lstsq(design, dv1.pupil_center, rcond=None)
    np.testing.assert_allclose(coef.T, dv1.pupil_affine, atol=0.05)
    assert np.std(dv1.pupil_center - design @ coef) < 0.5


def test_noise_ceiling_matches_empirical_correlation(dv1):
    rates = dv1.true_rates[dv1.tier_mask("test")].astype(np.float64)
    n_draws = 60
    tiled = np.tile(rates, (n_draws, 1))
    draws, _ = sample_responses(tiled, gain_cv=dv1.gain_cv, seed=7)
    a = tiled - tiled.mean(0)
    b = draws - draws.mean(0)
    empirical = (a * b).sum(0) / np.sqrt((a**2).sum(0) * (b**2).sum(0))
    analytic = dv1.noise_ceiling()
    np.testing.assert_allclose(empirical, analytic, atol=0.03)
    assert abs(np.median(empirical - analytic)) < 0.005
    # the default noise level resembles mouse V1 (single-trial ceilings ~0.4-0.7)
    assert 0.4 < np.median(analytic) < 0.75


def test_image_ceiling_is_lower_and_equals_trial_ceiling_without_eye_movements(dv1):
    image = dv1.noise_ceiling("image", n_samples=16)
    assert np.median(image) < np.median(dv1.noise_ceiling())
    still = make_digital_v1(seed=5, eye_shift_sd=0.0, **SMALL)
    np.testing.assert_allclose(
        still.noise_ceiling("image", n_samples=4), still.noise_ceiling(), atol=1e-5
    )
    with pytest.raises(ValueError, match="given"):
        dv1.noise_ceiling("neuron")


@pytest.mark.slow
def test_default_digital_v1():
    d = make_digital_v1()
    assert d.n_neurons == 500 and d.images.shape == (4600, 1, 36, 64)
    assert d.tier_mask("test").sum() == 1000
    ceiling = d.noise_ceiling()
    assert 0.45 < np.median(ceiling) < 0.7


def test_options_are_checked_and_kept_in_the_config(dv1):
    assert dv1.config == DigitalV1Config(seed=3, **SMALL)
    assert DigitalV1Config() == DigitalV1Config(image_shape=[36, 64])  # normalised to a tuple
    with pytest.raises(TypeError, match="seed"):
        make_digital_v1(seed=None)
    with pytest.raises(TypeError, match="n_neuron"):
        make_digital_v1(n_neuron=5)
    with pytest.raises(ValueError, match="n_repeats"):
        make_digital_v1(n_repeats=1)
    with pytest.raises(ValueError, match="fraction_simple"):
        DigitalV1Config(fraction_simple=1.5)
    with pytest.raises(ValueError, match="image_shape"):
        DigitalV1Config(image_shape=(4, 64))


def test_test_repeats_groups_the_test_trials_by_image(dv1):
    test = dv1.tier_mask("test")
    image_ids, grouped = dv1.test_repeats("responses")
    ids, groups = group_by_image(dv1.responses[test], dv1.trial_image_ids[test])
    np.testing.assert_array_equal(image_ids, ids)
    np.testing.assert_array_equal(grouped, np.stack(groups))
    k = 7
    shown = np.flatnonzero(test & (dv1.trial_image_ids == image_ids[k]))
    np.testing.assert_array_equal(grouped[k], dv1.responses[shown])  # repeats in trial order
    _, gains = dv1.test_repeats("trial_gain")
    assert gains.shape == (len(image_ids), SMALL["n_repeats"])
    with pytest.raises(KeyError, match="values"):
        dv1.test_repeats("images")
