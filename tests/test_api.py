"""The public API: every advertised name resolves, lazily, to the object of its module."""

from __future__ import annotations

import importlib
import subprocess
import sys

import artiphys_course as ap


def test_every_public_name_resolves_to_its_module_object():
    for name in ap.__all__:
        value = getattr(ap, name)
        if name in ap._SUBPACKAGES:
            assert value is importlib.import_module(f"artiphys_course.{name}")
        else:
            module = importlib.import_module(f"artiphys_course.{ap._EXPORTS[name]}")
            assert value is getattr(module, name), name
            assert name in module.__all__, f"{name} is not in {module.__name__}.__all__"


def test_submodules_are_not_shadowed_by_functions():
    import artiphys_course.gradient_rf as module

    assert module.__name__ == "artiphys_course.gradient_rf"
    assert ap.preferred_orientation.__module__ == "artiphys_course.tuning"


def test_unknown_name_raises_attribute_error():
    try:
        ap.no_such_function  # noqa: B018
    except AttributeError as err:
        assert "no_such_function" in str(err)
    else:
        raise AssertionError("expected AttributeError")


def test_import_is_light():
    code = "import sys, artiphys_course; print('torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
