"""Real mouse V1 responses to natural scenes (Allen Brain Observatory, 31 x 31 pixel version).

A tiny image -> response data set for the layer x area grid: 118 natural scenes (grey,
down-sampled to 31 x 31 pixels) and the trial-averaged responses (50 repeats) of 212 neurons
recorded with two-photon calcium imaging in mouse primary visual cortex (VISp, Cux2-CreERT2;
GCaMP6f, 275 um depth, experiment container 511510667; de Vries et al. 2020, Nat. Neurosci.
23:138). The arrays were prepared by github.com/psailamul/Allen_Brain_Observatory and are
registered in :mod:`artiphys_course.data.registry` under the names ``allen_*``::

    <data_dir>/allen_natural_scenes_31px/
    ├── all_input_scenes_118_961.npy            (118, 961) grey levels 0..255, rows row-major 31x31
    ├── Allen_train_input.npy / _output.npy     (100, 961) / (100, 212) trial averages
    ├── Allen_test_input.npy / _output.npy      (18, 961) / (18, 212) trial averages
    └── split_indices_into_all_input_scenes.json  {"train": [100 rows], "test": [18 rows]}

Units caveat: the source does not document the response units. They look like dF/F in percent
(mean about 0.1, s.d. about 10) and **can be negative**, so they suit a correlation or a
least-squares readout, not a Poisson loss without shifting. Only trial averages exist here, so no
noise ceiling and no split-half reliability can be computed.

Provenance (the source's preparation script, read against allensdk's ``NaturalScenes``): image
row ``k`` of ``all_input_scenes`` is the Brain Observatory's natural-scene template ``k`` (resized
from 918 x 1174 to 31 x 31, so the aspect ratio is lost), and response row ``k`` is the mean
response to stimulus frame ``k`` (row ``k + 1`` of ``NaturalScenes.get_response``, whose row 0 is
the blank screen); both were split with one permutation drawn after ``np.random.seed(31)``, which
the stored split reproduces (``tests/test_allen.py``). So image and response rows are aligned by
construction. The script took response columns ``1:213`` of a table whose columns are the cells
followed by the running speed: the first cell is missing and, if the session had 212 cells, the
last column is the mouse's running speed rather than a neuron.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from artiphys_course.data.registry import DataUnavailableError, cached_path, fetch

__all__ = ["AllenNaturalScenes", "load_allen_natural_scenes", "ALLEN_IMAGE_SHAPE"]

#: Height and width of the down-sampled scenes (pixels).
ALLEN_IMAGE_SHAPE = (31, 31)


@dataclass
class AllenNaturalScenes:
    """The Allen natural-scenes set, ready for a readout.

    Attributes
    ----------
    images : np.ndarray
        ``(118, 1, 31, 31)`` float32 grey levels 0..255 (all scenes).
    train_image_ids, test_image_ids : np.ndarray
        ``(100,)`` and ``(18,)`` int64 rows of ``images`` (the source's split).
    train_responses, test_responses : np.ndarray
        ``(100, 212)`` and ``(18, 212)`` float32 trial-averaged responses (50 repeats each), in
        undocumented dF/F-like units that can be negative (see the module docstring).
    n_repeats : int
        Repeats averaged per image (50).
    """

    images: np.ndarray
    train_image_ids: np.ndarray
    train_responses: np.ndarray
    test_image_ids: np.ndarray
    test_responses: np.ndarray
    n_repeats: int = 50

    @property
    def n_neurons(self) -> int:
        return self.train_responses.shape[1]


def _get(name: str, download: bool, progress: bool) -> Path:
    if download:
        return fetch(name, progress=progress)
    path = cached_path(name)
    if path is None:
        raise DataUnavailableError(
            f"The Allen natural-scenes file {name!r} is not cached and download=False. "
            f"Run `artiphys fetch {name}` (or artiphys_course.data.registry.fetch({name!r})), or "
            "copy the course's shared/data folder into the cache with `artiphys fetch --from DIR`."
        )
    return path


def _split_from_inputs(
    scenes: np.ndarray, download: bool, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Recover the split by exact row matching when the split JSON is not cached."""
    rows = {scene.tobytes(): i for i, scene in enumerate(scenes)}
    out = []
    for name in ("allen_train_input", "allen_test_input"):
        inputs = np.load(_get(name, download, progress))
        try:
            out.append(np.array([rows[r.tobytes()] for r in inputs], dtype=np.int64))
        except KeyError:
            raise ValueError(f"a row of {name} is not among the 118 scenes") from None
    return out[0], out[1]


def load_allen_natural_scenes(
    *, download: bool = True, progress: bool = True
) -> AllenNaturalScenes:
    """Load the Allen natural-scenes responses from the cache (downloading when allowed).

    Parameters
    ----------
    download : bool
        Download missing files (:func:`artiphys_course.data.registry.fetch`; never when
        ``ARTIPHYS_OFFLINE`` is set). With ``False`` only cached files are used.
    progress : bool
        Show download progress bars.

    Returns
    -------
    AllenNaturalScenes

    Raises
    ------
    DataUnavailableError
        A file is missing and cannot be downloaded; the message says how to get it.
    """
    scenes = np.load(_get("allen_all_input_scenes", download, progress))
    h, w = ALLEN_IMAGE_SHAPE
    if scenes.shape != (118, h * w):
        raise ValueError(f"all_input_scenes must be (118, {h * w}), got {scenes.shape}")
    split = cached_path("allen_split_indices")
    if split is not None:
        indices = json.loads(split.read_text())
        train_ids = np.asarray(indices["train"], dtype=np.int64)
        test_ids = np.asarray(indices["test"], dtype=np.int64)
    else:
        train_ids, test_ids = _split_from_inputs(scenes, download, progress)
    train = np.load(_get("allen_train_output", download, progress))
    test = np.load(_get("allen_test_output", download, progress))
    if train.shape != (len(train_ids), test.shape[1]) or len(test) != len(test_ids):
        raise ValueError(
            f"inconsistent Allen files: {train.shape} training and {test.shape} test responses "
            f"for {len(train_ids)} / {len(test_ids)} images"
        )
    return AllenNaturalScenes(
        images=scenes.reshape(-1, 1, h, w).astype(np.float32),
        train_image_ids=train_ids,
        train_responses=train.astype(np.float32),
        test_image_ids=test_ids,
        test_responses=test.astype(np.float32),
    )
