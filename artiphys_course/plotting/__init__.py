"""Figures for every topic, one module each (``plotting.barmap``, ``plotting.encoding``, ...).

Each function teaches one thing (titles, axis labels with units and colour bars included), takes
``ax=None`` (one-panel plots) or ``axes=None`` (multi-panel figures) to draw into the caller's
axes instead of a new figure, and returns the matplotlib ``Figure``. Every function is reachable
here too (``plotting.plot_rdm``); like the package itself, a module is imported on first use, so
``from artiphys_course.plotting import encoding`` does not import scipy's statistics for the RSA
plots.
"""

from __future__ import annotations

from artiphys_course._lazy import lazy_attributes

MODULES = (
    "barmap",
    "data",
    "encoding",
    "in_silico",
    "layer_grid",
    "mei",
    "receptive_fields",
    "representations",
    "simulate",
    "training",
)
"""The plotting modules, one per topic (imported on first use)."""

_FUNCTIONS: dict[str, str] = {
    "draw_gaussian_fit": "barmap",
    "plot_bar_maps": "barmap",
    "plot_bars": "barmap",
    "plot_batch": "data",
    "plot_conv_filters": "representations",
    "plot_correlation_histograms": "encoding",
    "plot_cross_activation": "mei",
    "plot_decoder": "representations",
    "plot_embedding": "representations",
    "plot_empirical_rf": "receptive_fields",
    "plot_example_images": "simulate",
    "plot_eye_tracking": "simulate",
    "plot_filters": "encoding",
    "plot_fraction_of_ceiling": "encoding",
    "plot_image_grid": "mei",
    "plot_layer_grid": "layer_grid",
    "plot_layer_profiles": "layer_grid",
    "plot_mean_variance": "simulate",
    "plot_mei_traces": "mei",
    "plot_model_comparison": "encoding",
    "plot_noise_ceilings": "simulate",
    "plot_population_heatmap": "representations",
    "plot_positions": "encoding",
    "plot_quadrature_phases": "mei",
    "plot_rdm": "representations",
    "plot_rdms": "representations",
    "plot_recovery": "in_silico",
    "plot_retinotopic_map": "encoding",
    "plot_retinotopy": "simulate",
    "plot_rf_comparison": "mei",
    "plot_rf_growth": "receptive_fields",
    "plot_rsa": "representations",
    "plot_shifts": "encoding",
    "plot_size_tuning": "in_silico",
    "plot_test_repeats": "data",
    "plot_training_history": "training",
    "plot_true_filters": "simulate",
    "plot_tuning": "barmap",
    "plot_tuning_curves": "representations",
    "plot_tuning_distributions": "in_silico",
}
"""Every plotting function: name -> the module that defines it."""

__all__ = sorted(_FUNCTIONS)


__getattr__, __dir__ = lazy_attributes(__name__, MODULES, _FUNCTIONS)
