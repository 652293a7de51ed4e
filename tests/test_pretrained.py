"""Pretrained torchvision nets: torch hub cache, downloads (faked), damaged files, fallbacks."""

from __future__ import annotations

import contextlib
import hashlib
import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from artiphys_course.data.registry import DataUnavailableError
from artiphys_course.models import pretrained
from artiphys_course.models.pretrained import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    NETWORKS,
    fetch_weights,
    imagenet_normalize,
    import_weights,
    load_pretrained,
    official_weights_path,
    weights_status,
)
from artiphys_course.runtime import ArtiphysWarning

PARTIAL = "alexnet_conv1-3_torchvision_imagenet.pth"


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """An empty torch hub cache, so no official weights are found."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.fixture
def online(monkeypatch, tmp_data_dir):
    """Downloads allowed, and every host answers the probe (the downloads themselves are faked)."""
    monkeypatch.delenv("ARTIPHYS_OFFLINE")
    monkeypatch.setattr(pretrained, "url_answers", lambda url: True)


def _resnet18_file(path) -> dict:
    """Save a (randomly initialised) ResNet18 state dict at ``path``; return it."""
    reference = torchvision.models.resnet18().state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(reference, path)
    return reference


def _accept_any_hash(monkeypatch, network: str, path) -> None:
    """Make the SHA-256 prefix expected for ``network`` the one of the file at ``path``."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    real = pretrained._hash_prefix
    monkeypatch.setattr(
        pretrained, "_hash_prefix", lambda name: digest if name == network else real(name)
    )


@contextlib.contextmanager
def _no_notice():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ArtiphysWarning)
        yield


def test_partial_checkpoint_from_an_explicit_path(shared_data, tmp_data_dir, empty_hub):
    raw = torch.load(shared_data / PARTIAL, map_location="cpu", weights_only=True)
    with pytest.warns(ArtiphysWarning, match="conv1-conv3") as record:
        model = load_pretrained("alexnet", path=shared_data / PARTIAL)
    message = str(record[0].message)
    assert "ARTIPHYS_OFFLINE" in message and "artiphys fetch alexnet" in message
    assert model.weights_source.startswith("partial")
    for key in ("features.0.weight", "features.0.bias", "features.3.weight", "features.6.bias"):
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), raw[key].numpy())
    untrained = load_pretrained("alexnet", weights="untrained")
    conv4, conv4_untrained = model.features[8].weight, untrained.features[8].weight
    np.testing.assert_array_equal(conv4.detach().numpy(), conv4_untrained.detach().numpy())
    assert not model.training


def test_partial_checkpoint_found_in_the_data_folder(shared_data, tmp_data_dir, empty_hub):
    from artiphys_course.data.registry import import_file

    import_file(shared_data / PARTIAL)
    with pytest.warns(ArtiphysWarning, match="ImageNet weights"):
        model = load_pretrained("alexnet")
    assert model.weights_source.startswith("partial")
    # pretrained conv1 filters are smooth: neighbouring weights are strongly correlated
    w = model.features[0].weight.detach()
    r = np.corrcoef(w[..., :-1].flatten(), w[..., 1:].flatten())[0, 1]
    assert r > 0.5
    rows = {row.network: row.weights for row in weights_status()}
    assert rows == {name: "partial" if name == "alexnet" else "untrained" for name in NETWORKS}


def test_untrained_fallback_says_so(tmp_data_dir, empty_hub):
    with pytest.warns(ArtiphysWarning, match="UNTRAINED") as record:
        model = load_pretrained("resnet18")
    assert "artiphys fetch resnet18" in str(record[0].message)
    assert model.weights_source == "untrained"
    with _no_notice():
        again = load_pretrained("resnet18", weights="untrained")
    np.testing.assert_array_equal(model.conv1.weight.detach(), again.conv1.weight.detach())
    other = load_pretrained("resnet18", weights="untrained", seed=1)
    assert not torch.equal(other.conv1.weight, model.conv1.weight)
    with pytest.raises(TypeError, match="seed"):
        load_pretrained("resnet18", weights="untrained", seed=None)


