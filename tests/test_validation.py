"""Bad input fails early and clearly (issue 13): NaN in, silent coercion, errors from the depths.

Each example of the issue is reproduced and must now raise a ValueError / TypeError /
IndexError naming the argument, or return a documented NaN with an ArtiphysWarning. The
property-based tests at the end throw random shapes and values (NaN and Inf included) at the
stimulus constructors, metrics, losses and RDM functions: the only acceptable outcomes are a
clear exception of the documented type or a finite / documented-NaN result.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from artiphys_course import metrics, validation
from artiphys_course.barmap import bar_responses, fit_gaussian_2d, weighted_bar_map
from artiphys_course.decoding import OrientationDecoder, train_decoder
from artiphys_course.gradient_rf import gradient_rf
from artiphys_course.losses import poisson_loss
from artiphys_course.mei import compute_meis
from artiphys_course.receptive_fields import rf_box
from artiphys_course.rsa import compare_rdms, rdm, rsa
from artiphys_course.runtime import ArtiphysWarning
from artiphys_course.stimuli import make_bar_set, make_bars, make_gabors, make_gratings
from artiphys_course.tuning import fit_von_mises, tuning_curves

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def model() -> nn.Module:
    """A tiny encoding-like model: (B, 1, 8, 8) images -> (B, 3) responses."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(72, 3)).eval()


@pytest.fixture(scope="module")
def bars():
    return make_bar_set(9, rf_size=5, n_orientations=2, n_positions=1, polarities=(1,))


# --------------------------------------------------------------------------- the shared checks
def test_integer_refuses_bool_float_str_and_names_the_range():
    assert validation.integer(np.int64(3), "n", minimum=1) == 3
    for bad in (True, 1.7, "3", 2.0):
        with pytest.raises(TypeError, match="n must be an int"):
            validation.integer(bad, "n")
    with pytest.raises(ValueError, match=r"top_n must be in \[1, 5\], got 6"):
        validation.integer(6, "top_n", minimum=1, maximum=5)


def test_indices_one_rule_for_negative_and_non_integer_indices():
    assert validation.indices(np.array([2, 0]), "neurons", 3).tolist() == [2, 0]
    with pytest.raises(IndexError, match="negative indices are not allowed"):
        validation.indices(-1, "neurons", 3)
    for bad in (1.7, [0.5], True, torch.tensor([1.0])):
        with pytest.raises(TypeError, match="neurons must be integer indices"):
            validation.indices(bad, "neurons", 3)


def test_positive_and_finite_name_the_argument():
    with pytest.raises(ValueError, match="bin_deg must be a finite number > 0, got 0.0"):
        validation.positive(0, "bin_deg")
    with pytest.raises(TypeError, match="bin_deg"):
        validation.positive(True, "bin_deg")
    with pytest.raises(ValueError, match="x must be finite, but 2 of its 3 values"):
        validation.finite(torch.tensor([1.0, NAN, INF]), "x")
    validation.finite(torch.tensor([1, 2]), "x")  # integers are always finite


# --------------------------------------------------------------------------- NaN in, NaN out
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: metrics.correlation([1.0, NAN, 2.0], [1.0, 2.0, 3.0]), "y_true"),
        (lambda: metrics.oracle_correlation(np.full((3, 2, 1), NAN)), "responses_by_image"),
        (lambda: metrics.bits_per_spike(np.ones((3, 1)), np.full((3, 1), INF)), "y_pred"),
        (lambda: metrics.fev(np.array([[[1.0], [NAN]], [[2.0], [3.0]]])), "responses_by_image"),
        (lambda: poisson_loss(torch.tensor([NAN, 1.0]), torch.ones(2)), "rates"),
        (lambda: poisson_loss(torch.ones(2), torch.tensor([INF, 1.0])), "responses"),
        (lambda: fit_gaussian_2d(np.full((5, 5), NAN)), "image"),
        (lambda: make_bars(16, NAN, 10, 2), "orientation_deg"),
        (lambda: make_gratings(16, 0.0, spatial_frequency=INF), "spatial_frequency"),
        (lambda: make_gabors(16, 0.0, 0.1, sigma=NAN), "sigma"),
        (lambda: make_bars(16, 0.0, 10, 2, foreground=NAN), "foreground"),
        (lambda: make_bar_set(16, rf_size=NAN), "rf_size"),
    ],
)
def test_non_finite_input_is_an_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"{name} must be (finite|a finite number)"):
        call()


