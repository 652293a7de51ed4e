"""The checks of notebook 01: right answers pass, plausible wrong ones are named, cheats caught.

Student answers are written as notebook cells (source executed in a fresh namespace), so the
bar-mapping run finds the student's own ``draw_bar`` and ``weighted_map`` as globals.
"""

from __future__ import annotations

import pytest

from artiphys_course.checks import bar_mapping as checks

DRAW_BAR = """
import numpy as np
def draw_bar(size, orientation_deg, length, width, center):
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    t = np.deg2rad(orientation_deg)
    dx, dy = cols - center[1], center[0] - rows
    u = dx * np.cos(t) + dy * np.sin(t)
    v = dy * np.cos(t) - dx * np.sin(t)
    return ((np.abs(u) <= length / 2) & (np.abs(v) <= width / 2)).astype(float)
"""
WEIGHTED_MAP = """
def weighted_map(responses, coverage, top_n):
    best = np.argsort(responses)[::-1][:top_n]
    weights = responses[best] - np.median(responses)
    return np.tensordot(weights, coverage[best], axes=1)
"""
TUNING = """
def orientation_tuning_curve(responses, orientation_deg):
    return np.array([responses[orientation_deg == o].max() for o in np.unique(orientation_deg)])
"""
RUN = """
import torch
from artiphys_course.recording import truncate
from artiphys_course.units import eval_mode

def bar_mapping_run(
    model, layer, channel, bars, top_n, *, in_channels=3, transform=None, batch_size=64
):
    size = bars.image_shape[0]
    coverage = np.stack([
        draw_bar(size, o, ln, w, c)
        for o, ln, w, c in zip(bars.orientation_deg, bars.length, bars.width, bars.center)
    ])
    images = 0.5 + 0.5 * bars.polarity[:, None, None] * coverage
    images = torch.as_tensor(images, dtype=torch.float32)[:, None].repeat(1, in_channels, 1, 1)
    device = next(model.parameters()).device
    layer_of = truncate(model, layer)
    responses = []
    with torch.no_grad(), eval_mode(model):
        for i in range(0, len(images), batch_size):
            batch = images[i : i + batch_size].to(device)
            out = layer_of(transform(batch) if transform is not None else batch)
            height, width = out.shape[-2:]
            responses.append(out[:, channel, (height - 1) // 2, (width - 1) // 2].cpu())
    responses = torch.cat(responses).numpy()
    return responses, weighted_map(responses, coverage, top_n)
"""


def _student(*sources: str, name: str):
    """The function ``name`` of a notebook whose cells are ``sources``."""
    namespace: dict = {}
    for source in sources:
        exec(source, namespace)
    return namespace[name]


def _edited(source: str, *edits: tuple[str, str]) -> str:
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    return source


def _wrong(result, mistake: str | None = None) -> None:
    assert not result and result.status == "wrong" and result.points < result.max_points
    if mistake is not None:
        assert f"looks like {mistake}" in result.message, result.message


# -- draw_bar ------------------------------------------------------------------------------------

DRAW_BAR_TORCH = """
import torch

def draw_bar(size, orientation_deg, length, width, center):
    t = torch.deg2rad(torch.tensor(float(orientation_deg), dtype=torch.float64))
    row = torch.arange(size, dtype=torch.float64)[:, None]
    col = torch.arange(size, dtype=torch.float64)[None, :]
    along = (col - center[1]) * torch.cos(t) + (center[0] - row) * torch.sin(t)
    across = (center[0] - row) * torch.cos(t) - (col - center[1]) * torch.sin(t)
    return (2 * along.abs() <= length) & (2 * across.abs() <= width)
"""


@pytest.mark.parametrize("source", [DRAW_BAR, DRAW_BAR_TORCH])
def test_draw_bar_accepts_two_differently_written_answers(source):
    result = checks.check_draw_bar(_student(source, name="draw_bar"))
    assert result and result.passed == result.total >= 8


@pytest.mark.parametrize(
    ("edit", "mistake"),
    [
        (("t = np.deg2rad(orientation_deg)", "t = orientation_deg"), "degrees used as radians"),
        (("center[0] - rows", "rows - center[0]"), "a clockwise orientation"),
        (
            (
                "dx, dy = cols - center[1], center[0] - rows",
                "dx, dy = cols - center[0], center[1] - rows",
            ),
            "the centre read as (x, y)",
        ),
        (
            ("<= length / 2) & (np.abs(v) <= width", "< length / 2) & (np.abs(v) < width"),
            "pixels on the edge left out",
        ),
    ],
)
def test_draw_bar_names_plausible_mistakes(edit, mistake, lenient):
    result = checks.check_draw_bar(_student(_edited(DRAW_BAR, edit), name="draw_bar"))
    _wrong(result, mistake)
    assert "np.cos" not in result.message and "dx" not in result.message  # never the solution


