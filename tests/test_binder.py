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


def test_binder_requirements_match_runtime_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r for r in project["dependencies"]}
    lines = (REPO / "binder" / "requirements.txt").read_text().splitlines()
    given = {
        _name(line): line for line in lines if line.strip() and not line.startswith(("#", "-"))
    }
    assert set(given) == set(wanted), "binder/requirements.txt and pyproject dependencies differ"
    for name, requirement in wanted.items():
        assert given[name].replace(" ", "") == requirement.replace(" ", ""), name


def test_binder_uses_cpu_torch_and_installs_the_package():
    requirements = (REPO / "binder" / "requirements.txt").read_text()
    assert "download.pytorch.org/whl/cpu" in requirements
    assert "pip install --no-deps -e ." in (REPO / "binder" / "postBuild").read_text()
    python = (REPO / "binder" / "runtime.txt").read_text().strip()
    required = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python.startswith("python-3.") and int(python.split(".")[1]) >= int(
        required.split(".")[-1]
    )
