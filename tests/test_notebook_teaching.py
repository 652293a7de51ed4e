"""Every solution notebook teaches the Neuromatch way and carries its own facts.

Prompts that make students think before they read the answer (``Think!`` / ``Predict!`` with
the answer folded in ``<details>``), a "Going further" block, open projects where the course
promises them, a python3 kernelspec, and ``metadata["artiphys"]`` with the time estimate that
the notebook's "Estimated time" line states.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from artiphys_course.course.readme import format_minutes

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("[0-9][0-9]_*.ipynb"))
WITH_PROJECTS = {"03", "06", "07"}

FOLDED = re.compile(r"<details>\s*<summary>.+?</summary>.+?</details>", re.DOTALL)


def prompt_cells(nb: nbformat.NotebookNode) -> list[str]:
    """Markdown cells that ask (``Think!`` or ``Predict``) and fold their answer away."""
    return [
        cell.source
        for cell in nb.cells
        if cell.cell_type == "markdown"
        and re.search(r"\b(Think!|Predict)", cell.source)
        and FOLDED.search(cell.source)
    ]


def markdown(nb: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def test_there_are_solution_notebooks():
    assert len(SOLUTIONS) >= 9


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_notebook_asks_at_least_three_questions_with_folded_answers(path):
    nb = nbformat.read(path, as_version=4)
    prompts = prompt_cells(nb)
    assert len(prompts) >= 3, f"{path.name}: {len(prompts)} Think!/Predict prompts, need 3"
    for source in prompts:
        # the question comes first: the folded answer is not the start of the cell
        asks = re.search(r"\b(Think!|Predict)", source).start()
        assert asks < source.index("<details>")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_notebook_has_going_further_and_promised_projects(path):
    text = markdown(nbformat.read(path, as_version=4))
    assert "## Going further" in text, path.name
    if path.name[:2] in WITH_PROJECTS:
        assert "## Open projects" in text, path.name


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_notebook_has_python3_kernelspec(path):
    kernelspec = nbformat.read(path, as_version=4).metadata.get("kernelspec", {})
    assert kernelspec.get("name") == "python3", f"{path.name}: kernelspec {kernelspec}"
    assert kernelspec.get("language") == "python"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_notebook_states_the_time_of_its_metadata(path):
    nb = nbformat.read(path, as_version=4)
    facts = nb.metadata.get("artiphys", {})
    assert {"title", "topic", "minutes"} <= set(facts), f"{path.name}: metadata {facts}"
    stated = re.findall(r"\*\*Estimated time:\*\* ([^.(]*?)(?= \(|\. )", nb.cells[0].source)
    assert stated == [format_minutes(facts["minutes"])], (path.name, stated, facts["minutes"])
