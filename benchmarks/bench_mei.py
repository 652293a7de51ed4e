"""Batched vs one-at-a-time MEIs and gradient receptive fields (timings on this machine).

Targets (issue 5): 100 MEIs in one batch >= 20x faster than the same 100 one at a time (same
steps, same model) with final activations equal within 2 %; gradient RFs of 500 neurons in one
call >= 10x faster than a loop over neurons.

The models are the course's untrained encoders for 36 x 64 images and 500 neurons (LN, simple CNN,
the default core + Gaussian readout, and the zoo's ``"gaussian"`` architecture that notebooks 05 and
06 use) and the digital V1's generative model. The MEI loop calls
:func:`compute_meis` once per neuron; the gradient-RF loop is the plain autograd loop one would
write (one forward and one backward of a single image per neuron). Batched runs are timed as the
best of 3 after a warm-up call; a loop, already 100 or 500 calls long, once.

Both MEI runs and the batched gradient RFs go through the package's engine, which computes only
each image's own neuron (:mod:`artiphys_course.models.windowed`): for a Gaussian readout only on
that neuron's receptive-field window, for a fully connected readout with one row of its weights.
That, not batching, is what makes conv models with a Gaussian readout fast on a CPU.

Batching removes per-call overhead (Python, kernel launches) and lets matrix products use their
fast paths. It does not remove arithmetic: when one image's forward pass is already
compute-bound (a convolutional core on a CPU), the batched run costs about as many FLOPs as the
loop and the speed-up is small; on a GPU it is large. The last table measures that bound directly:
the time of one forward + backward pass per image at batch size 1 divided by the same at batch size
100 is the largest speed-up any batching can give for that model on this machine.

Run: ``python benchmarks/bench_mei.py [--steps 20] [--threads 2] [--device cpu]``
"""

from __future__ import annotations

import argparse
import time

import torch

from artiphys_course.gradient_rf import gradient_rf
from artiphys_course.mei import FixedMeanStd, FixedNorm, compute_meis
from artiphys_course.models.encoders import core_readout_model, ln_model, simple_cnn
from artiphys_course.models.zoo import build_model
from artiphys_course.simulate import make_digital_v1

SHAPE = (1, 36, 64)
N_NEURONS = 500


def timed(fn, device: torch.device, repeats: int = 1):
    """Run ``fn`` ``repeats`` times: its last output and the shortest wall time (s)."""
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return out, best


def models(device: torch.device) -> dict[str, tuple[torch.nn.Module, dict, torch.Tensor]]:
    """name -> (model, MEI options, image for the gradient RFs)."""
    torch.manual_seed(0)
    standard = dict(constraint=FixedMeanStd(0.0, 1.0), lr=0.05)
    noise = torch.randn((1, *SHAPE), generator=torch.Generator().manual_seed(0))
    dv1 = make_digital_v1(n_neurons=N_NEURONS, n_train=20, n_validation=4, n_test_images=2)
    zero = torch.zeros(1, *SHAPE)
    grey = torch.full(SHAPE, 127.5)
    grey_norm = dict(constraint=FixedNorm(400.0, center=127.5, clip=(0.0, 255.0)), lr=2.0)
    out = {
        "LN": (ln_model(SHAPE, N_NEURONS), standard, zero),
        "simple CNN": (simple_cnn(SHAPE, N_NEURONS), standard, zero),
        "core+readout": (core_readout_model(SHAPE, N_NEURONS), standard, zero),
        "zoo gaussian": (build_model("gaussian", SHAPE, N_NEURONS), standard, zero),
        # rectified cells have zero gradient at grey: take the gradient at a noisy image
        "digital V1": (dv1.model, {**grey_norm, "initial": grey}, grey + 40 * noise),
    }
    return {k: (m.eval().to(device), o, x.to(device)) for k, (m, o, x) in out.items()}


def bench_meis(model, options, steps: int, device, n: int = 100) -> tuple[float, float, float]:
    neurons = list(range(n))

    def run(ids):
        return compute_meis(
            model, ids, image_shape=SHAPE, steps=steps, device=device, progress=False, **options
        )

    run(neurons[:2])  # warm-up: first optimiser step, memory allocator
    batched, t_batch = timed(lambda: run(neurons), device, repeats=3)
    singles, t_loop = timed(lambda: [run([i]) for i in neurons], device)
    loop_final = torch.cat([s.final_activation for s in singles])
    rel = ((batched.final_activation - loop_final).abs() / loop_final.abs()).max().item()
    return t_batch, t_loop, rel


def gradient_loop(model, image: torch.Tensor, n: int) -> torch.Tensor:
    grads = []
    for i in range(n):
        x = image.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(x)[0, i], x)
        grads.append(g)
    return torch.cat(grads)


def bench_gradient_rf(model, image, device) -> tuple[float, float, float]:
    gradient_rf(model, neurons=[0, 1], image=image, progress=False)  # warm-up
    together, t_one = timed(
        lambda: gradient_rf(model, image=image, progress=False), device, repeats=3
    )
    loop, t_loop = timed(lambda: gradient_loop(model, image, N_NEURONS), device)
    err = ((together - loop).abs().max() / loop.abs().max()).item()
    return t_one, t_loop, err


def per_image_seconds(model, batch: int, device, seconds: float = 2.0) -> float:
    """Wall time of one forward + input-gradient backward pass, per image, at ``batch``."""
    x = torch.randn((batch, *SHAPE), generator=torch.Generator().manual_seed(0)).to(device)
    x.requires_grad_(True)
    cols = (torch.arange(batch, device=device) % N_NEURONS)[:, None]

    def step() -> None:
        torch.autograd.grad(model(x).gather(1, cols).sum(), x)

    step()  # warm-up
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        calls += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / (calls * batch)


def row(task: str, t_batch: float, t_loop: float, diff: float) -> str:
    return f"{task:<32}{t_batch:>10.2f}{t_loop:>10.2f}{t_loop / t_batch:>9.1f}x{diff:>14.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="gradient steps per MEI")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps")
    parser.add_argument("--only", nargs="*", default=None, help="model names to run")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} CPU threads")
    print(f"MEIs: {args.steps} Adam steps each; max rel diff = of final activations (MEIs),")
    print("of gradients relative to their largest value (gradient RFs)")
    print(f"{'task':<32}{'batched s':>10}{'loop s':>10}{'speed-up':>10}{'max rel diff':>14}")
    for name, (model, options, image) in models(device).items():
        if args.only and name not in args.only:
            continue
        print(row(f"100 MEIs, {name}", *bench_meis(model, options, args.steps, device)), flush=True)
        print(
            row(f"500 gradient RFs, {name}", *bench_gradient_rf(model, image, device)), flush=True
        )
    print("\nper-image forward + backward (ms) at batch 1 and 100: the most batching can give")
    for name, (model, _, _) in models(device).items():
        if args.only and name not in args.only:
            continue
        one, hundred = (per_image_seconds(model, b, device) for b in (1, 100))
        line = f"{name:<32}{one * 1e3:>10.2f}{hundred * 1e3:>10.2f}{one / hundred:>9.1f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
