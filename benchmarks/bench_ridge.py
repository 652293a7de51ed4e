"""Benchmark: the hand-written leave-one-out ridge (``fit_ridge``) against scikit-learn's RidgeCV.

The problem sizes are those of notebook 08's grid (``run_layer_grid`` on
``make_visual_hierarchy(n_neurons=60, n_train=800)`` and AlexNet features at ``input_size=(72,
128)``, ``pool=(8, 15)``): 800 training trials, 180 neurons (three areas of 60 shown the same
images are fitted together), float32 features of 7,680 (conv1), 23,040 (conv2), 8,064 (conv3)
and 5,376 (conv4, conv5) dimensions, and the default 15 candidate penalties
(``DEFAULT_RELATIVE_ALPHAS`` times the mean eigenvalue, as ``fit_ridge`` chooses them).
Features and responses are simulated (a linear readout plus noise), which does not change the
cost. ``RidgeCV(alphas=fit.alphas, alpha_per_target=True)`` gets the same absolute penalties.

For every layer it checks that both choose the same penalty for every neuron and give the same
predictions, and times both (best of 3) with 1 and 2 BLAS threads.

Run::

    python benchmarks/bench_ridge.py [--repeats 3] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from sklearn.linear_model import RidgeCV
from threadpoolctl import threadpool_limits

from artiphys_course.ridge import fit_ridge

N_TRAIN, N_NEURONS = 800, 180
LAYERS = {"conv1": 7680, "conv2": 23040, "conv3": 8064, "conv4": 5376, "conv5": 5376}


def _problem(n_features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(size=(N_TRAIN, n_features))).astype(np.float32)  # ReLU-like features
    w = rng.normal(size=(n_features, N_NEURONS)).astype(np.float32) / np.sqrt(n_features)
    y = x @ w + rng.normal(scale=2.0, size=(N_TRAIN, N_NEURONS)).astype(np.float32)
    return x, y


def _best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    print(f"{N_TRAIN} trials x {N_NEURONS} neurons, 15 penalties; best of {args.repeats} (s)")
    print(
        f"{'layer':6s} {'features':>8s} {'threads':>7s} {'fit_ridge':>9s} {'RidgeCV':>8s}"
        f" {'ratio':>6s}  same alphas  max |pred diff| / pred std"
    )
    totals = {t: [0.0, 0.0] for t in args.threads}
    for layer, p in LAYERS.items():
        x, y = _problem(p)
        fit = fit_ridge(x, y)
        ref = RidgeCV(alphas=fit.alphas, alpha_per_target=True).fit(x, y)
        same = np.mean(fit.alpha == ref.alpha_)
        diff = np.abs(fit.predict(x) - ref.predict(x)).max() / y.std()
        for threads in args.threads:
            with threadpool_limits(threads):
                t_own = _best_of(lambda x=x, y=y: fit_ridge(x, y), args.repeats)
                t_skl = _best_of(
                    lambda x=x, y=y, a=fit.alphas: RidgeCV(alphas=a, alpha_per_target=True).fit(
                        x, y
                    ),
                    args.repeats,
                )
            totals[threads][0] += t_own
            totals[threads][1] += t_skl
            print(
                f"{layer:6s} {p:8d} {threads:7d} {t_own:9.2f} {t_skl:8.2f} {t_skl / t_own:6.1f}"
                f"  {same:11.0%}  {diff:.1e}"
            )
    for threads, (own, skl) in totals.items():
        print(f"all five layers, {threads} thread(s): fit_ridge {own:.2f} s, RidgeCV {skl:.2f} s")


if __name__ == "__main__":
    main()
