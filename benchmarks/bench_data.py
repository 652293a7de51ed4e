"""Data layer timings on the default digital V1 (CPU): dataset, loaders, folder format.

Measures, for the default ``make_digital_v1()`` (500 neurons, 36 x 64 images, 5,500 trials):
building the :class:`StaticDataset` (training statistics), building the three loaders
(normalisation), one pass over the training loader (batch 64), and writing / reading the
static folder format as a folder and as a zip.

Run: ``python benchmarks/bench_data.py [--threads 2] [--batch-size 64]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from artiphys_course.data.folder import read_static_folder, write_static_folder
from artiphys_course.data.static import StaticDataset, dataloaders
from artiphys_course.simulate import make_digital_v1


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    dv1 = make_digital_v1()
    rows = []
    dataset, seconds = timed(lambda: StaticDataset.from_digital_v1(dv1))
    rows.append(("StaticDataset.from_digital_v1 (statistics)", seconds))
    loaders, seconds = timed(lambda: dataloaders(dataset, batch_size=args.batch_size))
    rows.append(("dataloaders (normalise once)", seconds))
    n_batches, seconds = timed(lambda: sum(1 for _ in loaders["train"]))
    rows.append((f"one training epoch ({n_batches} batches of {args.batch_size})", seconds))
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("folder", "folder.zip"):
            path = Path(tmp) / name
            _, seconds = timed(lambda p=path: write_static_folder(dataset, p, progress=False))
            rows.append((f"write_static_folder ({name})", seconds))
            _, seconds = timed(lambda p=path: read_static_folder(p, progress=False))
            rows.append((f"read_static_folder ({name})", seconds))

    print(f"{dataset!r}\ntorch threads: {args.threads}\n")
    width = max(len(label) for label, _ in rows)
    print(f"{'step':<{width}}  seconds")
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:7.3f}")


if __name__ == "__main__":
    main()
