"""artiphys-course: probe artificial and biological visual neurons with the same tools.

The helper package of the course. ``import artiphys_course as ap`` gives

- every topic module by name, imported on first use: ``ap.simulate``, ``ap.stimuli``,
  ``ap.recording``, ``ap.rsa``, ``ap.plotting``, ``ap.checks`` ... (see ``TOPICS``); and
- a few names a notebook reaches for first: ``ap.seed_everything(0)``, ``ap.get_device()``,
  ``ap.data_dir()``, ``ap.ArtiphysWarning``, ``ap.make_digital_v1()`` ... (see ``__all__``).

Everything else lives in its topic module (``ap.barmap.bar_map``, ``from artiphys_course.rsa
import rdm``). Nothing is imported before it is used, so ``import artiphys_course`` (and the
``artiphys`` command) start quickly.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__version__ = "0.1.0"
"""The package version; Colab install cells install the git tag ``v<version>`` (see README)."""

__repository__ = "artiphys-course/artiphys-course"
"""``owner/name`` of the course repository on GitHub: Colab, Binder and install links use it."""

TOPICS = (
    "runtime",
    "simulate",
    "data",
    "stimuli",
    "recording",
    "units",
    "receptive_fields",
    "barmap",
    "patches",
    "atlas",
    "models",
    "losses",
    "training",
    "metrics",
    "ridge",
    "gradient_rf",
    "mei",
    "tuning",
    "decoding",
    "rsa",
    "embedding",
    "features",
    "layer_grid",
    "in_silico",
    "plotting",
    "checks",
)
"""The topic modules and sub-packages, reachable as ``ap.<name>`` (imported on first use)."""

_EXPORTS: dict[str, str] = {
    "ArtiphysWarning": "runtime",
    "data_dir": "runtime",
    "get_device": "runtime",
    "offline": "runtime",
    "seed_everything": "runtime",
    "seeded": "runtime",
    "make_digital_v1": "simulate",
    "make_bars": "stimuli",
    "make_gabors": "stimuli",
    "make_gratings": "stimuli",
    "list_layers": "recording",
    "record_layers": "recording",
}
"""The flat names: name -> topic module that defines it."""

__all__ = sorted(["__repository__", "__version__", *TOPICS, *_EXPORTS])


def __getattr__(name: str) -> Any:
    if name in TOPICS:
        return _topic(name)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_topic(module), name)
    globals()[name] = value
    return value


def _topic(name: str) -> ModuleType:
    # importing a submodule binds it as an attribute of this package, so later look-ups of
    # ``ap.<topic>`` find the module itself, never a function of the same name
    return importlib.import_module(f"{__name__}.{name}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