def test_nan_maps_images_and_initial_images_are_refused(model, bars):
    responses = np.arange(len(bars), dtype=float)
    responses[0] = NAN
    with pytest.raises(ValueError, match="responses must be finite"):
        weighted_bar_map(responses, bars, top_n=2)
    with pytest.raises(ValueError, match="image must be finite"):
        gradient_rf(model, 0, image=torch.full((1, 8, 8), NAN), progress=False)
    with pytest.raises(ValueError, match="initial must be finite"):
        compute_meis(
            model, 0, image_shape=(1, 8, 8), initial=torch.full((1, 8, 8), NAN), progress=False
        )


def test_poisson_loss_rejects_negative_counts():
    with pytest.raises(ValueError, match="responses must be non-negative counts"):
        poisson_loss(torch.ones(2, 2), torch.tensor([[1.0, -1.0], [0.0, 2.0]]))


def test_undefined_results_are_nan_with_a_warning_never_zero():
    rng = np.random.default_rng(0)
    by_image = rng.poisson(3.0, size=(6, 4, 2)).astype(float)
    by_image[:, :, 1] = 2.0  # neuron 1 never varies
    with pytest.warns(ArtiphysWarning, match=r"fev is NaN for 1 of 2 neurons \(first \[1\]\)"):
        fev = metrics.fev(by_image)
    assert np.isfinite(fev[0]) and np.isnan(fev[1])  # was 0: the worst score, silently
    with pytest.warns(ArtiphysWarning, match="oracle_correlation is NaN for 1 of 2"):
        assert np.isnan(metrics.oracle_correlation(by_image)[1])
    with pytest.warns(ArtiphysWarning, match="feve is NaN"):
        assert np.isnan(metrics.feve(by_image, by_image.mean(axis=1))[1])
    trials = by_image.reshape(-1, 2)
    with pytest.warns(ArtiphysWarning, match="correlation is NaN for 1 of 2"):
        assert np.isnan(metrics.correlation(trials, trials + 1.0)[1])
    silent = np.zeros((5, 1))
    with pytest.warns(ArtiphysWarning, match="bits_per_spike is NaN"):
        assert np.isnan(metrics.bits_per_spike(silent, np.ones((5, 1))))[0]


# --------------------------------------------------------------------------- silent coercion
def test_a_str_image_shape_and_bad_channels_are_refused():
    with pytest.raises(TypeError, match="image_shape must be an int"):
        make_bars("32", 0.0, 10, 2)  # drew a 3x2 image
    for channels in (0, -1):  # gave an empty or a 1-channel image
        with pytest.raises(ValueError, match=f"channels must be >= 1, got {channels}"):
            make_bars(32, 0.0, 10, 2, channels=channels)
    with pytest.raises(TypeError, match="channels must be an int"):
        make_gratings(32, 0.0, 0.1, channels=2.5)


def test_float_and_negative_neuron_indices_are_refused(model):
    with pytest.raises(TypeError, match="neurons must be integer indices"):
        gradient_rf(model, 1.7, image_shape=(1, 8, 8), progress=False)  # computed neuron 1
    with pytest.raises(TypeError, match="neurons must be integer indices"):
        compute_meis(model, 0.5, image_shape=(1, 8, 8), steps=1, progress=False)  # neuron 0
    with pytest.raises(IndexError, match="negative indices are not allowed"):
        gradient_rf(model, -1, image_shape=(1, 8, 8), progress=False)
    with pytest.raises(TypeError, match="image_shape must be"):
        gradient_rf(model, 0, image_shape="18", progress=False)  # was a (1, 8) grey image
    curves = tuning_curves(np.eye(4), [0.0, 45.0, 90.0, 135.0])
    with pytest.raises(IndexError, match="negative indices are not allowed"):
        curves.select([-1])  # meant "the last unit" here, an error elsewhere


def test_a_position_outside_the_layer_is_refused():
    net = nn.Sequential(nn.Conv2d(1, 2, 3))
    with pytest.raises(IndexError, match=r"outside the 8x8 output of '0'"):
        rf_box(net, "0", 10, position=(999, 999))  # was a box far outside the layer
    with pytest.raises(TypeError, match="position must be an int"):
        rf_box(net, "0", 10, position=(1.5, 2))
    assert rf_box(net, "0", 10, position=(0, 0)) == (0.0, 2.0, 0.0, 2.0)  # no padding


