"""Benchmark: encoding models of the default digital V1, accuracy (vs the noise ceiling) and speed.

Trains the LN model, the simple CNN and the core + Gaussian readout models (the recipes of
:mod:`artiphys_course.models.zoo`, within a wall-clock budget) on the default digital V1 and
prints, per model, the mean single-trial test correlation, the fraction of the exact noise
ceiling (``mean test correlation / mean DigitalV1.noise_ceiling()``), the number of epochs, the
training time (wall clock and process CPU time) and the speed per epoch. Target: core + readout
>= 0.90 of the ceiling within 120 s of 2-core CPU training; LN < CNN < core + readout.

Run::

    python benchmarks/bench_encoding.py                 # 2 CPU threads, 120 s per model
    python benchmarks/bench_encoding.py --seconds 60 --kinds ln gaussian
    python benchmarks/bench_encoding.py --device cuda    # speed per epoch on a GPU

On a shared machine the wall-clock time depends on the load (printed): the process CPU time
divided by the thread count estimates the time on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from artiphys_course.data.static import StaticDataset, dataloaders
from artiphys_course.metrics import correlation, model_predictions
from artiphys_course.models.zoo import KINDS, RECIPES, build_model
from artiphys_course.simulate import make_digital_v1
from artiphys_course.training import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="training budget per model")
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="default: the zoo recipe's max_epochs"
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--kinds", nargs="+", default=["ln", "cnn", "gaussian", "gaussian_free"], choices=KINDS
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    dv1 = make_digital_v1()
    dataset = StaticDataset.from_digital_v1(dv1)
    print(f"digital V1: {dv1!r} ({time.perf_counter() - start:.0f} s to simulate)")
    ceiling = dv1.noise_ceiling()
    print(f"noise ceiling (single trial, exact): mean {ceiling.mean():.3f}")
    loaders = dataloaders(dataset, seed=0)
    train_mask = dataset.tiers == "train"
    mean = loaders["train"].normalizer.responses(dataset.responses[train_mask]).mean(0)
    n_train = int(train_mask.sum())
    image_shape = (1, *dv1.image_shape)

    rows = []
    for kind in args.kinds:
        torch.manual_seed(0)
        model = build_model(
            kind,
            image_shape,
            dv1.n_neurons,
            mean_response=mean,
            cortex_coordinates=dataset.cell_motor_coordinates,
        )
        load = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        settings = dict(RECIPES[kind]["train"])
        if args.max_epochs is not None:
            settings["max_epochs"] = args.max_epochs
        history = train(
            model, loaders, max_seconds=args.seconds, device=args.device, progress=False, **settings
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        y_true, y_pred = model_predictions(model, loaders["test"])
        corr = correlation(y_true, y_pred)
        per_epoch = float(np.mean(history.epoch_seconds))
        rows.append(
            (kind, corr.mean(), corr.mean() / ceiling.mean(), history.n_epochs, wall, cpu,
             per_epoch, n_train / per_epoch, load)
        )  # fmt: skip
        print(f"  {kind}: done ({history.stopped}, best epoch {history.best_epoch})", flush=True)

    header = (
        f"{'model':16s} {'test r':>7s} {'/ceil':>6s} {'epochs':>6s} {'wall s':>7s} "
        f"{'cpu s':>7s} {'s/epoch':>8s} {'img/s':>7s} {'load':>5s}"
    )
    print(f"\ndevice {args.device}, {args.threads} threads, budget {args.seconds:.0f} s per model")
    print(header)
    print("-" * len(header))
    for kind, r, frac, epochs, wall, cpu, per_epoch, speed, load in rows:
        print(
            f"{kind:16s} {r:7.3f} {frac:6.3f} {epochs:6d} {wall:7.0f} {cpu:7.0f} "
            f"{per_epoch:8.1f} {speed:7.0f} {load:5.1f}"
        )


if __name__ == "__main__":
    main()
