"""The public namespace: topic modules as ``ap.<module>``, a short flat list, a light import."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import artiphys_course as ap

PACKAGE = Path(ap.__file__).parent
PRESENT = [t for t in ap.TOPICS if (PACKAGE / f"{t}.py").exists() or (PACKAGE / t).is_dir()]


def test_topics_cover_the_topic_files_of_the_package():
    # every topic listed that exists as a file resolves; modules still being created elsewhere
    # (listed ahead of time) are the only ones allowed to be missing
    assert {"runtime", "stimuli", "rsa", "plotting", "checks", "models", "data"} <= set(PRESENT)


@pytest.mark.parametrize("topic", PRESENT)
def test_each_topic_module_is_reachable_by_name(topic):
    assert getattr(ap, topic) is importlib.import_module(f"artiphys_course.{topic}")
    assert topic in dir(ap) and topic in ap.__all__


def test_flat_names_resolve_to_the_object_of_their_module():
    assert len(ap._EXPORTS) <= 20, "the flat list is for the few names a notebook reaches for"
    for name, topic in ap._EXPORTS.items():
        if topic not in PRESENT:
            continue
        module = importlib.import_module(f"artiphys_course.{topic}")
        assert getattr(ap, name) is getattr(module, name), name
        assert name in module.__all__, f"{name} is not in {module.__name__}.__all__"


def test_a_function_named_like_its_module_never_shadows_the_module():
    assert not set(ap._EXPORTS) & set(ap.TOPICS), "a flat name would hide its topic module"
    code = (
        "from artiphys_course.rsa import rsa\n"
        "import artiphys_course as ap\n"
        "assert callable(rsa) and ap.rsa.__name__ == 'artiphys_course.rsa', ap.rsa\n"
        "assert ap.rsa.rsa is rsa\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert ap.rsa.__name__ == "artiphys_course.rsa"


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_function"):
        ap.no_such_function  # noqa: B018


def test_version():
    assert ap.__version__ == "0.1.0"


def test_import_is_light():
    code = "import sys, artiphys_course as ap; print('torch' in sys.modules, ap.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False 0.1.0"
