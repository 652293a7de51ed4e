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

from artiphys_course._lazy import lazy_attributes

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


__getattr__, __dir__ = lazy_attributes(__name__, TOPICS, _EXPORTS)
