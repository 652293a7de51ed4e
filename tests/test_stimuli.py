"""Stimuli: geometry of bars, the orientation convention, gratings/Gabors, bar sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from artiphys_course.stimuli import (
    bar_coverage,
    make_bar_set,
    make_bars,
    make_gabors,
    make_gratings,
    position_grid,
)


def _close(got, expected, atol: float = 1e-6, rtol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=atol, rtol=rtol)


def test_axis_aligned_bar_is_exact_with_half_covered_edge_pixels():
    cov = bar_coverage(21, 0.0, length=10, width=4, center=(10, 10))[0].numpy()
    # long axis horizontal: rows 8..12 (edge rows 8 and 12 half covered), cols 5..15 (edges half)
    expected = np.zeros((21, 21))
    expected[9:12, 6:15] = 1.0
    expected[[8, 12], 6:15] = 0.5
    expected[9:12, [5, 15]] = 0.5
    expected[[8, 8, 12, 12], [5, 15, 5, 15]] = 0.25
    np.testing.assert_allclose(cov, expected, atol=1e-6)
    assert cov.sum() == pytest.approx(10 * 4)


@pytest.mark.parametrize("orientation", [0.0, 17.0, 30.0, 45.0, 60.0, 90.0, 123.0])
def test_bar_area_is_conserved_at_any_orientation_and_subpixel_position(orientation):
    cov = bar_coverage(64, orientation, length=30.0, width=5.5, center=(31.3, 32.6))
    assert cov.sum().item() == pytest.approx(30.0 * 5.5, rel=0.03)
    assert float(cov.min()) >= 0.0 and float(cov.max()) <= 1.0


def test_orientation_convention_counter_clockwise_on_screen():
    size, c = 31, 15
    bars = bar_coverage(size, [0.0, 90.0, 45.0, 135.0], length=25, width=1.0, antialias=False)
    horizontal, vertical, rising, falling = bars.numpy()
    assert horizontal[c, c + 10] == 1 and horizontal[c + 10, c] == 0
    assert vertical[c + 10, c] == 1 and vertical[c, c + 10] == 0
    # 45 degrees rises to the right: up (smaller row) and right (larger col) is inside
    assert rising[c - 7, c + 7] == 1 and rising[c + 7, c + 7] == 0
    assert falling[c + 7, c + 7] == 1 and falling[c - 7, c + 7] == 0


def test_orientation_is_periodic_in_180_degrees():
    a = make_bars(40, [10.0, 77.0], length=20, width=3)
    b = make_bars(40, [190.0, -103.0], length=20, width=3)
    _close(a, b, atol=1e-5, rtol=0)


def test_foreground_background_and_rgb_colours():
    red = make_bars(15, 0.0, 9, 3, foreground=[[1.0, 0.0, 0.0]], background=0.5, channels=3)
    assert red.shape == (1, 3, 15, 15)
    centre = red[0, :, 7, 7]
    _close(centre, torch.tensor([1.0, 0.0, 0.0]))
    _close(red[0, :, 0, 0], torch.full((3,), 0.5))
    per_bar = make_bars(15, [0.0, 90.0], 9, 3, foreground=[1.0, -1.0], background=0.0)
    assert per_bar[0, 0, 7, 7] == 1.0 and per_bar[1, 0, 7, 7] == -1.0
    with pytest.raises(ValueError, match="3 channels"):
        make_bars(15, 0.0, 9, 3, foreground=[[1.0, 0.0]], channels=3)


def test_thousands_of_bars_in_one_vectorised_call():
    n = 4000
    ori = torch.linspace(0, 180, n)
    bars = make_bars(32, ori, length=12.0, width=2.0, center=torch.full((n, 2), 15.5))
    assert bars.shape == (n, 1, 32, 32)
    # the same bar drawn alone
    _close(bars[1234], make_bars(32, ori[1234], 12.0, 2.0, (15.5, 15.5))[0])


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(ValueError, match="non-negative"):
        bar_coverage(10, 0.0, length=-1.0, width=1.0)
    with pytest.raises(ValueError, match=r"\(row, col\)"):
        bar_coverage(10, 0.0, 5.0, 1.0, center=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match=r"image_shape must be an int \(square\) or \(height"):
        make_bars((10, 10, 3), 0.0, 5.0, 1.0)
    with pytest.raises(ValueError, match="image_shape must be >= 1"):
        make_gratings((0, 10), 0.0, 0.1)


def test_grating_matches_the_formula_and_is_constant_along_its_orientation():
    h, w, f, phase = 24, 40, 0.1, 30.0
    for ori in (0.0, 45.0, 90.0, 20.0):
        g = make_gratings((h, w), ori, f, phase)[0, 0].numpy().astype(np.float64)
        rows, cols = np.mgrid[0:h, 0:w]
        t = math.radians(ori)
        # distance across the stripes: along the direction ori + 90 (d_row, d_col) = (-cos, -sin)
        across = -(rows - (h - 1) / 2) * math.cos(t) - (cols - (w - 1) / 2) * math.sin(t)
        np.testing.assert_allclose(
            g, np.cos(2 * np.pi * f * across + math.radians(phase)), atol=1e-5
        )
    horizontal = make_gratings(32, 0.0, 0.125)[0, 0]
    assert torch.allclose(horizontal, horizontal[:, :1].expand(-1, 32))  # constant along rows
    rising = make_gratings(32, 45.0, 0.125)[0, 0]
    # moving up-right by (row - 1, col + 1) stays on the same stripe
    _close(rising[1:, :-1], rising[:-1, 1:], atol=1e-5, rtol=0)


def test_gabor_is_grating_times_gaussian_envelope():
    size, ori, f, sigma = 33, 30.0, 0.15, 4.0
    gabor = make_gabors(size, ori, f, 90.0, sigma)[0, 0]
    grating = make_gratings(size, ori, f, 90.0)[0, 0]
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    envelope = torch.exp(-((rows - 16.0) ** 2 + (cols - 16.0) ** 2) / (2 * sigma**2))
    _close(gabor, grating * envelope, atol=1e-5, rtol=0)
    # an elongated envelope: s.d. along the stripes = aspect_ratio * sigma
    flat = make_gabors(41, 0.0, 1e-6, 0.0, sigma=3.0, aspect_ratio=2.0)[0, 0]
    assert flat[20, 20 + 6] == pytest.approx(math.exp(-0.5), rel=1e-4)  # 6 px along = 1 s.d.
    assert flat[20 + 3, 20] == pytest.approx(math.exp(-0.5), rel=1e-4)  # 3 px across = 1 s.d.


def test_position_grid_is_symmetric_and_scaled_to_the_rf():
    grid = position_grid(11.0, 5)
    np.testing.assert_allclose(grid, [-5.5, -2.75, 0.0, 2.75, 5.5])
    np.testing.assert_allclose(grid, -grid[::-1])
    lopsided = np.arange(-11 // 2, 11 // 2, 2.75)  # the RF-Mapping style grid it replaces
    assert lopsided.mean() != 0


def test_bar_set_grid_and_drawing():
    bars = make_bar_set(63, 51, n_orientations=8, n_positions=13)
    assert len(bars) == 4 * 3 * 8 * 2 * 13 * 13
    np.testing.assert_allclose(bars.center.mean(0), [31.0, 31.0], atol=1e-4)
    assert np.ptp(bars.center[:, 0]) == pytest.approx(51.0)
    np.testing.assert_allclose(bars.orientations, np.arange(8) * 22.5)
    assert set(np.unique(bars.polarity)) == {-1, 1}
    assert bars.width.min() >= 1.0
    idx = np.array([0, 777, 32447])
    images = bars.images(idx, background=0.5, amplitude=0.5, channels=3)
    for k, i in enumerate(idx):
        ref = make_bars(
            63,
            bars.orientation_deg[i],
            bars.length[i],
            bars.width[i],
            bars.center[i],
            foreground=0.5 + 0.5 * bars.polarity[i],
            background=0.5,
            channels=3,
        )[0]
        _close(images[k], ref)
    assert len(bars.subset(slice(0, 10))) == 10


def test_bar_set_around_an_off_centre_rf():
    bars = make_bar_set((36, 64), rf_size=12, rf_center=(10.0, 40.0), n_positions=5)
    assert bars.image_shape == (36, 64)
    np.testing.assert_allclose(bars.center.mean(0), [10.0, 40.0], atol=1e-4)
    assert bars.rf_center == (10.0, 40.0)
    wide = make_bar_set((36, 64), rf_size=36, n_positions=(5, 9), position_extent=(1.0, 2.0))
    assert len(wide) == 4 * 3 * 8 * 2 * 5 * 9
    assert np.ptp(wide.center[:, 0]) == pytest.approx(36.0)
    assert np.ptp(wide.center[:, 1]) == pytest.approx(72.0)
    np.testing.assert_allclose(wide.center.mean(0), [17.5, 31.5], atol=1e-4)
    with pytest.raises(ValueError, match="polarities"):
        make_bar_set(20, 10, polarities=(2,))
