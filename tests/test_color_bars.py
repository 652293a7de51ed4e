"""Colour bar sets, colour maps and tuning, non-overlap maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from artiphys_course.barmap import (
    bar_responses,
    color_bar_map,
    color_tuning,
    non_overlap_bar_map,
    weighted_bar_map,
)
from artiphys_course.receptive_fields import xn
from artiphys_course.stimuli import RFMAPPING_COLOR_PAIRS, make_bar_set


def _blob(size: int, row: float, col: float, sigma: float) -> torch.Tensor:
    r, c = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    return torch.exp(-((r - row) ** 2 + (c - col) ** 2) / (2 * sigma**2))


def test_grey_default_is_unchanged_and_colour_sets_list_both_polarities():
    grey = make_bar_set(21, 21, n_positions=3)
    assert grey.color_pair is None and grey.color_pairs == ()
    assert len(grey) == 4 * 3 * 8 * 2 * 9
    colour = make_bar_set(21, 21, n_positions=3, color_pairs=("red/green", "white/black"))
    assert colour.color_pairs == ("red/green", "green/red", "white/black", "black/white")
    assert len(colour) == 4 * 3 * 8 * 4 * 9
    assert np.array_equal(np.bincount(colour.color_pair), [len(colour) // 4] * 4)
    assert ((colour.polarity < 0) == (colour.color_pair % 2 == 1)).all()
    i = int(np.flatnonzero(colour.color_pair == 1)[0])  # green bar on red
    image = colour.images([i], background=0.5, amplitude=0.5, channels=3)[0]
    cover = colour.coverage([i])[0]
    inside, outside = torch.nonzero(cover == 1)[0], torch.nonzero(cover == 0)[0]
    assert image[:, inside[0], inside[1]].tolist() == [0.0, 1.0, 0.0]
    assert image[:, outside[0], outside[1]].tolist() == [1.0, 0.0, 0.0]
    assert colour.subset([i]).color_pair.tolist() == [1]
    with pytest.raises(KeyError, match="foreground/background"):
        make_bar_set(21, 21, color_pairs=("red/purple",))
    with pytest.raises(ValueError, match="channels must be 3"):
        colour.images([0], channels=1)


def test_colour_opponent_conv1_unit_prefers_its_colour_pair():
    # double-opponent kernels: colour-opponent, and spatially centre minus surround (sum 0), so a
    # uniform field drives them little and a bar of the right colour on the RF centre most
    conv = nn.Conv2d(3, 2, 11, stride=4, padding=2)
    centre, surround = _blob(11, 5, 5, 1.2), _blob(11, 5, 5, 3.0)
    blob = centre / centre.sum() - surround / surround.sum()
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0, 0], conv.weight[0, 1] = blob, -blob  # red ON, green OFF
        conv.weight[1, 2] = blob  # blue ON, yellow (red + green) OFF
        conv.weight[1, 0], conv.weight[1, 1] = -0.5 * blob, -0.5 * blob
    net = nn.Sequential(conv).eval()
    size = xn(net, "0")
    bars = make_bar_set(
        size,
        11,
        lengths=(0.75, 0.375),
        aspect_ratios=(0.5,),
        n_orientations=4,
        n_positions=5,
        color_pairs=RFMAPPING_COLOR_PAIRS,
    )
    responses = bar_responses(
        net, "0", bars, background=0.5, amplitude=0.5, progress=False, batch_size=512
    )
    pairs, tuning = color_tuning(responses, bars)
    red_green, green_red = pairs.index("red/green"), pairs.index("green/red")
    assert tuning[red_green, 0] == pytest.approx(tuning[:, 0].max())
    assert tuning[red_green, 0] > 2 * tuning[green_red, 0]  # the opposite polarity is weak
    assert int(np.argmax(tuning[:, 1])) == pairs.index("blue/yellow")
    assert tuning[pairs.index("blue/yellow"), 1] > 2 * tuning[pairs.index("yellow/blue"), 1]
    centre = (size - 1) // 2
    red_map = color_bar_map(responses[:, 0], bars, top_n=50)
    assert red_map.shape == (3, size, size)
    assert red_map[0, centre, centre] > 0 > red_map[1, centre, centre]
    blue_map = color_bar_map(responses[:, 1], bars, top_n=50)
    assert blue_map[2, centre, centre] > 0 > blue_map[0, centre, centre]
    with pytest.raises(ValueError, match="grey set"):
        color_tuning(responses, make_bar_set(size, 11, n_positions=5))


def test_non_overlap_map_finds_the_weaker_subregion():
    conv = nn.Conv2d(1, 1, 21)
    with torch.no_grad():
        conv.weight[0, 0] = _blob(21, 10, 4, 0.8) + 0.7 * _blob(21, 10, 16, 0.8)
        conv.bias.zero_()
    net = nn.Sequential(conv).eval()
    bars = make_bar_set(21, 21, lengths=(0.3, 0.15), aspect_ratios=(0.5,), n_positions=11)
    responses = bar_responses(net, "0", bars, in_channels=1, progress=False)[:, 0]
    full = weighted_bar_map(responses, bars, top_n=30)
    assert np.unravel_index(np.argmax(full), full.shape)[1] < 8  # the strong left blob
    kept, peak = non_overlap_bar_map(responses, bars, top_n=30)
    assert peak[1] < 8
    assert np.unravel_index(np.argmax(kept), kept.shape)[1] > 12  # the weaker right blob
    assert kept[peak] < 0.5 * kept.max()  # only antialiased edges of kept bars reach it
