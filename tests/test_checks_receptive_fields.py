"""The checks of notebook 02: right answers pass, plausible wrong ones are named, cheats caught.

Student answers are written as notebook cells (source executed in a fresh namespace), so chained
exercises find the student's own helpers as globals, as they do in a notebook.
"""

from __future__ import annotations

import pytest

from artiphys_course.checks import receptive_fields as checks

RF_STEP = """
def rf_step(rf_size, jump, start, kernel_size, stride, padding, dilation):
    k_eff = dilation * (kernel_size - 1) + 1
    return rf_size + (k_eff - 1) * jump, jump * stride, start + ((k_eff - 1) / 2 - padding) * jump
"""
OUTPUT_SIZE = """
def output_size(n, kernel_size, stride, padding, dilation):
    k_eff = dilation * (kernel_size - 1) + 1
    return (n + 2 * padding - k_eff) // stride + 1
"""
RF_OF_STACK = """
def rf_of_stack(layers):
    state = (1, 1, 0.0)
    for kernel_size, stride, padding, dilation in layers:
        state = rf_step(*state, kernel_size, stride, padding, dilation)
    return state
"""
RF_TABLE = """
from torch import nn

def network_rf_table(model, n):
    def one(value):
        return value if isinstance(value, int) else value[0]

    rf, jump, start, rows = 1, 1, 0.0, []
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            continue
        k, s, p = one(module.kernel_size), one(module.stride), one(module.padding)
        d = one(getattr(module, "dilation", 1))
        rf, jump, start = rf_step(rf, jump, start, k, s, p, d)
        n = output_size(n, k, s, p, d)
        rows.append(dict(layer=name, rf=rf, jump=jump, start=start, output_size=n))
    return rows
"""


def _student(*sources: str, name: str):
    """The function ``name`` of a notebook whose cells are ``sources``."""
    namespace: dict = {}
    for source in sources:
        exec(source, namespace)
    return namespace[name]


def _wrong(result, mistake: str | None = None) -> None:
    assert not result and result.status == "wrong" and result.points < result.max_points
    if mistake is not None:
        assert f"looks like {mistake}" in result.message, result.message


# -- rf_step -------------------------------------------------------------------------------------

RF_STEP_BY_LISTS = """
def rf_step(rf_size, jump, start, kernel_size, stride, padding, dilation):
    taps = [i * dilation for i in range(kernel_size)]
    span = taps[-1] - taps[0]
    centre = start + (span / 2 - padding) * jump
    return rf_size + span * jump, stride * jump, float(centre)
"""


@pytest.mark.parametrize("source", [RF_STEP, RF_STEP_BY_LISTS])
def test_rf_step_accepts_two_differently_written_answers(source):
    result = checks.check_rf_step(_student(source, name="rf_step"))
    assert result and result.passed == result.total >= 8 and result.points == 1.0


@pytest.mark.parametrize(
    ("old", "new", "mistake"),
    [
        ("k_eff = dilation * (kernel_size - 1) + 1", "k_eff = kernel_size", "a forgotten dilation"),
        ("- padding) * jump", ") * jump - padding", "padding counted in pixels"),
        ("(k_eff - 1) / 2", "(k_eff - 1) // 2", "an integer division"),
        ("rf_size + (k_eff - 1) * jump", "rf_size + k_eff * jump", "the kernel span"),
    ],
)
def test_rf_step_names_plausible_mistakes(old, new, mistake, lenient):
    result = checks.check_rf_step(_student(RF_STEP.replace(old, new), name="rf_step"))
    _wrong(result, mistake)
    assert "dilation * (kernel_size - 1)" not in result.message  # never the solution


def test_rf_step_calling_the_package_is_caught(lenient):
    cheat = _student(
        "from artiphys_course.receptive_fields import rf_step as package\n"
        "def rf_step(*args):\n    return package(*args)\n",
        name="rf_step",
    )
    result = checks.check_rf_step(cheat)
    _wrong(result)
    assert "calls the package's `rf_step`" in result.message


# -- output_size ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        OUTPUT_SIZE,
        "import math\n\ndef output_size(n, kernel_size, stride, padding, dilation):\n"
        "    span = n + 2 * padding - dilation * (kernel_size - 1) - 1\n"
        "    return math.floor(span / stride) + 1\n",
    ],
)
def test_output_size_accepts_two_differently_written_answers(source):
    assert checks.check_output_size(_student(source, name="output_size"))


@pytest.mark.parametrize(
    ("old", "new", "mistake"),
    [
        ("2 * padding - k_eff", "2 * padding - kernel_size", "a forgotten dilation"),
        ("// stride + 1", "// stride", "an off-by-one"),
        ("// stride", "/ stride", "a fractional number"),
        ("n + 2 * padding", "n + padding", "padding on one side only"),
    ],
)
def test_output_size_names_plausible_mistakes(old, new, mistake, lenient):
    _wrong(
        checks.check_output_size(_student(OUTPUT_SIZE.replace(old, new), name="output_size")),
        mistake,
    )


def test_output_size_calling_the_package_is_caught(lenient):
    cheat = _student(
        "from artiphys_course.receptive_fields import conv_output_size\n"
        "def output_size(*args):\n    return conv_output_size(*args)\n",
        name="output_size",
    )
    assert "calls the package's `conv_output_size`" in checks.check_output_size(cheat).message


