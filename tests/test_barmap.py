"""Bar mapping: known filters, synthetic maps, digital-V1 ground truth and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import alexnet

from artiphys_course.barmap import (
    bar_map,
    bar_responses,
    fit_gaussian_2d,
    orientation_tuning,
    select_bars,
    unit_responses,
    weighted_bar_map,
)
from artiphys_course.receptive_fields import receptive_field, xn
from artiphys_course.recording import truncate
from artiphys_course.stimuli import make_bar_set, make_bars
from artiphys_course.tuning import preferred_orientation


def _angle_diff(a, b):
    return np.abs((np.asarray(a) - np.asarray(b) + 90.0) % 180.0 - 90.0)


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return alexnet().eval()


def _oriented_filter_net(orientations=(60.0, 150.0)) -> nn.Module:
    """A conv layer whose channels are zero-mean bar detectors at known orientations."""
    conv = nn.Conv2d(1, len(orientations), 11, padding=5)
    with torch.no_grad():
        kernels = make_bars(11, list(orientations), length=9, width=2)[:, 0]
        conv.weight.copy_((kernels - kernels.mean((1, 2), keepdim=True))[:, None])
        conv.bias.zero_()
    return nn.Sequential(conv, nn.ReLU()).eval()


def test_known_oriented_filters_are_recovered():
    model = _oriented_filter_net()
    assert xn(model, "0") == 11
    bars = make_bar_set(21, rf_size=11, n_orientations=12, n_positions=9, polarities=(1,))
    res = bar_map(model, "0", bars, top_n=20, progress=False, in_channels=1)
    assert res.responses.shape == (len(bars), 2)
    np.testing.assert_allclose(res.orientations_deg, np.arange(12) * 15.0)
    assert _angle_diff(res.preferred_orientation_deg, [60.0, 150.0]).max() < 3.0
    np.testing.assert_allclose(res.top_fit.center, np.full((2, 2), 10.0), atol=0.5)
    assert _angle_diff(res.top_fit.orientation_deg, [60.0, 150.0]).max() < 5.0
    assert (res.top_fit.r2 > 0.8).all()
    best = res.best_bar
    assert _angle_diff(bars.orientation_deg[best], [60.0, 150.0]).max() < 1e-6


def test_fast_centre_unit_path_equals_the_full_layer(net):
    n = xn(net, "features.3")
    images = make_bars(n, [0.0, 45.0, 100.0], 30, 4, channels=3, background=0.0)
    fast = unit_responses(net, "features.3", images, channels=[0, 5, 191])
    slow = unit_responses(net, "features.3", images, channels=[0, 5, 191], fast=False)
    full = truncate(net, "features.3")(images).detach()[:, [0, 5, 191], 3, 3]
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(slow, full, rtol=1e-5, atol=1e-5)
    off = unit_responses(net, "features.3", images, channels=[5], position=(1, 5))
    off_slow = unit_responses(net, "features.3", images, channels=[5], position=(1, 5), fast=False)
    full_off = truncate(net, "features.3")(images).detach()[:, [5], 1, 5]
    np.testing.assert_allclose(off, full_off, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(off_slow, full_off, rtol=1e-5, atol=1e-5)


def test_a_training_model_is_mapped_in_eval_mode_and_restored():
    from artiphys_course.runtime import ArtiphysWarning

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()).train()
    images = torch.randn(4, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    with pytest.warns(ArtiphysWarning, match="eval mode"):
        alone = unit_responses(model, "1", images[:1])
    assert model.training and model[1].training
    with pytest.warns(ArtiphysWarning):
        together = unit_responses(model, "1", images)
    torch.testing.assert_close(alone[0], together[0])  # batch statistics would differ


def test_bar_responses_batches_agree(net):
    n = xn(net, "features.0")
    bars = make_bar_set(n, receptive_field(net, "features.0").size[0], n_positions=3)
    a = bar_responses(net, "features.0", bars, batch_size=7, progress=False)
    b = bar_responses(net, "features.0", bars, batch_size=1000, progress=False)
    assert a.shape == (len(bars), 64)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_bar_responses_default_batch_holds_a_fixed_number_of_image_values(net, monkeypatch):
    from artiphys_course import barmap

    n = xn(net, "features.0")
    bars = make_bar_set(n, receptive_field(net, "features.0").size[0], n_positions=3)
    per_bar = 3 * n * n
    monkeypatch.setattr(barmap, "BATCH_VALUES", 10 * per_bar + 1)  # 10 bars a pass
    passes = []
    original = barmap.unit_responses

    def counted(model, layer, images, **kwargs):
        passes.append(len(images))
        return original(model, layer, images, **kwargs)

    monkeypatch.setattr(barmap, "unit_responses", counted)
    auto = bar_responses(net, "features.0", bars, progress=False)
    assert max(passes) == 10 and sum(passes) == len(bars)
    one_pass = bar_responses(net, "features.0", bars, batch_size=len(bars), progress=False)
    np.testing.assert_allclose(auto, one_pass, rtol=1e-5, atol=1e-5)


def test_weighted_map_is_the_weighted_sum_of_bars():
    bars = make_bar_set(25, rf_size=15, n_positions=3, n_orientations=4)
    responses = np.random.default_rng(0).normal(size=len(bars))
    index, weights = select_bars(responses, 10)
    assert (np.diff(responses[index]) <= 0).all() and (weights >= 0).all()
    np.testing.assert_allclose(weights, responses[index] - np.median(responses))
    drawn = make_bars(
        25, bars.orientation_deg[index], bars.length[index], bars.width[index], bars.center[index]
    )[:, 0].numpy()
    expected = np.tensordot(weights, drawn, axes=1)
    np.testing.assert_allclose(weighted_bar_map(responses, bars, top_n=10), expected, atol=1e-5)
    low, low_w = select_bars(responses, 10, "bottom")
    assert responses[low].max() < responses[index].min()
    np.testing.assert_allclose(low_w, np.median(responses) - responses[low])
    uniform = weighted_bar_map(responses, bars, top_n=10, weighting="uniform")
    np.testing.assert_allclose(uniform, drawn.sum(0), atol=1e-5)


def test_gaussian_fit_recovers_known_parameters():
    rows, cols = np.mgrid[0:40, 0:50].astype(float)
    r0, c0, s1, s2, ori = 17.3, 28.6, 6.0, 2.5, 35.0
    t = np.deg2rad(ori)
    dx, dy = cols - c0, r0 - rows
    u, v = dx * np.cos(t) + dy * np.sin(t), dy * np.cos(t) - dx * np.sin(t)
    image = 3.0 * np.exp(-0.5 * ((u / s1) ** 2 + (v / s2) ** 2)) + 0.5
    noisy = image + np.random.default_rng(0).normal(0, 0.05, image.shape)
    fit = fit_gaussian_2d(noisy)
    np.testing.assert_allclose(fit.center[0], [r0, c0], atol=0.05)
    np.testing.assert_allclose(fit.sigma[0], [s1, s2], rtol=0.03)
    assert _angle_diff(fit.orientation_deg[0], ori) < 1.0
    assert fit.amplitude[0] == pytest.approx(3.0, rel=0.03)
    expected_r2 = 1 - 0.05**2 / noisy.var()  # only the noise is left unexplained
    assert fit.r2[0] == pytest.approx(expected_r2, abs=0.005)
    assert fit_gaussian_2d(image).r2[0] > 0.9999
    empty = fit_gaussian_2d(np.zeros((10, 10)))
    assert np.isnan(empty.center).all() and empty.r2[0] == 0.0


def test_orientation_tuning_and_preference():
    oris = np.repeat(np.arange(0, 180, 15.0), 3)
    truth = np.array([20.0, 100.0, 170.0])
    responses = np.exp(2 * np.cos(2 * np.deg2rad(oris[:, None] - truth[None])))  # (bars, units)
    responses = (
        responses * np.tile([1.0, 0.5, 0.2], 12)[:, None]
    )  # other bar parameters matter less
    grid, tuning = orientation_tuning(responses, oris)
    np.testing.assert_allclose(grid, np.arange(0, 180, 15.0))
    np.testing.assert_allclose(tuning, responses[::3])
    assert _angle_diff(preferred_orientation(tuning, grid), truth).max() < 1.0
    _, one = orientation_tuning(responses[:, 1], oris)  # one unit: (n_bars,)
    np.testing.assert_allclose(one, tuning[:, [1]])
    with pytest.raises(ValueError, match=r"\(n_bars, n_units\) with n_bars = 36"):
        orientation_tuning(responses.T, oris)


def test_bad_input_errors(net):
    n = xn(net, "features.3")
    with pytest.raises(KeyError, match=r"features\.3"):
        unit_responses(net, "features.33", torch.zeros(1, 3, n, n))
    with pytest.raises(IndexError, match="192 units"):
        unit_responses(net, "features.3", torch.zeros(1, 3, n, n), channels=[192])
    with pytest.raises(IndexError, match="192 units"):
        unit_responses(net, "features.3", torch.zeros(1, 3, n, n), channels=[-1], fast=False)
    with pytest.raises(IndexError, match=r"position \(7, 0\) is outside the 7x7 output"):
        unit_responses(net, "features.3", torch.zeros(1, 3, n, n), position=(7, 0))
    with pytest.raises(IndexError, match=r"position \(0, 7\) is outside the 7x7 output"):
        unit_responses(net, "features.3", torch.zeros(1, 3, n, n), position=(0, 7), fast=False)
    with pytest.raises(ValueError, match=r"\(batch, channels, height, width\)"):
        unit_responses(net, "features.3", torch.zeros(3, n, n))
    small = make_bar_set(51, 51, n_positions=3)
    with pytest.raises(ValueError, match="xn = 63"):
        bar_responses(net, "features.3", small, progress=False)


@pytest.mark.slow
def test_digital_v1_ground_truth_centre_and_orientation():
    """Bar-map simple cells of the digital V1 around a rough guess of their position."""
    from artiphys_course.simulate import DigitalV1Model, make_digital_v1

    dv1 = make_digital_v1(
        n_neurons=120, n_train=10, n_validation=10, n_test_images=2, n_repeats=2, seed=0
    )
    neurons, (h, w) = dv1.neurons, dv1.image_shape
    centre = neurons.rf_center
    inside = (
        (centre[:, 0] > 8) & (centre[:, 0] < h - 9) & (centre[:, 1] > 8) & (centre[:, 1] < w - 9)
    )
    sample = np.flatnonzero((neurons.cell_type == "simple") & inside)[:8]
    assert len(sample) == 8
    rng = np.random.default_rng(1)
    for i in sample:
        model = DigitalV1Model(neurons.select([i]), (h, w)).eval()
        guess = np.round(centre[i]) + rng.integers(-2, 3, 2)  # the experimenter's rough guess
        bars = make_bar_set(
            (h, w),
            rf_size=20,
            rf_center=guess,
            lengths=(0.6, 0.3),
            aspect_ratios=(0.25, 0.1),
            n_orientations=12,
            n_positions=13,
        )
        res = bar_map(
            model,
            None,
            bars,
            in_channels=1,
            background=127.5,
            amplitude=127.5,
            top_n=len(bars) // 20,
            weighting="uniform",
            progress=False,
        )
        err = np.hypot(*(res.top_fit.center[0] - centre[i]))
        assert err < 1.0, (i, err)
        assert _angle_diff(res.preferred_orientation_deg[0], neurons.orientation_deg[i]) < 15.0


def test_tuning_check_and_plot_follow_the_bars_by_units_layout(lenient):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from artiphys_course.checks.bar_mapping import check_orientation_tuning_curve
    from artiphys_course.plotting.barmap import plot_tuning

    def curve(responses, orientation_deg):
        return np.array([responses[orientation_deg == o].max() for o in np.unique(orientation_deg)])

    assert check_orientation_tuning_curve(curve)
    assert not check_orientation_tuning_curve(lambda r, o: curve(r, o)[::-1].copy())
    model = _oriented_filter_net()
    bars = make_bar_set(21, rf_size=11, n_orientations=12, n_positions=5, polarities=(1,))
    res = bar_map(model, "0", bars, top_n=20, fit=False, progress=False, in_channels=1)
    drawn = plot_tuning(res, [1], normalize=False)
    ax = drawn.axes[0]
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(y[:-1], res.tuning[:, 1])
    assert y[-1] == y[0] and x[-1] == 180.0
    plt.close("all")
