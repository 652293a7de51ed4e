"""Read and write the static folder format of neuralpredictors / Lurz et al. (2021).

One ``.npy`` file per trial and array, plus meta data. The same tree may sit in a folder or in
a ``.zip`` (at the top level of the archive or inside one folder of it)::

    static-dataset/
    ├── config.json                          {"links": {}}  (neuralpredictors expects it)
    ├── data/
    │   ├── images/0.npy ... {T-1}.npy       (C, H, W) image shown on trial i
    │   ├── responses/{i}.npy                (n_neurons,) response on trial i
    │   └── pupil_center/{i}.npy             (2,) pupil position on trial i   (optional)
    └── meta/
        ├── neurons/
        │   ├── unit_ids.npy                 (n_neurons,)
        │   └── cell_motor_coordinates.npy   (n_neurons, 3) micrometres        (optional)
        ├── trials/
        │   ├── tiers.npy                    (T,) "train" | "validation" | "test"
        │   └── frame_image_id.npy           (T,) identifier of the image of each trial
        └── statistics/
            └── {images,responses,pupil_center}/all/{mean,std,min,max,median}.npy

Images are stored once per *trial* (as in the original format), so images that no trial shows
are not written, and reading keeps one copy per distinct ``frame_image_id``.

:func:`read_static_folder` only ever opens files for reading: unlike neuralpredictors, it
never unpacks a zip next to it or adds a ``config.json`` to the data folder. The statistics
written are the data set's (training-tier) statistics, stored under ``all/`` because that is
where neuralpredictors looks.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from artiphys_course.data.static import STATISTICS, StaticDataset
from artiphys_course.runtime import progress_bar

__all__ = ["write_static_folder", "read_static_folder"]

_MARKER = "meta/trials/tiers.npy"


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _entries(dataset: StaticDataset, progress: bool):
    """Yield (relative path, bytes) of every file of the format."""
    yield "config.json", json.dumps({"links": {}}).encode()
    yield "meta/trials/tiers.npy", _npy_bytes(dataset.tiers)
    yield "meta/trials/frame_image_id.npy", _npy_bytes(dataset.image_ids[dataset.trial_image_ids])
    yield "meta/neurons/unit_ids.npy", _npy_bytes(dataset.unit_ids)
    if dataset.cell_motor_coordinates is not None:
        coords = _npy_bytes(dataset.cell_motor_coordinates)
        yield "meta/neurons/cell_motor_coordinates.npy", coords
    for array, stats in dataset.statistics.items():
        for stat in STATISTICS:
            yield f"meta/statistics/{array}/all/{stat}.npy", _npy_bytes(stats[stat])
    trials = progress_bar(range(dataset.n_trials), progress, desc="writing trials")
    for i in trials:
        yield f"data/images/{i}.npy", _npy_bytes(dataset.images[dataset.trial_image_ids[i]])
        yield f"data/responses/{i}.npy", _npy_bytes(dataset.responses[i])
        if dataset.pupil_center is not None:
            yield f"data/pupil_center/{i}.npy", _npy_bytes(dataset.pupil_center[i])


def write_static_folder(
    dataset: StaticDataset,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write ``dataset`` in the static folder format (see the module docstring).

    Parameters
    ----------
    dataset : StaticDataset
    path : path-like
        A folder, or a file ending in ``.zip`` (the tree then sits in a folder named after the
        zip inside it, as in the published data sets).
    overwrite : bool
        Replace an existing data set at ``path`` (only a folder that holds this format, or a
        zip file, is ever replaced).
    progress : bool
        Show a progress bar over trials.

    Returns
    -------
    pathlib.Path
        ``path``. The data set appears there complete or not at all (written to a temporary
        name first, then renamed).
    """
    path = Path(path)
    is_zip = path.suffix.lower() == ".zip"
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
        if not is_zip and not (path / _MARKER).is_file():
            raise FileExistsError(
                f"{path} exists and is not a static data set folder (no {_MARKER}); refusing to "
                "replace it. Choose a new path."
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_zip:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".partial")
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
                for rel, data in _entries(dataset, progress):
                    archive.writestr(f"{path.stem}/{rel}", data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-", suffix=".partial"))
    try:
        for rel, data in _entries(dataset, progress):
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


class _Tree:
    """Read-only view of the format's files in a folder or a zip archive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.archive: zipfile.ZipFile | None = None
        if path.is_dir():
            self.root = path
            if not (path / _MARKER).is_file():
                raise FileNotFoundError(self._not_found())
            return
        if not path.is_file():
            raise FileNotFoundError(f"No folder or zip file at {path}.")
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{path} is neither a folder nor a zip archive.")
        self.archive = zipfile.ZipFile(path)
        self.names = set(self.archive.namelist())
        markers = sorted(name for name in self.names if name.endswith(_MARKER))
        if not markers:
            self.archive.close()
            raise FileNotFoundError(self._not_found())
        self.prefix = markers[0][: -len(_MARKER)]

    def _not_found(self) -> str:
        return (
            f"{self.path} does not hold a static data set: {_MARKER} is missing. Expected the "
            "neuralpredictors static folder format (see artiphys_course.data.folder)."
        )

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def exists(self, rel: str) -> bool:
        if self.archive is None:
            return (self.root / rel).exists()
        rel = self.prefix + rel
        return rel in self.names or any(name.startswith(rel + "/") for name in self.names)

    def count(self, folder: str) -> int:
        """Number of ``.npy`` files directly in ``folder``."""
        if self.archive is None:
            return sum(1 for _ in (self.root / folder).glob("*.npy"))
        start = f"{self.prefix}{folder}/"
        return sum(
            1
            for name in self.names
            if name.startswith(start) and name.endswith(".npy") and "/" not in name[len(start) :]
        )

    def load(self, rel: str) -> np.ndarray:
        try:
            if self.archive is None:
                return np.load(self.root / rel, allow_pickle=False)
            return np.load(io.BytesIO(self.archive.read(self.prefix + rel)), allow_pickle=False)
        except (FileNotFoundError, KeyError):
            raise FileNotFoundError(f"{self.path}: missing file {rel}.") from None


def _per_trial(tree: _Tree, key: str, trials, progress: bool) -> np.ndarray:
    rows = progress_bar(trials, progress, desc=f"reading {key}")
    return np.stack([tree.load(f"data/{key}/{int(i)}.npy") for i in rows])


def read_static_folder(
    path: str | os.PathLike,
    *,
    statistics: str = "train",
    progress: bool = True,
    name: str | None = None,
) -> StaticDataset:
    """Read a static data set from a folder or a ``.zip`` (see the module docstring).

    Nothing is written anywhere, neither into the data folder nor next to a zip.

    Parameters
    ----------
    path : path-like
        The data set folder, or a zip archive holding it.
    statistics : {"train", "file"}
        ``"train"`` (default): recompute statistics from the training tier, as the rest of the
        package does. ``"file"``: use the ``meta/statistics/*/all`` arrays stored in the folder.
    progress : bool
        Show progress bars over trials.
    name : str, optional
        Label of the data set (default: the folder or zip name).

    Returns
    -------
    StaticDataset
        One image per distinct ``frame_image_id`` (``image_ids`` holds those identifiers,
        ``trial_image_ids`` the row of each trial's image).
    """
    if statistics not in ("train", "file"):
        raise ValueError(f"statistics must be 'train' or 'file'; got {statistics!r}.")
    path = Path(path)
    tree = _Tree(path)
    try:
        tiers = tree.load("meta/trials/tiers.npy").astype(str)
        n_trials = len(tiers)
        for key in ("images", "responses"):
            found = tree.count(f"data/{key}")
            if found != n_trials:
                raise ValueError(
                    f"{path}: data/{key} holds {found} trial files but meta/trials/tiers.npy "
                    f"lists {n_trials} trials."
                )
        if tree.exists("meta/trials/frame_image_id.npy"):
            frame_ids = tree.load("meta/trials/frame_image_id.npy")
        else:  # no image identifiers: every trial shows its own image
            frame_ids = np.arange(n_trials)
        image_ids, first_trial, trial_image_ids = np.unique(
            frame_ids, return_index=True, return_inverse=True
        )
        images = _per_trial(tree, "images", first_trial, progress)
        if images.ndim == 3:  # (H, W) per file: grey images without channel axis
            images = images[:, None]
        responses = _per_trial(tree, "responses", range(n_trials), progress)
        pupil = None
        if tree.exists("data/pupil_center"):
            pupil = _per_trial(tree, "pupil_center", range(n_trials), progress)
        coords = None
        if tree.exists("meta/neurons/cell_motor_coordinates.npy"):
            coords = tree.load("meta/neurons/cell_motor_coordinates.npy")
        unit_ids = None
        if tree.exists("meta/neurons/unit_ids.npy"):
            unit_ids = tree.load("meta/neurons/unit_ids.npy")
        stats = None
        if statistics == "file":
            arrays = ["images", "responses"] + (["pupil_center"] if pupil is not None else [])
            stats = {
                array: {s: tree.load(f"meta/statistics/{array}/all/{s}.npy") for s in STATISTICS}
                for array in arrays
            }
    finally:
        tree.close()
    return StaticDataset(
        images,
        responses,
        trial_image_ids.reshape(-1),
        tiers,
        pupil_center=pupil,
        cell_motor_coordinates=coords,
        unit_ids=unit_ids,
        image_ids=image_ids,
        statistics=stats,
        name=name or path.stem,
    )
