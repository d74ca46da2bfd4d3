"""Interpretation speed: lociflow's batched methods against captum called one sequence at a
time (as the tool we replace did) and against tangermeme, in the same run.

Run ``python bench/interpret.py`` (``--quick`` for a smoke run, ``--preset``, ``--threads``,
``--n``). The network is a lociflow preset (default ``cnn``) on 150-nt one-hot input with
seeded random weights (speed does not depend on training); the data are random sequences.

- lociflow: :func:`saliency`, :func:`integrated_gradients` (zeros baseline, 50 steps),
  :func:`deep_lift_shap` (20 dinucleotide shuffles), :func:`in_silico_mutagenesis`.
- naive captum: one call per sequence with captum's defaults: ``Saliency``,
  ``IntegratedGradients`` (50 steps in one batch), ``DeepLiftShap`` against 20 shuffles of
  the sequence; naive ISM scores each sequence's 450 mutants as one batch per sequence.
  Timed on a subset and scaled to 1,000 sequences.
- tangermeme (if installed; it is not a lociflow dependency): ``deep_lift_shap`` (20
  shuffles) and ``saturation_mutagenesis`` through a wrapper that feeds its
  channels-first input to the network, with the same batch size.

Saliency and IG of lociflow run on ``--n`` sequences; DeepLIFT/SHAP, ISM and the shuffle
run head to head with tangermeme on ``--sub`` sequences and the naive loops on
``--naive``, interleaved and repeated ``--repeats`` times, keeping the fastest run of each
(the machine's other load varies over minutes).

Times are per 1,000 sequences, in wall seconds and CPU seconds of this process (the latter
is steadier when other programs share the cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("LOCIFLOW_PROGRESS", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lociflow.interpretation.attribution import (  # noqa: E402
    deep_lift_shap,
    integrated_gradients,
    saliency,
)
from lociflow.interpretation.mutagenesis import in_silico_mutagenesis  # noqa: E402
from lociflow.model.network import build_network  # noqa: E402
from lociflow.model.presets import resolve_architecture  # noqa: E402
from lociflow.preprocessing.shuffle import dinucleotide_shuffle  # noqa: E402

warnings.filterwarnings("ignore")
TARGET = 1


def clock(fn, *args, **kwargs):
    """(result, wall seconds, CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


class ChannelsFirst(torch.nn.Module):
    """tangermeme passes [B, 4, L]; lociflow networks read [B, L, C]."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, x):
        return self.network(x.transpose(1, 2))


def naive_captum(network, x, method, n_shuffles=20, steps=50):
    from captum.attr import DeepLiftShap, IntegratedGradients, Saliency

    explainer = {"saliency": Saliency, "ig": IntegratedGradients, "deepshap": DeepLiftShap}[method](network)
    rng = np.random.default_rng(0)
    for row in x:
        xi = torch.as_tensor(row[None], dtype=torch.float32)
        if method == "saliency":
            explainer.attribute(xi, target=TARGET)
        elif method == "ig":
            explainer.attribute(xi, baselines=torch.zeros_like(xi), target=TARGET, n_steps=steps)
        else:
            refs = torch.as_tensor(dinucleotide_shuffle(row, n_shuffles, rng), dtype=torch.float32)
            explainer.attribute(xi, baselines=refs, target=TARGET)


def naive_ism(network, x):
    with torch.inference_mode():
        for row in x:
            length = row.shape[0]
            mutants = np.repeat(row[None], length * 4, axis=0).reshape(length, 4, length, 4).copy()
            for p in range(length):
                mutants[p, :, p] = np.eye(4)
            keep = ~row.astype(bool)  # skip the base present
            batch = torch.as_tensor(mutants[keep], dtype=torch.float32)
            network(batch)


def network_macs(network, window):
    """Multiply-accumulates of one forward pass of one sequence (convolutions and linear layers)."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv1d):
            total += output.shape[-1] * module.out_channels * module.in_channels * module.kernel_size[0]
        elif isinstance(module, torch.nn.Linear):
            total += module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in network.modules()]
    with torch.inference_mode():
        network(torch.zeros(1, window, 4))
    for hook in hooks:
        hook.remove()
    return total


