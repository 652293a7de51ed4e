"""Registry of the real data files and pretrained weights the course can use.

Every file is known by a short name (``"stringer_orientations"``, ``"sensorium_sota_model"``...)
with its download address, MD5 checksum, size, licence and citation. Files live in the cache
folder :func:`artiphys_course.runtime.data_dir` (``ARTIPHYS_DATA_DIR``), in the sub-folder
given by :attr:`RemoteFile.folder`::

    <data_dir>/
    ├── stringer/W3D4_stringer_oribinned1.npz
    ├── sensorium2022_pretrained/sensorium_sota_model.pth, sensorium_ln_model.pth
    ├── allen_natural_scenes_31px/Allen_train_input.npy, ...
    ├── imagenet100_rfmapping/0.npy ... 99.npy   (the RF-Mapping images, one file each)
    └── alexnet_conv1-3_torchvision_imagenet.pth, imagenet100_rfmapping_3x227x227.npz

How a file gets there:

- :func:`fetch` downloads it (progress bar, MD5 computed while streaming) into a temporary name
  next to its place and moves it there only once its MD5 is right, so the cache never holds
  half a file: an interrupted transfer, a wrong checksum or an HTML page instead of the file
  leave nothing behind and raise :class:`DataUnavailableError` naming the URL. A cached file
  with a wrong MD5 (corrupt, truncated) is reported with a notice, removed and downloaded again.
- ``ARTIPHYS_MIRROR=<base URL>`` (:func:`mirror`, e.g. a workshop server on the local network)
  makes every download come from ``<base URL>/<file name>`` (then
  ``<base URL>/<folder>/<file name>``), including the files that have no public address.
- :func:`import_file` / :func:`import_folder` copy local copies (a workshop USB stick, a shared
  folder: ``artiphys fetch --from DIR``) into the cache after checking their MD5.
- With ``ARTIPHYS_OFFLINE=1`` (:func:`artiphys_course.runtime.offline`) nothing touches the
  network, not even a mirror; a missing file raises :class:`DataUnavailableError` saying how to
  get it.
- :func:`load_torch_file` is the one way the package reads a ``.pth``/``.pt`` file: safe
  (``weights_only=True``), and an unreadable file raises :class:`UnreadableFileError` naming
  the file and how to get a good copy. :func:`load_registered_torch` adds the healing of a
  cached registry file (removed and fetched again once).

Examples
--------
>>> from artiphys_course.data.registry import fetch, is_available
>>> if is_available("stringer_orientations"):  # doctest: +SKIP
...     path = fetch("stringer_orientations")
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from artiphys_course.runtime import data_dir, notice, offline

__all__ = [
    "RemoteFile",
    "RFMAPPING_IMAGE_NAMES",
    "REGISTRY",
    "DataUnavailableError",
    "UnreadableFileError",
    "CacheRow",
    "mirror",
    "source_urls",
    "url_answers",
    "local_path",
    "cached_path",
    "fetch",
    "load_torch_file",
    "load_registered_torch",
    "is_available",
    "import_file",
    "import_folder",
    "cache_report",
    "md5sum",
]

#: Seconds to wait for a host to answer in :func:`is_available`.
PROBE_TIMEOUT_S = 3.0
#: Seconds a download may wait for the next bytes before it fails.
DOWNLOAD_TIMEOUT_S = 60.0
#: Environment variable holding the base URL of a mirror (see :func:`mirror`).
MIRROR_ENV = "ARTIPHYS_MIRROR"
_CHUNK = 1 << 16
_USER_AGENT = "artiphys-course (python urllib)"


@dataclass(frozen=True)
class RemoteFile:
    """One registered data file.

    Attributes
    ----------
    name : str
        Short key used everywhere (``fetch(name)``, ``artiphys fetch NAME``).
    filename : str
        File name in the cache (and in shared copies, which :func:`import_folder` matches by it).
    url : str or None
        Download address; ``None`` for files that are not published as such (derived files made
        from public sources; see ``how_to_obtain``).
    md5 : str
        Expected MD5 hex digest of the file.
    size : int or None
        Size in bytes, when known.
    description : str
        What the file holds (arrays, shapes, units).
    license : str
        Licence and citation of the source.
    folder : str
        Sub-folder of the cache the file goes to (``""`` for the top level).
    how_to_obtain : str
        For ``url=None`` files: how the file was made and where a copy can come from.
    """

    name: str
    filename: str
    url: str | None
    md5: str
    size: int | None
    description: str
    license: str
    folder: str = ""
    how_to_obtain: str = ""


class DataUnavailableError(FileNotFoundError, ConnectionError):
    """A registered file is not in the cache and cannot be downloaded now.

    It is both a :class:`FileNotFoundError` and a :class:`ConnectionError`, so callers may catch
    either. The message says how to obtain the file.
    """


class UnreadableFileError(OSError):
    """A file is there but cannot be loaded safely (truncated, not a PyTorch file, or holding
    Python objects that ``torch.load(weights_only=True)`` refuses).

    The message names the file and says how to get a good copy.
    """


_SENSORIUM_COMMIT = "c433fed25f234724fd9adf0cef3c260a2068b1fa"
_SENSORIUM_RAW = (
    f"https://raw.githubusercontent.com/sinzlab/sensorium/{_SENSORIUM_COMMIT}/"
    "notebooks/model_tutorial/model_checkpoints/pretrained/"
)
_SENSORIUM_LICENSE = (
    "MIT (c) Sensorium GitHub Contributors (github.com/sinzlab/sensorium). Cite: Willeke et al. "
    "2022, 'The Sensorium competition on predicting large-scale mouse primary visual cortex "
    "activity', arXiv:2206.08666; model after Lurz et al. 2021, ICLR."
)
_ALLEN_COMMIT = "44c5e0bb3342ef20611a320ef9d023c9620d8acb"
_ALLEN_RAW = (
    f"https://raw.githubusercontent.com/psailamul/Allen_Brain_Observatory/{_ALLEN_COMMIT}/"
    "Allen_data_170513/"
)
_ALLEN_LICENSE = (
    "Data: Allen Institute for Brain Science, Allen Brain Observatory (Allen Institute Terms of "
    "Use: free use with citation). Cite: de Vries et al. 2020, Nat. Neurosci. 23:138. Arrays "
    "prepared by github.com/psailamul/Allen_Brain_Observatory (no licence stated)."
)
_ALLEN_RECORDING = (
    "Allen Brain Observatory Visual Coding 2-photon, container 511510667, Cux2-CreERT2 "
    "(GCaMP6f), VISp, 275 um depth; 118 natural scenes down-sampled to 31 x 31 pixels."
)
_IMAGENET_TERMS = "ImageNet terms of access (non-commercial research and education)."


#: Raw files of the RF-Mapping repository (commit of the snapshot the course copy was made from).
_RFMAPPING_RAW = (
    "https://raw.githubusercontent.com/tonyfu97/RF-Mapping/"
    "6fa56f1ba903225bfc23123b7c387b4814e7f20a/data/imagenet/"
)
#: MD5 of ``data/imagenet/0.npy`` ... ``99.npy`` of the RF-Mapping repository, in order.
_RFMAPPING_IMAGE_MD5 = """
24f8db9a5880ad5b5a1be2e08bfc23b1 37128f4428b578529110c874ae530211 2b93624fcff772064435ef77bb0d538e
bc740bb9b48814275f3214d20602232d 8ab996eef7bd9e6ddca39ad6f5d587c8 96a3b2caedf308d842a92d75c7ed05b8
df993aa8a6148b07e8c0742e1941bb6b ee367dba429417005b1a2abb716069b4 0ef3b33364a28d9d1827afe42c5e5974
5d62b23c863b90c14e7b412684555501 e49d2f1681c9ee6b2663b217f610b5f3 5c4ef545974d201e8711cd57657135ff
6118ea4dd6f992c929bcdde046992f17 754cb1925e457518c34882c421398da9 939b199b15b1879cf19fa89ca7176819
fe64bd76e1d7febe9f95c6f8b6dd7dfd 7fa5fe77c1f4c9115ba302f4630924f5 fb3f083c84f04a461c7dd35bc7222aba
bb5d81ca49c0896fbb6927d197b7d8fd b4ee64bf44900a1c5c3f9bb6d15e61df 82b89277f04c6c11c3be40ab390f8d37
123ae7a4e454ac63fd3122c747b43f7f 4c45084ff09c1b9d3b47faf4f6b6e2b2 30b484cc7a3ade2c69f319becc2ad0e6
81d85eea1a5481f9b365bd543bd518da 9d5639a3d0ace2a789ec22042ac3260a 0c53e84e5b7fca82e7c5df751efcd675
e259befbe97d5ddbfee03bf6ccfeff34 1abd6183e6a5f17105b95afc29024012 239750aff1b551dd9725cb5c815c17a4
745a3d09f4b1178e15e951e157b0286d 15b12cab4902ad1775903471d1b58aed a83b9879ae6ec4c627a1f7be8f05fd20
7c55205927af40a77b10d6052b914dcd 6eae41815af31de75b4cf94b353d5ec4 4496b5d312ce2ccf1d6daddadb0ccb01
fb0b011e18beea6ad012e486f12f4dc0 13be83a95b65e3a599594512dfa80c24 076c2b2453e48363421d66638674ff1f
b8fd3e7a25a622a12356d5b8fac7d15d 79cc2b7171eba5ca0422b3e1025c4dbb 65ea9cb2c9e3777ddc2fec5359652706
e9a1be0de1abfe1fc32a5f8d509b4086 f2f31334c454eedd45e4d67da873e6b0 796ea4ff29386058cc862219bd6d1ea7
997d48e92070318dda1e543587ef8fd9 e6a004307e14924c1068b6a07f6988ff 6167cbc67c225b1b5bf575aacc09b719
b305626b0830bd4fe0558bcbb315d28e d4be423917ec35acf199f8de58048e5a 4bd3833f3e538921a552ea9c1597b6b8
7693e9f4043a85fef128dc8b2624a54f 5d0d15dd0c668871a8861dc091ae010e e1ed7081c72410bfd3b6495546605a14
97a29c624d1a69b138672b92aeb26014 16550575bc6f68da8abddd5dc55831e4 4f720d31c3b09a7123ce1e03cced7951
92ddff322ed1bdc03649f2dc9e9cea5c 0c51324439d0e778ee0a441f91d0f066 e70232334bdf66009716a26928759766
e08e8abd41afe77100cdf0be5ee317e7 cba521fc6053a6d26d55a56fa7325802 61d08dec87ee74e3a7512f1dd1fd2b0e
fde51af78f82bdf27ff29c455af84907 b46a3868eb479d2fa99ccf50dda8a352 b1ad5b4ead8b14b409c938fadbe8e833
4c856609651d0e03fdc5da4b7678fabe f104aad06e594868886dd17150e62f2e 4224d1e92504236925dd0a8f8292cb49
db93b3e6f8639c099cb06087982847e3 6018901f895b1d8067e0d78c28458a24 7b405b3ba2cb2c5994add036299fc415
22f3372fc3a82a241b73c4d888a19c99 16a605bc5b8365cc0abb894099add237 06353d5e6ffd0e67e8debf7b8596ad13
30bffaf9652d552df4e1023e3bf66e5e ece605172198b41f1839a2f323d2bdae 9d358c4e3093016e1546149c6b47d700
a015a79e1fcfb914a537b9b5d86298d3 b4710b6092cc0170a3ed450cca5f9f46 2630547ab534d8a69b321d3e922aa1db
d9580f4ab6b19382ff5ddd78435ceee5 44536d804b30bd9009e7cd82ccf334c6 b09803a1624a5e9dd4565f6952945f49
61e02112a4b5a8620e86954bf02fa7ce 505593bd83c21abafc9356e42600ad5c 2b9611ec9e232fc5ab0a95b6fe9c0363
e261057ba0287e50fab30d2d0d8ccecb 5e350030755806ac6800495e38314463 af0e3e4fe05514d453481c438b2480e7
6787ba3315f574bc33d1265c045802e8 a7f956f32ddf25831593f3d7135d8d0a 0c002e1727bdbea3ba03243d40f5242e
550ef2c3c962fe52b92394c15f01a854 dcb75d61ee7e98543bd1278a72bb78bc fcb3a5fb8b77f2b0a1c74eeeb0c52122
714ca4512133e83b41694a1f4e2638e3 33e754f7b695f845636844b2eecc846e d17a93a48918607aac27c57b0662dc75
8b3acf8e8946b9a0f1c27e945938205a
""".split()
#: Registry names of the 100 single-image files, in image order (see :func:`_rfmapping_image`).
RFMAPPING_IMAGE_NAMES = tuple(f"imagenet100_rfmapping_{i:02d}" for i in range(100))


def _rfmapping_image(i: int) -> RemoteFile:
    """Image ``i`` of the RF-Mapping ImageNet set, as the source publishes it (one ``.npy``)."""
    return RemoteFile(
        name=RFMAPPING_IMAGE_NAMES[i],
        filename=f"{i}.npy",
        url=f"{_RFMAPPING_RAW}{i}.npy",
        md5=_RFMAPPING_IMAGE_MD5[i],
        size=618_476,
        description=(
            f"Natural ImageNet image {i} of the RF-Mapping set: float32 (3, 227, 227) RGB as "
            "distributed by the source (values about -1..1.2, not per-pixel standardised). "
            "Stacked in order with the 99 others it equals the images array of "
            "imagenet100_rfmapping."
        ),
        license=f"Code MIT (tonyfu97/RF-Mapping); images: {_IMAGENET_TERMS}",
        folder="imagenet100_rfmapping",
    )


def _allen(name: str, filename: str, md5: str, size: int, what: str) -> RemoteFile:
    return RemoteFile(
        name=name,
        filename=filename,
        url=_ALLEN_RAW + filename,
        md5=md5,
        size=size,
        description=f"{what} {_ALLEN_RECORDING}",
        license=_ALLEN_LICENSE,
        folder="allen_natural_scenes_31px",
    )


_ENTRIES = [
    RemoteFile(
        name="stringer_orientations",
        filename="W3D4_stringer_oribinned1.npz",
        url="https://osf.io/683xc/download",
        md5="436599dfd8ebe6019f066c38aed20580",
        size=None,
        description=(
            "Mouse V1 responses (two-photon calcium imaging, ~20,000 neurons) to ~4,000 static "
            "gratings of random orientation, averaged in 1-degree bins, as distributed by "
            "Neuromatch Academy (W1D5/W3D4). Arrays: resp (n_stimuli, n_neurons), normalised by "
            "spontaneous activity and z-scored; stimuli (n_stimuli,) degrees in [0, 360)."
        ),
        license=(
            "Stringer, Michaelos, Tsyboulski, Lindo & Pachitariu 2021, 'High-precision coding in "
            "visual cortex', Cell 184:2767 (bioRxiv 679324). File hosted by Neuromatch Academy "
            "on OSF (CC BY 4.0 course materials)."
        ),
        folder="stringer",
    ),
    RemoteFile(
        name="sensorium_sota_model",
        filename="sensorium_sota_model.pth",
        url=_SENSORIUM_RAW + "sensorium_sota_model.pth",
        md5="50d2527d6177a77dab1791e139773637",
        size=2_383_728,
        description=(
            "SENSORIUM 2022 CNN baseline state_dict: 4-layer convolutional core (9x9 input "
            "kernel, depth-separable 7x7 hidden layers, BatchNorm) and a Gaussian readout with "
            "cortex grid-mean predictor for 7,776 neurons of mouse 26872-17-20 (input 1x36x64)."
        ),
        license=_SENSORIUM_LICENSE,
        folder="sensorium2022_pretrained",
    ),
    RemoteFile(
        name="sensorium_ln_model",
        filename="sensorium_ln_model.pth",
        url=_SENSORIUM_RAW + "sensorium_ln_model.pth",
        md5="20cdcfdf579cb43bbb97b812c527b4b2",
        size=2_334_280,
        description=(
            "SENSORIUM 2022 LN baseline state_dict: same architecture with 3 linear core layers "
            "(only the final ELU+1 nonlinearity) for the 7,776 neurons of mouse 26872-17-20."
        ),
        license=_SENSORIUM_LICENSE,
        folder="sensorium2022_pretrained",
    ),
    RemoteFile(
        name="alexnet_conv1_3",
        filename="alexnet_conv1-3_torchvision_imagenet.pth",
        url=None,
        md5="638c6317fd76d4470aa03a658ae5d2b7",
        size=3_981_873,
        description=(
            "ImageNet-pretrained torchvision AlexNet, conv1-conv3 only: state_dict with "
            "features.0/3/6 weight and bias (float32). Load with strict=False into "
            "torchvision.models.alexnet()."
        ),
        license=(
            "Weights: torchvision AlexNet (BSD-3-Clause; Krizhevsky 2014, arXiv:1404.5997) "
            f"trained on ImageNet, {_IMAGENET_TERMS} Extracted from tonyfu97/rf_playground "
            "(MIT (c) 2022 Tony Fu)."
        ),
        how_to_obtain=(
            "It is not published as a single file: it holds the initializers of "
            "docs/onnx_files/alexnet_conv3.onnx of github.com/tonyfu97/rf_playground (commit "
            "a6a38f90e8bec7758eeed3077ed9f4bcf540ce55) saved unchanged with torch.save. Ask your "
            "instructor for the copy (course folder shared/data). Online, the full network "
            "comes from torchvision itself (torchvision.models.alexnet(weights='DEFAULT'))."
        ),
    ),
    RemoteFile(
        name="imagenet100_rfmapping",
        filename="imagenet100_rfmapping_3x227x227.npz",
        url=None,
        md5="14948cbaec695283ac24c73b3aee4ee4",
        size=53_194_449,
        description=(
            "100 natural ImageNet images used for artiphysiology: images float32 (100, 3, 227, "
            "227) RGB as distributed by the source (not per-pixel standardised), source_index "
            "(100,), source_md5 (100,). The first 100 of the 50,000-image set of Pospisil, "
            "Pasupathy & Bair 2018, eLife."
        ),
        license=f"Code MIT (tonyfu97/RF-Mapping); images: {_IMAGENET_TERMS}",
        how_to_obtain=(
            "It packs data/imagenet/0.npy ... 99.npy of github.com/tonyfu97/RF-Mapping (commit "
            "6fa56f1ba903225bfc23123b7c387b4814e7f20a) into one np.savez_compressed file, keys "
            "images, source_index, source_md5. Ask your instructor for the copy (course folder "
            "shared/data). Online, the same images come one by one as imagenet100_rfmapping_00 "
            "... _99 (the source's own files)."
        ),
    ),
    *(_rfmapping_image(i) for i in range(100)),
    _allen(
        "allen_all_input_scenes",
        "all_input_scenes_118_961.npy",
        "a51bb14515d529fb5566f3e6b8dcebed",
        907_264,
        "All 118 natural scenes, float64 (118, 961) grey levels 0..255, rows = 31x31 images "
        "flattened row-major.",
    ),
    _allen(
        "allen_train_input",
        "Allen_train_input.npy",
        "817f8b00cb0a6f5887b43fe509e58c87",
        768_880,
        "Training images, float64 (100, 961), a subset of the 118 scenes.",
    ),
    _allen(
        "allen_train_output",
        "Allen_train_output.npy",
        "6a76471b01385d6d1fd53e909f4aa70e",
        169_680,
        "Training responses, float64 (100, 212): mean over 50 repeats of 212 neurons (units "
        "undocumented, about dF/F in percent, can be negative).",
    ),
    _allen(
        "allen_test_input",
        "Allen_test_input.npy",
        "bc720807a76a492ed9b2a728bffcb49a",
        138_464,
        "Test images, float64 (18, 961).",
    ),
    _allen(
        "allen_test_output",
        "Allen_test_output.npy",
        "fb32f10874285810739d9d40ec164d7d",
        30_608,
        "Test responses, float64 (18, 212), mean over repeats.",
    ),
    _allen(
        "allen_readme",
        "readme.txt",
        "83a6331ecfde29ffb3fd3a47fe5b2e1c",
        1_564,
        "The source's own description (experiment ids, Cre line).",
    ),
    RemoteFile(
        name="allen_split_indices",
        filename="split_indices_into_all_input_scenes.json",
        url=None,
        md5="5cd2d2808f89efbe063a8669bfa5910c",
        size=732,
        description=(
            "JSON with lists 'train' (100) and 'test' (18): row i of Allen_train_* / "
            "Allen_test_* is row train[i] / test[i] of all_input_scenes_118_961.npy. "
            + _ALLEN_RECORDING
        ),
        license=_ALLEN_LICENSE,
        folder="allen_natural_scenes_31px",
        how_to_obtain=(
            "Made for this course by exact row matching of the Allen_*_input.npy images against "
            "all_input_scenes_118_961.npy; ask your instructor for the copy (course folder "
            "shared/data/allen_natural_scenes_31px)."
        ),
    ),
]

#: All registered files by name.
REGISTRY: dict[str, RemoteFile] = {entry.name: entry for entry in _ENTRIES}

# Answers of :func:`url_answers`, per URL, for the life of the process.
_PROBES: dict[str, bool] = {}


def _entry(name: str) -> RemoteFile:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"Unknown data file {name!r}. Registered files: {sorted(REGISTRY)}."
        ) from None


def md5sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """MD5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_path(name: str) -> Path:
    """Where the file ``name`` lives in the cache (whether or not it is there yet)."""
    entry = _entry(name)
    return data_dir() / entry.folder / entry.filename


