"""What a neuron of a model is: response functions, layer units, selection, eval mode."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from artiphys_course.receptive_fields import center_position
from artiphys_course.runtime import ArtiphysWarning
from artiphys_course.units import (
    EVAL_NOTICE,
    LayerUnits,
    check_responses,
    eval_mode,
    grey_image,
    model_device,
    own_response_function,
    response_function,
    select_neurons,
)


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 3, 3), nn.Dropout(0.5)
    )


def test_grey_image_and_neuron_selection():
    assert grey_image((5, 6), 127.5).shape == (1, 1, 5, 6)
    assert torch.all(grey_image((5, 6), 127.5) == 127.5)
    assert torch.all(grey_image((3, 4, 4)) == 0)
    assert select_neurons(None, 3).tolist() == [0, 1, 2]
    assert select_neurons(2, 3).tolist() == [2]
    assert select_neurons(torch.tensor([2, 0]), 3).tolist() == [2, 0]
    with pytest.raises(IndexError, match=r"there are 3 units \(valid 0\.\.2\)"):
        select_neurons([0, 3], 3)
    with pytest.raises(IndexError, match="-1"):  # a negative index is an error, not "from the end"
        select_neurons(-1, 3)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        select_neurons([], 3)
    with pytest.raises(ValueError, match="image_shape must be >= 1, got 0"):
        grey_image((0, 4))


def test_eval_mode_restores_every_flag_on_error():
    model = small_cnn().train()
    model[1].eval()  # a mixed state must come back exactly
    with pytest.warns(ArtiphysWarning), pytest.raises(RuntimeError), eval_mode(model):
        assert not any(m.training for m in model.modules())
        raise RuntimeError("boom")
    assert model.training and not model[1].training and model[4].training


def test_eval_mode_notice_only_when_it_changes_results():
    model = small_cnn().train()  # training BatchNorm and Dropout
    with pytest.warns(ArtiphysWarning, match="eval mode") as record, eval_mode(model):
        pass
    assert str(record[0].message) == EVAL_NOTICE
    assert record[0].filename == __file__  # attributed to the caller's `with` line
    plain = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()).train()  # nothing changes in eval mode
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with eval_mode(plain):
            assert not plain.training
        with eval_mode(model.eval()):  # already in eval mode: silent
            pass
        with eval_mode(model.train(), notice=False):
            pass
        with eval_mode(lambda x: x):  # not a module: left alone
            pass


def test_eval_mode_makes_responses_independent_of_the_batch():
    """Why eval mode matters: in training mode a unit's response depends on the batch."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    x = torch.randn(8, 1, 9, 9, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert not torch.allclose(model(x[:1].repeat(2, 1, 1, 1))[0], model(x)[0])
        with pytest.warns(ArtiphysWarning), eval_mode(model):
            torch.testing.assert_close(model(x[:1])[0], model(x)[0], atol=1e-5, rtol=1e-5)


def test_layer_units_positions():
    net = small_cnn().eval()
    x = torch.randn(2, 1, 10, 10, generator=torch.Generator().manual_seed(1))
    full = net[:4](x).detach()  # (2, 3, 6, 6)
    with torch.no_grad():
        # the centre unit of an even map is the one receptive_fields.center_position names
        row, col = center_position(net, "3", (10, 10))
        assert (row, col) == (2, 2)
        torch.testing.assert_close(LayerUnits(net, "3")(x), full[:, :, row, col])
        torch.testing.assert_close(LayerUnits(net, "3", position=(1, 4))(x), full[:, :, 1, 4])
        torch.testing.assert_close(LayerUnits(net, "3", position="mean")(x), full.mean((2, 3)))
        torch.testing.assert_close(LayerUnits(net, "3", position="max")(x), full.amax((2, 3)))
        shifted = LayerUnits(net, "3", preprocess=lambda im: im + 1.0)(x)
        torch.testing.assert_close(shifted, net[:4](x + 1.0)[:, :, 2, 2])
    with pytest.raises(IndexError, match=r"outside the 6x6 feature map of '3' \(valid rows 0\.\.5"):
        LayerUnits(net, "3", position=(6, 0))(x)
    with pytest.raises(ValueError, match="position must be one of"):
        LayerUnits(net, "3", position="middle")
    with pytest.raises(KeyError, match="no layer '9'"):
        LayerUnits(net, "9")


def test_response_functions_select_layer_readout_or_output():
    net = small_cnn().eval()
    x = torch.randn(3, 1, 10, 10, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert isinstance(response_function(net, layer="3"), LayerUnits)
        torch.testing.assert_close(response_function(net, layer="3")(x), net[:4](x)[:, :, 2, 2])
        flat = response_function(net, readout=lambda out: out.flatten(1))(x)
        torch.testing.assert_close(flat, net(x).flatten(1))
        own = own_response_function(net, layer="3")(x, torch.tensor([2, 0, 1]))
        torch.testing.assert_close(own, net[:4](x)[[0, 1, 2], [2, 0, 1], 2, 2])
    with pytest.raises(ValueError, match="cannot be combined with readout"):
        response_function(net, layer="3", readout=lambda out: out)
    with pytest.raises(TypeError, match="readout must be callable"):
        response_function(net, readout=3)
    with pytest.raises(ValueError, match=r"shape \(batch=3, n_units\); got \(3, 3, 6, 6\)"):
        own_response_function(net)(x, torch.tensor([0, 0, 0]))


def test_check_responses():
    out = torch.zeros(4, 2)
    assert check_responses(out, 4) is out
    with pytest.raises(ValueError, match="batch=5"):
        check_responses(out, 5)
    with pytest.raises(ValueError, match="got tuple"):
        check_responses((out,), 4)


def test_model_device():
    assert model_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(nn.ReLU()) == torch.device("cpu")  # no parameters
    assert model_device(lambda x: x) == torch.device("cpu")