def test_draw_bar_calling_the_package_is_caught(lenient):
    cheat = _student(
        "from artiphys_course.stimuli import make_bars\n"
        "def draw_bar(size, orientation_deg, length, width, center):\n"
        "    bar = make_bars(size, orientation_deg, length, width, center, antialias=False)\n"
        "    return bar[0, 0]\n",
        name="draw_bar",
    )
    assert "calls the package's `make_bars`" in checks.check_draw_bar(cheat).message


# -- weighted_map --------------------------------------------------------------------------------

WEIGHTED_MAP_TORCH = """
import torch

def weighted_map(responses, coverage, top_n):
    r = torch.as_tensor(responses)
    values, best = torch.topk(r, top_n)
    weights = values - r.median() if len(r) % 2 else values - r.quantile(0.5)
    return (weights[:, None, None] * torch.as_tensor(coverage)[best]).sum(0)
"""


@pytest.mark.parametrize("source", [WEIGHTED_MAP, WEIGHTED_MAP_TORCH])
def test_weighted_map_accepts_two_differently_written_answers(source):
    result = checks.check_weighted_map(_student(DRAW_BAR, source, name="weighted_map"))
    assert result and result.passed == result.total == 4


@pytest.mark.parametrize(
    ("edit", "mistake"),
    [
        (("np.argsort(responses)[::-1]", "np.argsort(responses)"), "the weakest bars"),
        (("- np.median(responses)", "- np.mean(responses)"), "the mean instead of the median"),
        (("- np.median(responses)", ""), "raw responses as weights"),
        (("axes=1)", "axes=1) / top_n"), "an average instead of a sum"),
    ],
)
def test_weighted_map_names_plausible_mistakes(edit, mistake, lenient):
    result = checks.check_weighted_map(
        _student(DRAW_BAR, _edited(WEIGHTED_MAP, edit), name="weighted_map")
    )
    _wrong(result, mistake)
    assert "argsort" not in result.message and "median(" not in result.message


def test_weighted_map_calling_the_package_is_caught(lenient):
    cheat = _student(
        "from artiphys_course.barmap import weighted_bar_map\n"
        "def weighted_map(responses, coverage, top_n):\n"
        "    return weighted_bar_map(responses, coverage, top_n=top_n)\n",
        name="weighted_map",
    )
    assert "calls the package's `weighted_bar_map`" in checks.check_weighted_map(cheat).message


# -- orientation_tuning_curve --------------------------------------------------------------------

TUNING_BY_SORTING = """
def orientation_tuning_curve(responses, orientation_deg):
    best = {}
    for r, o in zip(responses, orientation_deg):
        best[o] = max(best.get(o, -np.inf), r)
    return [best[o] for o in sorted(best)]
"""


@pytest.mark.parametrize("source", [TUNING, TUNING_BY_SORTING])
def test_tuning_curve_accepts_two_differently_written_answers(source):
    assert checks.check_orientation_tuning_curve(
        _student(DRAW_BAR, source, name="orientation_tuning_curve")
    )


@pytest.mark.parametrize(
    ("edit", "mistake"),
    [
        (("].max()", "].mean()"), "the mean response"),
        (
            ("responses[orientation_deg == o]", "np.abs(responses[orientation_deg == o])"),
            "the largest absolute",
        ),
        (
            ("np.unique(orientation_deg)", "dict.fromkeys(orientation_deg)"),
            "the orientations in the order",
        ),
    ],
)
def test_tuning_curve_names_plausible_mistakes(edit, mistake, lenient):
    student = _student(DRAW_BAR, _edited(TUNING, edit), name="orientation_tuning_curve")
    _wrong(checks.check_orientation_tuning_curve(student), mistake)


def test_tuning_curve_calling_the_package_is_caught(lenient):
    cheat = _student(
        "import artiphys_course.barmap as barmap\n"
        "def orientation_tuning_curve(responses, orientation_deg):\n"
        "    return barmap.orientation_tuning(responses, orientation_deg)[1][:, 0]\n",
        name="orientation_tuning_curve",
    )
    result = checks.check_orientation_tuning_curve(cheat)
    assert "calls the package's `orientation_tuning`" in result.message


# -- bar_mapping_run -----------------------------------------------------------------------------

