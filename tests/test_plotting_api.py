"""Every plotting function draws into the caller's ``ax``/``axes`` or a new figure, returns it."""

from __future__ import annotations

import inspect

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from artiphys_course import plotting  # noqa: E402
from artiphys_course.plotting import encoding, mei, representations, simulate  # noqa: E402
from artiphys_course.plotting import receptive_fields as rfplot  # noqa: E402

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("name", plotting.__all__)
def test_signature_takes_ax_or_axes_and_returns_a_figure(name):
    function = getattr(plotting, name)
    parameters = inspect.signature(function).parameters
    target = "ax" if "ax" in parameters else "axes"
    assert target in parameters, f"{name} takes neither ax= nor axes="
    if name != "draw_gaussian_fit":  # draws onto an image the caller already shows
        assert parameters[target].default is None, f"{name}: {target} must default to None"
        assert parameters[target].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.signature(function).return_annotation in ("Figure", Figure), name


def test_every_public_function_of_every_plotting_module_is_named_by_the_package():
    import importlib

    found = {}
    for module_name in plotting.MODULES:
        module = importlib.import_module(f"artiphys_course.plotting.{module_name}")
        for name, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == module.__name__:
                if not name.startswith("_"):
                    found[name] = module_name
    assert found == plotting._FUNCTIONS, "plotting/__init__ must name every plotting function"
    for name, module_name in found.items():
        assert getattr(plotting, name).__module__ == f"artiphys_course.plotting.{module_name}"
    assert "plot_rdm" in dir(plotting) and "encoding" in dir(plotting)
    with pytest.raises(AttributeError, match="plot_nothing"):
        _ = plotting.plot_nothing


def _one_panel_calls():
    theta = np.arange(0, 180, 10.0)
    responses = RNG.normal(size=(len(theta), 12))
    rdm = np.abs(RNG.normal(size=(6, 6)))
    return {
        "plot_rdm": lambda ax: representations.plot_rdm(rdm, ax=ax),
        "plot_population_heatmap": lambda ax: representations.plot_population_heatmap(
            responses, theta, ax=ax
        ),
        "plot_embedding": lambda ax: representations.plot_embedding(
            RNG.normal(size=(len(theta), 2)), theta, ax=ax
        ),
        "plot_correlation_histograms": lambda ax: encoding.plot_correlation_histograms(
            {"m": RNG.uniform(0, 1, 20)}, ax=ax
        ),
        "plot_fraction_of_ceiling": lambda ax: encoding.plot_fraction_of_ceiling(
            {"LN": 0.5}, ax=ax
        ),
        "plot_noise_ceilings": lambda ax: simulate.plot_noise_ceilings(
            {"exact": RNG.uniform(0, 1, 20)}, ax=ax
        ),
        "plot_cross_activation": lambda ax: mei.plot_cross_activation(np.eye(3), ax=ax),
        "plot_quadrature_phases": lambda ax: mei.plot_quadrature_phases(
            {"start": RNG.uniform(-1, 1, (3, 2))}, ax=ax
        ),
        "plot_empirical_rf": lambda ax: rfplot.plot_empirical_rf(
            np.abs(RNG.normal(size=(9, 9))), (2, 6, 2, 6), ax=ax
        ),
    }


@pytest.mark.parametrize("name", sorted(_one_panel_calls()))
def test_draws_into_the_given_axes_or_a_new_figure(name):
    call = _one_panel_calls()[name]
    fig, (left, right) = plt.subplots(1, 2)
    before = plt.get_fignums()
    assert call(right) is fig
    assert plt.get_fignums() == before, "no new figure when ax is given"
    assert right.has_data() or right.images, "it drew into the given axes"
    assert not left.has_data()
    new = call(None)
    assert isinstance(new, Figure) and new is not fig


def test_multi_panel_functions_take_axes_and_check_their_number():
    fig, axes = plt.subplots(2, 3)
    images = RNG.normal(size=(5, 1, 6, 6))
    assert mei.plot_image_grid(images, axes=axes) is fig
    assert not axes.flat[5].axison, "unused axes are switched off"
    fig, axes = plt.subplots(1, 2)
    shifts = RNG.normal(size=(30, 2))
    assert encoding.plot_shifts(shifts, shifts + 0.1, axes=axes) is fig
    assert "r = " in axes[1].get_title()
    with pytest.raises(ValueError, match=r"axes must hold 2 matplotlib Axes"):
        encoding.plot_shifts(shifts, shifts, axes=axes[:1])
    with pytest.raises(ValueError, match=r"axes must hold at least 5"):
        mei.plot_image_grid(images, axes=plt.subplots(1, 4)[1])
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        encoding.plot_fraction_of_ceiling({"LN": 0.5}, ax="left")
