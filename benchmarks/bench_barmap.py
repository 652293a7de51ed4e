"""Benchmark: bar mapping AlexNet conv2 (``features.3``).

Reports
  (a) bars per second, truncated network at input size xn, batched, centre units only;
  (b) bars per second, the full network at 227 x 227 evaluated bar by bar (the naive way);
  (c) wall time to bar-map all 192 conv2 units with an RF-mapping-sized set
      (4 lengths x 3 aspect ratios x 8 orientations x 2 polarities x 13 x 13 positions =
      32,448 bars), maps and Gaussian fits included.
Goals: (a) >= 10 x (b), and (c) <= 60 s on a 2-core CPU.

Run:  python benchmarks/bench_barmap.py [--threads 2] [--device cpu]
The numbers depend on the machine and on what else runs on it; the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from artiphys_course.barmap import bar_map, bar_responses
from artiphys_course.models.pretrained import imagenet_normalize, load_pretrained
from artiphys_course.receptive_fields import receptive_field, xn
from artiphys_course.recording import record_layers
from artiphys_course.runtime import get_device
from artiphys_course.stimuli import make_bar_set

LAYER = "features.3"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default=None)
    parser.add_argument("--naive-bars", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = get_device(args.device)

    model = load_pretrained("alexnet", weights="untrained").to(device)  # speed only
    size, rf = xn(model, LAYER), receptive_field(model, LAYER).size[0]
    bars = make_bar_set(size, rf)
    # bars in [0, 1] on mid-grey, standardised as ImageNet networks expect
    style = dict(background=0.5, amplitude=0.5, transform=imagenet_normalize)

    # (a) truncated + batched, on a fixed subset
    subset = bars.subset(np.arange(0, len(bars), 4))
    bar_responses(model, LAYER, subset.subset(slice(0, 256)), progress=False, **style)  # warm-up
    t0 = time.perf_counter()
    bar_responses(model, LAYER, subset, progress=False, **style)
    fast = len(subset) / (time.perf_counter() - t0)

    # (b) the full network, one bar at a time, at its usual 227 x 227 input
    big = make_bar_set(227, rf)
    idx = np.linspace(0, len(big) - 1, args.naive_bars).astype(int)
    with torch.no_grad(), record_layers(model, LAYER) as acts:
        draw = dict(background=0.5, amplitude=0.5, channels=3, device=device)
        model(imagenet_normalize(big.images(idx[:1], **draw)))
        t0 = time.perf_counter()
        for i in idx:
            model(imagenet_normalize(big.images([i], **draw)))
            _ = acts[LAYER][0, :, 27 // 2, 27 // 2]
    naive = len(idx) / (time.perf_counter() - t0)

    # (c) all 192 units of conv2 with the full set
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = bar_map(model, LAYER, bars, top_n=100, progress=False, **style)
    total, cpu = time.perf_counter() - t0, time.process_time() - cpu0

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device {device}, torch threads {args.threads}, load average (1 min) {load:.1f}")
    print(f"{'measure':<52}{'value':>12}")
    print(f"{'(a) truncated + batched, bars/s':<52}{fast:>12.0f}")
    print(f"{'(b) full model, bar by bar, bars/s':<52}{naive:>12.1f}")
    print(f"{'speed-up (a) / (b)':<52}{fast / naive:>12.1f}")
    print(f"{f'(c) conv2, {len(result)} units x {len(bars)} bars, wall s':<52}{total:>12.1f}")
    print(f"{'    same, CPU seconds (all threads)':<52}{cpu:>12.1f}")


if __name__ == "__main__":
    main()
