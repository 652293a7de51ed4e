"""artiphys-course: probe artificial and biological visual neurons with the same tools.

The helper package of the course. Topics, one module each: ``simulate`` (the digital V1),
``stimuli``, ``recording``, ``receptive_fields``, ``barmap``, ``losses``, ``training``, ``ridge``,
``metrics``, ``gradient_rf``, ``mei``, ``tuning``, ``decoding``, ``rsa``, ``embedding``,
``features``, ``layer_grid``, ``hierarchy``; sub-packages ``data``, ``models``, ``plotting``
and ``checks``.

Their public functions are re-exported here, so ``import artiphys_course as ap`` is enough:
``ap.make_digital_v1()``, ``ap.bar_map(...)``, ``ap.models.trained_model("gaussian")``. Names are
loaded on first use, so ``import artiphys_course`` (and the ``artiphys`` command) start quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBPACKAGES = ("checks", "data", "models", "plotting")

_EXPORTS: dict[str, str] = {
    "data_dir": "runtime",
    "get_device": "runtime",
    "offline": "runtime",
    "progress_bar": "runtime",
    "seed_everything": "runtime",
    "DigitalV1": "simulate",
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
    "get_layer": "recording",
    "list_layers": "recording",
    "record_layers": "recording",
    "set_eval": "recording",
    "truncate": "recording",
    "ReceptiveField": "receptive_fields",
    "center_unit": "receptive_fields",
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
    "TensorBatches": "training",
    "TrainHistory": "training",
    "TrainResult": "training",
    "fit": "training",
    "train": "training",
    "train_tilt_cnn": "training",
    "bits_per_spike": "metrics",
    "correlation": "metrics",
    "correlation_to_average": "metrics",
    "explainable_variance": "metrics",
    "fev": "metrics",
    "feve": "metrics",
    "model_predictions": "metrics",
    "oracle_correlation": "metrics",
    "poisson_log_likelihood": "metrics",
    "split_by_image": "metrics",
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
    "LayerUnits": "gradient_rf",
    "ResponseFunction": "gradient_rf",
    "UnitSpec": "gradient_rf",
    "eval_mode": "gradient_rf",
    "grey_image": "gradient_rf",
    "model_device": "gradient_rf",
    "OwnResponseFunction": "gradient_rf",
    "own_response_function": "gradient_rf",
    "response_function": "gradient_rf",
    "select_neurons": "gradient_rf",
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
    "DEFAULT_RELATIVE_ALPHAS": "ridge",
    "RidgeReadout": "ridge",
    "fit_ridge": "ridge",
    "AreaData": "layer_grid",
    "GridResult": "layer_grid",
    "GridRow": "layer_grid",
    "best_layers": "layer_grid",
    "evaluate_predictions": "layer_grid",
    "fit_factorized_readout": "layer_grid",
    "run_layer_grid": "layer_grid",
    "AREAS": "hierarchy",
    "SimulatedArea": "hierarchy",
    "SubunitArea": "hierarchy",
    "VisualHierarchy": "hierarchy",
    "make_visual_hierarchy": "hierarchy",
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