def cached_path(name: str) -> Path | None:
    """Path of ``name`` in the cache if it is there **and** its MD5 is right, else ``None``."""
    path = local_path(name)
    if path.is_file() and md5sum(path) == _entry(name).md5:
        return path
    return None


def mirror() -> str | None:
    """Base URL of the download mirror (``ARTIPHYS_MIRROR``), or ``None`` when not set.

    A mirror is any web folder holding copies of the registered files, e.g. an instructor's
    laptop serving the course's ``shared/data`` folder with ``python -m http.server``.
    """
    base = os.environ.get(MIRROR_ENV, "").strip()
    return base.rstrip("/") or None


def source_urls(name: str) -> list[str]:
    """Where :func:`fetch` downloads ``name`` from, in the order tried.

    With a mirror (:func:`mirror`): ``<mirror>/<file name>``, then
    ``<mirror>/<folder>/<file name>`` for files that live in a sub-folder of the cache (so a
    copy of the cache or of ``shared/data`` can be served as it is). Without a mirror: the
    registered URL, or nothing for files that have no public address.
    """
    entry = _entry(name)
    base = mirror()
    if base is None:
        return [entry.url] if entry.url is not None else []
    urls = [f"{base}/{entry.filename}"]
    if entry.folder:
        urls.append(f"{base}/{entry.folder}/{entry.filename}")
    return urls