def test_official_weights_from_the_torch_hub_cache(tmp_data_dir, empty_hub):
    reference = _resnet18_file(official_weights_path("resnet18"))
    with _no_notice():
        model = load_pretrained("resnet18", weights="imagenet")
    assert model.weights_source == "imagenet"
    for key, value in reference.items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value.numpy())


@pytest.mark.parametrize("damage", ["truncated", "other network"])
def test_damaged_hub_file_is_removed_and_falls_back(tmp_data_dir, empty_hub, damage):
    path = official_weights_path("resnet18")
    _resnet18_file(path)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    else:
        torch.save(torchvision.models.alexnet().state_dict(), path)
    with pytest.warns(ArtiphysWarning) as record:
        model = load_pretrained("resnet18")
    messages = [str(r.message) for r in record]
    assert any(str(path) in m for m in messages)  # the damaged file is named
    assert "weights_only=False" not in " ".join(messages)
    assert any("UNTRAINED" in m for m in messages)
    assert model.weights_source == "untrained" and not path.exists()


def test_auto_downloads_when_online(online, empty_hub, monkeypatch):
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        _resnet18_file(Path(dst))

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    with _no_notice():
        model = load_pretrained("resnet18")
    assert model.weights_source == "imagenet"
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    assert calls == [(url, "f37072fd")]
    # cached now: no second download
    load_pretrained("resnet18")
    assert len(calls) == 1
    # a damaged cached copy is reported, removed and downloaded once more
    official_weights_path("resnet18").write_bytes(b"truncated")
    with pytest.warns(ArtiphysWarning, match="cannot be read"):
        assert load_pretrained("resnet18").weights_source == "imagenet"
    assert len(calls) == 2
    # a mirror replaces the torchvision address
    official_weights_path("resnet18").unlink()
    monkeypatch.setenv("ARTIPHYS_MIRROR", "http://127.0.0.1:9/course/")
    load_pretrained("resnet18")
    assert calls[-1][0] == "http://127.0.0.1:9/course/resnet18-f37072fd.pth"


def test_failed_download_falls_back_with_a_notice(online, empty_hub, monkeypatch):
    def no_network(url, dst, hash_prefix=None, progress=True):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.warns(ArtiphysWarning, match="no route to host"):
        model = load_pretrained("resnet18", download=True)
    assert model.weights_source == "untrained"
    with pytest.raises(FileNotFoundError, match="no route to host"):
        load_pretrained("resnet18", weights="imagenet")
    with pytest.raises(DataUnavailableError, match="resnet18-f37072fd.pth"):
        fetch_weights(["resnet18"])
    # download=False never calls the network
    monkeypatch.setattr(torch.hub, "download_url_to_file", None)
    with pytest.warns(ArtiphysWarning, match="download=False"):
        load_pretrained("resnet18", download=False)


def test_a_host_that_does_not_answer_is_not_waited_for(tmp_data_dir, empty_hub, monkeypatch):
    import socket

    from artiphys_course.data import registry

    monkeypatch.delenv("ARTIPHYS_OFFLINE")
    monkeypatch.setattr(registry, "_PROBES", {})
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ARTIPHYS_MIRROR", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(torch.hub, "download_url_to_file", None)  # would raise if called
    with pytest.warns(ArtiphysWarning, match="does not answer") as record:
        model = load_pretrained("resnet18")
    assert f"127.0.0.1:{port}/resnet18-f37072fd.pth" in str(record[0].message)
    assert model.weights_source == "untrained"


def test_fetch_weights_offline_and_cached(tmp_data_dir, empty_hub, monkeypatch):
    with pytest.raises(DataUnavailableError, match="ARTIPHYS_OFFLINE"):
        fetch_weights(["alexnet"])
    with pytest.raises(KeyError, match="resnet18"):
        fetch_weights(["resnet50"])
    path = official_weights_path("resnet18")
    _resnet18_file(path)
    _accept_any_hash(monkeypatch, "resnet18", path)
    assert fetch_weights(["resnet18"]) == {"resnet18": path}  # verified, nothing downloaded


