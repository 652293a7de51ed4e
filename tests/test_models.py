"""Cores, readouts, shifters and encoders: shapes, analytic values, ground truth, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from artiphys_course.models.cores import (
    LAPLACE_KERNEL,
    NormalizationCore,
    SimpleConvCore,
    Stacked2dCore,
    laplace_l2,
)
from artiphys_course.models.encoders import (
    DEFAULT_KEY,
    Encoder,
    core_readout_model,
    ln_model,
    simple_cnn,
)
from artiphys_course.models.readouts import (
    FullyConnectedReadout,
    GaussianReadout,
    MultiReadout,
    PositionNetwork,
    grid_to_pixels,
    pixels_to_grid,
)
from artiphys_course.models.shifters import MLPShifter, shift_to_pixels

SHAPE = (1, 12, 20)


def assert_close(got, expected, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """``np.testing.assert_allclose`` on tensors (torch.testing's first call is slow to import)."""
    np.testing.assert_allclose(
        torch.as_tensor(got).detach().numpy(),
        torch.as_tensor(expected).detach().numpy(),
        rtol,
        atol,
    )


def _inverse_elu_plus_one(rates: torch.Tensor) -> torch.Tensor:
    y = rates - 1
    return torch.where(y > 0, y, torch.log1p(y))


# ----------------------------------------------------------------------------- regulariser
def test_laplace_l2_of_a_delta_filter_is_twenty():
    w = torch.zeros(1, 1, 5, 5)
    w[0, 0, 2, 2] = 1.0  # Laplacian of a delta: 4 at the centre, -1 at 4 neighbours
    assert laplace_l2(w, normalize=False).item() == pytest.approx(16 + 4)
    assert laplace_l2(3 * w, normalize=True).item() == pytest.approx(20)  # scale free


def test_laplace_l2_matches_scipy_convolution():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 2, 7, 7))
    expected = sum(
        (
            ndimage.convolve(w[o, i], LAPLACE_KERNEL.numpy().astype(float), mode="constant") ** 2
        ).sum()
        for o in range(3)
        for i in range(2)
    )
    got = laplace_l2(torch.tensor(w), normalize=False).item()
    assert got == pytest.approx(expected, rel=1e-10)
    assert laplace_l2(torch.tensor(w)).item() == pytest.approx(expected / (w**2).sum(), rel=1e-10)


def test_laplace_l2_rejects_bad_shapes():
    with pytest.raises(ValueError, match="out_channels, in_channels"):
        laplace_l2(torch.zeros(3, 3))


def test_core_regularizer_is_gamma_times_laplace_of_first_layer():
    core = Stacked2dCore(1, 4, layers=2, input_kernel=5, hidden_kernel=3, gamma_input=0.7)
    expected = 0.7 * laplace_l2(core.features.layer0.conv.weight)
    assert core.regularizer().item() == pytest.approx(expected.item())
    simple = SimpleConvCore(1, (4,), (5,), gamma_input=2.0)
    assert simple.regularizer().item() == pytest.approx(
        2.0 * laplace_l2(simple.features[0].conv.weight).item()
    )
    assert NormalizationCore(1).regularizer().item() == 0.0


def test_readout_regularizers_analytic():
    gauss = GaussianReadout((8, 5, 5), 6, gamma=0.3)  # features start at 1/channels
    assert gauss.regularizer().item() == pytest.approx(0.3 * 6)
    fc = FullyConnectedReadout((1, 4, 4), 3, gamma=2.0, gamma_smooth=0.5)
    with torch.no_grad():
        fc.linear.weight.zero_()
        fc.linear.weight[:, 5] = 1.0  # one delta per neuron: squared norm 1, Laplace 20
    assert fc.regularizer().item() == pytest.approx(3 * (2.0 * 1 + 0.5 * 20))


