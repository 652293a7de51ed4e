"""Normative tilt CNN: gratings and labels, initial filters, training > 90 %, recorded layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artiphys_course.features import extract_features
from artiphys_course.models.normative import (
    LAYERS,
    TiltCNN,
    center_surround_filter,
    initial_filters,
    make_tilt_gratings,
    make_tilt_task,
    tilt_labels,
)
from artiphys_course.recording import list_layers, record_layers
from artiphys_course.training import train_tilt_cnn


def test_labels_follow_the_tilt_sign():
    np.testing.assert_array_equal(tilt_labels([30.0, -30.0, 5.0, -89.0, 0.0]), [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(tilt_labels([100.0, -100.0]), [0, 1])  # wrapped to -80 / 80
    task = make_tilt_task(50, seed=0)
    np.testing.assert_array_equal(task.labels, (task.tilt_deg > 0).astype(int))
    assert task.images.shape == (50, 1, 32, 48)


def test_gratings_stripes_run_along_the_tilt():
    vertical, right = make_tilt_gratings([0.0, 45.0], phase_deg=30.0)
    v = vertical[0]
    torch.testing.assert_close(v, v[:1].expand_as(v))  # vertical stripes: constant down a column
    assert v.std() > 0.5
    # +45 deg = '/': constant along (row - 1, col + 1), i.e. up and to the right
    r = right[0]
    torch.testing.assert_close(r[1:, :-1], r[:-1, 1:], atol=1e-5, rtol=0)
    assert not torch.allclose(r[1:, 1:], r[:-1, :-1], atol=1e-2)  # but not along '\'


def test_initial_filters():
    f = initial_filters(8, 7)
    assert f.shape == (8, 1, 7, 7)
    torch.testing.assert_close(f.flatten(1).norm(dim=1), torch.ones(8))
    dog = center_surround_filter(7, 1.0, 2.0)
    assert abs(float(dog.sum())) < 1e-6 and dog[3, 3] > 0 and dog[0, 3] < 0
    assert torch.allclose(f[1, 0], -f[0, 0])  # on- and off-centre
    # Gabor k (orientation k * 30 deg, package convention) prefers the grating at that orientation
    tilts = 90.0 - np.arange(0, 180, 30.0)  # the same orientations as tilts from vertical
    phases = np.arange(0, 360, 45.0)
    best = []
    for k in range(2, 8):
        energy = []
        for t in tilts:
            g = make_tilt_gratings(np.full(len(phases), t), image_shape=(7, 7), phase_deg=phases)
            energy.append(float(((g[:, 0] * f[k, 0]).sum((1, 2)) ** 2).sum()))
        best.append(int(np.argmax(energy)))
    assert best == list(range(6))
    with pytest.raises(ValueError):
        center_surround_filter(7, 2.0, 1.0)


def test_network_layers_and_shape_errors():
    net = TiltCNN()
    assert tuple(list_layers(net)) == LAYERS
    with pytest.raises(ValueError, match="32, 48"):
        net(torch.zeros(2, 1, 30, 48))
    with pytest.raises(ValueError, match="init"):
        TiltCNN(init="orthogonal")


@pytest.mark.slow
def test_trained_network_solves_the_task_and_records_layers():
    net = TiltCNN()
    history = train_tilt_cnn(net, n_train=800, n_validation=400, max_epochs=3, progress=False)
    assert history.loss == "cross_entropy" and history.score == "accuracy"
    assert history.best_validation_score > 0.9 and not net.training
    assert len(history.train_loss) == 3 and history.train_loss[-1] < history.train_loss[0]
    fresh = make_tilt_task(200, seed=99)
    with record_layers(net, list(LAYERS)) as acts:
        with torch.no_grad():
            logits = net(fresh.images)
    assert list(acts) == list(LAYERS)
    assert acts["conv"].shape == (200, 8, 32, 48)
    assert acts["pool"].shape == (200, 8, 8, 12)
    assert acts["fc"].shape == (200, 16) and acts["out"].shape == (200, 2)
    assert acts["conv_relu"].min() >= 0
    torch.testing.assert_close(acts["conv_relu"], acts["conv"].clamp_min(0))
    torch.testing.assert_close(acts["out"], logits)
    # the batched extractor the notebook uses gives the same activity
    feats = extract_features(
        net,
        fresh.images,
        ["pool", "fc_relu"],
        transform=None,
        batch_size=64,
        device="cpu",
        progress=False,
    )
    np.testing.assert_allclose(feats["pool"], acts["pool"].numpy(), atol=1e-5)
    np.testing.assert_allclose(feats["fc_relu"], acts["fc_relu"].numpy(), atol=1e-5)
    accuracy = float((logits.argmax(1).numpy() == fresh.labels).mean())
    assert accuracy > 0.9
