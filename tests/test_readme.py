"""README stays true: the test command CI runs, and the notebook table."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command_verbatim():
    command = 'python -m pip install -e ".[dev]" && pytest'
    assert command in README
    assert command in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_readme_main_job_command():
    assert 'python -m pip install -e ".[course]" && artiphys run' in README


def test_notebook_table_lists_every_solution_and_links_exist():
    linked = set(re.findall(r"\]\((notebooks/[\w]+\.ipynb)\)", README))
    solutions = {f"notebooks/{p.name}" for p in (REPO / "solutions").glob("*.ipynb")}
    assert solutions <= linked, f"README lacks {sorted(solutions - linked)}"
    missing = [link for link in linked if not (REPO / link).exists()]
    assert not missing, f"README links to missing notebooks {missing}"


def test_every_github_link_names_the_one_repository():
    from artiphys_course import __repository__

    linked = set(re.findall(r"(?:github\.com|/github|/gh)/([\w.-]+/[\w.-]+)/", README))
    assert linked == {__repository__}, (
        f"README links to {linked}, the package says {__repository__}"
    )


def test_notebook_table_is_generated_from_the_notebooks_metadata():
    from artiphys_course.course.readme import update_readme

    assert update_readme(README, REPO / "solutions") == README, (
        "README's notebook table differs from the solutions' metadata: regenerate it with "
        "artiphys_course.course.readme.update_readme"
    )