# ----------------------------------------------------------------------------- cores
@pytest.mark.parametrize("pad", [True, False])
def test_stacked_core_shapes(pad):
    core = Stacked2dCore(1, 8, layers=3, input_kernel=5, hidden_kernel=3, pad_input=pad)
    x = torch.randn(2, *SHAPE)
    out = core(x)
    assert tuple(out.shape) == (2, *core.out_shape(SHAPE))
    assert out.shape[-2:] == ((12, 20) if pad else (8, 16))
    assert core.crop == (0 if pad else 2)
    stacked = Stacked2dCore(1, 8, layers=3, input_kernel=5, hidden_kernel=3, stack=None)
    assert tuple(stacked(x).shape) == (2, 24, 12, 20) == (2, *stacked.out_shape(SHAPE))


def test_depth_separable_core_has_the_analytic_number_of_weights():
    c, k = 8, 3
    ds = Stacked2dCore(1, c, layers=2, input_kernel=5, hidden_kernel=k, depth_separable=True)
    full = Stacked2dCore(1, c, layers=2, input_kernel=5, hidden_kernel=k, depth_separable=False)
    n_ds = sum(p.numel() for p in ds.features.layer1.ds_conv.parameters())
    n_full = sum(p.numel() for p in full.features.layer1.conv.parameters())
    assert n_ds == 2 * c * c + c * k * k
    assert n_full == c * c * k * k


def test_core_rejects_even_kernels():
    with pytest.raises(ValueError, match="odd"):
        Stacked2dCore(1, 4, input_kernel=4)


def _with_random_readout(model: Encoder) -> Encoder:
    with torch.no_grad():
        model.readout[DEFAULT_KEY].features.normal_()
    return model.eval()


def test_linear_model_is_affine_before_the_final_nonlinearity():
    torch.manual_seed(0)
    core = Stacked2dCore(1, 4, layers=3, input_kernel=5, hidden_kernel=3, linear=True)
    model = _with_random_readout(core_readout_model(SHAPE, 5, core=core))
    a, b = torch.randn(3, *SHAPE), torch.randn(3, *SHAPE)
    alpha = 0.3
    with torch.no_grad():
        mix = _inverse_elu_plus_one(model(alpha * a + (1 - alpha) * b))
        parts = alpha * _inverse_elu_plus_one(model(a)) + (1 - alpha) * _inverse_elu_plus_one(
            model(b)
        )
    assert_close(mix, parts, rtol=1e-4, atol=1e-5)
    # the same architecture with nonlinearities is not affine
    torch.manual_seed(0)
    nonlinear = _with_random_readout(
        core_readout_model(SHAPE, 5, core=Stacked2dCore(1, 4, input_kernel=5))
    )
    with torch.no_grad():
        mix = _inverse_elu_plus_one(nonlinear(alpha * a + (1 - alpha) * b))
        parts = alpha * _inverse_elu_plus_one(nonlinear(a)) + (1 - alpha) * _inverse_elu_plus_one(
            nonlinear(b)
        )
    assert (mix - parts).abs().max() > 0.05 * parts.abs().max()
    assert all("nonlin" not in name for name, _ in core.named_modules())


# ----------------------------------------------------------------------------- readouts
def test_grid_pixel_conversion_round_trip_and_corners():
    shape = (12, 20)
    corners = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]])
    pix = grid_to_pixels(corners, shape)
    assert_close(pix, torch.tensor([[0.0, 0.0], [11.0, 19.0], [5.5, 9.5]]))
    assert_close(pixels_to_grid(pix, shape), corners)
    assert_close(grid_to_pixels(corners, shape, offset=4)[0], torch.tensor([4.0, 4.0]))


