"""Benchmark: the layer x area grid of notebook 08 on a CPU, and ridge vs a factorized readout.

Part 1 runs the notebook's full grid (simulated V1 / V2 / V4, AlexNet pretrained conv1-conv3 when
the partial checkpoint is cached, else untrained, plus an untrained control; five layers) and
times each stage. Target: <= 5 minutes on a CPU.

Part 2 fits, on the same cells (one network, conv1-conv3, all areas), the closed-form ridge
readout with leave-one-out penalty and the gradient-trained factorized readout (spatial mask x
feature weights, Klindt et al. 2017 / Cadena et al. 2019), and compares held-out accuracy and time.

Run::

    python benchmarks/bench_layer_grid.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="part 1 only")
    parser.add_argument("--threads", type=int, default=None, help="torch / BLAS threads")
    parser.add_argument("--factorized-epochs", type=int, default=150)
    args = parser.parse_args()
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)

    import numpy as np
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from artiphys_course.features import ALEXNET_LAYERS, extract_features
    from artiphys_course.layer_grid import AreaData, run_layer_grid
    from artiphys_course.models.pretrained import load_pretrained
    from artiphys_course.simulate import make_visual_hierarchy

    # the notebook's configuration
    image_shape, pool = NOTEBOOK["image_shape"], NOTEBOOK["pool"]
    t0 = time.perf_counter()
    hier = make_visual_hierarchy(**NOTEBOOK["hierarchy"])
    t_sim = time.perf_counter() - t0
    nets = {
        "alexnet": load_pretrained("alexnet", download=False),
        "untrained": load_pretrained("alexnet", weights="untrained", seed=1),
    }
    features, t_feat = {}, {}
    for name, net in nets.items():
        t0 = time.perf_counter()
        features[name] = extract_features(
            net, hier.images, ALEXNET_LAYERS, image_shape=image_shape, pool=pool, progress=False
        )
        t_feat[name] = time.perf_counter() - t0
    areas = [AreaData.from_simulated(a) for a in hier.areas.values()]
    t0 = time.perf_counter()
    grid = run_layer_grid(features, areas, progress=False)
    t_grid = time.perf_counter() - t0
    total = t_sim + sum(t_feat.values()) + t_grid

    print(f"\nPart 1: notebook grid ({hier})")
    print(f"  weights: alexnet = {nets['alexnet'].weights_source}")
    print(f"  {'stage':32s} {'seconds':>8s}")
    print(f"  {'simulate hierarchy':32s} {t_sim:8.1f}")
    for name, t in t_feat.items():
        print(f"  {'features ' + name:32s} {t:8.1f}")
    n_cells = len(grid.rows)
    print(f"  {f'ridge grid ({n_cells} cells)':32s} {t_grid:8.1f}")
    print(f"  {'total':32s} {total:8.1f}   (target <= 300 s)")
    for net in grid.networks:
        frac = grid.matrix(net, "fraction_of_ceiling")
        print(f"\n  {net}: fraction of ceiling (rows {grid.layers}, columns {grid.areas})")
        for layer, row in zip(grid.layers, frac, strict=True):
            print(f"    {layer:6s} " + " ".join(f"{v:6.3f}" for v in row))
        print(f"    best layers: {grid.best_layers(net, 'fraction_of_ceiling')}")
    if args.quick:
        return

    print(f"\nPart 2: ridge vs factorized readout (alexnet conv1-conv3, {len(areas)} areas)")
    sub = {"alexnet": {k: features["alexnet"][k] for k in ("conv1", "conv2", "conv3")}}
    t0 = time.perf_counter()
    both = run_layer_grid(
        sub,
        areas,
        readouts=("ridge", "factorized"),
        factorized_options={"max_epochs": args.factorized_epochs, "seed": 0},
        progress=False,
    )
    t_both = time.perf_counter() - t0
    print(f"  {'readout':11s} {'layer':6s} {'area':5s} {'corr':>6s} {'frac':>6s} {'seconds':>8s}")
    for row in both.rows:
        print(
            f"  {row.readout:11s} {row.layer:6s} {row.area:5s} {row.correlation:6.3f} "
            f"{row.fraction_of_ceiling:6.3f} {row.seconds:8.2f}"
        )
    for readout in ("ridge", "factorized"):
        rows = [r for r in both.rows if r.readout == readout]
        print(
            f"  {readout:11s} mean fraction of ceiling "
            f"{np.mean([r.fraction_of_ceiling for r in rows]):.3f}, total fit time "
            f"{sum(r.seconds for r in rows):.1f} s, best layers "
            f"{both.best_layers(readout=readout, value='fraction_of_ceiling')}"
        )
    print(f"  (part 2 wall time {t_both:.1f} s)")


#: Mirrors solutions/08_layer_area_grid.ipynb.
NOTEBOOK = {
    "hierarchy": {"n_neurons": 60, "n_train": 800, "n_test_images": 50, "seed": 0},
    "image_shape": (72, 128),
    "pool": (8, 15),
}

if __name__ == "__main__":
    main()