# -- rf_of_stack ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        RF_OF_STACK,
        "def rf_of_stack(layers):\n    if not layers:\n        return 1, 1, 0.0\n"
        "    return rf_step(*rf_of_stack(layers[:-1]), *layers[-1])\n",
    ],
)
def test_rf_of_stack_accepts_two_differently_written_answers(source):
    result = checks.check_rf_of_stack(_student(RF_STEP, source, name="rf_of_stack"))
    assert result and "your `rf_step`" not in result.message


@pytest.mark.parametrize(
    ("old", "new", "mistake"),
    [
        ("in layers:", "in layers[::-1]:", "the layers applied in reverse order"),
        ("state = (1, 1, 0.0)", "state = (0, 1, 0.0)", "an image RF of 0 pixels"),
        ("state = rf_step(*state,", "state = rf_step(1, 1, 0.0,", "only the last layer"),
    ],
)
def test_rf_of_stack_names_plausible_mistakes(old, new, mistake, lenient):
    student = _student(RF_STEP, RF_OF_STACK.replace(old, new), name="rf_of_stack")
    _wrong(checks.check_rf_of_stack(student), mistake)


def test_rf_of_stack_blames_a_wrong_rf_step_not_itself(lenient):
    wrong_step = RF_STEP.replace("(k_eff - 1) / 2", "(k_eff - 1) // 2")
    result = checks.check_rf_of_stack(_student(wrong_step, RF_OF_STACK, name="rf_of_stack"))
    assert result.status == "correct" and "your `rf_step` is wrong" in result.message


def test_rf_of_stack_calling_the_package_table_is_caught(lenient):
    cheat = _student(
        "from torch import nn\nfrom artiphys_course.receptive_fields import receptive_field\n"
        "def rf_of_stack(layers):\n"
        "    net = nn.Sequential(*(nn.Conv2d(1, 1, *layer) for layer in layers))\n"
        "    rf = receptive_field(net, str(len(layers) - 1))\n"
        "    return rf.size[0], rf.jump[0], rf.start[0]\n",
        name="rf_of_stack",
    )
    assert "calls the package's `receptive_field`" in checks.check_rf_of_stack(cheat).message


# -- network_rf_table ------------------------------------------------------------------------------

RF_TABLE_BY_CHILDREN = """
from torch import nn

def network_rf_table(model, n):
    rows, state = [], (1, 1, 0.0, n)

    def walk(module, prefix):
        nonlocal state
        for name, child in module.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(child, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
                k, s, p = (v if isinstance(v, int) else v[0]
                           for v in (child.kernel_size, child.stride, child.padding))
                d = child.dilation if hasattr(child, "dilation") else 1
                d = d if isinstance(d, int) else d[0]
                rf, jump, start = rf_step(*state[:3], k, s, p, d)
                state = (rf, jump, start, output_size(state[3], k, s, p, d))
                rows.append({"layer": full, "rf": rf, "jump": jump, "start": start,
                             "output_size": state[3], "kind": type(child).__name__})
            else:
                walk(child, full)

    walk(model, "")
    return rows
"""


@pytest.mark.parametrize("source", [RF_TABLE, RF_TABLE_BY_CHILDREN])
def test_network_rf_table_accepts_two_differently_written_answers(source):
    result = checks.check_network_rf_table(
        _student(RF_STEP, OUTPUT_SIZE, source, name="network_rf_table")
    )
    assert result and result.passed == result.total == 3


@pytest.mark.parametrize(
    ("edits", "mistake"),
    [
        ([("(nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)", "nn.Conv2d")], "pooling layers left out"),
        ([('one(getattr(module, "dilation", 1))', "1")], "the layers' dilation not used"),
        (
            [
                ("n = output_size(n,", "size = output_size(n,"),
                ("output_size=n)", "output_size=size)"),
            ],
            "every output size computed from the image",
        ),
    ],
)
def test_network_rf_table_names_plausible_mistakes(edits, mistake, lenient):
    source = RF_TABLE
    for old, new in edits:
        assert old in source
        source = source.replace(old, new)
    student = _student(RF_STEP, OUTPUT_SIZE, source, name="network_rf_table")
    _wrong(checks.check_network_rf_table(student), mistake)


def test_network_rf_table_blames_the_wrong_helper(lenient):
    wrong_size = OUTPUT_SIZE.replace("// stride + 1", "// stride")
    student = _student(RF_STEP, wrong_size, RF_TABLE, name="network_rf_table")
    result = checks.check_network_rf_table(student)
    assert result.status == "correct" and "your `output_size` is wrong" in result.message
    assert "`rf_step`" not in result.message


def test_network_rf_table_calling_the_package_table_is_caught(lenient):
    cheat = _student(
        "from artiphys_course.receptive_fields import receptive_field_table\n"
        "def network_rf_table(model, n):\n"
        "    return [dict(layer=r.name, rf=r.size[0], jump=r.jump[0], start=r.start[0],\n"
        "                 output_size=r.output_shape[0])\n"
        "            for r in receptive_field_table(model, n) if r.kind != 'ReLU']\n",
        name="network_rf_table",
    )
    result = checks.check_network_rf_table(cheat)
    assert "calls the package's `receptive_field_table`" in result.message


@pytest.mark.parametrize(
    ("check", "mistakes"),
    [
        (checks.check_rf_step, checks._STEP_MISTAKES),
        (checks.check_output_size, checks._SIZE_MISTAKES),
        (checks.check_rf_of_stack, checks._STACK_MISTAKES),
        (checks.check_network_rf_table, checks._TABLE_MISTAKES),
    ],
)
def test_every_known_mistake_is_told_apart_from_the_answer(check, mistakes, lenient):
    for mistake in mistakes:
        _wrong(check(mistake.answer), mistake.name)
