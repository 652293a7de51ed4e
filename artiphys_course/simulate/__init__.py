"""Simulated neural data with known ground truth, one concept per module.

* :mod:`~artiphys_course.simulate.images`: grey naturalistic images (dead leaves, photo crops),
  :func:`make_images` and the screen's mean grey level :data:`GREY`;
* :mod:`~artiphys_course.simulate.neurons`: Gabor filters (:func:`gabor`), ground-truth
  parameters (:class:`NeuronParams`), the one neuron-sampling routine (:func:`sample_neurons`
  with a :class:`NeuronDistribution`) and the generative :class:`DigitalV1Model`;
* :mod:`~artiphys_course.simulate.noise`: shared gain x Poisson trial noise
  (:func:`sample_responses`), exact noise ceilings (:func:`noise_ceiling_from_rates`),
  :func:`fano_factor`;
* :mod:`~artiphys_course.simulate.digital_v1`: the digital V1, the course's data set
  (:class:`DigitalV1`, built by :func:`make_digital_v1` from a :class:`DigitalV1Config`);
* :mod:`~artiphys_course.simulate.orientation`: the orientation population that stands in for
  the Stringer grating data (:func:`simulate_orientation_population`);
* :mod:`~artiphys_course.simulate.higher_areas`: V1, V2- and V4-like areas on the same images
  (:func:`make_visual_hierarchy`), whose layer ordering is known.

Every public name is re-exported here: ``from artiphys_course.simulate import make_digital_v1``.

Conventions
-----------
* Pixel positions are ``(row, col)``, origin at the top-left pixel, pixel centres at integers.
* Orientation (digital V1, areas): the angle of the stripes, counter-clockwise on screen from
  horizontal, 0 = horizontal, 90 = vertical, periodic in 180 degrees (as in
  :mod:`artiphys_course.stimuli`). The orientation population keeps Neuromatch's convention
  for the Stringer data instead: degrees in [-90, 90], 0 = vertical.
* Grey levels are 0..255; the neurons see the contrast image ``(image - 127.5) / 127.5``.
* Everything random follows from an ``int`` ``seed`` (None raises TypeError).
"""

from artiphys_course.simulate.digital_v1 import (
    DIGITAL_V1_NEURONS,
    DigitalV1,
    DigitalV1Config,
    make_digital_v1,
)
from artiphys_course.simulate.higher_areas import (
    AREAS,
    SimulatedArea,
    SubunitArea,
    VisualHierarchy,
    make_visual_hierarchy,
)
from artiphys_course.simulate.images import GREY, make_images
from artiphys_course.simulate.neurons import (
    DRAWN,
    DigitalV1Model,
    NeuronDistribution,
    NeuronParams,
    gabor,
    sample_neurons,
)
from artiphys_course.simulate.noise import (
    fano_factor,
    noise_ceiling_from_rates,
    response_variance,
    sample_responses,
)
from artiphys_course.simulate.orientation import (
    OrientationPopulation,
    simulate_orientation_population,
)

__all__ = [
    "AREAS",
    "DIGITAL_V1_NEURONS",
    "DRAWN",
    "GREY",
    "DigitalV1",
    "DigitalV1Config",
    "DigitalV1Model",
    "NeuronDistribution",
    "NeuronParams",
    "OrientationPopulation",
    "SimulatedArea",
    "SubunitArea",
    "VisualHierarchy",
    "fano_factor",
    "gabor",
    "make_digital_v1",
    "make_images",
    "make_visual_hierarchy",
    "noise_ceiling_from_rates",
    "response_variance",
    "sample_neurons",
    "sample_responses",
    "simulate_orientation_population",
]
