"""The FENS 2022 workshop's way vs the package: gradient RFs and MEIs of the SENSORIUM SOTA model.

The Sinz lab's FENS 2022 notebook ("Deep learning in neuroscience") computes a gradient receptive
field or a most exciting input (MEI) one neuron at a time, each step a full forward pass of the
model over all 7,776 neurons and a backward pass from the one neuron it wants. Its MEIs are plain
SGD on the pixels (lr 100, momentum 0.9, 2,000 steps), the image shown to the model being the
pixels re-standardised at every step to the training set's mean and a tenth of its s.d. (the
image's own s.d. with Bessel's correction, plus 1e-4), from a start of Gaussian noise (mean of
the training set, s.d. 0.1). The loops below follow that description (our own code; the gradient
is cleared before every step, as plain SGD does). The model takes z-scored images, so the
training set's mean and s.d. are 0 and 1: gradients are taken at the all-zero (mean grey) image
and MEIs are held at mean 0, s.d. 0.1.

The package does the same with :func:`artiphys_course.gradient_rf.gradient_rf` and
:func:`artiphys_course.mei.compute_meis`: many neurons per batch, each image computing only its
own neuron on its receptive-field window (:mod:`artiphys_course.models.windowed`). Its MEIs use
the loop's optimiser (SGD, momentum 0.9) on RMS-normalised gradients (``compute_meis``'s
default), so that ``--lr`` (default 0.02; chosen from 0.005-0.1 on the default neurons, where
Adam at 0.05-0.5 needed 70-100 steps) is the RMS pixel change per step, under the same constraint
(:class:`~artiphys_course.mei.FixedMeanStd`, mean 0, s.d. 0.1) and from the same starting noise as
the loop (gradient ascent from different starts ends on different local maxima).

Reported (one Markdown table):

* gradient RFs: seconds per neuron, loop and package, the speed-up (target >= 12x) and the largest
  absolute difference of the two gradients (equal results);
* MEIs: the loop's activation after its 2,000 steps is each neuron's target; the package's
  steps to reach each target (its trace over ``--max-steps``; a neuron that does not reach it
  is reported as such), then seconds per neuron of a
  package run of exactly that many steps, against the loop's seconds per neuron (target >= 200x
  sooner); nothing is extrapolated unless ``--loop-steps`` is below 2,000, which the table says.
  As "reaching" a converged value to its last digits is a strict test, the steps each way takes
  to 99.9 % of it are shown too;
* the bound: one forward + backward pass of one neuron's receptive-field window, per neuron
  (batch 64), the cost no per-neuron engine built on this model's arithmetic can go below much.

Timing: every measured call follows a warm-up call; package runs are the best of 3, loops (already
hundreds or thousands of calls) are timed once. The loop runs with PyTorch's defaults, as the
notebook does; ``compute_meis`` flushes subnormal floats while it optimises (its default).

The checkpoint must be in the course cache (``artiphys fetch sensorium_sota_model``, or
``artiphys fetch --from DIR`` from a folder holding ``sensorium2022_pretrained/``), or be given
with ``--checkpoint``.

Run: ``python benchmarks/bench_fens_loop.py`` (256 gradient RFs, 4 MEIs: about 3 minutes on 2
quiet cores, where a loop step costs about 20 ms; the loop's 4 x 2,000 steps dominate, and on a
shared machine they take two to five times longer) or ``python benchmarks/bench_fens_loop.py
--full`` (all 7,776 gradient RFs and the notebook's 5 MEI neurons; about 10 minutes on quiet
cores). ``--threads`` sets torch's CPU threads (default 2; on a machine shared with other jobs,
1 thread gives steadier numbers).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from artiphys_course.data.registry import cached_path
from artiphys_course.gradient_rf import gradient_rf
from artiphys_course.mei import FixedMeanStd, compute_meis
from artiphys_course.models.sensorium import SENSORIUM_IMAGE_SHAPE, load_sensorium_model
from artiphys_course.models.windowed import neuron_responses

MEI_NEURONS = (1, 48, 1092, 2008, 4029)  # the five neurons of the notebook's MEI section
MEAN, STD = 0.0, 0.1  # z-scored images: the training set's mean, a tenth of its s.d.


def timed(fn: Callable[[], object], repeats: int = 1) -> tuple[object, float]:
    """Run ``fn`` ``repeats`` times: its last output and the shortest wall time (s)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


# ---------------------------------------------------------------------------------------------
# The workshop's way: one neuron at a time, the full model at every step
# ---------------------------------------------------------------------------------------------
def loop_gradient_rf(model: nn.Module, neuron: int, image: Tensor) -> Tensor:
    """``d r_neuron / d x`` at ``image (1, 1, H, W)`` from a full forward pass: ``(1, H, W)``."""
    x = image.clone().requires_grad_(True)
    model(x)[0, neuron].backward()
    return x.grad[0]


def fens_constraint(x: Tensor) -> Tensor:
    """The image shown to the model: ``x`` re-standardised to mean ``MEAN``, s.d. ``STD``."""
    return (x - x.mean()) / (x.std() + 1e-4) * STD + MEAN


