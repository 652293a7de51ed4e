"""The README's notebook table, generated from the solution notebooks' metadata.

Each solution notebook carries its own facts in ``metadata["artiphys"]``: ``title``, ``topic``
and ``minutes`` (the time to work through it). They are the single source: the notebook's
"Estimated time" line and the README's table of notebooks are rendered from them, and a test
fails when either disagrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from artiphys_course.course import require

__all__ = [
    "NotebookEntry",
    "format_minutes",
    "notebook_entries",
    "notebook_table",
    "update_readme",
]

REPOSITORY = "artiphys-course/artiphys-course"
"""GitHub ``owner/name`` the Colab and Binder badges point to."""

TABLE_HEADER = "| # | notebook | topic | time | open |\n|---|---|---|---|---|"
"""The first two lines of the README's notebook table."""


@dataclass(frozen=True)
class NotebookEntry:
    """One row of the notebook table.

    Attributes
    ----------
    number : str
        The two-digit prefix of the file name, e.g. ``"03"``.
    name : str
        The file name, e.g. ``"03_encoding_models.ipynb"``.
    title, topic : str
        ``metadata["artiphys"]["title"]`` and ``["topic"]`` of the solution notebook.
    minutes : int
        ``metadata["artiphys"]["minutes"]``: the time to work through the notebook.
    """

    number: str
    name: str
    title: str
    topic: str
    minutes: int


def format_minutes(minutes: int) -> str:
    """Write a duration as the README and the notebooks do: ``45 min``, ``1 h``, ``1 h 15 min``.

    Parameters
    ----------
    minutes : int
        A positive number of minutes.

    Returns
    -------
    str
        The duration in hours and minutes.

    Raises
    ------
    ValueError
        If ``minutes`` is not a positive integer.
    """
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise ValueError(f"minutes must be a positive integer, got {minutes!r}")
    hours, rest = divmod(minutes, 60)
    if hours == 0:
        return f"{rest} min"
    return f"{hours} h" if rest == 0 else f"{hours} h {rest} min"


def notebook_entries(solutions_dir: str | Path) -> list[NotebookEntry]:
    """Read the table facts of every ``NN_*.ipynb`` in ``solutions_dir``, in file-name order.

    Parameters
    ----------
    solutions_dir : str or Path
        The folder of solution notebooks.

    Returns
    -------
    list of NotebookEntry
        One entry per notebook.

    Raises
    ------
    ValueError
        If a notebook lacks ``metadata["artiphys"]`` with ``title``, ``topic`` and a positive
        integer ``minutes``; the message names the notebook and the missing key.
    """
    nbformat = require("nbformat")
    entries = []
    for path in sorted(Path(solutions_dir).glob("[0-9][0-9]_*.ipynb")):
        facts = nbformat.read(path, as_version=4).metadata.get("artiphys", {})
        missing = [key for key in ("title", "topic", "minutes") if key not in facts]
        if missing:
            raise ValueError(f"{path.name}: metadata['artiphys'] lacks {missing}")
        try:
            format_minutes(facts["minutes"])
        except ValueError as err:
            raise ValueError(f"{path.name}: metadata['artiphys']['minutes']: {err}") from None
        entries.append(
            NotebookEntry(
                path.name[:2], path.name, facts["title"], facts["topic"], facts["minutes"]
            )
        )
    return entries


def _badges(name: str) -> str:
    colab = (
        "[![Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{name})"
    )
    labpath = quote(f"notebooks/{name}", safe="")
    binder = (
        "[![Binder](https://mybinder.org/badge_logo.svg)]"
        f"(https://mybinder.org/v2/gh/{REPOSITORY}/main?labpath={labpath})"
    )
    return f"{colab} {binder}"


def notebook_table(solutions_dir: str | Path) -> str:
    """Render the README's notebook table (header, one row per notebook, and the total time).

    Parameters
    ----------
    solutions_dir : str or Path
        The folder of solution notebooks.

    Returns
    -------
    str
        Markdown: the table, then a line with the total time, without a trailing newline.
    """
    entries = notebook_entries(solutions_dir)
    rows = [
        f"| {e.number} | [{e.title}](notebooks/{e.name}) | {e.topic} | "
        f"{format_minutes(e.minutes)} | {_badges(e.name)} |"
        for e in entries
    ]
    total = format_minutes(sum(e.minutes for e in entries))
    return "\n".join([TABLE_HEADER, *rows, "", f"In all about {total} of work."])


_TABLE = re.compile(re.escape(TABLE_HEADER) + r"\n(?:\|.*\|\n)*\nIn all about [^\n]* of work\.")


def update_readme(readme: str, solutions_dir: str | Path) -> str:
    """Replace the notebook table in the README's text by the one the metadata give.

    Parameters
    ----------
    readme : str
        The README's text; it must contain a table rendered by :func:`notebook_table`.
    solutions_dir : str or Path
        The folder of solution notebooks.

    Returns
    -------
    str
        The README with its table regenerated (unchanged when already up to date).

    Raises
    ------
    ValueError
        If ``readme`` contains no such table.
    """
    if not _TABLE.search(readme):
        raise ValueError(
            "readme has no notebook table starting with the header "
            f"{TABLE_HEADER.splitlines()[0]!r} and ending with 'In all about ... of work.'"
        )
    table = notebook_table(solutions_dir)
    return _TABLE.sub(lambda _: table, readme, count=1)