def arithmetic_rates(network, window, seconds=1.0):
    """GFLOP/s of this core for a large matrix product, and of the network's forward pass plus
    input gradient (what gradient attributions run) at the batch sizes of the naive calls and
    of the batched ones: the ceiling on what batching can gain on a CPU."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    cpu, n = time.process_time(), 0
    while time.process_time() - cpu < seconds:
        a @ b
        n += 1
    rates = {"matmul 1024x1024": 2 * 1024 ** 3 * n / (time.process_time() - cpu) / 1e9}
    flops = 2 * 2 * network_macs(network, window)  # forward + input gradient, 2 FLOPs per MAC
    for rows in (1, 20, 50, 256):
        x = torch.randn(rows, window, 4, requires_grad=True)
        cpu, n = time.process_time(), 0
        while time.process_time() - cpu < seconds:
            torch.autograd.grad(network(x)[:, TARGET].sum(), x)
            n += 1
        rates[f"network, {rows} rows a pass"] = flops * rows * n / (time.process_time() - cpu) / 1e9
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cnn")
    parser.add_argument("--window", type=int, default=150)
    parser.add_argument("--n", type=int, default=1000, help="sequences for the batched methods")
    parser.add_argument("--naive", type=int, default=50, help="sequences for the naive loops (scaled)")
    parser.add_argument("--sub", type=int, default=200, help="sequences for the head-to-head runs (scaled)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of the head-to-head runs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n, args.naive, args.sub, args.repeats = 100, 10, 20, 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    arch = resolve_architecture(args.preset, None, ["seq"], window=args.window)
    network = build_network(arch, {"seq": list("ACGT")}, args.window, 2).eval()
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (args.n, args.window))]
    common = {"batch_size": args.batch_size, "verbose": False}
    rows = []

    def record(method, tool, n, wall, cpu, note=""):
        scale = 1000 / n
        rows.append((method, tool, wall * scale, cpu * scale, note))
        print(f"{method:10s} {tool:28s} {wall * scale:9.2f} s wall {cpu * scale:9.2f} s CPU  per 1,000 {note}",
              flush=True)

    inputs = {"seq": x}
    sub = {"seq": x[:args.sub]}
    try:
        import tangermeme
        from tangermeme.deep_lift_shap import deep_lift_shap as tm_dls
        from tangermeme.ersatz import dinucleotide_shuffle as tm_shuffle
        from tangermeme.saturation_mutagenesis import saturation_mutagenesis as tm_ism
    except ImportError:
        tangermeme = None
        print("tangermeme is not installed: its rows are skipped (pip install tangermeme to add them)")

    # lociflow on the full set
    _, w, c = clock(saliency, network, inputs, TARGET, **common)
    record("saliency", "lociflow", args.n, w, c)
    _, w, c = clock(integrated_gradients, network, inputs, TARGET, steps=50, **common)
    record("ig", "lociflow", args.n, w, c)
    _, w, c = clock(dinucleotide_shuffle, x, 20, 0)
    record("shuffle20", "lociflow", args.n, w, c)

    # head to head on the same subset, runs interleaved and repeated; the fastest of each counts
    contenders = {
        ("deepshap", "lociflow"): lambda: deep_lift_shap(network, sub, TARGET, n_shuffles=20, **common),
        ("ism", "lociflow"): lambda: in_silico_mutagenesis(network, sub, TARGET, **common),
        ("ism", "lociflow, full passes"): lambda: in_silico_mutagenesis(network, sub, TARGET, fast=False, **common),
        ("saliency", "captum, one sequence a call"): lambda: naive_captum(network, x[:args.naive], "saliency"),
        ("ig", "captum, one sequence a call"): lambda: naive_captum(network, x[:args.naive], "ig"),
        ("deepshap", "captum, one sequence a call"): lambda: naive_captum(network, x[:args.naive], "deepshap"),
        ("ism", "one sequence a batch"): lambda: naive_ism(network, x[:args.naive]),
    }
    sizes = {key: (args.sub if key[1].startswith("lociflow") else args.naive) for key in contenders}
    if tangermeme is not None:
        wrapped = ChannelsFirst(network).eval()
        xt = torch.as_tensor(x[:args.sub].transpose(0, 2, 1).astype(np.float32))
        label = f"tangermeme {tangermeme.__version__}"
        contenders[("deepshap", label)] = lambda: tm_dls(
            wrapped, xt, target=TARGET, n_shuffles=20, batch_size=args.batch_size, random_state=0,
            only_warn=True, warning_threshold=1e9)
        contenders[("ism", label)] = lambda: tm_ism(wrapped, xt, target=TARGET, batch_size=args.batch_size)
        contenders[("shuffle20", label)] = lambda: tm_shuffle(xt, n=20, random_state=0)
        sizes.update({("deepshap", label): args.sub, ("ism", label): args.sub, ("shuffle20", label): args.sub})
    best = {key: (float("inf"), float("inf")) for key in contenders}
    for _ in range(args.repeats):
        for key, run in contenders.items():
            _, w, c = clock(run)
            best[key] = (min(best[key][0], w), min(best[key][1], c))
    for key in sorted(contenders):
        n = sizes[key]
        record(*key, n, *best[key], f"(best of {args.repeats}, scaled from {n})")

    print()
    print("Arithmetic rate of one core, GFLOP/s per CPU second (forward + input gradient for the network):")
    for name, rate in arithmetic_rates(network, args.window, 0.3 if args.quick else 2.0).items():
        print(f"  {name:28s} {rate:7.1f}")
    print()
    print(f"preset {args.preset}, window {args.window}, torch threads {args.threads}, batch {args.batch_size}")
    print("| method | tool | wall s / 1,000 | CPU s / 1,000 | notes |")
    print("| --- | --- | ---: | ---: | --- |")
    for method, tool, wall, cpu, note in rows:
        print(f"| {method} | {tool} | {wall:.2f} | {cpu:.2f} | {note} |")


if __name__ == "__main__":
    main()
