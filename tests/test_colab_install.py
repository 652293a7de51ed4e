"""The Colab install cell leaves Colab's kernel packages alone (a resolver dry run, no install).

A fake Colab environment gets the kernel packages Colab pins (``data/colab-preinstalled-*.txt``);
then ``uv pip install --dry-run`` of the package must plan no change to any of them. Needs ``uv``
and the package registry; skipped without them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PREINSTALLED = REPO / "tests" / "data" / "colab-preinstalled-2024-07.txt"
PROTECTED = {"ipykernel", "ipython", "ipywidgets", "jupyter-client", "tornado", "pyzmq"}


def _uv(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["uv", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv")
def test_installing_the_package_changes_none_of_colabs_kernel_packages(tmp_path):
    venv = tmp_path / "colab"
    python = venv / "bin" / "python"
    made = _uv("venv", "-q", "--python", sys.executable, str(venv))
    assert made.returncode == 0, made.stderr
    colab = _uv("pip", "install", "-q", "--python", str(python), "-r", str(PREINSTALLED))
    if colab.returncode != 0:
        pytest.skip(f"the package registry is not reachable: {colab.stderr.strip()[-200:]}")
    plan = _uv("pip", "install", "--dry-run", "--python", str(python), str(REPO))
    assert plan.returncode == 0, plan.stderr
    changes = re.findall(r"^ ([-+]) ([\w.-]+)==(\S+)", plan.stderr + plan.stdout, re.M)
    assert changes, f"no install plan in uv's output:\n{plan.stderr}"
    touched = sorted({name for _, name, _ in changes if name.lower() in PROTECTED})
    assert not touched, f"the install would change Colab's kernel packages {touched}"
