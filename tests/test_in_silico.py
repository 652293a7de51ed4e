"""In-silico experiments: analytic answers on hand-built LN neurons, ground truth on the digital V1.

The hand-built neurons are rectified Gabor filters, ``relu(w . (x - mean))``: a grating drives
such a neuron most at the filter's orientation and (for an envelope of several cycles) at its
frequency, a square changes it only inside the filter's envelope, and without a surround its
response to a growing grating saturates (suppression index 0). A neuron with a subtracted,
wider surround filter of the same orientation and frequency is surround suppressed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from artiphys_course import in_silico
from artiphys_course.stimuli import make_gabors
from artiphys_course.tuning import orientation_difference

SHAPE = (32, 48)
ORI = np.array([10.0, 60.0, 100.0, 150.0])
SF = np.array([0.08, 0.12, 0.1, 0.15])
CENTER = np.array([[12.0, 14.0], [16.0, 30.0], [20.0, 22.0], [15.5, 24.5]])
SIGMA = np.array([5.0, 4.0, 4.5, 3.5])


class GaborLN(nn.Module):
    """``relu(w_c . x) - surround * relu(w_s . x)`` per neuron, ``x`` the image (mean 0)."""

    def __init__(self, surround: float = 0.0) -> None:
        super().__init__()
        centre = make_gabors(SHAPE, ORI, SF, 0.0, SIGMA, CENTER)[:, 0]
        wide = make_gabors(SHAPE, ORI, SF, 0.0, 3 * SIGMA, CENTER)[:, 0]
        self.register_buffer("centre", centre / centre.norm(dim=(1, 2), keepdim=True))
        self.register_buffer("wide", wide / wide.norm(dim=(1, 2), keepdim=True))
        self.surround = surround

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images[:, 0]
        drive = torch.einsum("bhw,nhw->bn", x, self.centre).relu()
        return drive - self.surround * torch.einsum("bhw,nhw->bn", x, self.wide).relu()


def test_grating_tuning_recovers_the_filters_orientation_and_frequency():
    result = in_silico.grating_tuning(
        GaborLN(),
        image_shape=SHAPE,
        orientation_deg=np.arange(0, 180, 10.0),
        spatial_frequency=np.geomspace(0.04, 0.3, 12),
        degrees_per_pixel=0.5,
        progress=False,
    )
    assert result.responses.shape == (18 * 12, 4)
    assert result.orientation_curves.shape == (18, 4) and result.frequency_curves.shape == (12, 4)
    error = np.abs(orientation_difference(result.preferred_orientation_deg, ORI))
    assert error.max() < 2.0
    np.testing.assert_allclose(result.preferred_frequency, SF, rtol=0.1)
    np.testing.assert_allclose(result.preferred_frequency_cpd, result.preferred_frequency / 0.5)
    # a rectified linear neuron is silent at the orthogonal orientation: OSI 1
    np.testing.assert_allclose(result.osi, 1.0, atol=0.02)
    assert np.all(result.selectivity > 0.5)


def test_max_pooling_over_phases_gives_at_least_the_mean():
    kwargs = {"image_shape": SHAPE, "spatial_frequency": [0.1], "progress": False}
    mean = in_silico.grating_tuning(GaborLN(), phase_pooling="mean", **kwargs)
    peak = in_silico.grating_tuning(GaborLN(), phase_pooling="max", **kwargs)
    assert np.all(peak.responses >= mean.responses - 1e-9)
    assert np.any(peak.responses > mean.responses + 1e-3)


def test_sparse_noise_finds_the_filter_centre():
    result = in_silico.sparse_noise_rfs(
        GaborLN(), image_shape=SHAPE, square=3, step=1, progress=False
    )
    assert result.maps.shape == (4, 30, 46)
    assert result.on.shape == result.off.shape == result.maps.shape
    error = np.linalg.norm(result.center - CENTER, axis=1)
    assert error.max() < 1.0
    np.testing.assert_allclose(result.to_pixels([[0, 0], [1, 2]]), [[1, 1], [2, 3]])


def test_size_tuning_finds_surround_suppression_only_where_there_is_a_surround():
    kwargs = {
        "image_shape": SHAPE,
        "diameter": np.geomspace(2, 60, 12),
        "progress": False,
    }
    plain = in_silico.size_tuning(GaborLN(), CENTER, ORI, SF, **kwargs)
    suppressed = in_silico.size_tuning(GaborLN(surround=0.8), CENTER, ORI, SF, **kwargs)
    assert plain.responses.shape == (12, 4)
    np.testing.assert_allclose(plain.suppression_index, 0.0, atol=0.02)
    assert np.all(suppressed.suppression_index > 0.3)
    # the plain neuron needs an aperture of about its envelope (+-2 sigma) to reach 95 %
    assert np.all(plain.preferred_diameter > 2 * SIGMA) and np.all(
        plain.preferred_diameter < 8 * SIGMA
    )
    assert np.all(suppressed.preferred_diameter <= plain.preferred_diameter)


def test_grating_trials_are_seeded_and_cover_all_orientations():
    a = in_silico.grating_trials(GaborLN(), 64, 0.1, seed=3, image_shape=SHAPE, progress=False)
    b = in_silico.grating_trials(GaborLN(), 64, 0.1, seed=3, image_shape=SHAPE, progress=False)
    c = in_silico.grating_trials(GaborLN(), 64, 0.1, seed=4, image_shape=SHAPE, progress=False)
    assert a.responses.shape == (64, 4)
    np.testing.assert_array_equal(a.responses, b.responses)
    assert not np.array_equal(a.orientation_deg, c.orientation_deg)
    assert a.orientation_deg.min() >= 0 and a.orientation_deg.max() < 180
    assert np.ptp(a.orientation_deg) > 150


def test_neurons_select_outputs():
    result = in_silico.grating_tuning(
        GaborLN(), image_shape=SHAPE, neurons=[2, 0], spatial_frequency=[0.1], progress=False
    )
    full = in_silico.grating_tuning(
        GaborLN(), image_shape=SHAPE, spatial_frequency=[0.1], progress=False
    )
    np.testing.assert_array_equal(result.neurons, [2, 0])
    np.testing.assert_allclose(result.responses, full.responses[:, [2, 0]])
    sizes = in_silico.size_tuning(
        GaborLN(), CENTER[[3]], ORI[[3]], SF[[3]], neurons=[3], image_shape=SHAPE, progress=False
    )
    np.testing.assert_array_equal(sizes.neurons, [3])


def test_arguments_are_checked_at_the_boundary():
    model = GaborLN()
    with pytest.raises(TypeError, match="seed"):
        in_silico.grating_trials(model, 8, 0.1, seed=1.5, image_shape=SHAPE)
    with pytest.raises(TypeError, match="seed"):
        in_silico.grating_trials(model, 8, 0.1, seed=None, image_shape=SHAPE)
    with pytest.raises(IndexError, match="neurons"):
        in_silico.grating_tuning(model, image_shape=SHAPE, neurons=[-1], progress=False)
    with pytest.raises(ValueError, match="contrast"):
        in_silico.sparse_noise_rfs(model, image_shape=SHAPE, contrast=0.0)
    with pytest.raises(ValueError, match="orientation_deg"):
        in_silico.grating_tuning(model, image_shape=SHAPE, orientation_deg=[0, 60, 120, 180])
    with pytest.raises(ValueError, match="spatial_frequency"):
        in_silico.grating_tuning(model, image_shape=SHAPE, spatial_frequency=[0.2, 0.1])
    with pytest.raises(ValueError, match="phase_pooling"):
        in_silico.grating_tuning(model, image_shape=SHAPE, phase_pooling="median")
    with pytest.raises(ValueError, match="position"):
        in_silico.size_tuning(model, CENTER[:, 0], ORI, SF, image_shape=SHAPE)
    with pytest.raises(ValueError, match="orientation_deg"):
        in_silico.size_tuning(model, CENTER, ORI[:3], SF, image_shape=SHAPE)
    with pytest.raises(ValueError, match="neurons"):
        in_silico.size_tuning(model, CENTER, ORI, SF, neurons=[0, 1], image_shape=SHAPE)
    with pytest.raises(ValueError, match="square"):
        in_silico.sparse_noise_rfs(model, image_shape=SHAPE, square=40)
    with pytest.raises(TypeError, match="image_shape"):
        in_silico.sparse_noise_rfs(model, image_shape="32x48")


def test_undefined_selectivity_is_nan_with_a_notice():
    from artiphys_course.runtime import ArtiphysWarning

    class Silent(nn.Module):
        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return torch.zeros(len(images), 2)

    with pytest.warns(ArtiphysWarning, match="osi is NaN for 2 of 2"):
        result = in_silico.grating_tuning(
            Silent(), image_shape=SHAPE, spatial_frequency=[0.1], progress=False
        )
    assert np.all(np.isnan(result.osi))


@pytest.mark.slow
def test_the_trained_digital_v1_model_recovers_the_true_tuning_and_positions():
    """Ground truth: the zoo's core + Gaussian readout model of the digital V1 (shipped weights,
    no training) measured in silico against the simulator's parameters. Measured errors (median
    over 500 neurons): orientation about 2.3 degrees, frequency about 0.14 octaves, RF centre
    about 0.8 pixels."""
    from artiphys_course.data.static import StaticDataset
    from artiphys_course.models.zoo import trained_model
    from artiphys_course.simulate import make_digital_v1

    dv1 = make_digital_v1(seed=0, progress=False)
    normalizer = StaticDataset.from_digital_v1(dv1).normalizer()
    mu, sd = normalizer.image_mean, normalizer.image_std
    model, _ = trained_model("gaussian", progress=False)
    stimulus = {"mean": (127.5 - mu) / sd, "contrast": 100.0 / sd, "progress": False}
    truth = dv1.neurons
    tuned = in_silico.grating_tuning(
        model,
        image_shape=dv1.image_shape,
        spatial_frequency=np.geomspace(0.03, 0.3, 9),
        **stimulus,
    )
    ori_error = np.abs(
        orientation_difference(tuned.preferred_orientation_deg, truth.orientation_deg)
    )
    sf_error = np.abs(np.log2(tuned.preferred_frequency / truth.spatial_frequency))
    assert np.median(ori_error) < 5.0 and np.percentile(ori_error, 90) < 12.0
    assert np.median(sf_error) < 0.3
    rfs = in_silico.sparse_noise_rfs(model, image_shape=dv1.image_shape, square=3, **stimulus)
    position_error = np.linalg.norm(rfs.center - truth.rf_center, axis=1)
    assert np.median(position_error) < 1.5 and np.percentile(position_error, 90) < 3.0


def test_plots_draw_the_results():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from artiphys_course.plotting import in_silico as iplot

    kwargs = {"image_shape": SHAPE, "progress": False}
    tuned = in_silico.grating_tuning(GaborLN(), spatial_frequency=[0.08, 0.12], **kwargs)
    sizes = in_silico.size_tuning(GaborLN(surround=0.8), CENTER, ORI, SF, **kwargs)
    fig = iplot.plot_tuning_distributions({"LN": tuned}, {"LN": sizes})
    assert len(fig.axes) == 4
    fig = iplot.plot_tuning_distributions({"LN": tuned}, rf_sigma={"LN": SIGMA})
    assert len(fig.axes) == 4 and fig.axes[3].get_title() == "RF size"
    fig, ax = plt.subplots()
    assert iplot.plot_size_tuning(sizes, [0, 1], ax=ax) is fig
    assert len(ax.lines) == 3  # two curves and the zero line
    assert iplot.plot_recovery(ORI, tuned.preferred_orientation_deg, quantity="ori").axes
    with pytest.raises(ValueError, match="degrees_per_pixel"):
        iplot.plot_tuning_distributions({"LN": tuned}, frequency_unit="cycles/degree")
    plt.close("all")
