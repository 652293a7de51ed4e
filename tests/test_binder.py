"""binder/ must stay consistent with pyproject.toml."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pins() -> dict[str, str]:
    lines = (REPO / "binder" / "requirements.txt").read_text().splitlines()
    pins = {}
    for line in lines:
        if line.strip() and not line.startswith(("#", "-")):
            name, _, version = line.partition("==")
            assert version, f"binder/requirements.txt is a lock file: {line!r} is not pinned"
            pins[_name(name)] = version.strip()
    return pins


def test_the_lock_file_pins_every_runtime_dependency_within_its_range():
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = _pins()
    for text in project["dependencies"] + project["optional-dependencies"]["course"]:
        requirement = Requirement(text)
        name = _name(requirement.name)
        assert name in pins, f"{name} is not in the lock file: run binder/lock.sh"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"locked {name}=={pins[name]} is outside {requirement.specifier}: run binder/lock.sh"
        )
    cuda_only = [name for name in pins if name.startswith(("nvidia-", "cuda-", "triton"))]
    assert not cuda_only, f"CUDA-only packages in the CPU lock file: {cuda_only}"


def test_binder_uses_cpu_torch_and_installs_the_package():
    requirements = (REPO / "binder" / "requirements.txt").read_text()
    assert "download.pytorch.org/whl/cpu" in requirements
    post_build = (REPO / "binder" / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post_build and "artiphys fetch" in post_build
    python = (REPO / "binder" / "runtime.txt").read_text().strip()
    required = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python.startswith("python-3.") and int(python.split(".")[1]) >= int(
        required.split(".")[-1]
    )
