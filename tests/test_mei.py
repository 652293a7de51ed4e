"""Most exciting inputs: analytic linear MEI, ground truth on the digital V1, engine stages."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch
from torch import nn

from artiphys_course.mei import (
    FixedMeanStd,
    FixedNorm,
    FourierImage,
    GradientBlur,
    Jitter,
    PixelImage,
    RandomScale,
    best_of,
    compute_meis,
    cross_activation,
    image_correlation,
    mei_reproducibility,
    neuron_noise,
    quadrature_correlation,
    spectral_peak,
)

SHAPE = (1, 12, 14)


class Linear(nn.Module):
    """r_i = w_i . x: over images of fixed norm its maximum is at x = norm * w_i / ||w_i||."""

    def __init__(self, n: int = 5, shape=SHAPE, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(n, *shape, generator=g))

    def forward(self, images, pupil_center=None, data_key=None):
        return torch.einsum("bchw,nchw->bn", images, self.weight)


def small_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 5, padding=2),
        nn.ELU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.ELU(),
        nn.Flatten(),
        nn.Linear(4 * 12 * 14, 8),
        nn.Softplus(),
    )


def unit_norm(w: torch.Tensor) -> torch.Tensor:
    return w / w.flatten(1).norm(dim=1)[:, None, None, None]


@pytest.mark.parametrize("optimizer, lr, normalize", [("adam", 0.05, True), ("sgd", 0.1, False)])
def test_norm_constrained_mei_of_a_linear_neuron_is_its_normalised_weight(optimizer, lr, normalize):
    model = Linear()
    result = compute_meis(
        model,
        image_shape=SHAPE,
        constraint=FixedNorm(8.0),
        optimizer=optimizer,
        lr=lr,
        steps=150,
        normalize_gradient=normalize,
    )
    expected = 8.0 * unit_norm(model.weight.detach())
    torch.testing.assert_close(result.images, expected, atol=0.03, rtol=0)
    # the final activation is the analytic maximum 8 * ||w||, and no other image does better
    best = 8.0 * model.weight.detach().flatten(1).norm(dim=1)
    torch.testing.assert_close(result.final_activation, best, rtol=1e-3, atol=0)
    assert result.activations.shape == (150, 5)
    assert torch.all(result.activations[-1] > result.activations[0])


def test_fixed_mean_std_holds_exactly_at_every_image():
    result = compute_meis(
        small_cnn(), image_shape=SHAPE, constraint=FixedMeanStd(0.3, 2.0), steps=20, seed=3
    )
    images = result.images.double().flatten(1)
    torch.testing.assert_close(images.mean(1), torch.full((8,), 0.3, dtype=torch.float64))
    torch.testing.assert_close(images.std(1, unbiased=False), torch.full((8,), 2.0).double())


def test_fixed_norm_with_clipping_respects_range_and_norm():
    constraint = FixedNorm(50.0, center=127.5, clip=(0.0, 255.0))
    x = (
        127.5
        + torch.randn(4, 1, 8, 8) * torch.tensor([1.0, 10.0, 100.0, 1000.0])[:, None, None, None]
    )
    out = constraint(x)
    assert out.min() >= 0 and out.max() <= 255
    torch.testing.assert_close((out - 127.5).flatten(1).norm(dim=1), torch.full((4,), 50.0))
    with pytest.raises(ValueError, match="contain center"):
        FixedNorm(1.0, center=300.0, clip=(0.0, 255.0))


def test_unconstrained_activation_grows_without_bound():
    result = compute_meis(
        Linear(), image_shape=SHAPE, constraint=None, optimizer="sgd", lr=0.5, steps=60
    )
    trace = result.activations
    assert torch.all(trace[1:] > trace[:-1])  # every step increases the response
    steps_30_60 = trace[59] - trace[29]
    torch.testing.assert_close(
        steps_30_60, trace[29] - trace[0] + 0 * steps_30_60, rtol=0.05, atol=0
    )


def test_same_seed_is_deterministic_and_other_seed_differs():
    kwargs = dict(image_shape=SHAPE, steps=15, transforms=[Jitter(2), RandomScale()])
    model = small_cnn()
    a = compute_meis(model, seed=7, **kwargs)
    b = compute_meis(model, seed=7, **kwargs)
    c = compute_meis(model, seed=8, **kwargs)
    assert torch.equal(a.images, b.images) and torch.equal(a.activations, b.activations)
    assert not torch.allclose(a.images, c.images)


def test_batched_equals_one_at_a_time():
    model = small_cnn(seed=1)
    kwargs = dict(
        image_shape=SHAPE, steps=40, transforms=[Jitter(1)], precondition=GradientBlur(1.0), seed=2
    )
    batched = compute_meis(model, **kwargs)
    single = [compute_meis(model, [i], **kwargs) for i in range(8)]
    one_by_one = torch.cat([s.final_activation for s in single])
    torch.testing.assert_close(batched.final_activation, one_by_one, rtol=0.02, atol=0)
    chunked = compute_meis(model, chunk_size=3, **kwargs)
    torch.testing.assert_close(
        chunked.final_activation, batched.final_activation, rtol=0.02, atol=0
    )


def test_neuron_noise_does_not_depend_on_the_batch():
    together = neuron_noise(0, torch.tensor([3, 5, 9]), (1, 4, 4))
    alone = neuron_noise(0, torch.tensor([5]), (1, 4, 4))
    assert torch.equal(together[1], alone[0])
    assert not torch.equal(together[0], together[1])


def test_reproducibility_of_a_linear_neuron_is_perfect():
    corr, results = mei_reproducibility(
        Linear(), seeds=(0, 1, 2), image_shape=SHAPE, constraint=FixedNorm(5.0), steps=100
    )
    assert len(results) == 3 and corr.shape == (5,)
    assert torch.all(corr > 0.999)
    assert not torch.allclose(results[0].activations[0], results[1].activations[0])


def test_cross_activation_of_linear_neurons():
    model = Linear(n=4)
    result = compute_meis(model, image_shape=SHAPE, constraint=FixedNorm(5.0), steps=150)
    matrix = cross_activation(model, result.images)
    assert matrix.shape == (4, 4)
    torch.testing.assert_close(matrix.diagonal(), torch.ones(4))
    # every MEI has the same norm, so no other neuron's MEI can beat a neuron's own (Cauchy-Schwarz)
    assert torch.all(matrix <= 1 + 1e-4)
    w = unit_norm(model.weight.detach()).flatten(1)
    torch.testing.assert_close(matrix, w @ w.T, atol=2e-3, rtol=0)
    raw = cross_activation(model, result.images, normalize=None)
    torch.testing.assert_close(
        raw / raw.amax(1, keepdim=True), cross_activation(model, result.images, normalize="max")
    )
    with pytest.raises(ValueError, match="one image per neuron"):
        cross_activation(model, result.images[:3])


def test_image_correlation_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 1, 5, 6)), rng.normal(size=(3, 1, 5, 6))
    expected = [np.corrcoef(a[i].ravel(), b[i].ravel())[0, 1] for i in range(3)]
    np.testing.assert_allclose(
        image_correlation(torch.tensor(a), torch.tensor(b)), expected, rtol=1e-5
    )
    assert image_correlation(torch.ones(1, 4), torch.randn(1, 4)).item() == 0


@pytest.mark.parametrize("width", [10, 11])
def test_fourier_parameterisation_round_trips(width):
    x = torch.randn(2, 3, 9, width)
    param = FourierImage(decay=1.0)
    torch.testing.assert_close(param(param.init(x)), x, atol=1e-5, rtol=1e-5)
    pixel = PixelImage()
    assert torch.equal(pixel(pixel.init(x)), x)


def test_gradient_blur_matches_scipy():
    delta = torch.zeros(1, 1, 15, 15)
    delta[0, 0, 7, 7] = 1
    blurred = GradientBlur(1.5)(delta)[0, 0].numpy()
    expected = scipy.ndimage.gaussian_filter(
        delta[0, 0].numpy(), 1.5, mode="mirror", truncate=5 / 1.5
    )
    np.testing.assert_allclose(blurred, expected, atol=1e-6)


def test_jitter_shifts_the_whole_batch_by_the_same_amount():
    x = torch.randn(3, 1, 6, 6)
    out = Jitter(2)(x, torch.Generator().manual_seed(0))
    shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    hits = [s for s in shifts if torch.equal(out, torch.roll(x, s, dims=(-2, -1)))]
    assert len(hits) == 1


def test_bad_arguments_raise():
    model = Linear()
    with pytest.raises(ValueError, match="optimizer"):
        compute_meis(model, image_shape=SHAPE, optimizer="lbfgs", steps=1)
    with pytest.raises(ValueError, match="steps"):
        compute_meis(model, image_shape=SHAPE, steps=0)
    with pytest.raises(ValueError, match="initial"):
        compute_meis(model, image_shape=SHAPE, initial=torch.zeros(1, 5, 5), steps=1)
    with pytest.raises(IndexError, match="5 units"):
        compute_meis(model, [5], image_shape=SHAPE, steps=1)
    with pytest.raises(ValueError, match="std"):
        FixedMeanStd(0.0, 0.0)


def test_model_parameters_get_no_gradients():
    model = small_cnn()
    compute_meis(model, image_shape=SHAPE, steps=3)
    assert all(p.grad is None for p in model.parameters())


def test_mei_of_a_conv_channel_is_its_kernel_at_the_centre():
    pytest.importorskip("artiphys_course.recording")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 5), nn.ReLU())
    result = compute_meis(
        net, image_shape=(2, 11, 11), layer="0", constraint=FixedNorm(3.0), steps=150, lr=0.05
    )
    assert result.images.shape == (3, 2, 11, 11)
    expected = torch.zeros(3, 2, 11, 11)
    expected[:, :, 3:8, 3:8] = 3.0 * unit_norm(net[0].weight.detach())  # centre of a 7x7 map
    torch.testing.assert_close(result.images, expected, atol=0.03, rtol=0)
    assert net.training  # the caller's mode is restored


@pytest.fixture(scope="module")
def digital_v1_meis():
    simulate = pytest.importorskip("artiphys_course.simulate")
    dv1 = simulate.make_digital_v1(
        n_neurons=24, n_train=20, n_validation=4, n_test_images=2, n_repeats=2, seed=0
    )
    h, w = dv1.image_shape
    neurons = torch.arange(dv1.n_neurons)
    # antithetic starts: a rectified simple cell is driven by exactly one of +noise and -noise
    # (the last run, another seed, is a different random start)
    starts = [(0, 1.0), (0, -1.0), (1, 1.0)]
    runs = [
        compute_meis(
            dv1.model,
            image_shape=(1, h, w),
            constraint=FixedNorm(400.0, center=127.5, clip=(0.0, 255.0)),
            initial=127.5 + sign * 20.0 * neuron_noise(seed, neurons, (1, h, w)),
            init_std=0.0,
            lr=2.0,
            steps=80,
        )
        for seed, sign in starts
    ]
    return dv1, runs, best_of(runs)


def test_digital_v1_simple_cell_meis_are_their_gabors(digital_v1_meis):
    dv1, _, best = digital_v1_meis
    simple = torch.as_tensor(dv1.neurons.cell_type == "simple")
    filters = torch.as_tensor(dv1.filters)[:, None]
    corr = image_correlation(best.images - 127.5, filters)
    assert torch.all(corr[simple] >= 0.9), corr[simple]
    # the run whose start drove the cell below threshold never moved: zero gradient
    stuck = torch.stack([r.final_activation == r.activations[0] for r in digital_v1_meis[1]])
    assert torch.all(stuck[:2, simple].sum(0) <= 1)


def test_digital_v1_complex_cell_meis_have_the_right_orientation_and_frequency(digital_v1_meis):
    dv1, runs, best = digital_v1_meis
    complex_ = torch.as_tensor(dv1.neurons.cell_type == "complex")
    orientation, frequency = spectral_peak(best.images[complex_])
    true_ori = torch.as_tensor(dv1.neurons.orientation_deg)[complex_]
    true_sf = torch.as_tensor(dv1.neurons.spatial_frequency)[complex_]
    error = (orientation - true_ori + 90) % 180 - 90
    assert error.abs().max() < 8, error
    torch.testing.assert_close(frequency, true_sf, rtol=0.12, atol=0)
    # ... but their phase is arbitrary: the even filter explains only part of the MEI, and
    # different starts land on different phases of the same grating
    filters = torch.as_tensor(dv1.filters)[complex_, None]
    assert image_correlation(best.images[complex_] - 127.5, filters).abs().min() < 0.9
    across_seeds = image_correlation(runs[0].images[complex_], runs[2].images[complex_])
    assert across_seeds.abs().min() < 0.9
    # the energy model is even, r(grey + c) = r(grey - c): the antithetic start ends at -MEI
    opposite = image_correlation(runs[0].images[complex_] - 127.5, runs[1].images[complex_] - 127.5)
    torch.testing.assert_close(opposite, -torch.ones_like(opposite), atol=1e-3, rtol=0)


def test_spectral_peak_of_gabors():
    simulate = pytest.importorskip("artiphys_course.simulate")
    ori = np.array([0.0, 30.0, 45.0, 90.0, 135.0, 170.0])
    sf = np.array([0.08, 0.1, 0.12, 0.15, 0.1, 0.09])
    filters = simulate.gabor((36, 64), ori, sf, 0.0, 5.0)
    orientation, frequency = spectral_peak(filters)
    error = (orientation.numpy() - ori + 90) % 180 - 90
    assert np.abs(error).max() < 3
    np.testing.assert_allclose(frequency.numpy(), sf, rtol=0.05)


def test_best_of_picks_the_highest_final_activation():
    model = small_cnn()
    runs = [compute_meis(model, image_shape=SHAPE, steps=2, seed=s) for s in range(3)]
    best = best_of(runs)
    finals = torch.stack([r.final_activation for r in runs])
    torch.testing.assert_close(best.final_activation, finals.max(0).values)
    k = int(finals[:, 0].argmax())
    assert torch.equal(best.images[0], runs[k].images[0])
    assert torch.equal(best.activations[:, 0], runs[k].activations[:, 0])


def test_quadrature_correlation_is_phase_invariant():
    simulate = pytest.importorskip("artiphys_course.simulate")
    phases = np.arange(0.0, 360.0, 30.0)
    n = len(phases)
    gabors = simulate.gabor((32, 32), np.full(n, 30.0), np.full(n, 0.1), phases, np.full(n, 5.0))
    even = simulate.gabor((32, 32), 30.0, 0.1, 0.0, 5.0).expand(n, -1, -1)
    odd = simulate.gabor((32, 32), 30.0, 0.1, 90.0, 5.0).expand(n, -1, -1)
    r = quadrature_correlation(gabors, even, odd)
    torch.testing.assert_close(r, torch.ones(n), atol=2e-3, rtol=0)
    plain = image_correlation(gabors, even)
    assert plain.abs().min() < 0.1  # the odd-phase Gabors are invisible to the even filter
    # against the multiple correlation of an ordinary least-squares fit (numpy)
    rng = np.random.default_rng(0)
    y, e, o = rng.normal(size=(3, 2, 50))
    for k in range(2):
        design = np.column_stack([e[k] - e[k].mean(), o[k] - o[k].mean()])
        yc = y[k] - y[k].mean()
        fit = design @ np.linalg.lstsq(design, yc, rcond=None)[0]
        expected = np.sqrt((fit**2).sum() / (yc**2).sum())
        got = quadrature_correlation(*(torch.tensor(v[k : k + 1]) for v in (y, e, o)))
        np.testing.assert_allclose(got.numpy(), [expected], rtol=1e-5)


def test_plots_build_figures_with_the_expected_panels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from artiphys_course.plotting import mei as mplot

    images = torch.randn(5, 1, 6, 8)
    fig = mplot.plot_image_grid(images, ncols=3, titles=list("abcde"))
    assert len([ax for ax in fig.axes if ax.images]) == 5
    fig = mplot.plot_image_grid(torch.rand(2, 3, 6, 6), shared_scale=False)  # RGB
    assert fig.axes[0].images[0].get_array().shape == (6, 6, 3)
    fig = mplot.plot_rf_comparison(images, images, correlations=torch.ones(5), ncols=4)
    assert len(fig.axes) == 8 and fig.axes[0].get_title() == "r = 1.00"
    result = compute_meis(Linear(), image_shape=SHAPE, steps=3)
    fig = mplot.plot_mei_traces({"a": result, "b": result})
    assert len(fig.axes[0].lines) == 10
    fig = mplot.plot_cross_activation(torch.eye(3), labels=["x", "y", "z"])
    assert len(fig.axes) == 2  # heat map and colour bar
    with pytest.raises(ValueError, match="images must be"):
        mplot.plot_image_grid(torch.zeros(2, 3))
    plt.close("all")


def test_quadrature_phase_plot_puts_each_image_at_its_projection():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from artiphys_course.plotting import mei as mplot

    runs = {
        "start 1": np.array([[1.0, 0.0], [0.0, -0.5]]),
        "start 2": np.array([[0, 1.0], [-1, 0]]),
    }
    fig = mplot.plot_quadrature_phases(runs, neuron_labels=["cell a", "cell b"])
    ax = fig.axes[0]
    points = [line for line in ax.lines if len(line.get_xdata()) == 1]
    drawn = [(float(p.get_xdata()[0]), float(p.get_ydata()[0])) for p in points]
    assert drawn == [(1.0, 0.0), (0.0, -0.5), (0.0, 1.0), (-1.0, 0.0)]
    assert points[0].get_color() == points[2].get_color() != points[1].get_color()  # per neuron
    assert points[0].get_marker() != points[2].get_marker()  # per run
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["start 1", "start 2", "cell a", "cell b"]
    circle = ax.lines[0]
    np.testing.assert_allclose(np.hypot(circle.get_xdata(), circle.get_ydata()), 1.0)
    with pytest.raises(ValueError, match=r"projections\['b'\] must have shape \(2, 2\)"):
        mplot.plot_quadrature_phases({"a": np.zeros((2, 2)), "b": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="neuron_labels must hold 2"):
        mplot.plot_quadrature_phases({"a": np.zeros((2, 2))}, neuron_labels=["x"])
    plt.close("all")


def test_denormal_flushing_is_switched_off_afterwards():
    tiny = torch.tensor([1e-40])
    compute_meis(Linear(), image_shape=SHAPE, steps=2)
    assert tiny * 1.0 > 0  # subnormals survive again outside the optimisation
    a = compute_meis(small_cnn(), image_shape=SHAPE, steps=10, flush_denormal=True)
    b = compute_meis(small_cnn(), image_shape=SHAPE, steps=10, flush_denormal=False)
    torch.testing.assert_close(a.images, b.images)
