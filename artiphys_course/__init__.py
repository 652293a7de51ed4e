"""artiphys-course: probe artificial and biological visual neurons with the same tools.

The helper package of the course. Topics, one module each: ``stimuli``, ``recording``,
``units``, ``receptive_fields``, ``barmap``, ``losses``, ``training``, ``metrics``,
``gradient_rf``, ``mei``, ``tuning``, ``decoding``, ``rsa``, ``embedding``, ``features``,
``layer_grid``; sub-packages ``simulate`` (the digital V1 and the simulated visual areas),
``data``, ``models``, ``plotting`` and ``checks``.

Their public functions are re-exported here, so ``import artiphys_course as ap`` is enough:
``ap.make_digital_v1()``, ``ap.bar_map(...)``, ``ap.models.trained_model("gaussian")``. Names are
loaded on first use, so ``import artiphys_course`` (and the ``artiphys`` command) start quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBPACKAGES = ("checks", "data", "models", "plotting", "simulate")

_EXPORTS: dict[str, str] = {
    "data_dir": "runtime",
    "get_device": "runtime",
    "offline": "runtime",
    "progress_bar": "runtime",
    "seed_everything": "runtime",
    "DigitalV1": "simulate",
    "DigitalV1Config": "simulate",
    "DigitalV1Model": "simulate",
    "NeuronParams": "simulate",
    "OrientationPopulation": "simulate",
    "fano_factor": "simulate",
    "gabor": "simulate",
    "make_digital_v1": "simulate",
    "make_images": "simulate",
    "noise_ceiling_from_rates": "simulate",
    "sample_responses": "simulate",
    "simulate_orientation_population": "simulate",
    "BarSet": "stimuli",
    "bar_coverage": "stimuli",
    "make_bar_set": "stimuli",
    "make_bars": "stimuli",
    "make_gabors": "stimuli",
    "make_gratings": "stimuli",
    "position_grid": "stimuli",
    "TruncatedModel": "recording",
    "forward_until": "recording",
    "get_layer": "recording",
    "list_layers": "recording",
    "record_layers": "recording",
    "truncate": "recording",
    "LayerUnits": "units",
    "OwnResponseFunction": "units",
    "ResponseFunction": "units",
    "check_responses": "units",
    "eval_mode": "units",
    "grey_image": "units",
    "model_device": "units",
    "own_response_function": "units",
    "response_function": "units",
    "select_neurons": "units",
    "ReceptiveField": "receptive_fields",
    "center_position": "receptive_fields",
    "conv_output_size": "receptive_fields",
    "empirical_receptive_field": "receptive_fields",
    "receptive_field": "receptive_fields",
    "receptive_field_table": "receptive_fields",
    "rf_box": "receptive_fields",
    "rf_step": "receptive_fields",
    "structural_copy": "receptive_fields",
    "support_box": "receptive_fields",
    "xn": "receptive_fields",
    "TuningCurves": "tuning",
    "VonMisesFit": "tuning",
    "fit_von_mises": "tuning",
    "orientation_difference": "tuning",
    "orientation_selectivity": "tuning",
    "preferred_orientation": "tuning",
    "sort_by_preference": "tuning",
    "tuning_curves": "tuning",
    "von_mises_hwhm": "tuning",
    "von_mises_tuning": "tuning",
    "wrap_orientation": "tuning",
    "BarMapResult": "barmap",
    "GaussianFit": "barmap",
    "bar_map": "barmap",
    "bar_responses": "barmap",
    "fit_gaussian_2d": "barmap",
    "fit_gaussians": "barmap",
    "orientation_tuning": "barmap",
    "select_bars": "barmap",
    "unit_responses": "barmap",
    "weighted_bar_map": "barmap",
    "poisson_loss": "losses",
    "LOSSES": "training",
    "TrainHistory": "training",
    "train": "training",
    "bits_per_spike": "metrics",
    "correlation": "metrics",
    "correlation_to_average": "metrics",
    "explainable_variance": "metrics",
    "fev": "metrics",
    "feve": "metrics",
    "group_by_image": "metrics",
    "model_predictions": "metrics",
    "oracle_correlation": "metrics",
    "poisson_log_likelihood": "metrics",
    "Constraint": "mei",
    "FixedMeanStd": "mei",
    "FixedNorm": "mei",
    "FourierImage": "mei",
    "GradientBlur": "mei",
    "Jitter": "mei",
    "MEIResult": "mei",
    "Parameterization": "mei",
    "PixelImage": "mei",
    "RandomScale": "mei",
    "Transform": "mei",
    "best_of": "mei",
    "compute_meis": "mei",
    "cross_activation": "mei",
    "image_correlation": "mei",
    "mei_reproducibility": "mei",
    "neuron_noise": "mei",
    "quadrature_correlation": "mei",
    "spectral_peak": "mei",
    "DecoderResult": "decoding",
    "OrientationDecoder": "decoding",
    "circular_error": "decoding",
    "train_decoder": "decoding",
    "RSAResult": "rsa",
    "compare_rdms": "rsa",
    "rdm": "rsa",
    "upper_triangle": "rsa",
    "PCAResult": "embedding",
    "pca": "embedding",
    "tsne": "embedding",
    "ALEXNET_LAYERS": "features",
    "FeatureExtractor": "features",
    "extract_features": "features",
    "to_network_input": "features",
    "AreaData": "layer_grid",
    "DEFAULT_RELATIVE_ALPHAS": "layer_grid",
    "FactorizedReadout": "layer_grid",
    "GridResult": "layer_grid",
    "GridRow": "layer_grid",
    "RidgeReadout": "layer_grid",
    "best_layers": "layer_grid",
    "evaluate_predictions": "layer_grid",
    "fit_factorized_readout": "layer_grid",
    "fit_ridge": "layer_grid",
    "run_layer_grid": "layer_grid",
    "AREAS": "simulate",
    "SimulatedArea": "simulate",
    "SubunitArea": "simulate",
    "VisualHierarchy": "simulate",
    "make_visual_hierarchy": "simulate",
}

__all__ = sorted([*_SUBPACKAGES, *_EXPORTS])


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