@pytest.mark.parametrize("top_n", [0, -5, 25])
def test_top_n_must_be_between_1_and_the_number_of_bars(bars, top_n):
    with pytest.raises(ValueError, match=r"top_n must be in \[1, 24\]"):
        weighted_bar_map(np.arange(len(bars), dtype=float), bars, top_n=top_n)


def test_fewer_responses_than_bars_is_an_error(bars):
    with pytest.raises(ValueError, match="one value per bar: the bar set has 24 bars"):
        weighted_bar_map(np.ones(1), bars, top_n=1)


# --------------------------------------------------------------------------- errors from the depths
def test_mismatched_stimulus_lengths_are_named():
    with pytest.raises(ValueError, match=r"length 1 or one common length.*'length': 2"):
        make_bars(16, [0.0, 45.0, 90.0], [4.0, 8.0], 2.0)  # was a torch broadcast error
    with pytest.raises(ValueError, match="center must give one"):
        make_bars(16, [0.0, 90.0], 8.0, 2.0, center=[[1, 1], [2, 2], [3, 3]])


def test_bar_responses_checks_channels_and_batch_size(bars):
    grey_net = nn.Sequential(nn.Conv2d(1, 2, 3))
    with pytest.raises(ValueError, match="pass in_channels=1"):
        bar_responses(grey_net, "0", bars, progress=False)  # was torch's conv error
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        bar_responses(grey_net, "0", bars, in_channels=1, batch_size=0, progress=False)


def test_zero_bins_classes_and_batches_are_refused():
    with pytest.raises(ValueError, match="bin_deg must be a finite number > 0"):
        tuning_curves(np.eye(4), [0.0, 45.0, 90.0, 135.0], bin_deg=0)
    with pytest.raises(ValueError, match="n_classes must be >= 1, got 0"):
        OrientationDecoder(5, target="classes", n_classes=0)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        train_decoder(np.ones((30, 2)), np.arange(30.0), batch_size=0, progress=False)


def test_fits_need_enough_data():
    with pytest.raises(ValueError, match=r"at least 3 x 3.*\(1, 2\)"):
        fit_gaussian_2d(np.ones((1, 2)))  # was scipy's TypeError
    with pytest.raises(ValueError, match="at least 4 distinct orientations.*got 2"):
        fit_von_mises(np.array([[1.0], [2.0]]), [0.0, 90.0], progress=False)  # was r2 = 1.0
    two = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="at least 3 stimuli"):
        rsa(two, two)


# --------------------------------------------------------------------------- property-based
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
value = st.one_of(
    st.floats(-1e3, 1e3).filter(lambda x: x == 0 or abs(x) > 1e-3),
    st.sampled_from([NAN, INF, -INF]),
)
params = st.one_of(value, st.lists(value, min_size=1, max_size=3))


def _arrays(shape):
    return st.lists(value, min_size=math.prod(shape), max_size=math.prod(shape)).map(
        lambda v: np.array(v, dtype=np.float64).reshape(shape)
    )


