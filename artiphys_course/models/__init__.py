"""Models: torchvision networks, encoding-model cores and readouts, SENSORIUM checkpoints, the zoo.

Cores (``cores``), readouts (``readouts``) and shifters (``shifters``) are separate, composable
``nn.Module``s combined by ``encoders``; ``zoo`` trains the course models once and caches them;
``windowed`` evaluates one neuron per image on its receptive-field window (MEIs, gradient RFs).
"""

from artiphys_course.models.cores import (
    LAPLACE_KERNEL,
    DepthSeparableConv2d,
    NormalizationCore,
    SimpleConvCore,
    Stacked2dCore,
    laplace_l2,
)
from artiphys_course.models.encoders import (
    DEFAULT_KEY,
    Encoder,
    core_readout_model,
    ln_model,
    simple_cnn,
)
from artiphys_course.models.normative import (
    LAYERS,
    TiltCNN,
    TiltTask,
    center_surround_filter,
    initial_filters,
    make_tilt_gratings,
    make_tilt_task,
    tilt_labels,
)
from artiphys_course.models.pretrained import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PARTIAL_ALEXNET_LAYERS,
    imagenet_normalize,
    load_pretrained,
)
from artiphys_course.models.readouts import (
    FactorizedReadout,
    FullyConnectedReadout,
    GaussianReadout,
    MultiReadout,
    PositionNetwork,
    grid_to_pixels,
    pixels_to_grid,
    read_features,
)
from artiphys_course.models.sensorium import (
    SENSORIUM_CHECKPOINTS,
    SENSORIUM_DATA_KEY,
    SENSORIUM_IMAGE_SHAPE,
    build_sensorium_model,
    convert_sensorium_state_dict,
    image_statistics,
    load_sensorium_model,
    standardize,
)
from artiphys_course.models.shifters import (
    MLPShifter,
    shift_to_pixels,
)
from artiphys_course.models.windowed import neuron_responses, supports_windowed
from artiphys_course.models.zoo import (
    KINDS,
    RECIPES,
    ZooInfo,
    build_model,
    model_path,
    trained_model,
)

__all__ = [
    "DEFAULT_KEY",
    "DepthSeparableConv2d",
    "Encoder",
    "FactorizedReadout",
    "FullyConnectedReadout",
    "GaussianReadout",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "KINDS",
    "LAPLACE_KERNEL",
    "LAYERS",
    "MLPShifter",
    "MultiReadout",
    "NormalizationCore",
    "PARTIAL_ALEXNET_LAYERS",
    "PositionNetwork",
    "RECIPES",
    "SENSORIUM_CHECKPOINTS",
    "SENSORIUM_DATA_KEY",
    "SENSORIUM_IMAGE_SHAPE",
    "SimpleConvCore",
    "Stacked2dCore",
    "TiltCNN",
    "TiltTask",
    "ZooInfo",
    "build_model",
    "build_sensorium_model",
    "center_surround_filter",
    "convert_sensorium_state_dict",
    "core_readout_model",
    "grid_to_pixels",
    "image_statistics",
    "imagenet_normalize",
    "initial_filters",
    "laplace_l2",
    "ln_model",
    "load_pretrained",
    "load_sensorium_model",
    "make_tilt_gratings",
    "make_tilt_task",
    "model_path",
    "neuron_responses",
    "pixels_to_grid",
    "read_features",
    "shift_to_pixels",
    "simple_cnn",
    "standardize",
    "supports_windowed",
    "tilt_labels",
    "trained_model",
]
