"""Pretrained torchvision nets: official cache, partial AlexNet checkpoint, untrained fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from artiphys_course.models.pretrained import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    imagenet_normalize,
    load_pretrained,
)

PARTIAL = "alexnet_conv1-3_torchvision_imagenet.pth"


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """An empty torch hub cache, so no official weights are found."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_partial_checkpoint_from_an_explicit_path(shared_data, tmp_data_dir, empty_hub, capsys):
    raw = torch.load(shared_data / PARTIAL, map_location="cpu", weights_only=True)
    model = load_pretrained("alexnet", path=shared_data / PARTIAL)
    assert "conv1-conv3" in capsys.readouterr().out
    assert model.weights_source.startswith("partial")
    for key in ("features.0.weight", "features.0.bias", "features.3.weight", "features.6.bias"):
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), raw[key].numpy())
    untrained = load_pretrained("alexnet", weights="untrained")
    conv4, conv4_untrained = model.features[8].weight, untrained.features[8].weight
    np.testing.assert_array_equal(conv4.detach().numpy(), conv4_untrained.detach().numpy())
    assert not model.training


def test_partial_checkpoint_found_in_the_data_folder(shared_data, tmp_data_dir, empty_hub, capsys):
    from artiphys_course.data.registry import import_file

    import_file(shared_data / PARTIAL)
    model = load_pretrained("alexnet")
    assert model.weights_source.startswith("partial")
    assert "ImageNet weights" in capsys.readouterr().out
    # pretrained conv1 filters are smooth: neighbouring weights are strongly correlated
    w = model.features[0].weight.detach()
    r = np.corrcoef(w[..., :-1].flatten(), w[..., 1:].flatten())[0, 1]
    assert r > 0.5


def test_untrained_fallback_says_so(tmp_data_dir, empty_hub, capsys):
    model = load_pretrained("resnet18")
    assert model.weights_source == "untrained"
    assert "UNTRAINED" in capsys.readouterr().out
    again = load_pretrained("resnet18", weights="untrained")
    assert capsys.readouterr().out == ""
    np.testing.assert_array_equal(model.conv1.weight.detach(), again.conv1.weight.detach())
    other = load_pretrained("resnet18", weights="untrained", seed=1)
    assert not torch.equal(other.conv1.weight, model.conv1.weight)


def test_official_weights_from_the_torch_hub_cache(tmp_data_dir, empty_hub, capsys):
    reference = torchvision.models.resnet18()
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    (empty_hub / "checkpoints").mkdir(parents=True)
    torch.save(reference.state_dict(), empty_hub / "checkpoints" / url.split("/")[-1])
    model = load_pretrained("resnet18", weights="imagenet")
    assert model.weights_source == "imagenet"
    assert capsys.readouterr().out == ""
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value.numpy())


def test_errors(tmp_data_dir, empty_hub):
    with pytest.raises(KeyError, match="resnet18"):
        load_pretrained("resnet50")
    with pytest.raises(ValueError, match="auto"):
        load_pretrained("alexnet", weights="best")
    with pytest.raises(ValueError, match="AlexNet only"):
        load_pretrained("vgg16", weights="partial")
    with pytest.raises(FileNotFoundError, match="torch hub"):
        load_pretrained("alexnet", weights="imagenet")
    with pytest.raises(FileNotFoundError, match="import_file"):
        load_pretrained("alexnet", weights="partial")
    with pytest.raises(FileNotFoundError, match="no partial"):
        load_pretrained("alexnet", path=tmp_data_dir / "missing.pth")


def test_imagenet_normalize_matches_torchvision():
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    expected = torchvision.transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(images)
    np.testing.assert_allclose(imagenet_normalize(images), expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        imagenet_normalize(images[:, :1])