def start_image(neuron: int, seed: int) -> Tensor:
    """The MEI start ``(1, H, W)``: Gaussian noise of mean ``MEAN`` and s.d. 0.1, per neuron."""
    rng = np.random.default_rng([seed, neuron])
    return torch.tensor(rng.normal(MEAN, 0.1, SENSORIUM_IMAGE_SHAPE), dtype=torch.float32)


def loop_mei(model: nn.Module, neuron: int, steps: int, seed: int) -> tuple[Tensor, float]:
    """One neuron's MEI by SGD (lr 100, momentum 0.9) on the pixels.

    Returns
    -------
    trace : Tensor
        ``(steps,)`` the neuron's response to the shown image before each step.
    final : float
        Its response to the image after the last step.
    """
    x = start_image(neuron, seed)[None].requires_grad_(True)
    optimizer = torch.optim.SGD([x], lr=100.0, momentum=0.9)
    trace = torch.empty(steps)
    for step in range(steps):
        optimizer.zero_grad()
        response = model(fens_constraint(x))[0, neuron]
        (-response).backward()
        trace[step] = response.detach()
        optimizer.step()
    with torch.no_grad():
        final = model(fens_constraint(x))[0, neuron].item()
    return trace, final


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------
def bench_gradient_rfs(model: nn.Module, neurons: np.ndarray) -> dict[str, float]:
    image = torch.zeros(1, *SENSORIUM_IMAGE_SHAPE)
    loop_gradient_rf(model, 0, image)  # warm-up
    loop, t_loop = timed(
        lambda: torch.stack([loop_gradient_rf(model, int(i), image) for i in neurons])
    )
    gradient_rf(model, [0, 1], image=image, progress=False)  # warm-up
    ours, t_ours = timed(lambda: gradient_rf(model, neurons, image=image, progress=False), 3)
    return {
        "n": len(neurons),
        "loop": t_loop / len(neurons),
        "ours": t_ours / len(neurons),
        "diff": (ours - loop).abs().max().item(),
        "scale": loop.abs().max().item(),
    }


def first_step(trace: Tensor, level: Tensor) -> list[int | None]:
    """Per column of ``trace (steps, n)``, the first row at or above ``level (n,)``, else None."""
    above = trace >= level
    first = above.float().argmax(dim=0).tolist()
    return [k if hit else None for k, hit in zip(first, above.any(dim=0).tolist(), strict=True)]


def bench_meis(
    model: nn.Module, neurons: list[int], loop_steps: int, max_steps: int, lr: float, seed: int
) -> dict[str, object]:
    loop_mei(model, neurons[0], 2, seed)  # warm-up
    start = time.perf_counter()
    runs = [loop_mei(model, i, loop_steps, seed) for i in neurons]
    t_loop = time.perf_counter() - start
    target = torch.tensor([final for _, final in runs])
    loop_after = torch.cat([torch.stack([t for t, _ in runs], dim=1), target[None]])

    options = dict(
        image_shape=SENSORIUM_IMAGE_SHAPE,
        constraint=FixedMeanStd(MEAN, STD),
        optimizer=lambda params: torch.optim.SGD(params, lr=lr, momentum=0.9),
        initial=torch.stack([start_image(i, seed) for i in neurons]),  # the loop's starts
        init_std=0.0,
        seed=seed,
        progress=False,
    )
    long = compute_meis(model, neurons, steps=max_steps, **options)
    after = torch.cat([long.activations, long.final_activation[None]])  # after 0..max_steps
    per_neuron = first_step(after, target)
    steps = max([k for k in per_neuron if k is not None] or [max_steps])
    compute_meis(model, neurons, steps=2, **options)  # warm-up
    run, t_ours = timed(lambda: compute_meis(model, neurons, steps=max(steps, 1), **options), 3)
    _, t_long = timed(lambda: compute_meis(model, neurons, steps=max_steps, **options))
    return {
        "n": len(neurons),
        "loop_steps": loop_steps,
        "max_steps": max_steps,
        "target": target,
        "per_neuron_steps": per_neuron,
        "reached": sum(k is not None for k in per_neuron),
        "best_fraction": (after.max(dim=0).values / target).min().item(),
        "steps": steps,
        "near": (first_step(loop_after, 0.999 * target), first_step(after, 0.999 * target)),
        "loop": t_loop / len(neurons),
        "loop_step": t_loop / len(neurons) / loop_steps,
        "ours": t_ours / len(neurons),
        "ours_step": t_long / len(neurons) / max_steps,
        "ours_final": run.final_activation,
    }