def _instructions(entry: RemoteFile, target: Path) -> str:
    lines = ["To get it:"]
    if entry.url is not None:
        lines += [
            f"  - online: run `artiphys fetch {entry.name}` in a terminal "
            f"(or artiphys_course.data.registry.fetch({entry.name!r}));",
            f"  - or download {entry.url}",
            f"    yourself and save it as {target} (md5 {entry.md5});",
        ]
    else:
        lines += [f"  - {entry.how_to_obtain}", f"  - place it at {target} (md5 {entry.md5});"]
    lines += [
        "  - or copy it from a folder of copies (e.g. the course's shared/data or a workshop "
        "USB stick): `artiphys fetch --from DIR`;",
        f"  - or set {MIRROR_ENV}=<base URL> to a web folder serving {entry.filename} (a "
        "workshop mirror) and fetch again.",
    ]
    return "\n".join(lines)


def _unavailable(entry: RemoteFile, target: Path, reason: str) -> DataUnavailableError:
    return DataUnavailableError(
        f"Data file {entry.name!r} ({entry.filename}) is not in the cache {data_dir()}: "
        f"{reason}\n{_instructions(entry, target)}"
    )


def fetch(name: str, *, progress: bool = True) -> Path:
    """Return the path of a registered file, downloading it when needed.

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY`.
    progress : bool
        Show a download progress bar.

    Returns
    -------
    pathlib.Path
        The file in the cache, with the right MD5.

    Raises
    ------
    KeyError
        Unknown ``name`` (the message lists the registered names).
    DataUnavailableError
        Offline (``ARTIPHYS_OFFLINE``), no download address (no public URL and no mirror), the
        host cannot be reached, the transfer broke off, the host answered an HTML page, or the
        downloaded file has the wrong checksum. The message names the URL and says how to get
        the file. Nothing but a verified file ever lands in the cache.

    Notes
    -----
    A cached copy with a wrong MD5 is reported with an
    :class:`~artiphys_course.runtime.ArtiphysWarning`, removed, and downloaded again (offline:
    the error says so).
    """
    entry = _entry(name)
    target = local_path(name)
    note = ""
    if target.is_file():
        found = md5sum(target)
        if found == entry.md5:
            return target
        note = (
            f"the cached copy at {target} was corrupt or partial (md5 {found}, expected "
            f"{entry.md5}) and has been removed. "
        )
        target.unlink()
        notice(f"Data file {name!r}: {note}Fetching it again.")
    if offline():
        raise _unavailable(entry, target, note + "offline mode (ARTIPHYS_OFFLINE is set).")
    urls = source_urls(name)
    if not urls:
        raise _unavailable(
            entry, target, note + f"it has no public download address (and {MIRROR_ENV} is unset)."
        )
    return _download(entry, target, urls, progress=progress, note=note)