def test_gaussian_readout_reads_the_feature_at_a_known_position():
    torch.manual_seed(1)
    c, h, w, n = 3, 7, 9, 4
    x = torch.randn(5, c, h, w)
    rows, cols, channels = [0, 3, 6, 2], [0, 4, 8, 7], [0, 1, 2, 1]
    readout = GaussianReadout((c, h, w), n).eval()
    with torch.no_grad():
        readout.mu.copy_(pixels_to_grid(torch.tensor(list(zip(rows, cols, strict=True))), (h, w)))
        readout.features.zero_()
        readout.features[channels, range(n)] = 1.0
        readout.bias.zero_()
        out = readout(x)
    expected = torch.stack(
        [x[:, ch, r, cc] for ch, r, cc in zip(channels, rows, cols, strict=True)], 1
    )
    assert_close(out, expected)
    assert_close(readout.positions_pixels()[:, 0], torch.tensor(rows, dtype=torch.float))
    # half way between two columns: the average of both (bilinear interpolation)
    with torch.no_grad():
        readout.mu.copy_(pixels_to_grid(torch.tensor([[3.0, 4.5]] * n), (h, w)))
        out = readout(x)
    assert_close(out[:, 0], (x[:, 0, 3, 4] + x[:, 0, 3, 5]) / 2)
    # a shift moves every read-out position by the same amount
    shift = pixels_to_grid(torch.tensor([[4.0, 6.5]]), (h, w)) - pixels_to_grid(
        torch.tensor([[3.0, 4.5]]), (h, w)
    )
    with torch.no_grad():
        shifted = readout(x, shift=shift.expand(5, 2))
    assert_close(shifted[:, 0], (x[:, 0, 4, 6] + x[:, 0, 4, 7]) / 2)
    assert_close(shift_to_pixels(shift, (h, w)), torch.tensor([[1.0, 2.0]]), rtol=1e-5, atol=1e-5)


def test_gaussian_readout_samples_positions_only_in_training():
    torch.manual_seed(2)
    readout = GaussianReadout((2, 6, 6), 3, init_sigma=0.3)
    x = torch.randn(4, 2, 6, 6)
    assert not torch.allclose(readout(x), readout(x))  # training: random positions
    readout.eval()
    assert_close(readout(x), readout(x))
    readout.train()
    with torch.no_grad():
        readout.sigma.zero_()  # no spread: sampling reads the mean position
    assert_close(readout(x), readout.eval()(x))


def test_bias_initialisation_predicts_the_mean_response():
    mean = np.array([0.2, 1.0, 3.5])
    readout = GaussianReadout((2, 4, 4), 3, mean_response=mean)
    with torch.no_grad():
        readout.features.zero_()
        rates = torch.nn.functional.elu(readout.eval()(torch.randn(2, 2, 4, 4))) + 1
    assert_close(rates, torch.tensor(mean, dtype=torch.float).expand(2, 3))
    with pytest.raises(ValueError, match="one per neuron"):
        GaussianReadout((2, 4, 4), 4, mean_response=mean)


def test_position_network_normalises_coordinates_and_maps_to_the_grid():
    rng = np.random.default_rng(0)
    coords = rng.uniform(0, 800, size=(30, 3))
    net = PositionNetwork(coords)
    grid = net.source_grid.numpy()
    np.testing.assert_allclose(grid.mean(0), 0, atol=1e-6)
    assert np.abs(grid).max() == pytest.approx(1.0)
    positions = net()
    assert positions.shape == (30, 2) and positions.abs().max() < 1
    assert_close(net(coords), positions)  # raw coordinates are normalised the same
    readout = GaussianReadout((2, 5, 5), 30, position_network=net)
    assert not hasattr(readout, "mu") and readout.positions().shape == (30, 2)
    with pytest.raises(ValueError, match="30 neurons"):
        GaussianReadout((2, 5, 5), 31, position_network=net)
    with pytest.raises(ValueError, match="coordinates must have shape"):
        PositionNetwork(np.zeros(5))


