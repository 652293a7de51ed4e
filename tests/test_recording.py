"""Recording: layer names, hooks that always go away, truncation that stops the forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import alexnet, resnet18

from artiphys_course.recording import (
    forward_until,
    get_layer,
    list_layers,
    record_layers,
    truncate,
)


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return alexnet().eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(2, 3, 67, 67, generator=torch.Generator().manual_seed(1))


def _n_hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_list_layers_gives_dotted_leaf_names(net):
    names = list_layers(net)
    assert names[:4] == ["features.0", "features.1", "features.2", "features.3"]
    assert "classifier.6" in names and "features" not in names
    assert "features" in list_layers(net, leaves_only=False)
    assert "layer2.0.conv1" in list_layers(resnet18())


def test_recorded_activations_equal_the_layers_own_output(net, images):
    with record_layers(net, ["features.0", "features.3"]) as acts:
        net(images)
    with torch.no_grad():
        conv1 = net.features[0](images)
        conv2 = net.features[3](net.features[2](torch.relu(conv1)))
    # features.0 is followed by ReLU(inplace=True): the recording must still be pre-ReLU
    assert (acts["features.0"] < 0).any()
    np.testing.assert_allclose(acts["features.0"], conv1, atol=1e-5)
    np.testing.assert_allclose(acts["features.3"], conv2, atol=1e-4)
    assert not acts["features.3"].requires_grad


def test_hooks_are_removed_on_exit_and_when_forward_raises(net, images):
    before = _n_hooks(net)
    with record_layers(net, "features.0"):
        assert _n_hooks(net) > before
        net(images)
    assert _n_hooks(net) == before
    with pytest.raises(RuntimeError), record_layers(net, ["features.0", "features.6"]):
        net(images[:, :2])  # wrong number of channels: conv1 raises
    assert _n_hooks(net) == before


def test_detach_false_keeps_the_graph(net, images):
    x = images[:1].clone().requires_grad_(True)
    with record_layers(net, "features.0", detach=False) as acts:
        net(x)
    acts["features.0"][0, 0, 3, 3].backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_shared_module_is_recorded_at_its_first_call():
    model = resnet18().eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with record_layers(model, ["layer1.0.relu", "maxpool"]) as acts:
        model(x)
    block = model.layer1[0]
    with torch.no_grad():
        expected = torch.relu(block.bn1(block.conv1(acts["maxpool"])))
    np.testing.assert_allclose(acts["layer1.0.relu"], expected, atol=1e-5)


def test_unknown_layer_lists_the_valid_names(net):
    with pytest.raises(KeyError, match=r"features\.3") as err:
        with record_layers(net, "features.33"):
            pass
    assert "Did you mean" in str(err.value)
    with pytest.raises(KeyError, match="classifier"):
        get_layer(net, "fc")


def test_truncate_returns_the_layer_output_and_computes_nothing_after_it(net, images):
    calls = []
    later = net.features[4].register_forward_hook(lambda *a: calls.append(1))
    try:
        out = truncate(net, "features.3")(images)
    finally:
        later.remove()
    assert calls == []
    with record_layers(net, "features.3") as acts:
        net(images)
    np.testing.assert_allclose(out.detach(), acts["features.3"], atol=1e-5)
    assert _n_hooks(net) == 0


def test_truncate_works_inside_resnet_blocks():
    model = resnet18().eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    out = truncate(model, "layer2.0.conv1")(x)
    with record_layers(model, "layer2.0.conv1") as acts:
        model(x)
    assert out.shape == (1, 128, 8, 8)
    np.testing.assert_allclose(out.detach(), acts["layer2.0.conv1"], atol=1e-5)


def test_forward_until_a_layer_input_stops_before_it(net, images):
    calls = []
    at_conv = net.features[3].register_forward_hook(lambda *a: calls.append(1))
    try:
        before = forward_until(net, "features.3", images, at="input")
    finally:
        at_conv.remove()
    assert calls == [] and _n_hooks(net) == 0
    with record_layers(net, "features.2") as acts:  # the max pool feeding conv2
        net(images)
    np.testing.assert_allclose(before.detach(), acts["features.2"], atol=1e-6)
    with pytest.raises(ValueError, match="'output' or 'input'"):
        forward_until(net, "features.3", images, at="middle")


def test_forward_until_a_layer_that_is_never_called():
    model = nn.ModuleDict({"used": nn.Conv2d(1, 1, 1), "unused": nn.ReLU()})
    model.forward = lambda x: model["used"](x)  # instance attribute: nn.Module calls it
    with pytest.raises(RuntimeError, match="'unused' was not called"):
        forward_until(model, "unused", torch.zeros(1, 1, 3, 3))
    assert _n_hooks(model) == 0


def test_truncate_leaves_the_training_flags_alone():
    model = resnet18()  # training mode, has BatchNorm
    truncate(model, "layer1")
    assert model.training and model.bn1.training


def test_truncate_a_package_core():
    from artiphys_course.models.cores import SimpleConvCore

    core = SimpleConvCore().eval()
    x = torch.randn(2, 1, 36, 64, generator=torch.Generator().manual_seed(4))
    with record_layers(core, "features.0.pool") as acts:
        core(x)
    out = truncate(core, "features.0.pool")(x).detach()
    assert out.shape == (2, 16, 18, 32)
    np.testing.assert_allclose(out, acts["features.0.pool"], atol=1e-6)


def test_submodules_called_directly_are_recorded_every_time(net, images):
    with record_layers(net, "features.0") as acts:
        net.features(images[:1])
        first = acts["features.0"]
        net.features(images[1:])
    assert not torch.equal(first, acts["features.0"])
    np.testing.assert_allclose(acts["features.0"], net.features[0](images[1:]).detach(), atol=1e-5)
