"""Receptive-field arithmetic against published values, torch's own output sizes and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import alexnet, resnet18, vgg16

from artiphys_course.receptive_fields import (
    center_position,
    conv_output_size,
    empirical_receptive_field,
    receptive_field,
    receptive_field_table,
    rf_box,
    rf_step,
    structural_copy,
    support_box,
    xn,
)
from artiphys_course.recording import record_layers

NETWORKS = {"alexnet": alexnet, "vgg16": vgg16, "resnet18": resnet18}


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    """The networks built on the meta device: their structure, no weights (VGG16 alone: 0.5 GB)."""
    with torch.device("meta"):
        return {name: build() for name, build in NETWORKS.items()}


def _convs(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def test_published_rf_sizes(models):
    # Araujo, Norris & Sim (2019), Distill, and the torchvision architectures
    rows = {r.name: r for r in receptive_field_table(models["alexnet"])}
    assert [rows[n].size[0] for n in _convs(models["alexnet"])] == [11, 51, 99, 131, 163]
    assert [rows[n].jump[0] for n in _convs(models["alexnet"])] == [4, 8, 16, 16, 16]
    assert rows["features.12"].size == (195, 195)  # pool5
    assert receptive_field(models["vgg16"], "features.28").size == (196, 196)  # conv5_3
    assert receptive_field(models["resnet18"], "layer4").size == (435, 435)
    assert receptive_field(models["resnet18"], "layer4").jump == (32, 32)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_output_sizes_match_torch(models, name):
    model = models[name]
    net = structural_copy(model)  # same geometry, one channel: fast
    size = 224
    layers = [r.name for r in receptive_field_table(model, size)]
    with record_layers(net, layers) as acts:
        net(torch.ones(1, 1, size, size, dtype=torch.float64))
    for row in receptive_field_table(model, size):
        assert tuple(acts[row.name].shape[2:]) == row.output_shape, row.name


@pytest.mark.parametrize("name", list(NETWORKS))
def test_analytic_equals_empirical_rf_for_every_conv(models, name):
    """The gradient support of the centre unit at input xn is exactly the analytic RF, centred."""
    model = models[name]
    for layer in _convs(model):
        n = xn(model, layer)
        grad = empirical_receptive_field(model, layer, n)
        top, bottom, left, right = rf_box(model, layer, n)
        assert support_box(grad) == (top, bottom, left, right), layer
        assert (grad[int(top) : int(bottom) + 1, int(left) : int(right) + 1] > 0).all(), layer
        assert top >= 0 and top + bottom == n - 1 and left + right == n - 1, layer  # centred
        size = receptive_field(model, layer).size
        assert (bottom - top + 1, right - left + 1) == size


def test_xn_is_the_smallest_centred_size(models):
    model = models["alexnet"]
    assert xn(model, "features.0") == 15
    assert xn(model, "features.3") == 63
    for layer in ("features.0", "features.3"):
        for n in range(receptive_field(model, layer).size[0], xn(model, layer)):
            top, bottom, left, right = rf_box(model, layer, n)
            assert top < 0 or top + bottom != n - 1  # RF cut by the border, or not centred


def test_full_width_network_gives_the_same_rf(models):
    model = models["alexnet"]
    n = xn(model, "features.3")
    full = structural_copy(model, single_channel=False)
    x = torch.ones(1, 3, n, n, dtype=torch.float64, requires_grad=True)
    with record_layers(full, "features.3", detach=False) as acts:
        full(x)
    c = center_position(model, "features.3", n)
    acts["features.3"][0, :, c[0], c[1]].sum().backward()
    thin = empirical_receptive_field(model, "features.3", n)
    assert support_box(x.grad.abs().sum(1)[0].numpy()) == support_box(thin)


def test_a_structure_only_network_gives_the_rf_of_the_real_one(models):
    real = alexnet()
    for layer in ("features.0", "features.3", "features.10"):
        n = xn(real, layer)
        np.testing.assert_array_equal(
            empirical_receptive_field(models["alexnet"], layer, n),
            empirical_receptive_field(real, layer, n),
        )
    with pytest.raises(ValueError, match="meta device.*structural=True"):
        empirical_receptive_field(models["alexnet"], "features.3", 63, structural=False)


def test_real_weights_see_at_most_the_analytic_rf():
    model = alexnet()
    grad = empirical_receptive_field(model, "features.6", 140, structural=False)
    top, bottom, left, right = support_box(grad)
    a_top, a_bottom, a_left, a_right = rf_box(model, "features.6", 140)
    assert a_top <= top and bottom <= a_bottom and a_left <= left and right <= a_right


def test_resnet_shortcut_sees_less_than_the_block(models):
    model = models["resnet18"]
    block = receptive_field(model, "layer2.0")
    shortcut = receptive_field(model, "layer2.0.downsample.0")
    main = receptive_field(model, "layer2.0.conv2")
    assert shortcut.size == (43, 43) and main.size == (67, 67)
    assert block.size == main.size  # union of the branches
    assert block.start == main.start == shortcut.start


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_dilation_padding_ceil_mode_and_same_padding():
    model = nn.Sequential(
        nn.Conv2d(1, 1, 3, dilation=2, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.Conv2d(1, 1, (3, 5), stride=(1, 2), padding=(1, 2)),
        nn.AvgPool2d(2),
        nn.Conv2d(1, 1, 4, padding="same"),
        nn.Conv2d(1, 1, 3, dilation=3),
    )
    rows = receptive_field_table(model, (77, 121))
    # by hand for the first layer: k_eff = 5, start = 0 + (2 - 1) = 1
    assert rows[0].size == (5, 5) and rows[0].start == (1.0, 1.0)
    net = structural_copy(model)
    with record_layers(net, [r.name for r in rows]) as acts:
        net(torch.ones(1, 1, 77, 121, dtype=torch.float64))
    for row in rows:
        assert tuple(acts[row.name].shape[2:]) == row.output_shape, row.name
    for layer in ("0", "2", "3", "4", "5", "6"):
        size = (77, 121)
        grad = empirical_receptive_field(model, layer, size)
        box = rf_box(model, layer, size)
        clipped = (max(box[0], 0), min(box[1], 76), max(box[2], 0), min(box[3], 120))
        assert support_box(grad) == clipped, layer


def test_unknown_and_non_spatial_layers(models):
    with pytest.raises(KeyError, match=r"features\.3"):
        receptive_field(models["alexnet"], "conv2")
    with pytest.raises(KeyError, match="no spatial receptive field"):
        receptive_field(models["alexnet"], "classifier.1")


def test_input_smaller_than_the_rf_quotes_xn(models):
    with pytest.raises(ValueError, match="xn = 63"):
        empirical_receptive_field(models["alexnet"], "features.3", 40)


def test_unsupported_layer_is_named():
    class Shuffle(nn.Module):
        def forward(self, x):
            return x.flip(-1)

    with pytest.raises(TypeError, match="Shuffle"):
        receptive_field_table(nn.Sequential(nn.Conv2d(1, 1, 3), Shuffle()))


def test_center_position_and_as_dict(models):
    assert center_position(models["alexnet"], "features.3", 63) == (3, 3)
    row = receptive_field(models["alexnet"], "features.3", 63).as_dict()
    assert row["size"] == 51 and row["jump"] == 8 and row["start"] == 7.0
    assert row["output_shape"] == 7 and np.isscalar(row["size"])


def test_rf_step_and_output_size_by_hand_and_against_torch():
    # AlexNet conv1 by hand: k 11, s 4, p 2 -> r 11, j 4, start = (11 - 1) / 2 - 2 = 3
    assert rf_step(1, 1, 0.0, 11, 4, 2) == (11, 4, 3.0)
    assert rf_step(11, 4, 3.0, 3, 2) == (19, 8, 7.0)  # then max pooling 3 / 2
    assert rf_step(1, 1, 0.0, 3, dilation=2, padding=2) == (5, 1, 0.0)
    rng = np.random.default_rng(0)
    for _ in range(40):
        n, k, s, d = rng.integers(8, 40), rng.integers(1, 6), rng.integers(1, 4), rng.integers(1, 3)
        p = int(rng.integers(0, k // 2 + 1))
        ceil = bool(rng.integers(0, 2))
        x = torch.zeros(1, 1, 1, int(n))
        conv = nn.functional.conv2d(
            x,
            torch.zeros(1, 1, 1, int(k)),
            stride=(1, int(s)),
            padding=(0, p),
            dilation=(1, int(d)),
        )
        assert conv_output_size(n, k, s, p, d) == conv.shape[-1]
        pool = nn.functional.max_pool2d(x, (1, int(k)), (1, int(s)), (0, p), (1, int(d)), ceil)
        assert conv_output_size(n, k, s, p, d, ceil) == pool.shape[-1]


def test_the_packages_own_cores():
    from artiphys_course.models.cores import SimpleConvCore, Stacked2dCore

    for core in (SimpleConvCore(), Stacked2dCore(1, 8, layers=3, depth_separable=True)):
        for layer in _convs(core):
            n = xn(core, layer)
            assert support_box(empirical_receptive_field(core, layer, n)) == rf_box(core, layer, n)


def test_off_centre_position_and_chosen_channels():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 3, 3))  # RF 5, jump 1
    box = rf_box(net, "2", 12, position=(1, 6))
    assert box == (1.0, 5.0, 6.0, 10.0)
    grad = empirical_receptive_field(net, "2", 12, position=(1, 6))
    assert support_box(grad) == box
    real = net.double()
    x = torch.randn(1, 1, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x.requires_grad_(True)
    real(x)[0, [0, 2], 3, 3].sum().backward()  # the centre unit of the 8x8 map
    got = empirical_receptive_field(real, "2", 12, channels=[0, 2], structural=False, images=x)
    np.testing.assert_allclose(got, x.grad.abs().sum(1)[0].numpy())


def test_training_model_is_probed_in_eval_mode_and_restored():
    from artiphys_course.runtime import ArtiphysWarning

    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Conv2d(2, 1, 3)).train()
    with pytest.warns(ArtiphysWarning, match="eval mode"):
        empirical_receptive_field(net, "2", 9, structural=False)
    assert net.training and net[1].training


@pytest.fixture(scope="module")
def googlenet() -> nn.Module:
    from artiphys_course.models.pretrained import load_pretrained

    return load_pretrained("googlenet", weights="untrained")


def test_vgg19_rf_sizes_by_hand():
    from torchvision.models import vgg19

    model = vgg19()
    # 3x3 convs add 2 jumps each, 2x2 pools 1 jump and double it: blocks of 2, 2, 4, 4, 4 convs
    sizes = [3, 5, 10, 14, 24, 32, 40, 48, 68, 84, 100, 116, 156, 188, 220, 252]
    jumps = [1, 1, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 16, 16, 16, 16]
    rows = {r.name: r for r in receptive_field_table(model, 224)}
    convs = _convs(model)
    assert [rows[n].size[0] for n in convs] == sizes
    assert [rows[n].jump[0] for n in convs] == jumps
    assert rows["features.36"].size == (268, 268) and rows["features.36"].jump == (32, 32)  # pool5
    assert rows["features.36"].output_shape == (7, 7)


def test_inception_branches_and_blocks(googlenet):
    # stem: conv1 7/2 -> 7, maxpool 3/2 -> 11 (jump 4), conv3 3x3 -> 19, maxpool 3/2 -> 27 (jump 8)
    rf = {r.name: r for r in receptive_field_table(googlenet, 224)}
    assert rf["maxpool2"].size == (27, 27) and rf["maxpool2"].jump == (8, 8)
    assert rf["inception3a.branch1"].size == (27, 27)  # a 1x1 conv sees what its input sees
    assert rf["inception3a.branch2.0"].size == (27, 27)
    assert rf["inception3a.branch2.1"].size == (43, 43)  # + a 3x3 conv at jump 8
    assert rf["inception3a.branch3.1"].size == (43, 43)  # torchvision's "5x5" branch is 3x3
    assert rf["inception3a.branch4.0"].size == (43, 43)  # 3x3 max pooling, stride 1
    assert rf["inception3a.branch4"].size == (43, 43)
    assert rf["inception3b.branch1"].size == (43, 43) and rf["inception3b"].size == (59, 59)
    for block in ("inception3a", "inception4a", "inception5b"):  # concatenation: largest branch
        branches = [rf[f"{block}.branch{b}"] for b in range(1, 5)]
        assert rf[block].size == max(b.size for b in branches)
        assert {b.start for b in branches} == {rf[block].start}
        assert rf[block].output_shape == branches[0].output_shape
    assert receptive_field(googlenet, "inception4a").size == (107, 107)
    with pytest.raises(KeyError, match="no spatial receptive field"):
        receptive_field(googlenet, "fc")


def test_inception_output_sizes_match_torch(googlenet):
    net = structural_copy(googlenet)  # one summed channel per conv: concatenation still works
    layers = [r.name for r in receptive_field_table(googlenet, 160)]
    with record_layers(net, layers) as acts:
        net(torch.ones(1, 1, 160, 160, dtype=torch.float64))
    for row in receptive_field_table(googlenet, 160):
        assert tuple(acts[row.name].shape[2:]) == row.output_shape, row.name


@pytest.mark.parametrize(
    "layer", ["inception3a.branch1", "inception3a.branch2.1", "inception3a", "inception3b"]
)
def test_inception_rf_contains_the_gradient_rf(googlenet, layer):
    n = xn(googlenet, layer)
    box = rf_box(googlenet, layer, n)
    # structural copy: the gradient support is exactly the analytic RF
    assert support_box(empirical_receptive_field(googlenet, layer, n)) == box
    # the untrained network's own weights (ReLUs, max pooling): inside the analytic RF
    grad = empirical_receptive_field(googlenet, layer, n, structural=False)
    top, bottom, left, right = support_box(grad)
    assert box[0] <= top and bottom <= box[1] and box[2] <= left and right <= box[3]
    assert (bottom - top + 1) * (right - left + 1) > 0.5 * (box[1] - box[0] + 1) ** 2