def _finite_or_documented_nan(call):
    """Run ``call``: a clear exception, or a result that is finite except for warned NaN."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except (ValueError, TypeError, IndexError) as error:
            assert str(error), "an error must say what is wrong"
            return None
    values = np.asarray(result.detach() if isinstance(result, torch.Tensor) else result, float)
    assert not np.isinf(values).any(), values
    if np.isnan(values).any():
        assert any(issubclass(w.category, ArtiphysWarning) for w in caught), "NaN without a word"
    return result


@FAST
@given(
    shape=st.one_of(st.integers(-1, 12), st.tuples(st.integers(0, 9), st.integers(0, 9))),
    orientation=params,
    length=params,
    width=params,
    channels=st.integers(-1, 3),
)
def test_bars_either_fail_clearly_or_are_finite(shape, orientation, length, width, channels):
    out = _finite_or_documented_nan(
        lambda: make_bars(shape, orientation, length, width, channels=channels)
    )
    if out is not None:
        assert out.shape[1] == channels and not torch.isnan(out).any()


@FAST
@given(orientation=params, frequency=params, phase=params, sigma=params, gabor=st.booleans())
def test_gratings_and_gabors_either_fail_clearly_or_are_finite(
    orientation, frequency, phase, sigma, gabor
):
    def call():
        if gabor:
            return make_gabors(9, orientation, frequency, phase, sigma)
        return make_gratings(9, orientation, frequency, phase)

    out = _finite_or_documented_nan(call)
    if out is not None:
        assert not torch.isnan(out).any()


@FAST
@given(
    data=st.data(),
    trials=st.integers(0, 6),
    neurons=st.integers(1, 3),
)
def test_single_trial_metrics_and_the_loss(data, trials, neurons):
    y_true = data.draw(_arrays((trials, neurons)))
    y_pred = data.draw(_arrays((trials, neurons)))
    for fn in (metrics.correlation, metrics.bits_per_spike, metrics.poisson_log_likelihood):
        _finite_or_documented_nan(lambda fn=fn: fn(y_true, y_pred))
    if trials >= 2:  # the training score: a number, NaN only for a diverged (non-finite) model
        score = metrics.correlation_score(y_true, y_pred)
        finite = np.isfinite(y_true).all() and np.isfinite(y_pred).all()
        assert np.isfinite(score) == finite
    _finite_or_documented_nan(
        lambda: poisson_loss(torch.as_tensor(y_pred), torch.as_tensor(y_true))
    )


@FAST
@given(
    data=st.data(), images=st.integers(1, 4), repeats=st.integers(1, 3), neurons=st.integers(1, 2)
)
def test_repeat_metrics(data, images, repeats, neurons):
    by_image = data.draw(_arrays((images, repeats, neurons)))
    predictions = data.draw(_arrays((images, neurons)))
    for fn in (metrics.oracle_correlation, metrics.fev, metrics.explainable_variance):
        _finite_or_documented_nan(lambda fn=fn: fn(by_image))
    for fn in (metrics.feve, metrics.correlation_to_average):
        _finite_or_documented_nan(lambda fn=fn: fn(by_image, predictions))


@FAST
@given(data=st.data(), n=st.integers(0, 5), units=st.integers(0, 3))
def test_rdm_functions(data, n, units):
    patterns = data.draw(_arrays((n, units)))
    for metric in ("correlation", "euclidean"):
        _finite_or_documented_nan(lambda metric=metric: rdm(patterns, metric))
    a, b = data.draw(_arrays((n, n))), data.draw(_arrays((n, n)))
    for method in ("spearman", "pearson"):
        _finite_or_documented_nan(lambda method=method: compare_rdms(a, b, method))
    result = _finite_or_documented_nan(
        lambda: rsa(a, b, n_bootstrap=3, n_permutations=3).similarity
    )
    assert result is None or -1.0 <= result <= 1.0 or np.isnan(result)


def test_empirical_rf_uses_the_same_index_rules():
    from artiphys_course.receptive_fields import empirical_receptive_field

    net = nn.Sequential(nn.Conv2d(1, 2, 3))
    grad = empirical_receptive_field(net, "0", 10, position=(0, 0), channels=[1], structural=False)
    assert grad.shape == (10, 10) and grad[:3, :3].all() and not grad[3:].any()
    with pytest.raises(IndexError, match="negative indices are not allowed"):
        empirical_receptive_field(net, "0", 10, channels=[-1], structural=False)
    with pytest.raises(IndexError, match="outside the 8x8 output"):
        empirical_receptive_field(net, "0", 10, position=(-1, 0))


def test_one_position_rule_for_every_feature_map():
    from artiphys_course import validation

    assert validation.position(None, (7, 8), "map") == (3, 3)  # the centre unit
    assert validation.position((np.int64(2), 5), (7, 8), "map") == (2, 5)
    with pytest.raises(IndexError, match=r"position \(7, 0\) is outside the 7x8 map"):
        validation.position((7, 0), (7, 8), "map")
    with pytest.raises(IndexError, match="outside"):
        validation.position((-1, 0), (7, 8), "map")
    with pytest.raises(TypeError, match="position"):
        validation.position((1.5, 0), (7, 8), "map")
    with pytest.raises(ValueError, match=r"\(row, col\)"):
        validation.position((1, 2, 3), (7, 8), "map")