RUN_WITH_A_HOOK = """
import torch

def bar_mapping_run(model, layer, channel, bars, top_n, *, in_channels=3, transform=None,
                    batch_size=64):
    n = bars.image_shape[0]
    coverage = np.array([draw_bar(n, *bar) for bar in
                         zip(bars.orientation_deg, bars.length, bars.width, bars.center)])
    grey = torch.tensor(0.5 + 0.5 * bars.polarity.reshape(-1, 1, 1) * coverage).float()
    recorded = []
    hook = dict(model.named_modules())[layer].register_forward_hook(
        lambda module, inputs, output: recorded.append(output))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for batch in torch.split(grey, batch_size):
            batch = batch.unsqueeze(1).expand(-1, in_channels, -1, -1)
            model(batch if transform is None else transform(batch))
    hook.remove()
    model.train(was_training)
    out = torch.cat(recorded)[:, channel]
    responses = out[:, (out.shape[1] - 1) // 2, (out.shape[2] - 1) // 2].double()
    return responses, weighted_map(responses.numpy(), coverage, top_n)
"""


@pytest.mark.parametrize("source", [RUN, RUN_WITH_A_HOOK])
def test_bar_mapping_run_accepts_two_differently_written_answers(source):
    student = _student(DRAW_BAR, WEIGHTED_MAP, source, name="bar_mapping_run")
    result = checks.check_bar_mapping_run(student)
    assert result and result.passed == result.total == 3 and "your `" not in result.message


@pytest.mark.parametrize(
    ("edit", "mistake"),
    [
        (
            ("with torch.no_grad(), eval_mode(model):", "with torch.no_grad():"),
            "the network left in training mode",
        ),
        (
            ("(height - 1) // 2, (width - 1) // 2", "height // 2, width // 2"),
            "the unit just past the centre",
        ),
        (
            (
                "images = 0.5 + 0.5 * bars.polarity[:, None, None] * coverage",
                "images = 0.5 + 0.5 * coverage",
            ),
            "every bar drawn bright",
        ),
        (
            ("layer_of(transform(batch) if transform is not None else batch)", "layer_of(batch)"),
            "the transform not applied",
        ),
    ],
)
def test_bar_mapping_run_names_plausible_mistakes(edit, mistake, lenient):
    student = _student(DRAW_BAR, WEIGHTED_MAP, _edited(RUN, edit), name="bar_mapping_run")
    _wrong(checks.check_bar_mapping_run(student), mistake)


def test_bar_mapping_run_catches_a_loop_over_bars(lenient):
    looped = _edited(
        RUN,
        ("for i in range(0, len(images), batch_size):", "for i in range(len(images)):"),
        ("images[i : i + batch_size]", "images[i : i + 1]"),
    )
    result = checks.check_bar_mapping_run(
        _student(DRAW_BAR, WEIGHTED_MAP, looped, name="bar_mapping_run")
    )
    _wrong(result)
    assert "called the model 144 times" in result.message


def test_bar_mapping_run_blames_a_wrong_helper(lenient):
    wrong_map = _edited(WEIGHTED_MAP, ("- np.median(responses)", "- np.mean(responses)"))
    result = checks.check_bar_mapping_run(
        _student(DRAW_BAR, wrong_map, RUN, name="bar_mapping_run")
    )
    assert result.status == "correct" and "your `weighted_map` is wrong" in result.message
    assert "`draw_bar`" not in result.message


@pytest.mark.parametrize(
    ("edit", "package"),
    [
        (("np.stack([", "bars.coverage().numpy() if True else np.stack(["), "bar_coverage"),
        (
            (
                "return responses, weighted_map(responses, coverage, top_n)",
                "return responses, weighted_bar_map(responses, coverage, top_n=top_n)",
            ),
            "weighted_bar_map",
        ),
    ],
)
def test_bar_mapping_run_calling_the_package_is_caught(edit, package, lenient):
    source = "from artiphys_course.barmap import weighted_bar_map\n" + _edited(RUN, edit)
    result = checks.check_bar_mapping_run(
        _student(DRAW_BAR, WEIGHTED_MAP, source, name="bar_mapping_run")
    )
    _wrong(result)
    assert f"calls the package's `{package}`" in result.message


@pytest.mark.parametrize(
    ("check", "mistakes"),
    [
        (checks.check_draw_bar, checks._BAR_MISTAKES),
        (checks.check_weighted_map, checks._MAP_MISTAKES),
        (checks.check_orientation_tuning_curve, checks._TUNING_MISTAKES),
        (checks.check_bar_mapping_run, checks._RUN_MISTAKES),
    ],
)
def test_every_known_mistake_is_told_apart_from_the_answer(check, mistakes, lenient):
    for mistake in mistakes:
        _wrong(check(mistake.answer), mistake.name)
