"""Digital V1 generation: wall time, CPU time and peak memory (CPU).

Measures :func:`make_digital_v1` (default: 500 neurons, 4,600 images of 36 x 64, 5,500
trials) and its parts (images, rates of the generative model with eye shifts), the analytic
and image-conditioned noise ceilings, and the orientation population. Peak memory is the
tracemalloc peak of NumPy allocations plus, for the whole run, the process's maximum resident
set size (which includes torch and Python itself).

Run: ``python benchmarks/bench_simulate.py [--threads 2] [--repeats 3] [--neurons 500]``
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from artiphys_course.simulate import (
    make_digital_v1,
    make_images,
    simulate_orientation_population,
)


def measure(fn: Callable[[], Any], repeats: int) -> tuple[Any, float, float, float]:
    """Best wall time, its CPU time and the tracemalloc peak (MiB) over ``repeats`` runs."""
    best_wall, best_cpu, out = float("inf"), 0.0, None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best_wall:
            best_wall, best_cpu = wall, cpu
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, best_wall, best_cpu, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--neurons", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    dv1, *numbers = measure(lambda: make_digital_v1(n_neurons=args.neurons), args.repeats)
    rows.append((f"make_digital_v1(n_neurons={args.neurons})", *numbers))
    _, *numbers = measure(lambda: make_images(len(dv1.images)), args.repeats)
    rows.append((f"  make_images({len(dv1.images)})", *numbers))
    images = torch.from_numpy(dv1.images[dv1.trial_image_ids])
    shifts = torch.from_numpy(dv1.eye_shift)

    def rates() -> None:
        with torch.no_grad():
            for start in range(0, len(images), 512):
                dv1.model(images[start : start + 512], shifts[start : start + 512])

    _, *numbers = measure(rates, args.repeats)
    rows.append((f"  model rates, {dv1.n_trials} trials with eye shifts", *numbers))
    _, *numbers = measure(dv1.noise_ceiling, args.repeats)
    rows.append(("noise_ceiling() (analytic)", *numbers))
    _, *numbers = measure(lambda: dv1.noise_ceiling("image"), 1)
    rows.append(("noise_ceiling('image') (64 shifts x test images)", *numbers))
    _, *numbers = measure(simulate_orientation_population, args.repeats)
    rows.append(("simulate_orientation_population() (2000 x 180)", *numbers))

    ceiling = dv1.noise_ceiling()
    print(f"{dv1!r}\ntorch threads: {args.threads}, best of {args.repeats} runs\n")
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  wall s   cpu s  peak MiB (tracemalloc)")
    for label, wall, cpu, peak in rows:
        print(f"{label:<{width}}  {wall:6.2f}  {cpu:6.2f}  {peak:8.1f}")
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess max resident set size: {max_rss:.0f} MiB")
    print(
        f"noise ceiling (trial): median {np.median(ceiling):.3f}, "
        f"10-90%: {np.percentile(ceiling, 10):.3f}-{np.percentile(ceiling, 90):.3f}; "
        f"(image): median {np.median(dv1.noise_ceiling('image')):.3f}"
    )


if __name__ == "__main__":
    main()
