"""Receptive-field-window evaluation equals the full forward pass (values and gradients)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artiphys_course.gradient_rf import gradient_rf
from artiphys_course.mei import FixedMeanStd, compute_meis
from artiphys_course.models.cores import Stacked2dCore
from artiphys_course.models.encoders import core_readout_model, ln_model, simple_cnn
from artiphys_course.models.windowed import neuron_responses, supports_windowed
from artiphys_course.models.zoo import build_model

SHAPE = (1, 36, 64)
N = 40


def _randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial batch-norm statistics, shifter and positions (incl. the map's edges)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=gen) * 2 - 1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=gen) * 2 - 1)
        if model.shifter is not None:
            for p in model.shifter.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        readout = model.readout["default"]
        if hasattr(readout, "mu"):
            readout.mu.copy_(torch.rand(readout.mu.shape, generator=gen) * 2 - 1)
            readout.mu[:4] = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0], [0.999, -0.3]])
    return model.eval()


MODELS = {
    "zoo gaussian (stride 2, all layers read, position network, shifter)": lambda: build_model(
        "gaussian", SHAPE, N, cortex_coordinates=np.random.default_rng(0).random((N, 3))
    ),
    "full-resolution core, free positions, shifter": lambda: core_readout_model(
        SHAPE, N, core=Stacked2dCore(1, 8, layers=3), shifter=True
    ),
    "unpadded 4-layer full-conv core (SENSORIUM geometry)": lambda: core_readout_model(
        SHAPE,
        N,
        core=Stacked2dCore(1, 8, layers=4, pad_input=False, depth_separable=False, stack=None),
    ),
    "linear core": lambda: build_model("linear", SHAPE, N),
}


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("with_pupil", [False, True])
def test_equals_full_forward_and_its_gradient(name: str, with_pupil: bool) -> None:
    torch.manual_seed(0)
    model = _randomise(MODELS[name]())
    assert supports_windowed(model)
    gen = torch.Generator().manual_seed(1)
    images = torch.randn((64, *SHAPE), generator=gen)
    neurons = torch.randint(0, N, (64,), generator=gen)
    neurons[:4] = torch.arange(4)  # the positions on the corners and edges
    # large pupil excursions move some read-out windows partly or wholly off the map
    pupil = torch.randn((64, 2), generator=gen) * 4 if with_pupil else None
    x_full = images.clone().requires_grad_(True)
    x_win = images.clone().requires_grad_(True)
    full = model(x_full, pupil_center=pupil).gather(1, neurons[:, None])[:, 0]
    win = neuron_responses(model, x_win, neurons, pupil_center=pupil)
    torch.testing.assert_close(win, full, rtol=1e-5, atol=1e-5)
    (g_full,) = torch.autograd.grad((full**2).sum(), x_full)
    (g_win,) = torch.autograd.grad((win**2).sum(), x_win)
    torch.testing.assert_close(g_win, g_full, rtol=1e-4, atol=1e-5 * g_full.abs().max().item())


def test_fully_connected_readouts_and_training_mode_equal_the_full_forward_pass() -> None:
    torch.manual_seed(0)
    images = torch.randn((6, *SHAPE))
    neurons = torch.tensor([0, 5, 3, 3, 1, 2])
    training = core_readout_model(SHAPE, N)  # training mode: positions are sampled
    assert not supports_windowed(training)
    for model in (ln_model(SHAPE, N).eval(), simple_cnn(SHAPE, N).eval()):
        assert not supports_windowed(model)
        x_full = images.clone().requires_grad_(True)
        x_own = images.clone().requires_grad_(True)
        expected = model(x_full).gather(1, neurons[:, None])[:, 0]
        got = neuron_responses(model, x_own, neurons)
        torch.testing.assert_close(got, expected)
        (g_full,) = torch.autograd.grad(expected.sum(), x_full)
        (g_own,) = torch.autograd.grad(got.sum(), x_own)
        torch.testing.assert_close(g_own, g_full)


def test_bad_input_errors() -> None:
    model = core_readout_model(SHAPE, N).eval()
    images = torch.randn((3, *SHAPE))
    with pytest.raises(ValueError, match="one neuron index per image"):
        neuron_responses(model, images, torch.tensor([0, 1]))
    with pytest.raises(IndexError, match=r"\[0, 40\)"):
        neuron_responses(model, images, torch.tensor([0, 1, N]))
    with pytest.raises(ValueError, match="expects images of shape"):
        neuron_responses(model, torch.randn(3, 1, 20, 20), torch.tensor([0, 1, 2]))


def test_gradient_rfs_and_meis_of_a_gaussian_readout_model_match_plain_autograd() -> None:
    torch.manual_seed(0)
    model = _randomise(build_model("gaussian", SHAPE, N))
    image = torch.randn((1, *SHAPE), generator=torch.Generator().manual_seed(2))
    grads = gradient_rf(model, image=image, chunk_size=16)
    loop = []
    for i in range(N):
        x = image.clone().requires_grad_(True)
        loop.append(torch.autograd.grad(model(x)[0, i], x)[0])
    loop = torch.cat(loop)
    torch.testing.assert_close(grads, loop, rtol=1e-4, atol=1e-5 * loop.abs().max().item())

    result = compute_meis(
        model, range(8), image_shape=SHAPE, steps=5, constraint=FixedMeanStd(0.0, 1.0)
    )
    direct = model(result.images).diagonal()
    torch.testing.assert_close(result.final_activation, direct, rtol=1e-5, atol=1e-5)
