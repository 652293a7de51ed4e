"""Benchmark: top and bottom natural patches of every AlexNet conv2 channel (``features.3``).

Reports the wall time of :func:`artiphys_course.patches.top_patches` for all 192 conv2
channels, top-10 and bottom-10 patches, from the 100 RF-Mapping images (3 x 227 x 227) at all
27 x 27 positions (72,900 stimuli per channel): one truncated, batched pass plus the crops.
Goal: <= 30 s on a 2-core CPU. Weights do not change the speed (untrained AlexNet); the images
are the real ones when cached, else the simulated stand-in.

Run:  python benchmarks/bench_patches.py [--threads 2] [--device cpu]
The numbers depend on the machine and on what else runs on it; the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import torch

from artiphys_course.data.imagenet import load_rfmapping_images
from artiphys_course.models.pretrained import imagenet_normalize, load_pretrained
from artiphys_course.patches import top_patches
from artiphys_course.runtime import ArtiphysWarning, get_device

LAYER = "features.3"
GOAL_S = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = get_device(args.device)
    warnings.simplefilter("ignore", ArtiphysWarning)
    model = load_pretrained("alexnet", weights="untrained").to(device)  # speed only
    images = load_rfmapping_images(progress=False)
    t0 = time.perf_counter()
    result = top_patches(
        model, LAYER, images, top_n=10, transform=imagenet_normalize, progress=False
    )
    seconds = time.perf_counter() - t0
    print(f"load average: {os.getloadavg()[0]:.2f}, threads {args.threads}, device {device}")
    print(
        f"{len(result)} channels x {len(images)} images x 27 x 27 positions, top-10 and "
        f"bottom-10 patches {result.patch_shape}: {seconds:.1f} s (goal <= {GOAL_S:.0f} s) "
        f"{'OK' if seconds <= GOAL_S else 'SLOW'}"
    )


if __name__ == "__main__":
    main()