def test_shifter_shapes_and_zero_initial_shift():
    pupil = torch.tensor([[10.0, 20.0], [12.0, 18.0], [11.0, 21.0]])
    shifter = MLPShifter(pupil_mean=pupil.mean(0).numpy(), pupil_std=pupil.std(0).numpy())
    assert shifter(pupil).shape == (3, 2)
    assert_close(shifter(pupil), torch.zeros(3, 2))
    with torch.no_grad():
        for p in shifter.parameters():
            p.normal_()
    assert shifter(pupil).abs().max() <= shifter.max_shift
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        shifter(torch.zeros(3))


def test_multi_readout_keys_and_errors():
    core = Stacked2dCore(1, 4, layers=1, input_kernel=3)
    in_shape = core.out_shape(SHAPE)
    model = Encoder(
        core,
        {"a": GaussianReadout(in_shape, 3), "b": GaussianReadout(in_shape, 7)},
        image_shape=SHAPE,
    ).eval()
    x = torch.randn(2, *SHAPE)
    assert model(x, data_key="a").shape == (2, 3)
    assert model(x, data_key="b").shape == (2, 7)
    assert model.data_keys == ["a", "b"] and model.n_neurons("b") == 7
    with pytest.raises(KeyError, match=r"\['a', 'b'\]"):
        model(x, data_key="c")
    with pytest.raises(ValueError, match="pass data_key"):
        model(x)
    with pytest.raises(KeyError, match="unknown data keys"):
        Encoder(
            core,
            {"a": GaussianReadout(in_shape, 3)},
            image_shape=SHAPE,
            shifters={"z": MLPShifter()},
        )
    with pytest.raises(ValueError, match="at least one"):
        MultiReadout({})


# ----------------------------------------------------------------------------- encoders
@pytest.mark.parametrize(
    "build",
    [
        lambda: ln_model(SHAPE[1:], 6),
        lambda: simple_cnn(SHAPE[1:], 6, channels=(4, 4), kernels=(5, 3)),
        lambda: core_readout_model(SHAPE[1:], 6, core=Stacked2dCore(1, 4, input_kernel=5)),
        lambda: core_readout_model(
            SHAPE[1:],
            6,
            core=Stacked2dCore(1, 4, input_kernel=5),
            cortex_coordinates=np.random.default_rng(0).normal(size=(6, 3)),
            shifter=True,
        ),
    ],
    ids=["ln", "cnn", "gaussian", "gaussian+position+shifter"],
)
def test_encoders_give_positive_rates_and_scalar_regularisers(build):
    torch.manual_seed(0)
    model = build()
    x = 50 * torch.randn(4, *SHAPE)
    for mode in (model.train, model.eval):
        mode()
        rates = model(x, pupil_center=torch.randn(4, 2))
        assert rates.shape == (4, 6)
        assert torch.isfinite(rates).all() and (rates > 0).all()
    penalty = model.regularizer()
    assert penalty.ndim == 0 and torch.isfinite(penalty) and penalty >= 0
    assert model.data_keys == [DEFAULT_KEY]


def test_model_without_pupil_uses_the_mean_eye_position():
    torch.manual_seed(0)
    pupil = np.random.default_rng(0).normal(3.0, 2.0, size=(40, 2))
    shifter = MLPShifter(pupil_mean=pupil.mean(0), pupil_std=pupil.std(0))
    core = Stacked2dCore(1, 4, input_kernel=5)
    readout = GaussianReadout(core.out_shape(SHAPE), 4)
    model = Encoder(core, readout, image_shape=SHAPE, shifters=shifter).eval()
    with torch.no_grad():
        for p in shifter.parameters():
            p.normal_()
    x = torch.randn(3, *SHAPE)
    mean = torch.tensor(pupil.mean(0), dtype=torch.float).expand(3, 2)
    assert_close(model(x), model(x, pupil_center=mean))
    assert (model(x) - model(x, pupil_center=mean + 3)).abs().max() > 1e-4
    with pytest.raises(ValueError, match="3 rows for a batch of 2"):
        model(x[:2], pupil_center=mean)


