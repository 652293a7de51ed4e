"""SENSORIUM 2022 checkpoints: strict loading, outputs, and the numerics of the original model.

The reference forward pass below is written independently from the original state dict (original
key names, plain functional ops, bilinear interpolation by hand), following the architecture of
neuralpredictors' Stacked2dCore + FullGaussian2d with the cortex grid predictor.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from artiphys_course.models.sensorium import (
    SENSORIUM_DATA_KEY,
    build_sensorium_model,
    convert_sensorium_state_dict,
    image_statistics,
    load_sensorium_model,
    standardize,
)

KINDS = {"sota": "sensorium_sota_model.pth", "ln": "sensorium_ln_model.pth"}


def _path(shared_data, kind):
    path = shared_data / "sensorium2022_pretrained" / KINDS[kind]
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return path


def _grey(n: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return 255 * torch.rand(n, 1, 36, 64, generator=g)


def _images(n: int = 4) -> torch.Tensor:
    grey = _grey(n)
    return standardize(grey, *image_statistics(grey))


def _reference_forward(sd: dict, images: torch.Tensor, linear: bool, neurons: list[int]):
    """Original architecture from the raw state dict: returns rates of ``neurons``."""
    x = images.double()
    n_layers = len({k.split(".")[2] for k in sd if k.startswith("core.features.layer")})
    for i in range(n_layers):
        p = f"core.features.layer{i}."
        if i == 0:
            x = F.conv2d(x, sd[p + "conv.weight"].double())  # no padding: 36x64 -> 28x56
        else:
            x = F.conv2d(x, sd[p + "ds_conv.in_depth_conv.weight"].double())
            w = sd[p + "ds_conv.spatial_conv.weight"].double()
            x = F.conv2d(x, w, padding=w.shape[-1] // 2, groups=w.shape[0])
            x = F.conv2d(x, sd[p + "ds_conv.out_depth_conv.weight"].double())
        x = F.batch_norm(
            x,
            sd[p + "norm.running_mean"].double(),
            sd[p + "norm.running_var"].double(),
            sd[p + "norm.weight"].double(),
            sd[p + "norm.bias"].double(),
            training=False,
            eps=1e-5,
        )
        if not linear:
            x = F.elu(x)
    r = f"readout.{SENSORIUM_DATA_KEY}."
    grid = sd[r + "source_grid"].double()
    hidden = F.elu(
        grid @ sd[r + "mu_transform.0.weight"].double().T + sd[r + "mu_transform.0.bias"]
    )
    mu = torch.tanh(
        hidden @ sd[r + "mu_transform.2.weight"].double().T + sd[r + "mu_transform.2.bias"]
    )
    mu = mu.clamp(-1, 1)
    h, w = x.shape[-2:]
    features = sd[r + "_features"].double()[0, :, 0, :]  # (channels, neurons)
    out = []
    for n in neurons:
        col = (mu[n, 0].item() + 1) / 2 * (w - 1)  # align_corners=True
        row = (mu[n, 1].item() + 1) / 2 * (h - 1)
        r0, c0 = int(np.floor(row)), int(np.floor(col))
        fr, fc = row - r0, col - c0
        r1, c1 = min(r0 + 1, h - 1), min(c0 + 1, w - 1)
        value = (
            (1 - fr) * (1 - fc) * x[:, :, r0, c0]
            + (1 - fr) * fc * x[:, :, r0, c1]
            + fr * (1 - fc) * x[:, :, r1, c0]
            + fr * fc * x[:, :, r1, c1]
        )  # (batch, channels)
        drive = value @ features[:, n] + sd[r + "bias"][n].double()
        out.append(F.elu(drive) + 1)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("kind", ["sota", "ln"])
def test_checkpoint_loads_strictly_and_predicts_positive_rates(shared_data, kind):
    model = load_sensorium_model(kind, path=_path(shared_data, kind))
    assert not model.training
    assert model.data_keys == [SENSORIUM_DATA_KEY]
    with torch.no_grad():
        rates = model(_images())
    assert rates.shape == (4, 7776)
    assert torch.isfinite(rates).all() and (rates > 0).all()
    assert rates.std(0).mean() > 0  # different images, different responses
    with pytest.raises(ValueError, match=r"\(batch, 1, 36, 64\)"):
        model(torch.zeros(1, 1, 72, 128))


@pytest.mark.parametrize("kind", ["sota", "ln"])
def test_forward_pass_matches_the_original_architecture(shared_data, kind):
    path = _path(shared_data, kind)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    model = load_sensorium_model(kind, path=path).double()
    images = _images(3)
    neurons = [0, 17, 1234, 7775]
    with torch.no_grad():
        got = model(images.double())[:, neurons]
        expected = _reference_forward(sd, images, linear=kind == "ln", neurons=neurons)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-9, atol=1e-9)


def test_state_dict_mapping_covers_every_key(shared_data):
    sd = torch.load(_path(shared_data, "sota"), map_location="cpu", weights_only=True)
    converted = convert_sensorium_state_dict(sd)
    model = build_sensorium_model("sota")
    assert set(converted) == set(model.state_dict())
    for key, value in converted.items():
        assert value.shape == model.state_dict()[key].shape, key
    assert len(sd) - 1 + 2 == len(converted)  # drop the Laplace buffer, add 2 normalisation buffers
    with pytest.raises(KeyError, match="unexpected key"):
        convert_sensorium_state_dict({"readout.x.unknown": torch.zeros(1)})


def test_load_from_the_cache_and_clear_errors(shared_data, tmp_data_dir):
    from artiphys_course.data.registry import DataUnavailableError, local_path

    with pytest.raises(DataUnavailableError, match="sensorium_ln_model"):
        load_sensorium_model("ln")  # offline, empty cache
    target = local_path("sensorium_ln_model")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_path(shared_data, "ln"), target)
    model = load_sensorium_model("ln")
    assert model.n_neurons() == 7776
    with pytest.raises(FileNotFoundError):
        load_sensorium_model("sota", path=tmp_data_dir / "missing.pth")
    with pytest.raises(ValueError, match="choose one of"):
        load_sensorium_model("cnn")


def test_load_from_an_explicit_damaged_file_names_it(tmp_path):
    import os

    from artiphys_course.data.registry import UnreadableFileError

    junk = tmp_path / "junk.pth"
    junk.write_bytes(os.urandom(5000))  # torch alone raises UnpicklingError / IndexError here
    with pytest.raises(UnreadableFileError) as info:
        load_sensorium_model("sota", path=junk)
    message = str(info.value)
    assert str(junk) in message and "artiphys fetch sensorium_sota_model" in message
    assert "weights_only=False" not in message
    not_sensorium = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, not_sensorium)
    with pytest.raises(ValueError, match="not a SENSORIUM checkpoint"):
        load_sensorium_model("sota", path=not_sensorium)
    torch.save([torch.zeros(1)], not_sensorium)
    with pytest.raises(ValueError, match="not a state dict"):
        load_sensorium_model("sota", path=not_sensorium)


def _alone_equals_in_batch(model: torch.nn.Module, grey: torch.Tensor) -> None:
    # images of different brightness and contrast: per-batch statistics would differ a lot
    grey = grey * torch.linspace(0.2, 1.0, len(grey)).view(-1, 1, 1, 1)
    stats = image_statistics(grey)  # of the whole stimulus set, once
    with torch.no_grad():
        in_batch = model(standardize(grey, *stats))
        for i in (0, len(grey) - 1):
            alone = model(standardize(grey[i : i + 1], *stats))
            torch.testing.assert_close(alone[0], in_batch[i], rtol=1e-5, atol=1e-6)
    # z-scoring each batch with its own statistics (the old behaviour) would not be invariant
    with torch.no_grad():
        own = model((grey[:1] - grey[:1].mean()) / grey[:1].std())
    assert (own[0] - in_batch[0]).abs().max() > 100 * (1e-5 * in_batch[0].abs().max() + 1e-6)


def test_prediction_of_an_image_does_not_depend_on_its_batch():
    from artiphys_course.runtime import seeded

    with seeded(0):
        model = build_sensorium_model("sota", n_neurons=12, hidden_channels=8)
        for module in model.modules():  # non-trivial BatchNorm statistics
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        model.readout[SENSORIUM_DATA_KEY].features.data.normal_(0, 1)
    _alone_equals_in_batch(model.eval(), _grey(5))


def test_real_checkpoint_predicts_an_image_alone_as_in_a_batch(shared_data):
    model = load_sensorium_model("sota", path=_path(shared_data, "sota"))
    _alone_equals_in_batch(model, _grey(5))


def test_fixed_statistics():
    grey = _grey(3).numpy()
    mean, std = image_statistics(grey)
    assert mean == pytest.approx(grey.astype(np.float64).mean())
    assert std == pytest.approx(grey.astype(np.float64).std())
    out = standardize(torch.as_tensor(grey), mean, std)
    assert out.dtype == torch.float32
    assert float(out.mean()) == pytest.approx(0, abs=1e-5)
    assert float(out.std(unbiased=False)) == pytest.approx(1, abs=1e-5)
    with pytest.raises(ValueError, match="std must be"):
        standardize(torch.as_tensor(grey), mean, 0.0)
    with pytest.raises(ValueError, match="mean must be"):
        standardize(torch.as_tensor(grey), float("nan"), 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        image_statistics(np.zeros(1))
