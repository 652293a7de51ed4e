"""The orientation population (the offline Stringer stand-in) recovers its known tuning."""

from __future__ import annotations

import numpy as np
import pytest

from artiphys_course.simulate import simulate_orientation_population


def test_orientation_population_recovers_preferences():
    pop = simulate_orientation_population(n_neurons=600, seed=0)
    assert pop.resp.shape == (180, 600) and pop.stimuli.shape == (180,)
    assert pop.stimuli.min() >= -90 and pop.stimuli.max() <= 90
    np.testing.assert_allclose(pop.resp.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(pop.resp.std(0), 1, atol=1e-4)

    def error(resp):
        best = pop.stimuli[np.argmax(resp, axis=0)]
        return np.abs((best - pop.preferred_deg + 90) % 180 - 90)

    # noise-free tuning curves peak at the preferred angle (to the 1-degree bin)
    assert np.all(error(pop.mean_response)[pop.tuned] <= 0.5 + 1e-3)
    # noisy z-scored responses, smoothed over 15 degrees (circularly), still find it
    kernel = np.ones(15) / 15
    padded = np.concatenate([pop.resp[-7:], pop.resp, pop.resp[:7]])
    smooth = np.apply_along_axis(np.convolve, 0, padded, kernel, mode="valid")
    assert np.median(error(smooth)[pop.tuned]) < 5
    assert np.median(error(smooth)[~pop.tuned]) > 25  # untuned: chance is 45
    again = simulate_orientation_population(n_neurons=600, seed=0)
    np.testing.assert_array_equal(pop.resp, again.resp)
    with pytest.raises(TypeError, match="seed"):
        simulate_orientation_population(seed=None)
