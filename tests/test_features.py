"""Tests of feature extraction from named CNN layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.v2 as T
from torch import nn

from artiphys_course.features import (
    ALEXNET_LAYERS,
    GOOGLENET_LAYERS,
    VGG19_LAYERS,
    FeatureExtractor,
    extract_features,
    to_network_input,
)
from artiphys_course.models.pretrained import IMAGENET_MEAN, IMAGENET_STD, load_pretrained


@pytest.fixture(scope="module")
def alexnet():
    return load_pretrained("alexnet", weights="untrained", seed=0)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 255, size=(7, 1, 40, 48)).astype(np.float32)


class _Counter:
    """Counts forward calls of a module."""

    def __init__(self, module: nn.Module):
        self.calls = 0
        module.register_forward_hook(self)

    def __call__(self, *_):
        self.calls += 1


def test_network_input_matches_torchvision_transforms(images):
    got = to_network_input(images, (64, 80))
    x = torch.from_numpy(images).repeat(1, 3, 1, 1) / 255.0
    reference = T.Compose(
        [T.Resize((64, 80), antialias=True), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )
    torch.testing.assert_close(got, reference(x), rtol=1e-5, atol=1e-5)
    raw = to_network_input(images, normalize=False)
    assert raw.shape == (7, 3, 40, 48) and torch.equal(raw[:, 0], raw[:, 2])
    assert float(raw.max()) <= 1.0
    with pytest.raises(ValueError, match="grey levels"):
        to_network_input(images[:, 0])


def test_features_equal_the_network_slices_and_skip_the_classifier(alexnet, images):
    counter = _Counter(alexnet.classifier)
    layers = {"conv1": ALEXNET_LAYERS["conv1"], "conv3": ALEXNET_LAYERS["conv3"]}
    feats = extract_features(alexnet, images, layers, image_shape=96, batch_size=3, progress=False)
    assert counter.calls == 0  # truncated after conv3: nothing later runs
    x = to_network_input(images, 96)
    with torch.no_grad():
        conv1 = alexnet.features[:2](x).numpy()
        conv3 = alexnet.features[:8](x).numpy()
    np.testing.assert_allclose(feats["conv1"], conv1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(feats["conv3"], conv3, rtol=1e-4, atol=1e-5)
    assert feats["conv1"].dtype == np.float32
    with pytest.raises(ValueError, match="images is empty"):
        extract_features(alexnet, images[:0], layers, image_shape=96, progress=False)


def test_pooling_is_adaptive_average_pooling(alexnet, images):
    full = extract_features(alexnet, images, ["features.1"], image_shape=96, progress=False)
    pooled = extract_features(
        alexnet, images, ["features.1", "features.7"], image_shape=96, pool=6, progress=False
    )
    expected = nn.functional.adaptive_avg_pool2d(torch.from_numpy(full["features.1"]), 6)
    assert full["features.1"].shape == (7, 64, 23, 23)
    np.testing.assert_allclose(pooled["features.1"], expected.numpy(), rtol=1e-5, atol=1e-6)
    # maps smaller than the pool size are kept as they are (conv3 is 5 x 5 here)
    assert pooled["features.7"].shape == (7, 384, 5, 5)


def test_own_models_without_transform():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    x = torch.randn(5, 1, 8, 8)
    feats = extract_features(net, x, {"relu": "1", "out": "3"}, transform=None, progress=False)
    with torch.no_grad():
        np.testing.assert_allclose(feats["out"], net(x).numpy(), rtol=1e-6)
        np.testing.assert_allclose(feats["relu"], net[:2](x).numpy(), rtol=1e-6)
    with pytest.raises(KeyError, match="Valid names"):
        extract_features(net, x, ["conv9"], transform=None, progress=False)
    with pytest.raises(ValueError, match="transform"):
        extract_features(net, x, ["1"], transform="resnet", progress=False)


def test_extractor_caches_in_memory_and_on_disk_only_where_asked(
    alexnet, images, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    counter = _Counter(alexnet.features[0])
    extractor = FeatureExtractor(alexnet, ALEXNET_LAYERS, image_shape=72, pool=3)
    first = extractor(images, progress=False)
    calls = counter.calls
    assert calls >= 1
    again = extractor(images, progress=False)
    assert counter.calls == calls and again is first  # from memory
    assert list(tmp_path.iterdir()) == []  # nothing written
    changed = extractor(images[:4], progress=False)  # other images: computed
    assert counter.calls > calls and changed["conv5"].shape[0] == 4

    disk = FeatureExtractor(alexnet, ALEXNET_LAYERS, image_shape=72, pool=3, cache_dir="feats")
    stored = disk(images, progress=False)
    files = list((tmp_path / "feats").glob("*.npz"))
    assert len(files) == 1
    calls = counter.calls
    reloaded = FeatureExtractor(alexnet, ALEXNET_LAYERS, image_shape=72, pool=3, cache_dir="feats")
    from_disk = reloaded(images, progress=False)
    assert counter.calls == calls
    for label in ALEXNET_LAYERS:
        np.testing.assert_array_equal(from_disk[label], stored[label])
        np.testing.assert_allclose(stored[label], first[label], rtol=1e-6, atol=1e-7)
    with pytest.raises(TypeError, match="unknown options"):
        FeatureExtractor(alexnet, ALEXNET_LAYERS, input_sise=72)


def test_vgg19_labels_are_the_relus_after_each_conv():
    from torchvision.models import vgg19

    features = vgg19().features
    convs = [i for i, m in enumerate(features) if isinstance(m, nn.Conv2d)]
    assert list(VGG19_LAYERS.values()) == [f"features.{i + 1}" for i in convs]
    assert all(isinstance(features[int(n.split(".")[1])], nn.ReLU) for n in VGG19_LAYERS.values())
    assert list(VGG19_LAYERS)[4] == "conv3_1" and "conv5_4" in VGG19_LAYERS


def test_googlenet_branches_and_blocks(images):
    net = load_pretrained("googlenet", weights="untrained", seed=0)
    counter = _Counter(net.inception3b)
    layers = {"3a.b2": "inception3a.branch2.1", "3a": GOOGLENET_LAYERS["inception3a"]}
    feats = extract_features(net, images, layers, image_shape=64, batch_size=4, progress=False)
    assert counter.calls == 0  # stopped after inception3a
    block = net.inception3a
    assert feats["3a"].shape == (7, 64 + 128 + 32 + 32, 8, 8)
    assert feats["3a.b2"].shape == (7, 128, 8, 8)
    # the block concatenates its branches: branch 2 follows branch 1's 64 channels
    np.testing.assert_array_equal(feats["3a"][:, 64:192], feats["3a.b2"])
    x = to_network_input(images, 64)
    with torch.no_grad():
        stem = nn.Sequential(net.conv1, net.maxpool1, net.conv2, net.conv3, net.maxpool2)
        expected = block(stem(net._transform_input(x))).numpy()
    np.testing.assert_allclose(feats["3a"], expected, rtol=1e-4, atol=1e-5)
    assert set(GOOGLENET_LAYERS.values()) <= set(dict(net.named_modules()))
