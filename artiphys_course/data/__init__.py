"""Data: downloadable files, static image->response datasets, the folder format, orientation data.

See :mod:`artiphys_course.data.registry`, :mod:`~artiphys_course.data.static`,
:mod:`~artiphys_course.data.folder`, :mod:`~artiphys_course.data.stringer` and
:mod:`~artiphys_course.data.allen`.
"""

from artiphys_course.data.folder import read_static_folder, write_static_folder
from artiphys_course.data.registry import (
    REGISTRY,
    DataUnavailableError,
    RemoteFile,
    cache_report,
    cached_path,
    fetch,
    import_file,
    import_folder,
    is_available,
    local_path,
)
from artiphys_course.data.static import Batch, Normalizer, StaticDataset, dataloaders, test_repeats
from artiphys_course.data.stringer import (
    OrientationData,
    bin_orientations,
    load_stringer_orientations,
)

__all__ = [
    "REGISTRY",
    "Batch",
    "DataUnavailableError",
    "Normalizer",
    "OrientationData",
    "RemoteFile",
    "StaticDataset",
    "bin_orientations",
    "cache_report",
    "cached_path",
    "dataloaders",
    "fetch",
    "import_file",
    "import_folder",
    "is_available",
    "load_stringer_orientations",
    "local_path",
    "read_static_folder",
    "test_repeats",
    "write_static_folder",
]
