"""Top and bottom natural patches: planted patterns, rf_box crops, the digital V1's simple cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from artiphys_course.patches import top_patches
from artiphys_course.receptive_fields import rf_box
from artiphys_course.simulate import make_digital_v1
from artiphys_course.simulate.neurons import gabor


def _edge_net() -> nn.Sequential:
    """conv(5x5, stride 2, pad 2) -> ReLU -> conv(3x3): channel 0 of the last layer is a known
    vertical-edge detector; channel 1 its opposite."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 1, 5, stride=2, padding=2), nn.Identity(), nn.Conv2d(1, 2, 3))
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].weight[0, 0, 2, 2] = 1.0  # conv1 passes the (subsampled) image through
        net[0].bias.zero_()
        edge = torch.tensor([[-1.0, 0.0, 1.0]] * 3)
        net[2].weight.copy_(torch.stack([edge, -edge])[:, None])
        net[2].bias.zero_()
    return net.eval()


def test_planted_edge_is_the_top_patch_at_its_rf_box():
    net = _edge_net()
    images = torch.full((7, 1, 40, 40), 0.5) + 0.01 * torch.randn(7, 1, 40, 40)
    images[4, 0, :, 21:] = 1.0  # a strong dark-to-bright vertical edge in image 4
    images[2, 0, :, :21] = 1.0  # the opposite edge in image 2
    result = top_patches(net, "2", images, top_n=3, batch_size=3, progress=False)
    assert result.top_index.shape == (2, 3) and result.top_patches.shape == (2, 3, 1, 9, 9)
    assert result.patch_shape == (9, 9)
    assert result.top_index[0, 0] == 4 and result.top_index[1, 0] == 2
    assert result.bottom_index[0, 0] == 2 and result.bottom_index[1, 0] == 4
    assert (np.diff(result.top_response, axis=1) <= 0).all()
    assert (np.diff(result.bottom_response, axis=1) >= 0).all()
    # each crop is the image inside the analytic RF of the unit's position
    for end in ("top", "bottom"):
        for unit in range(2):
            for k in range(3):
                index = getattr(result, f"{end}_index")[unit, k]
                row, col = getattr(result, f"{end}_position")[unit, k]
                top, bottom, left, right = rf_box(net, "2", (40, 40), (row, col))
                patch = getattr(result, f"{end}_patches")[unit, k, 0]
                inside = images[
                    index, 0, max(int(top), 0) : int(bottom) + 1, max(int(left), 0) : int(right) + 1
                ]
                r0, c0 = max(0, -int(top)), max(0, -int(left))
                crop = patch[r0 : r0 + inside.shape[0], c0 : c0 + inside.shape[1]]
                assert torch.equal(crop, inside)
    # the response at the winning position is the recorded one
    out = net(images)
    row, col = result.top_position[0, 0]
    assert out[4, 0, row, col].item() == pytest.approx(result.top_response[0, 0])
    # one patch per image by default; ranking all positions lets the edge image fill the list
    assert all(len(set(row)) == 3 for row in result.top_index)
    every = top_patches(net, "2", images, top_n=3, one_per_image=False, progress=False)
    assert every.top_index[0].tolist() == [4, 4, 4]
    assert every.top_response[0, 0] == result.top_response[0, 0]
    mean = every.mean_top_patch[0, 0]  # dark left, bright right
    assert mean[:, -1].mean() > mean[:, 0].mean() + 0.2


def test_bad_arguments_are_named():
    net = _edge_net()
    images = torch.rand(3, 1, 20, 20)
    with pytest.raises(KeyError):
        top_patches(net, "nope", images, progress=False)
    with pytest.raises(IndexError):
        top_patches(net, "2", images, channels=[5], progress=False)
    with pytest.raises(ValueError, match="smaller than"):
        top_patches(net, "2", torch.rand(3, 1, 6, 6), progress=False)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        top_patches(net, "2", images[0], progress=False)
    with pytest.raises(ValueError, match="top_n"):
        top_patches(net, "2", images, top_n=0, progress=False)


def test_top_images_of_a_digital_v1_simple_cell_have_its_filter_orientation():
    dv1 = make_digital_v1(
        n_neurons=24,
        n_train=1500,
        n_validation=0,
        n_test_images=1,
        n_repeats=2,
        seed=3,
        progress=False,
    )
    images = torch.from_numpy(dv1.images)
    result = top_patches(dv1.model, None, images, top_n=40, progress=False)
    assert result.patch_shape == dv1.image_shape  # no spatial map: whole images
    average = (result.mean_top_patch[:, 0] - images[:, 0].mean(0)).numpy()
    p = dv1.neurons
    simple = np.flatnonzero(p.cell_type == "simple")
    assert len(simple) >= 5
    orthogonal = gabor(
        dv1.image_shape,
        p.orientation_deg + 90.0,
        p.spatial_frequency,
        p.phase_deg,
        p.sigma,
        p.rf_center,
        aspect_ratio=p.aspect_ratio,
    ).numpy()
    for i in simple:
        true = np.corrcoef(average[i].ravel(), dv1.filters[i].ravel())[0, 1]
        turned = np.corrcoef(average[i].ravel(), orthogonal[i].ravel())[0, 1]
        assert true > 0.35 and true > abs(turned) + 0.25, (i, true, turned)