def test_ln_model_filters_are_the_linear_weights():
    model = ln_model((6, 8), 3)
    assert model.readout[DEFAULT_KEY].weight_maps.shape == (3, 1, 6, 8)


def test_wrong_image_size_names_the_expected_shape():
    model = ln_model((36, 64), 3)
    with pytest.raises(ValueError, match=r"\(batch, 1, 36, 64\)"):
        model(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"\(batch, 1, 36, 64\)"):
        model(torch.zeros(36, 64))
    readout = GaussianReadout((4, 5, 5), 2)
    with pytest.raises(ValueError, match=r"\(batch, 4, 5, 5\)"):
        readout(torch.zeros(1, 3, 5, 5))


@pytest.mark.parametrize(("pad", "stride"), [(True, 2), (False, 1), (False, 2)])
def test_readout_positions_are_image_pixels_for_cropping_and_strided_cores(pad, stride):
    torch.manual_seed(0)
    core = Stacked2dCore(
        1, 1, layers=1, input_kernel=5, pad_input=pad, input_stride=stride, linear=True
    ).eval()
    with torch.no_grad():  # the first layer copies the image pixel at the centre of its window
        core.features.layer0.conv.weight.zero_()
        core.features.layer0.conv.weight[0, 0, 2, 2] = 1.0
    model = Encoder(core, GaussianReadout(core.out_shape(SHAPE), 5), image_shape=SHAPE).eval()
    readout = model.readout[DEFAULT_KEY]
    feature_pixels = torch.tensor([[0.0, 0.0], [1.0, 2.0], [2.0, 3.0], [3.0, 1.0], [1.0, 1.0]])
    with torch.no_grad():
        readout.mu.copy_(pixels_to_grid(feature_pixels, readout.in_shape[1:]))
        readout.features.fill_(1.0)
        readout.bias.zero_()
    image = torch.randn(1, *SHAPE)
    pixels = model.readout_positions().round().long()
    assert_close(model.readout_positions(), feature_pixels * stride + core.crop)
    with torch.no_grad():
        drive = _inverse_elu_plus_one(model(image))[0]
    assert_close(drive, image[0, 0, pixels[:, 0], pixels[:, 1]], rtol=1e-4, atol=1e-5)


def test_rf_shift_pixels_scales_with_the_core_stride():
    core = Stacked2dCore(1, 2, layers=1, input_kernel=3, input_stride=2)
    model = Encoder(
        core, GaussianReadout(core.out_shape(SHAPE), 3), image_shape=SHAPE, shifters=MLPShifter()
    )
    shifter = model.shifter[DEFAULT_KEY]
    with torch.no_grad():
        shifter.mlp[-2].bias.copy_(torch.tensor([0.2, -0.1]))  # constant shift in grid units
    shift = model.rf_shift_pixels(torch.zeros(4, 2))
    h, w = core.out_shape(SHAPE)[1:]
    x, y = shifter.max_shift * np.tanh(0.2), shifter.max_shift * np.tanh(-0.1)
    expected = 2 * np.array([y * (h - 1) / 2, x * (w - 1) / 2])  # stride 2: image pixels
    assert shift.shape == (4, 2)
    assert_close(shift, np.tile(expected, (4, 1)), rtol=1e-5, atol=1e-6)
    # RF positions are reported at the mean eye position: they include the shifter's offset
    without = model.readout_positions() - model.rf_shift_pixels(torch.zeros(1, 2))
    with torch.no_grad():
        shifter.mlp[-2].bias.zero_()
    assert_close(model.readout_positions(), without, rtol=1e-5, atol=1e-5)
    no_shifter = Encoder(core, GaussianReadout(core.out_shape(SHAPE), 3), image_shape=SHAPE)
    with pytest.raises(ValueError, match="no shifter"):
        no_shifter.rf_shift_pixels(torch.zeros(1, 2))