def _download(
    entry: RemoteFile, target: Path, urls: list[str], *, progress: bool, note: str
) -> Path:
    """Try ``urls`` in turn (the next one only after an HTTP 404) until one gives the file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    reason = ""
    for url in urls:
        try:
            _stream(entry, url, target, progress=progress)
            return target
        except urllib.error.HTTPError as err:
            reason = f"{url} answered HTTP {err.code} ({err.reason})."
            if err.code == 404:
                continue
        except urllib.error.URLError as err:
            reason = f"could not reach {url} ({err.reason})."
        except _BadDownload as err:
            reason = str(err)
        except OSError as err:  # timeouts, connection resets, disk errors
            reason = f"downloading {url} failed ({type(err).__name__}: {err})."
        break
    raise _unavailable(entry, target, note + reason)


class _BadDownload(Exception):
    """A transfer that delivered something other than the registered file."""


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip()[:15].lower()
    return start.startswith((b"<!doctype html", b"<html"))


def _stream(entry: RemoteFile, url: str, target: Path, *, progress: bool) -> None:
    """Download ``url`` into a temporary file next to ``target``; move it there if verified."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{entry.filename}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5()
        received = 0
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response,
        ):
            expected = response.length  # Content-Length, or None
            chunk = response.read(_CHUNK)
            content_type = response.headers.get_content_type()
            if content_type == "text/html" or _looks_like_html(chunk):
                raise _BadDownload(
                    f"{url} answered with an HTML page (Content-Type {content_type}) instead of "
                    f"the file {entry.filename}: the mirror or URL is probably wrong (a login, "
                    "error or index page). Nothing was cached."
                )
            bar = _byte_bar(entry.filename, expected, progress)
            try:
                while chunk:
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                    chunk = response.read(_CHUNK)
            finally:
                if bar is not None:
                    bar.close()
        if expected is not None and received < expected:
            raise _BadDownload(
                f"the transfer from {url} broke off after {received} of {expected} "
                "bytes. Nothing was cached; try again."
            )
        found = digest.hexdigest()
        if found != entry.md5:
            raise _BadDownload(
                f"the file downloaded from {url} failed its checksum: md5 {found}, but "
                f"{entry.filename} must have md5 {entry.md5}. Nothing was cached."
            )
        tmp.chmod(0o644)  # mkstemp makes it private; a shared cache must stay readable
        os.replace(tmp, target)  # atomic: same folder, same file system
    finally:
        tmp.unlink(missing_ok=True)


