"""Lazy attributes for a package's ``__init__`` (PEP 562): modules imported on first use.

``import artiphys_course`` and ``from artiphys_course.plotting import encoding`` stay light because
their packages name their modules and functions without importing them (see "Import direction"
in docs/ARCHITECTURE.md). This module imports nothing of the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, modules: Iterable[str], names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose attributes load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    modules : iterable of str
        Its sub-modules reachable as attributes (``package.<module>``).
    names : mapping of str to str
        Names re-exported from those modules: name -> module that defines it.

    Returns
    -------
    (__getattr__, __dir__)
        To be bound as the package's module-level functions. A name, once looked up, is stored
        in the package's namespace, so later look-ups skip ``__getattr__``; an unknown name is an
        ``AttributeError`` naming the package.
    """
    modules, names = frozenset(modules), dict(names)
    namespace = vars(sys.modules[package])

    def submodule(name: str) -> Any:
        # importing a submodule binds it as an attribute of the package, so later look-ups of
        # ``package.<module>`` find the module itself, never a function of the same name
        return importlib.import_module(f"{package}.{name}")

    def __getattr__(name: str) -> Any:
        if name in modules:
            return submodule(name)
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(submodule(names[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | modules | set(names))

    return __getattr__, __dir__
