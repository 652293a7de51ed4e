"""Several recording sessions: digital-V1 sessions and training batches interleaved across them.

A real data set of mouse V1 has several sessions (scans of different mice or fields of view):
different neurons, different eye movements, different numbers of images. A multi-session
encoding model (Lurz et al. 2021; the SENSORIUM 2022 baselines, Willeke et al. 2022) shares one
core between all sessions and gives each session its own readout and shifter, indexed by a
*data key* (:class:`~artiphys_course.models.encoders.Encoder`). Training shows it the batches
of all sessions in one pass, interleaved, each batch with its data key.

- :data:`DIGITAL_V1_SESSIONS` and :func:`make_digital_v1_sessions`: three simulated sessions
  (independent digital V1s of different sizes and eye movements) as static data sets by data
  key.
- :class:`SessionBatches`: one epoch's batches of several loaders, interleaved round-robin or
  in a seeded random order proportional to the sessions' sizes, as ``(data_key, batch)`` pairs;
  every batch of every session exactly once per pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sized
from typing import Any, Protocol

import torch

from artiphys_course.data.static import StaticDataset
from artiphys_course.simulate.digital_v1 import make_digital_v1

__all__ = ["DIGITAL_V1_SESSIONS", "ORDERS", "SessionBatches", "make_digital_v1_sessions"]

DIGITAL_V1_SESSIONS: dict[str, dict[str, Any]] = {
    "session_a": {
        "seed": 101,
        "n_neurons": 150,
        "n_train": 800,
        "n_validation": 100,
        "n_test_images": 40,
        "eye_shift_sd": 1.0,
    },
    "session_b": {
        "seed": 102,
        "n_neurons": 100,
        "n_train": 500,
        "n_validation": 80,
        "n_test_images": 40,
        "eye_shift_sd": 0.5,
    },
    "session_c": {
        "seed": 103,
        "n_neurons": 50,
        "n_train": 200,
        "n_validation": 60,
        "n_test_images": 40,
        "eye_shift_sd": 1.5,
    },
}
"""Data key -> :func:`~artiphys_course.simulate.make_digital_v1` options of three sessions.

Each session is an independent digital V1 (its own seed: other neurons, other images, other eye
movements), with a different number of neurons and training images and a different spread of
eye positions (``eye_shift_sd``, pixels); ``"session_c"`` is the small one. All share the image
size (36 x 64), so one core can read them all.
"""

ORDERS = ("round_robin", "proportional")
"""How :class:`SessionBatches` interleaves the sessions."""


class _SizedIterable(Sized, Protocol):
    def __iter__(self) -> Iterator[Any]: ...


def make_digital_v1_sessions(
    sessions: Mapping[str, Mapping[str, Any]] | None = None, *, progress: bool = True
) -> dict[str, StaticDataset]:
    """Simulate several recording sessions, one digital V1 each, as static data sets.

    Parameters
    ----------
    sessions : mapping of str to dict, optional
        Data key -> options of :func:`~artiphys_course.simulate.make_digital_v1` (each needs
        its own ``seed``; all must give the same ``image_shape``). Default
        :data:`DIGITAL_V1_SESSIONS`.
    progress : bool
        Show a progress bar while each session's rates are computed.

    Returns
    -------
    dict of str to StaticDataset
        In the order of ``sessions``; each data set is named by its data key and keeps the
        session's :class:`~artiphys_course.simulate.DigitalV1` as ``truth`` (noise ceilings,
        true neurons, eye shifts).

    Raises
    ------
    ValueError
        ``sessions`` is empty, two sessions share a seed, or the image shapes differ.
    TypeError
        A session has no ``seed`` or an unknown option (from ``make_digital_v1``).
    """
    sessions = DIGITAL_V1_SESSIONS if sessions is None else sessions
    if not sessions:
        raise ValueError("sessions is empty; give at least one data key -> options.")
    missing = [key for key, options in sessions.items() if "seed" not in options]
    if missing:
        raise TypeError(f"sessions {missing} have no 'seed'; give each session its own int seed.")
    seeds = [options["seed"] for options in sessions.values()]
    if len(set(seeds)) != len(seeds):
        raise ValueError(
            f"sessions must have different seeds (else they are the same recording), got {seeds}."
        )
    datasets: dict[str, StaticDataset] = {}
    for key, options in sessions.items():
        dataset = StaticDataset.from_digital_v1(make_digital_v1(progress=progress, **options))
        dataset.name = f"{key} (digital V1, seed {options['seed']})"
        datasets[key] = dataset
    shapes = {key: dataset.image_shape for key, dataset in datasets.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"sessions must share one image_shape for one core, got {shapes}.")
    return datasets


class SessionBatches:
    """The batches of several sessions, interleaved: one pass yields ``(data_key, batch)`` pairs.

    Every pass yields every batch of every loader exactly once, each loader's batches in their
    own order (a shuffling loader reshuffles them per pass). How the sessions alternate:

    - ``"round_robin"``: one batch of each session in turn (in the order of ``loaders``); a
      session whose batches are used up drops out, so the larger sessions finish the pass.
    - ``"proportional"``: a random order in which each session appears as often as it has
      batches, so every stretch of the pass mixes the sessions in proportion to their sizes. The
      order is drawn anew per pass from torch's global generator, which
      :func:`artiphys_course.training.fit` seeds (reproducible without a generator argument).

    With one session both orders are that loader's own order (and draw no random number).

    Parameters
    ----------
    loaders : mapping of str to iterable
        Data key -> re-iterable batches with a length (e.g. the ``"train"``
        :class:`~artiphys_course.data.static.StaticLoader` of each session).
    order : {"round_robin", "proportional"}

    Attributes
    ----------
    current_key : str or None
        Data key of the batch yielded last (``None`` before the first): a training loop's
        regulariser uses the readout of this session.
    """

    def __init__(self, loaders: Mapping[str, _SizedIterable], *, order: str = "round_robin"):
        if not isinstance(loaders, Mapping) or not loaders:
            raise ValueError(
                "loaders must be a non-empty dict of data key -> batches, got "
                f"{type(loaders).__name__} {loaders!r:.80}."
            )
        if order not in ORDERS:
            raise ValueError(f"order must be one of {list(ORDERS)}, got {order!r}.")
        empty = [key for key, loader in loaders.items() if len(loader) == 0]
        if empty:
            raise ValueError(f"loaders {empty} yield no batches.")
        self.loaders = dict(loaders)
        self.order = order
        self.current_key: str | None = None

    def __len__(self) -> int:
        return sum(len(loader) for loader in self.loaders.values())

    def schedule(self) -> list[str]:
        """The data keys of one pass, in order (draws a new order for ``"proportional"``)."""
        counts = {key: len(loader) for key, loader in self.loaders.items()}
        if self.order == "round_robin" or len(counts) == 1:
            rounds = max(counts.values())
            return [key for i in range(rounds) for key, n in counts.items() if i < n]
        keys = [key for key, n in counts.items() for _ in range(n)]
        return [keys[i] for i in torch.randperm(len(keys)).tolist()]

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        iterators = {key: iter(loader) for key, loader in self.loaders.items()}
        for key in self.schedule():
            try:
                batch = next(iterators[key])
            except StopIteration:
                raise ValueError(
                    f"loaders[{key!r}] yielded fewer batches than its length "
                    f"{len(self.loaders[key])}."
                ) from None
            self.current_key = key
            yield key, batch

    def __repr__(self) -> str:
        sizes = ", ".join(f"{key}: {len(loader)}" for key, loader in self.loaders.items())
        return f"SessionBatches({self.order}, batches {sizes})"
