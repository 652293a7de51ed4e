"""Layer x area heat maps: a colour scale centred where chance lies, "best" boxes on request."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from artiphys_course.layer_grid import GridResult, GridRow  # noqa: E402
from artiphys_course.plotting.layer_grid import plot_layer_grid  # noqa: E402

VALUES = np.array([[-0.04, 0.01], [0.0, -0.02], [0.005, 0.002]])  # (layers, areas): noise


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _grid(values: np.ndarray) -> GridResult:
    rows = [
        GridRow("net", f"layer{i}", f"area{j}", "ridge", float(v), np.nan, np.nan, 1.0, 8, 5, 0.1)
        for i, row in enumerate(values)
        for j, v in enumerate(row)
    ]
    return GridResult(rows)


def test_the_default_scale_is_diverging_and_centred_at_zero():
    fig = plot_layer_grid(_grid(VALUES), mark_best=False)
    image = fig.axes[0].images[0]
    assert image.norm(0.0) == pytest.approx(0.5)  # zero sits in the middle, white
    assert image.norm(-0.04) == pytest.approx(0.0) and image.norm(0.04) == pytest.approx(1.0)
    np.testing.assert_allclose(image.cmap(0.5)[:3], 1.0, atol=0.05)
    assert len(fig.axes[0].patches) == 0  # no "best" cell of noise
    assert "boxed" not in fig._suptitle.get_text()


def test_best_layers_are_boxed_on_request_and_the_sequential_scale_remains():
    values = np.array([[0.1, 0.6], [0.5, 0.2], [0.3, 0.4]])
    fig = plot_layer_grid(_grid(values), center=None)
    ax = fig.axes[0]
    boxed = sorted((p.get_x() + 0.5, p.get_y() + 0.5) for p in ax.patches)
    assert boxed == [(0.0, 1.0), (1.0, 0.0)]  # (area, layer) of each column's maximum
    image = ax.images[0]
    assert image.cmap.name == "viridis"
    assert image.norm.vmin == pytest.approx(0.1) and image.norm.vmax == pytest.approx(0.6)
    assert "boxed: best layer" in fig._suptitle.get_text()
