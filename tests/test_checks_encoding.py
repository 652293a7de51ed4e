"""The exercise checks of notebook 03 accept correct answers, name wrong ones, catch references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from artiphys_course.checks import encoding as checks
from artiphys_course.models.cores import NormalizationCore, Stacked2dCore, laplace_l2
from artiphys_course.models.encoders import Encoder, core_readout_model, ln_model
from artiphys_course.models.readouts import (
    FullyConnectedReadout,
    GaussianReadout,
    PositionNetwork,
    pixels_to_grid,
    read_features,
)
from artiphys_course.models.shifters import MLPShifter

LAPLACIAN = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])


def _unsolved(*args, **kwargs):
    raise NotImplementedError("Exercise")


# -- Exercise 1: laplace_penalty ---------------------------------------------------------------
def laplace_by_convolution(weights):
    flat = weights.reshape(-1, 1, *weights.shape[-2:])
    rough = F.conv2d(flat, LAPLACIAN[None, None], padding=1)
    return rough.pow(2).sum() / flat.pow(2).sum()


def laplace_by_shifts(weights):
    padded = F.pad(weights, (1, 1, 1, 1))
    rough = (
        4 * padded[..., 1:-1, 1:-1]
        - padded[..., :-2, 1:-1]
        - padded[..., 2:, 1:-1]
        - padded[..., 1:-1, :-2]
        - padded[..., 1:-1, 2:]
    )
    return (rough**2).sum() / (weights**2).sum()


@pytest.mark.parametrize("correct", [laplace_by_convolution, laplace_by_shifts])
def test_laplace_penalty_accepts_two_correct_answers(correct):
    result = checks.check_laplace_penalty(correct)
    assert result and result.passed == result.total == 4


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (
            lambda w: (
                F.conv2d(w.reshape(-1, 1, *w.shape[-2:]), LAPLACIAN[None, None], padding=1)
                .pow(2)
                .sum()
            ),
            "without its normalisation",
        ),
        (
            lambda w: (
                F.conv2d(w.reshape(-1, 1, *w.shape[-2:]), LAPLACIAN[None, None]).pow(2).sum()
                / w.pow(2).sum()
            ),
            "without zero padding",
        ),
        (
            lambda w: torch.stack(
                [laplace_by_convolution(s[None, None]) for s in w.reshape(-1, *w.shape[-2:])]
            ).mean(),
            "one ratio per 2-D slice",
        ),
    ],
)
def test_laplace_penalty_names_the_mistake(wrong, mistake, lenient):
    result = checks.check_laplace_penalty(wrong)
    assert not result and mistake in result.message
    assert "[[0" not in result.message and "conv2d" not in result.message  # never the solution


def test_laplace_penalty_catches_the_reference_and_an_unsolved_exercise(lenient):
    result = checks.check_laplace_penalty(lambda w: laplace_l2(w))
    assert not result and "calls the package's `laplace_l2`" in result.message
    assert checks.check_laplace_penalty(_unsolved).status == "not implemented"


# -- Exercise 2: pixels_to_grid ----------------------------------------------------------------
def grid_by_columns(pixels, shape):
    height, width = shape
    return torch.stack(
        [2 * pixels[:, 1] / (width - 1) - 1, 2 * pixels[:, 0] / (height - 1) - 1], dim=1
    )


def grid_by_flip(pixels, shape):
    size = torch.tensor([shape[1] - 1.0, shape[0] - 1.0])
    return pixels.flip(1) / size * 2 - 1


@pytest.mark.parametrize("correct", [grid_by_columns, grid_by_flip])
def test_pixels_to_grid_accepts_two_correct_answers(correct):
    assert checks.check_pixels_to_grid(correct)


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (lambda p, s: grid_by_columns(p, s).flip(1), "(y, x): the row first"),
        (lambda p, s: p.flip(1) / torch.tensor([s[1], s[0]]) * 2 - 1, "dividing by the size"),
        (lambda p, s: (2 * p.flip(1) + 1) / torch.tensor([s[1], s[0]]) - 1, "align_corners=False"),
        (lambda p, s: p.flip(1) / torch.tensor([s[0] - 1, s[1] - 1]) * 2 - 1, "height and width"),
    ],
)
def test_pixels_to_grid_names_the_mistake(wrong, mistake, lenient):
    result = checks.check_pixels_to_grid(wrong)
    assert not result and mistake in result.message


def test_pixels_to_grid_catches_the_reference(lenient):
    result = checks.check_pixels_to_grid(lambda p, s: pixels_to_grid(p, s))
    assert not result and "calls the package's `pixels_to_grid`" in result.message


# -- Exercise 3: read_features -----------------------------------------------------------------
def read_by_indexing(features, pixels):
    height, width = features.shape[-2:]
    r0 = pixels[:, 0].floor().long().clamp(0, height - 1)
    c0 = pixels[:, 1].floor().long().clamp(0, width - 1)
    dr, dc = pixels[:, 0] - r0, pixels[:, 1] - c0
    r1, c1 = (r0 + 1).clamp(max=height - 1), (c0 + 1).clamp(max=width - 1)
    return (
        (1 - dr) * (1 - dc) * features[:, :, r0, c0]
        + (1 - dr) * dc * features[:, :, r0, c1]
        + dr * (1 - dc) * features[:, :, r1, c0]
        + dr * dc * features[:, :, r1, c1]
    )


def read_by_tent_weights(features, pixels):
    height, width = features.shape[-2:]
    rows = torch.clamp(1 - (pixels[:, :1] - torch.arange(height)).abs(), min=0)  # (n, H)
    cols = torch.clamp(1 - (pixels[:, 1:] - torch.arange(width)).abs(), min=0)  # (n, W)
    return torch.einsum("bchw,nh,nw->bcn", features, rows, cols)


def read_with_swapped_weights(features, pixels):
    height, width = features.shape[-2:]
    r0 = pixels[:, 0].floor().long().clamp(0, height - 1)
    c0 = pixels[:, 1].floor().long().clamp(0, width - 1)
    dr, dc = pixels[:, 0] - r0, pixels[:, 1] - c0
    r1, c1 = (r0 + 1).clamp(max=height - 1), (c0 + 1).clamp(max=width - 1)
    return (
        dr * dc * features[:, :, r0, c0]
        + dr * (1 - dc) * features[:, :, r0, c1]
        + (1 - dr) * dc * features[:, :, r1, c0]
        + (1 - dr) * (1 - dc) * features[:, :, r1, c1]
    )


@pytest.mark.parametrize("correct", [read_by_indexing, read_by_tent_weights])
def test_read_features_accepts_two_correct_answers(correct):
    assert checks.check_read_features(correct)


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (lambda f, p: read_by_indexing(f, p.round()), "the nearest pixel"),
        (lambda f, p: read_by_indexing(f, p).transpose(1, 2), "as (B, n, C)"),
        (read_with_swapped_weights, "opposite neighbour"),
    ],
)
def test_read_features_names_the_mistake(wrong, mistake, lenient):
    result = checks.check_read_features(wrong)
    assert not result and mistake in result.message


def test_read_features_catches_the_reference(lenient):
    result = checks.check_read_features(lambda f, p: read_features(f, p))
    assert not result and "calls the package's `read_features`" in result.message


# -- Exercise 4: the models from the package's parts --------------------------------------------
def ln_from_parts(image_shape, n_neurons, mean_response):
    shape = (1, *image_shape)
    core = NormalizationCore(1)
    readout = FullyConnectedReadout(
        core.out_shape(shape), n_neurons, mean_response=mean_response, gamma=0.0, gamma_smooth=0.5
    )
    return Encoder(core, readout, image_shape=shape)


def ln_written_otherwise(image_shape, n_neurons, mean_response):
    height, width = image_shape
    readout = FullyConnectedReadout(
        (1, height, width), n_neurons, gamma_smooth=0.5, gamma=0, mean_response=mean_response
    )
    return Encoder(NormalizationCore(), {"default": readout}, image_shape=(1, height, width))


@pytest.mark.parametrize("correct", [ln_from_parts, ln_written_otherwise])
def test_build_ln_model_accepts_two_correct_answers(correct):
    result = checks.check_build_ln_model(correct)
    assert result and result.passed == result.total == 3


def ln_without_bias(image_shape, n_neurons, mean_response):
    return ln_from_parts(image_shape, n_neurons, None)


def ln_with_default_penalties(image_shape, n_neurons, mean_response):
    shape = (1, *image_shape)
    readout = FullyConnectedReadout(shape, n_neurons, mean_response=mean_response)
    return Encoder(NormalizationCore(1), readout, image_shape=shape)


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (ln_without_bias, "a bias that does not start at the mean response"),
        (ln_with_default_penalties, "the readout's default penalties"),
    ],
)
def test_build_ln_model_names_the_mistake(wrong, mistake, lenient):
    result = checks.check_build_ln_model(wrong)
    assert not result and mistake in result.message


def test_build_ln_model_checks_the_contract_beyond_known_mistakes(lenient):
    def frozen_core(image_shape, n_neurons, mean_response):
        model = ln_from_parts(image_shape, n_neurons, mean_response)
        model.core.requires_grad_(False)
        return model

    result = checks.check_build_ln_model(frozen_core)
    assert not result and "frozen parameters" in result.message
    assert "core.norm.weight" in result.message

    class Negative(nn.Module):  # the package's parts, but rates that can be negative
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, images, pupil_center=None):
            return self.model(images) - 10.0

        def regularizer(self):
            return self.model.regularizer()

    result = checks.check_build_ln_model(lambda *a: Negative(ln_from_parts(*a)))
    assert not result and "rates positive" in result.message

    class DetachedCore(nn.Module):  # a core cut off from the loss: its parameters never learn
        def __init__(self):
            super().__init__()
            self.inner = NormalizationCore(1)

        def forward(self, images):
            return self.inner(images).detach()

        def regularizer(self):
            return self.inner.regularizer()

    def detached(image_shape, n_neurons, mean_response):
        shape = (1, *image_shape)
        readout = FullyConnectedReadout(
            shape, n_neurons, mean_response=mean_response, gamma=0.0, gamma_smooth=0.5
        )
        return Encoder(DetachedCore(), readout, image_shape=shape)

    result = checks.check_build_ln_model(detached)
    assert not result and "parameters without a gradient" in result.message
    assert "core.inner.norm.weight" in result.message


def test_build_ln_model_catches_the_package_builder(lenient):
    def calls_package(image_shape, n_neurons, mean_response):
        return ln_model(
            image_shape, n_neurons, mean_response=mean_response, gamma=0.0, gamma_smooth=0.5
        )

    result = checks.check_build_ln_model(calls_package)
    assert not result and "calls the package's `ln_model`" in result.message
    assert checks.check_build_ln_model(_unsolved).status == "not implemented"


def gaussian_from_parts(image_shape, n_neurons, mean_response, cortex_coordinates, **core):
    shape = (1, *image_shape)
    options = dict(layers=3, input_kernel=9, hidden_kernel=7, input_stride=2, stack=None)
    stacked = Stacked2dCore(1, 16, **{**options, **core})
    readout = GaussianReadout(
        stacked.out_shape(shape),
        n_neurons,
        mean_response=mean_response,
        position_network=PositionNetwork(cortex_coordinates),
        gamma=0.01,
    )
    return Encoder(stacked, readout, image_shape=shape, shifters=MLPShifter())


def gaussian_written_otherwise(image_shape, n_neurons, mean_response, cortex_coordinates):
    height, width = image_shape
    core = Stacked2dCore(
        in_channels=1,
        hidden_channels=16,
        layers=3,
        input_kernel=9,
        hidden_kernel=7,
        input_stride=2,
        stack=0,  # the outputs of layer 0 on: all three layers
    )
    readout = GaussianReadout(
        (48, (height - 1) // 2 + 1, (width - 1) // 2 + 1),
        n_neurons,
        position_network=PositionNetwork(cortex_coordinates, in_features=2),
        mean_response=mean_response,
        gamma=0.01,
    )
    return Encoder(
        core,
        {"default": readout},
        image_shape=(1, height, width),
        shifters={"default": MLPShifter()},
    )


@pytest.mark.parametrize("correct", [gaussian_from_parts, gaussian_written_otherwise])
def test_build_core_gaussian_model_accepts_two_correct_answers(correct):
    result = checks.check_build_core_gaussian_model(correct)
    assert result and result.passed == result.total == 3


def gaussian_free_positions(image_shape, n_neurons, mean_response, cortex_coordinates):
    shape = (1, *image_shape)
    core = Stacked2dCore(1, 16, input_stride=2, stack=None)
    readout = GaussianReadout(
        core.out_shape(shape), n_neurons, mean_response=mean_response, gamma=0.01
    )
    return Encoder(core, readout, image_shape=shape, shifters=MLPShifter())


def gaussian_without_shifter(image_shape, n_neurons, mean_response, cortex_coordinates):
    model = gaussian_from_parts(image_shape, n_neurons, mean_response, cortex_coordinates)
    model.shifter = None
    return model


@pytest.mark.parametrize(
    ("wrong", "mistake"),
    [
        (gaussian_free_positions, "free positions instead of the position network"),
        (gaussian_without_shifter, "a model without a shifter"),
        (lambda *a: gaussian_from_parts(*a, linear=True), "the linear core"),
        (lambda *a: gaussian_from_parts(*a, stack=-1), "only the last layer's features"),
        (lambda *a: gaussian_from_parts(*a, input_stride=1), "a first layer without stride"),
    ],
)
def test_build_core_gaussian_model_names_the_mistake(wrong, mistake, lenient):
    result = checks.check_build_core_gaussian_model(wrong)
    assert not result and mistake in result.message


def test_build_core_gaussian_model_catches_the_package_builder(lenient):
    def calls_package(image_shape, n_neurons, mean_response, cortex_coordinates):
        return core_readout_model(image_shape, n_neurons, mean_response=mean_response)

    result = checks.check_build_core_gaussian_model(calls_package)
    assert not result and "calls the package's `core_readout_model`" in result.message


def test_the_model_checks_leave_the_callers_random_state_alone():
    before = torch.random.get_rng_state()
    checks.check_build_ln_model(ln_from_parts)
    assert torch.equal(torch.random.get_rng_state(), before)