def bound_per_neuron(model: nn.Module, batch: int = 64, seconds: float = 3.0) -> float:
    """Wall time (s) of one forward + backward pass of one neuron's window, at ``batch``."""
    x = torch.randn((batch, *SENSORIUM_IMAGE_SHAPE), generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    neurons = torch.arange(batch) * 97 % model.n_neurons()

    def step() -> None:
        torch.autograd.grad(neuron_responses(model, x, neurons).sum(), x)

    step()  # warm-up
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        calls += 1
    return (time.perf_counter() - start) / (calls * batch)


# ---------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--rf-neurons", type=int, default=256, help="neurons for gradient RFs")
    parser.add_argument("--mei-neurons", type=int, default=4, help="neurons for MEIs (max 5)")
    parser.add_argument("--loop-steps", type=int, default=2000, help="SGD steps of the loop")
    parser.add_argument("--max-steps", type=int, default=300, help="package steps searched")
    parser.add_argument("--lr", type=float, default=0.02, help="package MEI step (RMS pixels)")
    parser.add_argument("--full", action="store_true", help="all 7,776 RFs and 5 MEI neurons")
    parser.add_argument("--checkpoint", type=Path, default=None, help="SOTA checkpoint file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 1 <= args.mei_neurons <= len(MEI_NEURONS):
        parser.error(f"--mei-neurons must be in [1, {len(MEI_NEURONS)}], got {args.mei_neurons}")
    torch.set_num_threads(args.threads)

    cached = cached_path("sensorium_sota_model")
    source = args.checkpoint or cached
    if source is None:
        parser.error(
            "the SENSORIUM SOTA checkpoint is not cached: `artiphys fetch sensorium_sota_model` "
            "(or `artiphys fetch --from DIR`), or pass --checkpoint FILE"
        )
    model = load_sensorium_model("sota", path=args.checkpoint, progress=False)
    n_total = model.n_neurons()
    n_rf = n_total if args.full else min(args.rf_neurons, n_total)
    rf_neurons = np.sort(np.random.default_rng(args.seed).choice(n_total, n_rf, replace=False))
    mei_neurons = list(MEI_NEURONS[: len(MEI_NEURONS) if args.full else args.mei_neurons])

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cache = "warm, in the course cache" if args.checkpoint is None else "given file"
    print(
        f"machine: {os.cpu_count()} CPUs (nproc), load average {load:.1f}; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, CPU; checkpoint {source} "
        f"({cache}); every timed call follows a warm-up call"
    )
    print(f"SENSORIUM 2022 SOTA: {n_total} neurons, images {SENSORIUM_IMAGE_SHAPE}", flush=True)

    rf = bench_gradient_rfs(model, rf_neurons)
    print(f"gradient RFs done ({rf['n']} neurons)", flush=True)
    mei = bench_meis(model, mei_neurons, args.loop_steps, args.max_steps, args.lr, args.seed)
    print(f"MEIs done (neurons {mei_neurons})", flush=True)
    bound = bound_per_neuron(model)

    extrapolated = "" if args.loop_steps >= 2000 else " (fewer loop steps: target is lower)"
    print()
    print("| measure (per neuron) | FENS loop | package | speed-up |")
    print("|---|---:|---:|---:|")
    print(
        f"| gradient RF, ms ({rf['n']} neurons) | {rf['loop'] * 1e3:.1f} | "
        f"{rf['ours'] * 1e3:.2f} | {rf['loop'] / rf['ours']:.1f}x |"
    )
    print(f"| gradient RF, max abs diff (largest value {rf['scale']:.2g}) | | {rf['diff']:.1e} | |")
    print(
        f"| MEI, steps to the loop's {mei['loop_steps']}-step activation "
        f"({mei['n']} neurons, same starts){extrapolated} | {mei['loop_steps']} | {mei['steps']} "
        f"(each: {', '.join(map(str, mei['per_neuron_steps']))}) | |"
    )
    if mei["reached"] < mei["n"]:
        print(
            f"| MEI, NOT reached within {mei['max_steps']} steps by "
            f"{mei['n'] - mei['reached']} neurons (worst: {mei['best_fraction']:.4f} of target)"
            " | | | |"
        )
    loop_near, ours_near = (", ".join(map(str, k)) for k in mei["near"])
    print(f"| MEI, steps to 99.9 % of that activation, each neuron | {loop_near} | {ours_near} | |")
    print(
        f"| MEI, seconds to that activation | {mei['loop']:.1f} | {mei['ours'] * 1e3:.0f} ms | "
        f"{mei['loop'] / mei['ours']:.0f}x |"
    )
    print(
        f"| MEI, one step, ms | {mei['loop_step'] * 1e3:.1f} | {mei['ours_step'] * 1e3:.2f} | "
        f"{mei['loop_step'] / mei['ours_step']:.1f}x |"
    )
    print(f"| bound: forward + backward of the RF window, ms (batch 64) | | {bound * 1e3:.2f} | |")
    print()
    print("MEI targets (loop):  ", np.round(mei["target"].numpy(), 3).tolist())
    print("package after steps: ", np.round(mei["ours_final"].numpy(), 3).tolist())
    print(
        "settings: loop SGD lr 100, momentum 0.9 on the raw gradient; package SGD lr "
        f"{args.lr}, momentum 0.9 on RMS-normalised gradients; both from the same noise "
        f"(seed {args.seed}) at mean {MEAN}, s.d. {STD}"
    )


if __name__ == "__main__":
    main()