def test_import_weights_checks_the_hash(tmp_data_dir, empty_hub, tmp_path, monkeypatch):
    usb = tmp_path / "usb" / "torchvision"
    good = usb / "resnet18-f37072fd.pth"
    _resnet18_file(good)
    torch.save({"x": torch.zeros(1)}, usb / "vgg16-397923af.pth")  # wrong contents
    (usb / "other.pth").write_bytes(b"ignored")
    _accept_any_hash(monkeypatch, "resnet18", good)
    with pytest.warns(ArtiphysWarning, match="vgg16"):
        imported = import_weights(tmp_path / "usb")
    assert imported == {"resnet18": official_weights_path("resnet18")}
    assert official_weights_path("resnet18").read_bytes() == good.read_bytes()
    assert not official_weights_path("vgg16").exists()
    rows = {row.network: row for row in weights_status()}
    assert list(rows) == list(NETWORKS)
    assert rows["resnet18"].weights == "imagenet" and rows["resnet18"].advice == ""
    assert rows["vgg16"].weights == "untrained" and not rows["vgg16"].downloads
    assert "artiphys fetch vgg16" in rows["vgg16"].advice
    with pytest.raises(FileNotFoundError):
        import_weights(tmp_path / "absent")


def test_errors(tmp_data_dir, empty_hub):
    with pytest.raises(KeyError, match="resnet18"):
        load_pretrained("resnet50")
    with pytest.raises(ValueError, match="auto"):
        load_pretrained("alexnet", weights="best")
    with pytest.raises(ValueError, match="AlexNet only"):
        load_pretrained("vgg16", weights="partial")
    with pytest.raises(FileNotFoundError, match="torch hub"):
        load_pretrained("alexnet", weights="imagenet")
    with pytest.raises(FileNotFoundError, match="fetch --from"):
        load_pretrained("alexnet", weights="partial")
    with pytest.raises(FileNotFoundError, match="no partial"):
        load_pretrained("alexnet", path=tmp_data_dir / "missing.pth")


def test_imagenet_normalize_matches_torchvision():
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    expected = torchvision.transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(images)
    np.testing.assert_allclose(imagenet_normalize(images), expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        imagenet_normalize(images[:, :1])


@pytest.mark.parametrize("name", ["vgg19", "googlenet"])
def test_vgg19_and_googlenet_load_official_weights_and_fall_back(tmp_data_dir, empty_hub, name):
    # VGG-19 holds 0.57 GB of weights: at most two copies are alive at a time (the suite < 4 GB)
    with pytest.warns(ArtiphysWarning, match=f"artiphys fetch {name}"):
        model = load_pretrained(name)
    assert model.weights_source == "untrained" and not model.training
    del model
    # an official-format file (the same architecture, other weights) is read from the hub cache
    builder, options = pretrained._builder(name), pretrained._BUILD_OPTIONS.get(name, {})
    full = builder(weights=None, **options)  # with GoogLeNet's auxiliary heads, as the file has
    full.load_state_dict(load_pretrained(name, weights="untrained", seed=3).state_dict(), False)
    expected = {k: (v.sum().item(), v.square().sum().item()) for k, v in full.state_dict().items()}
    official_weights_path(name).parent.mkdir(parents=True)
    torch.save(full.state_dict(), official_weights_path(name))
    del full
    with _no_notice():
        loaded = load_pretrained(name, weights="imagenet")
    assert loaded.weights_source == "imagenet"
    for key, value in loaded.state_dict().items():  # the seed-3 weights, tensor by tensor
        assert (value.sum().item(), value.square().sum().item()) == pytest.approx(expected[key])
    if name == "googlenet":  # auxiliary heads removed; inputs standardised as for the others
        assert loaded.aux1 is None and loaded.aux2 is None and loaded.transform_input
        assert "inception3a.branch2.1.conv" in dict(loaded.named_modules())
    with torch.no_grad():
        assert loaded(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)
