"""The CPU levers of training and inference speed, each measured against the plain setting in
the same run, on the two reference networks of ``bench/keras_reference.py``.

Run ``python bench/levers.py`` (``--quick`` for a smoke run). Each row is a bare PyTorch loop
(the network built by lociflow, batches sliced from one tensor) changed in one way:

- threads: 1 against 2 intra-op threads (``torch.set_num_threads``);
- deterministic: ``torch.use_deterministic_algorithms(True)``, as lociflow trains on the CPU;
- compile: ``torch.compile`` of the network;
- bf16: ``torch.autocast("cpu", dtype=torch.bfloat16)`` around forward and loss;
- inference: ``torch.inference_mode`` against ``torch.no_grad``, and batches of 256, 1024 and
  4096 windows.

Rates are samples per second, the median of ``--repeats`` epochs after one warm-up epoch.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from keras_reference import LOCIFLOW_NETWORKS  # noqa: E402

from lociflow.model.network import build_network  # noqa: E402


def data(n: int, window: int = 150):
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, window))]
    return torch.from_numpy(x), torch.from_numpy(rng.integers(0, 2, n))


def training_rate(name: str, x, y, repeats: int, threads: int = 1, deterministic: bool = False,
                  compiled: bool = False, bf16: bool = False) -> float:
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)
    torch.manual_seed(0)
    network = build_network(LOCIFLOW_NETWORKS[name], {"seq": list("ACGT")}, x.shape[1], 2)
    optimizer = torch.optim.Adam(network.parameters(), 1e-3)
    forward = torch.compile(network) if compiled else network
    rates = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        for i in range(0, len(y), 256):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(forward(x[i:i + 256]), y[i:i + 256])
            loss.backward()
            optimizer.step()
        rates.append(len(y) / (time.perf_counter() - start))
    torch.use_deterministic_algorithms(False)
    return float(np.median(rates[1:]))


def inference_rate(name: str, x, repeats: int, batch: int, mode: str = "inference", bf16: bool = False) -> float:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    network = build_network(LOCIFLOW_NETWORKS[name], {"seq": list("ACGT")}, x.shape[1], 2).eval()
    guard = torch.inference_mode if mode == "inference" else torch.no_grad
    rates = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        with guard(), torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            for i in range(0, len(x), batch):
                network(x[i:i + batch])
        rates.append(len(x) / (time.perf_counter() - start))
    return float(np.median(rates[1:]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="Training windows per epoch.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeats = 512, 1
    x, y = data(args.n)
    print(f"{args.n} windows of 150 nt, batch 256, torch {torch.__version__}; samples/s, median of {args.repeats}")
    print(f"{'network':>10} {'lever':>28} {'samples/s':>10} {'vs plain':>9}")
    for name in LOCIFLOW_NETWORKS:
        plain = training_rate(name, x, y, args.repeats)
        rows = {"train, plain (1 thread)": plain,
                "train, 2 threads": training_rate(name, x, y, args.repeats, threads=2),
                "train, deterministic": training_rate(name, x, y, args.repeats, deterministic=True),
                "train, torch.compile": training_rate(name, x, y, args.repeats, compiled=True),
                "train, bf16 autocast": training_rate(name, x, y, args.repeats, bf16=True)}
        for label, rate in rows.items():
            print(f"{name:>10} {label:>28} {rate:>10.0f} {rate / plain:>8.2f}x")
        base = inference_rate(name, x, args.repeats, 1024)
        rows = {"predict, inference_mode 1024": base,
                "predict, no_grad 1024": inference_rate(name, x, args.repeats, 1024, mode="no_grad"),
                "predict, batch 256": inference_rate(name, x, args.repeats, 256),
                "predict, batch 4096": inference_rate(name, x, args.repeats, 4096),
                "predict, bf16 autocast 1024": inference_rate(name, x, args.repeats, 1024, bf16=True)}
        for label, rate in rows.items():
            print(f"{name:>10} {label:>28} {rate:>10.0f} {rate / base:>8.2f}x")


if __name__ == "__main__":
    main()
