"""Figures for every topic, one module each (``plotting.barmap``, ``plotting.encoding``, ...).

Each function teaches one thing (titles, axis labels with units and colour bars included), takes
``ax=None`` (one-panel plots) or ``axes=None`` (multi-panel figures) to draw into the caller's
axes instead of a new figure, and returns the matplotlib ``Figure``. Everything is re-exported
here.
"""

from artiphys_course.plotting.barmap import (
    draw_gaussian_fit,
    plot_bar_maps,
    plot_bars,
    plot_tuning,
)
from artiphys_course.plotting.data import (
    plot_batch,
    plot_test_repeats,
)
from artiphys_course.plotting.encoding import (
    plot_correlation_histograms,
    plot_filters,
    plot_fraction_of_ceiling,
    plot_model_comparison,
    plot_positions,
    plot_retinotopic_map,
    plot_shifts,
)
from artiphys_course.plotting.in_silico import (
    plot_recovery,
    plot_size_tuning,
    plot_tuning_distributions,
)
from artiphys_course.plotting.layer_grid import (
    plot_layer_grid,
    plot_layer_profiles,
)
from artiphys_course.plotting.mei import (
    plot_cross_activation,
    plot_image_grid,
    plot_mei_traces,
    plot_quadrature_phases,
    plot_rf_comparison,
)
from artiphys_course.plotting.receptive_fields import (
    plot_empirical_rf,
    plot_rf_growth,
)
from artiphys_course.plotting.representations import (
    plot_conv_filters,
    plot_decoder,
    plot_embedding,
    plot_population_heatmap,
    plot_rdm,
    plot_rdms,
    plot_rsa,
    plot_tuning_curves,
)
from artiphys_course.plotting.simulate import (
    plot_example_images,
    plot_eye_tracking,
    plot_mean_variance,
    plot_noise_ceilings,
    plot_retinotopy,
    plot_true_filters,
)
from artiphys_course.plotting.training import (
    plot_training_history,
)

__all__ = [
    "draw_gaussian_fit",
    "plot_bar_maps",
    "plot_bars",
    "plot_batch",
    "plot_conv_filters",
    "plot_correlation_histograms",
    "plot_cross_activation",
    "plot_decoder",
    "plot_embedding",
    "plot_empirical_rf",
    "plot_example_images",
    "plot_eye_tracking",
    "plot_filters",
    "plot_fraction_of_ceiling",
    "plot_image_grid",
    "plot_layer_grid",
    "plot_layer_profiles",
    "plot_mean_variance",
    "plot_mei_traces",
    "plot_model_comparison",
    "plot_noise_ceilings",
    "plot_population_heatmap",
    "plot_quadrature_phases",
    "plot_recovery",
    "plot_positions",
    "plot_rdm",
    "plot_rdms",
    "plot_retinotopic_map",
    "plot_retinotopy",
    "plot_rf_comparison",
    "plot_rf_growth",
    "plot_rsa",
    "plot_shifts",
    "plot_size_tuning",
    "plot_test_repeats",
    "plot_training_history",
    "plot_true_filters",
    "plot_tuning",
    "plot_tuning_curves",
    "plot_tuning_distributions",
]
