"""Timings of the in-silico experiments of notebook 09 (time per stimulus, on this machine).

Notebook 09 must run within the course's time budget on a 2-core CPU, and most of its time is
spent showing stimuli to the SENSORIUM 2022 models (7,776 neurons, a 64-channel core on 36 x 64
images). This benchmark times each experiment with the notebook's settings on the zoo's
digital-V1 model and, when their checkpoints are cached, on the SENSORIUM SOTA and LN models, and
prints the number of stimuli and the milliseconds per stimulus, so the notebook's stimulus
counts can be sized to the budget. Full-field experiments (gratings, sparse noise) show every
stimulus to all neurons in one forward pass; size tuning computes only each stimulus's own
neuron (:func:`artiphys_course.units.own_response_function`), on its receptive-field window for
a Gaussian readout.

Run: ``python benchmarks/bench_in_silico.py [--threads 2] [--device cpu]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from artiphys_course import in_silico
from artiphys_course.data import cached_path
from artiphys_course.models.zoo import trained_model

SHAPE = (36, 64)


def experiments(model: torch.nn.Module, n_neurons: int) -> dict[str, tuple[int, float]]:
    """``name -> (number of stimuli, seconds)`` of the notebook's experiments on ``model``."""
    quiet = {"image_shape": SHAPE, "progress": False}
    timings = {}
    start = time.perf_counter()
    tuned = in_silico.grating_tuning(
        model, spatial_frequency=np.geomspace(0.02, 0.25, 6), n_phases=2, **quiet
    )
    timings["gratings"] = (len(tuned.responses) * 2, time.perf_counter() - start)
    start = time.perf_counter()
    noise = in_silico.sparse_noise_rfs(model, square=6, step=3, **quiet)
    timings["sparse noise"] = (2 * noise.maps[0].size, time.perf_counter() - start)
    subset = np.sort(np.random.default_rng(1).choice(n_neurons, size=100, replace=False))
    start = time.perf_counter()
    in_silico.size_tuning(
        model,
        noise.center[subset],
        tuned.preferred_orientation_deg[subset],
        tuned.preferred_frequency[subset],
        neurons=subset,
        diameter=np.geomspace(4.0, 72.0, 6),
        n_phases=2,
        **quiet,
    )
    timings["size tuning (100 neurons)"] = (100 * 6 * 2, time.perf_counter() - start)
    start = time.perf_counter()
    in_silico.grating_trials(model, 360, 0.12, seed=0, **quiet)
    timings["random gratings"] = (360, time.perf_counter() - start)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    models = {"zoo gaussian": (trained_model("gaussian", device=device, progress=False)[0], 500)}
    for kind in ("sota", "ln"):
        if cached_path(f"sensorium_{kind}_model") is not None:
            from artiphys_course.models.sensorium import load_sensorium_model

            models[f"sensorium {kind}"] = (load_sensorium_model(kind, device=device), 7776)
    print(f"{'model':<16}{'experiment':<28}{'stimuli':>8}{'seconds':>9}{'ms/stimulus':>13}")
    for name, (model, n_neurons) in models.items():
        for experiment, (count, seconds) in experiments(model, n_neurons).items():
            print(
                f"{name:<16}{experiment:<28}{count:>8}{seconds:>9.2f}"
                f"{1000 * seconds / count:>13.2f}"
            )


if __name__ == "__main__":
    main()
