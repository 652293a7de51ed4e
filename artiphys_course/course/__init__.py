"""Course tooling, not for students: turn solutions into student notebooks and run notebooks.

``authoring`` (solution -> student notebook, ``artiphys build``), ``execution`` (headless runs,
``artiphys run``), ``grading`` (score students' notebooks, ``artiphys grade``) and ``cli`` (the
``artiphys`` command). Building and running notebooks needs the
optional Jupyter dependencies (``pip install 'artiphys-course[course]'``); nothing else in the
package imports this sub-package.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]

INSTALL_HINT = "pip install 'artiphys-course[course]'"


def require(module: str) -> ModuleType:
    """Import one of the optional Jupyter dependencies of the course tooling.

    Parameters
    ----------
    module : str
        The module to import, e.g. ``"nbformat"`` or ``"nbclient"``.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ImportError
        When it is not installed; the message says how to install the ``course`` extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"building and running notebooks needs {module!r}, which is not installed: "
            f"{INSTALL_HINT}"
        ) from err
