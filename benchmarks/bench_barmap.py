"""Benchmark: bar mapping every channel's centre unit of AlexNet conv2 (``features.3``).

The full RF-mapping bar set of :func:`artiphys_course.stimuli.make_bar_set` (4 lengths x 3 aspect
ratios x 8 orientations x 13 x 13 positions x 2 polarities = 32,448 bars, after Pospisil,
Pasupathy & Bair 2018) is shown to all 192 conv2 channels' centre units two ways:

* **truncated + batched** (the package, :func:`artiphys_course.barmap.bar_responses` and
  :func:`artiphys_course.barmap.bar_map`): the network is run only up to conv2, on images of
  ``xn`` = 63 pixels (just large enough for the centre unit to see its whole 51-pixel RF), conv2
  is computed at the centre position only, 1,024 bars per batch, without gradients. Timed over
  the whole set, responses alone and with the weighted maps and Gaussian fits;
* **full model, bar by bar** (the naive way): the whole AlexNet at its usual 227 x 227 input, one
  bar per forward pass, conv2 recorded by a hook at its centre unit. Timed on ``--loop-bars``
  bars spread over the set and extrapolated to the full set (said so in the table).

Target: the full set through the truncated, batched path in <= 60 s on a 2-core CPU. Timing
depends on the weights only through denormal arithmetic, which AlexNet's weights do not cause, so
untrained weights (the fallback offline, with a notice) time the same. Every timed call follows a
warm-up call; the machine's CPU count, torch threads, load average and the weights' source (the
cache state) are printed with the table.

Run:  python benchmarks/bench_barmap.py [--threads 2] [--device cpu] [--loop-bars 200]
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
SET = dict(
    lengths=(0.75, 0.375, 0.1875, 0.09375),
    aspect_ratios=(0.5, 0.2, 0.1),
    n_orientations=8,
    n_positions=13,
    polarities=(1, -1),
)
# bars in [0, 1] on mid-grey, standardised as ImageNet networks expect
STYLE = dict(background=0.5, amplitude=0.5)


def loop_seconds_per_bar(model: torch.nn.Module, rf: int, n_bars: int, device) -> float:
    """Seconds per bar of the full model at 227 x 227, one bar per forward pass."""
    big = make_bar_set(227, rf, **SET)
    idx = np.linspace(0, len(big) - 1, n_bars).astype(int)
    draw = dict(**STYLE, channels=3, device=device)
    with torch.no_grad(), record_layers(model, LAYER) as acts:
        model(imagenet_normalize(big.images(idx[:1], **draw)))  # warm-up
        start = time.perf_counter()
        for i in idx:
            model(imagenet_normalize(big.images([i], **draw)))
            centre = acts[LAYER].shape[-1] // 2
            _ = acts[LAYER][0, :, centre, centre].cpu()
    return (time.perf_counter() - start) / n_bars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: best)")
    parser.add_argument("--loop-bars", type=int, default=200, help="bars timed bar by bar")
    parser.add_argument("--batch-size", type=int, default=1024, help="bars per forward pass")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = get_device(args.device)

    model = load_pretrained("alexnet").to(device)  # offline: untrained, with a notice
    size, rf = xn(model, LAYER), receptive_field(model, LAYER).size[0]
    bars = make_bar_set(size, rf, **SET)
    n_units = model.features[3].out_channels
    run = dict(progress=False, batch_size=args.batch_size, transform=imagenet_normalize, **STYLE)

    bar_responses(model, LAYER, bars.subset(slice(0, 256)), **run)  # warm-up
    start = time.perf_counter()
    responses = bar_responses(model, LAYER, bars, **run)
    t_responses = time.perf_counter() - start
    start, cpu0 = time.perf_counter(), time.process_time()
    result = bar_map(model, LAYER, bars, top_n=100, **run)
    t_map, cpu = time.perf_counter() - start, time.process_time() - cpu0
    assert responses.shape == (len(bars), n_units) and len(result) == n_units
    per_bar = loop_seconds_per_bar(model, rf, args.loop_bars, device)
    t_loop = per_bar * len(bars)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {os.cpu_count()} CPUs (nproc), load average (1 min) {load:.1f}; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, {device}; AlexNet weights: "
        f"{model.weights_source} (cache state); every timed call follows a warm-up call"
    )
    print(
        f"bar set: {len(SET['lengths'])} lengths x {len(SET['aspect_ratios'])} aspect ratios x "
        f"{SET['n_orientations']} orientations x {SET['n_positions']} x {SET['n_positions']} "
        f"positions x {len(SET['polarities'])} polarities = {len(bars):,} bars of {size} x {size} "
        f"pixels (RF {rf} pixels); conv2: {n_units} centre units"
    )
    print()
    print("| AlexNet conv2, all centre units, full bar set | seconds | bars/s | vs loop |")
    print("|---|---:|---:|---:|")
    print(
        f"| truncated + batched: responses ({len(bars):,} bars) | {t_responses:.1f} | "
        f"{len(bars) / t_responses:,.0f} | {t_loop / t_responses:.0f}x |"
    )
    print(
        f"| truncated + batched: bar_map (responses, maps, fits) | {t_map:.1f} | "
        f"{len(bars) / t_map:,.0f} | {t_loop / t_map:.0f}x |"
    )
    print(
        f"| full model at 227 x 227, bar by bar (timed on {args.loop_bars} bars, extrapolated) "
        f"| {t_loop:.0f} | {1 / per_bar:,.1f} | 1x |"
    )
    print(f"\nbar_map CPU seconds (all threads): {cpu:.1f}")


if __name__ == "__main__":
    main()
