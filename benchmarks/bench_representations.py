"""Benchmark: representation analyses at the size of the real Stringer data (notebook 07).

Reports wall times for
  (a) tuning curves + preferred orientation + selectivity of 23,589 neurons x 180 stimuli;
  (b) von Mises fits of 200 neurons;
  (c) one orientation decoder (circular target, at most 60 epochs) on 23,589 neurons;
  (d) RDMs of 36 stimuli and one RSA with 1,000 bootstrap samples and 1,000 permutations;
  (e) the RSA bootstrap at 180 stimuli (why the notebook bins into 36);
  (f) training the tilt CNN (1,500 gratings, 4 epochs);
  (g) t-SNE of 180 stimuli.
Goal: (a)-(d), (f), (g) together well under a minute on a 2-core CPU.

Run:  python benchmarks/bench_representations.py [--threads 2]
The numbers depend on the machine and on what else runs on it; the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from artiphys_course import decoding, embedding, rsa, tuning
from artiphys_course.data.stringer import load_stringer_orientations
from artiphys_course.models import normative
from artiphys_course.training import train_tilt_cnn


def _timed(label: str, fn, rows: list) -> object:
    t0 = time.perf_counter()
    out = fn()
    rows.append((label, time.perf_counter() - t0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_stringer_orientations(
        source="simulated", simulation={"n_neurons": 23589}, progress=False
    )
    resp, stim = data.resp, data.stimuli
    decoding.train_decoder(resp[:, :50], stim, max_epochs=1, progress=False)  # warm-up (imports)
    embedding.tsne(resp[:20, :10], perplexity=5)
    rows: list[tuple[str, float]] = []

    def tuning_all():
        tuning.tuning_curves(resp, stim, bin_deg=10.0)
        tuning.preferred_orientation(resp, stim)
        tuning.orientation_selectivity(resp, stim)

    _timed("(a) tuning, preference, selectivity (23,589 neurons)", tuning_all, rows)
    tc10 = tuning.tuning_curves(resp, stim, bin_deg=10.0)
    _timed(
        "(b) von Mises fits (200 neurons)",
        lambda: tuning.fit_von_mises(tc10.select(range(200)), progress=False),
        rows,
    )
    result = _timed(
        "(c) decoder, <= 60 epochs (23,589 neurons)",
        lambda: decoding.train_decoder(resp, stim, max_epochs=60, progress=False),
        rows,
    )
    tc5 = tuning.tuning_curves(resp, stim, bin_deg=5.0)
    v1 = rsa.rdm(tc5.mean)
    other = rsa.rdm(tc5.mean[:, ::7] + 0.1)
    _timed("(d) RSA, 36 stimuli, 1000 + 1000 resamples", lambda: rsa.rsa(v1, other), rows)
    big = rsa.rdm(resp)
    _timed(
        "(e) RSA, 180 stimuli, 1000 + 1000 resamples",
        lambda: rsa.rsa(big, rsa.rdm(resp[:, ::7])),
        rows,
    )
    _timed(
        "(f) tilt CNN, 1500 gratings x 4 epochs",
        lambda: train_tilt_cnn(
            normative.TiltCNN(), n_train=1500, max_epochs=4, progress=False, device="cpu"
        ),
        rows,
    )
    _timed("(g) t-SNE, 180 stimuli", lambda: embedding.tsne(resp, perplexity=20), rows)

    print(f"threads {args.threads}, load average {os.getloadavg()[0]:.1f}")
    print(f"decoder test error {result.test_error_deg:.1f} deg (chance 45)")
    print(f"{'step':<55s} {'seconds':>8s}")
    for label, seconds in rows:
        print(f"{label:<55s} {seconds:8.2f}")


if __name__ == "__main__":
    main()