def _byte_bar(filename: str, total: int | None, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=filename, unit="B", unit_scale=True, leave=False)


def url_answers(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether ``url`` answers a HEAD request (status < 400) within ``timeout`` seconds.

    The answer is remembered for the life of the process, so a machine without network pays
    the wait once.
    """
    if url not in _PROBES:
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": _USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                _PROBES[url] = response.status < 400
        except urllib.error.HTTPError as err:
            # Some hosts refuse HEAD but serve GET; the host is up, the file likely too.
            _PROBES[url] = err.code in (403, 405)
        except (OSError, ValueError):
            _PROBES[url] = False
    return _PROBES[url]


def is_available(name: str) -> bool:
    """Whether ``name`` can be used now: cached with the right MD5, or downloadable.

    Downloadable means: not offline, the file has a download address (:func:`source_urls`)
    and its host answers a HEAD request within :data:`PROBE_TIMEOUT_S` seconds (the answer is
    remembered for the process). Nothing is downloaded.
    """
    if cached_path(name) is not None:
        return True
    if offline():
        return False
    return any(url_answers(url) for url in source_urls(name))


def _why_unreadable(err: Exception) -> str:
    """A reason for a failed ``torch.load``, never repeating torch's advice to turn off safety."""
    if isinstance(err, pickle.UnpicklingError):
        return (
            "it is not a PyTorch tensor file, or it holds Python objects that the safe loader "
            "(weights_only=True) refuses to run; the course never loads such files unsafely"
        )
    first = str(err).split("\n")[0].split(". ")[0]
    if "weights_only" in first.lower() or "weights only" in first.lower():
        first = ""
    detail = f": {first}" if first else ""
    return f"it is truncated, damaged or not a PyTorch file ({type(err).__name__}{detail})"


def load_torch_file(path: str | os.PathLike, *, what: str, remedy: str) -> Any:
    """Load a ``.pth``/``.pt`` file safely: ``torch.load(weights_only=True)`` on the CPU.

    The one way the package reads checkpoint files given by users or kept in caches.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file should be, for messages (``"the SENSORIUM sota checkpoint"``).
    remedy : str
        How to get a good copy, appended to error messages (``"Delete it and run
        `artiphys fetch NAME`."``).

    Returns
    -------
    object
        What the file holds (tensors, dicts, lists, numbers, strings).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    UnreadableFileError
        The file is truncated, random bytes, not a PyTorch file, or holds objects the safe
        loader refuses (``torch``'s ``IndexError``/``UnpicklingError``/``RuntimeError`` are
        replaced by this error, which names the file and the remedy).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No {what} at {path}. {remedy}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file
        reason = _why_unreadable(err)
    # Raised outside the except block: torch's message (which suggests weights_only=False)
    # is neither chained nor shown.
    raise UnreadableFileError(
        f"{what} at {path} ({path.stat().st_size} bytes) cannot be read: {reason}. {remedy}"
    )


def load_registered_torch(name: str, *, what: str, progress: bool = True) -> Any:
    """Fetch a registered PyTorch file and load it with :func:`load_torch_file`.

    A cached copy that cannot be loaded is reported with a notice, removed and fetched once
    more (a re-download when online; offline the :class:`DataUnavailableError` says how to get
    it).

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY` naming a ``.pth`` file.
    what : str
        What the file is, for messages.
    progress : bool
        Show a download progress bar.

    Returns
    -------
    object
        What the file holds.
    """
    remedy = f"Delete it and run `artiphys fetch {name}` to get a good copy."
    path = fetch(name, progress=progress)
    try:
        return load_torch_file(path, what=what, remedy=remedy)
    except UnreadableFileError as err:
        path.unlink(missing_ok=True)
        notice(f"{err} The copy was removed; fetching {name!r} again.")
    return load_torch_file(fetch(name, progress=progress), what=what, remedy=remedy)


def _copy_into_cache(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".import-")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)  # contents only: shared copies may be read-only
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _name_for_filename(filename: str) -> str | None:
    for entry in REGISTRY.values():
        if entry.filename == filename:
            return entry.name
    return None


def import_file(path: str | os.PathLike, name: str | None = None) -> Path:
    """Copy a local copy of a registered file into the cache, after checking its MD5.

    Parameters
    ----------
    path : path-like
        The local file.
    name : str, optional
        Registry key; by default found from the file name.

    Returns
    -------
    pathlib.Path
        The file in the cache.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    KeyError
        No registered file has this name / file name.
    ValueError
        The MD5 of ``path`` is not the registered one (nothing is copied).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No file at {path}.")
    if name is None:
        name = _name_for_filename(path.name)
        if name is None:
            known = sorted(entry.filename for entry in REGISTRY.values())
            raise KeyError(f"{path.name!r} is not a registered file name. Known: {known}.")
    entry = _entry(name)
    found = md5sum(path)
    if found != entry.md5:
        raise ValueError(
            f"{path} has md5 {found}, but {name!r} ({entry.filename}) must have md5 {entry.md5}: "
            "it is a different or damaged file; nothing was copied."
        )
    cached = cached_path(name)
    return cached if cached is not None else _copy_into_cache(path, local_path(name))


def import_folder(folder: str | os.PathLike) -> dict[str, Path]:
    """Copy every registered file found in ``folder`` (and its sub-folders) into the cache.

    Files are matched by file name; each is copied only if its MD5 is right. Files with a
    registered name but a wrong MD5 are skipped with a notice (``ArtiphysWarning``).

    Returns
    -------
    dict
        ``{name: path in the cache}`` for every file now cached from ``folder``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder at {folder}.")
    imported: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        name = _name_for_filename(path.name) if path.is_file() else None
        if name is None or name in imported:
            continue
        try:
            imported[name] = import_file(path, name)
        except ValueError as err:
            notice(str(err))
    return imported


class CacheRow(NamedTuple):
    """One line of :func:`cache_report`."""

    name: str
    cached: bool
    path: Path
    size: int | None
    description: str


def cache_report() -> list[CacheRow]:
    """State of every registered file: cached (right MD5) or not, path, size, description.

    ``size`` is the size of the file on disk when one is there (even if corrupt), else the
    registered size (``None`` when unknown).
    """
    rows = []
    for name, entry in REGISTRY.items():
        path = local_path(name)
        present = path.is_file()
        cached = present and md5sum(path) == entry.md5
        size = path.stat().st_size if present else entry.size
        rows.append(CacheRow(name, cached, path, size, entry.description))
    return rows
