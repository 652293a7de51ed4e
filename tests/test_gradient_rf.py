"""Gradient receptive fields: analytic LN result, vectorised == loop, agreement with autograd."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from artiphys_course.gradient_rf import gradient_rf


class LNModel(nn.Module):
    """r = ELU(w . x + b) + 1 for each neuron (the encoding-model forward contract)."""

    def __init__(self, n: int = 7, shape=(2, 9, 11), seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(n, *shape, generator=g))
        self.bias = nn.Parameter(torch.randn(n, generator=g))

    def forward(self, images, pupil_center=None, data_key=None):
        return nn.functional.elu(torch.einsum("bchw,nchw->bn", images, self.weight) + self.bias) + 1


def small_cnn(seed: int = 0, n_out: int = 6) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 5, padding=2),
        nn.BatchNorm2d(4),
        nn.Softplus(),
        nn.Conv2d(4, 4, 3),
        nn.Softplus(),
        nn.Flatten(),
        nn.Linear(4 * 10 * 10, n_out),
        nn.Softplus(),
    )


def _corr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a = a.flatten(1) - a.flatten(1).mean(1, keepdim=True)
    b = b.flatten(1) - b.flatten(1).mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


@pytest.mark.parametrize("where", ["grey", "random"])
def test_ln_gradient_rf_is_the_weights_up_to_a_positive_scale(where):
    model = LNModel()
    image = (
        None
        if where == "grey"
        else torch.randn(2, 9, 11, generator=torch.Generator().manual_seed(3))
    )
    rf = gradient_rf(model, image=image, image_shape=(2, 9, 11))
    assert rf.shape == (7, 2, 9, 11)
    w = model.weight.detach()
    scale = (rf * w).flatten(1).sum(1) / w.flatten(1).pow(2).sum(1)
    assert torch.all(scale > 0)
    torch.testing.assert_close(rf, scale[:, None, None, None] * w, rtol=1e-5, atol=1e-6)
    # the scale is the slope of ELU at the neuron's drive, f'(u) = 1 if u > 0 else exp(u)
    x = torch.zeros(1, 2, 9, 11) if image is None else image[None]
    drive = torch.einsum("bchw,nchw->bn", x, w)[0] + model.bias.detach()
    expected = torch.where(drive > 0, torch.ones_like(drive), drive.exp())
    torch.testing.assert_close(scale, expected, rtol=1e-5, atol=1e-6)


def test_vectorised_equals_loop_and_chunking():
    model = small_cnn()
    image = torch.randn(1, 12, 12, generator=torch.Generator().manual_seed(1))
    together = gradient_rf(model, image=image)
    loop = torch.cat([gradient_rf(model, [i], image=image) for i in range(6)])
    chunked = gradient_rf(model, image=image, chunk_size=4)
    torch.testing.assert_close(together, loop, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(together, chunked, rtol=1e-5, atol=1e-7)
    subset = gradient_rf(model, [4, 1], image=image)
    torch.testing.assert_close(subset, together[[4, 1]])


def test_agrees_with_torch_jacobian_on_a_small_cnn():
    model = small_cnn(seed=2).eval()
    image = torch.randn(1, 1, 12, 12, generator=torch.Generator().manual_seed(4))
    jac = torch.autograd.functional.jacobian(lambda x: model(x)[0], image)  # (6, 1, 1, 12, 12)
    rf = gradient_rf(model, image=image)
    torch.testing.assert_close(rf, jac[:, 0], rtol=1e-5, atol=1e-7)


def test_train_mode_is_restored_and_does_not_change_the_result():
    model = small_cnn(seed=5)
    image = torch.randn(1, 12, 12, generator=torch.Generator().manual_seed(0))
    model.train()
    rf = gradient_rf(model, image=image)
    assert model.training and model[1].training
    model.eval()
    torch.testing.assert_close(rf, gradient_rf(model, image=image))


def test_readout_selects_outputs():
    model = LNModel()
    rf_all = gradient_rf(model, image_shape=(2, 9, 11))
    rf_sub = gradient_rf(model, image_shape=(2, 9, 11), readout=lambda out: out[:, 3:6])
    torch.testing.assert_close(rf_sub, rf_all[3:6])


def test_layer_channels_match_autograd():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 5, 3), nn.ReLU(), nn.Conv2d(5, 4, 3), nn.Softplus(), nn.Flatten()
    )
    image = torch.randn(1, 3, 11, 11, generator=torch.Generator().manual_seed(2))
    rf = gradient_rf(net, [0, 2], image=image, layer="3")
    jac = torch.autograd.functional.jacobian(lambda x: net[:4](x)[0, :, 3, 3], image)
    assert rf.shape == (2, 3, 11, 11)
    torch.testing.assert_close(rf, jac[[0, 2], 0], rtol=1e-5, atol=1e-7)
    # the centre unit of a 7x7 map after two 3x3 convolutions sees only a 5x5 patch
    assert rf[:, :, :1].abs().max() == 0 and rf[:, :, 4:9, 4:9].abs().max() > 0


def test_bad_inputs_raise_clear_errors():
    model = LNModel()
    with pytest.raises(IndexError, match="7 units"):
        gradient_rf(model, [7], image_shape=(2, 9, 11))
    with pytest.raises(ValueError, match="image_shape"):
        gradient_rf(model)
    with pytest.raises(ValueError, match="image must be"):
        gradient_rf(model, image=torch.zeros(2, 2, 9, 11))
    with pytest.raises(ValueError, match="chunk_size"):
        gradient_rf(model, image_shape=(2, 9, 11), chunk_size=0)
    conv = nn.Conv2d(1, 2, 3)
    with pytest.raises(ValueError, match="n_units"):
        gradient_rf(conv, image_shape=(1, 8, 8))
    with pytest.raises(TypeError, match="layer must be"):
        gradient_rf(model, image_shape=(2, 9, 11), layer=3)
