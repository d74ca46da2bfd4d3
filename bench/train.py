"""Training speed: lociflow's loop (Lightning + batch loading from memory-mapped arrays)
against a bare PyTorch loop on the same network and data, measured in the same run.

Run ``python bench/train.py`` (``--quick`` for a smoke run, ``--preset``, ``--threads 1 2``,
``--data DATASET`` to use a real dataset instead of the synthetic one).

- Bare loop: the training split loaded once into a float32 tensor; each step slices a
  shuffled batch, runs forward, backward and the optimizer step. Nothing else. It runs with
  PyTorch's deterministic algorithms, as lociflow does on the CPU (the ratio compares like with
  like), and once more without them (``bare-nondet``) to show what determinism costs.
- lociflow: :func:`lociflow.training.run.train` with validation each epoch; a callback times only
  the training part of every epoch (first batch fetched to last step done) and the time the
  loop spends between one step's end and the next step's start (fetching and converting the
  next batch plus Lightning's own hooks): the "waiting for data" share.

The first epoch of each is a warm-up and not counted. Both report samples per wall second
and per CPU second (the latter is steadier when other programs share the cores).

``--reference keras`` compares lociflow with the engine of the tool it replaces instead: two
ENNGene-style networks (``bench/keras_reference.py``) trained and run by Keras on TensorFlow
and by lociflow, interleaved, ``--repeats`` times each; it prints medians with ranges of
training and inference samples per second and lociflow's data-wait share. It needs
TensorFlow, which ``make bench-keras`` installs into a separate environment.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LOCIFLOW_PROGRESS", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import lightning as L  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from lociflow.io.store import open_dataset  # noqa: E402
from lociflow.model.network import build_network  # noqa: E402
from lociflow.model.presets import DEFAULT_PRESET, resolve_architecture  # noqa: E402
from lociflow.training.run import train  # noqa: E402


class StepClock(L.Callback):
    """Per epoch: seconds of the training part, seconds between steps, samples seen."""

    def __init__(self):
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self._start_wall, self._start_cpu = time.perf_counter(), time.process_time()
        self._last_end = self._start_wall
        self._wait = 0.0
        self._samples = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        now = time.perf_counter()
        self._wait += now - self._last_end

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._last_end = time.perf_counter()
        self._samples += int(batch[1].shape[0])
        self._end_cpu = time.process_time()

    def on_train_epoch_end(self, trainer, pl_module):
        # measured to the end of the last step: validation and epoch-end hooks are not training
        self.epochs.append({"wall": self._last_end - self._start_wall, "cpu": self._end_cpu - self._start_cpu,
                            "wait": self._wait, "samples": self._samples})


def bare_loop(dataset, architecture, batch_size: int, epochs: int, lr: float, seed: int,
              deterministic: bool = True) -> list[dict[str, float]]:
    """The simplest correct training loop over the same data and network.

    ``deterministic`` selects PyTorch's deterministic algorithms, as lociflow does on the CPU
    so that a seed gives identical weights; without them the bare loop shows what that choice
    costs, apart from Lightning and data loading.
    """
    torch.use_deterministic_algorithms(deterministic)
    torch.manual_seed(seed)
    network = build_network(architecture, dataset.channels, dataset.window, len(dataset.classes))
    split = dataset.split("train")
    inputs = [torch.from_numpy(np.asarray(split.inputs[b], dtype=np.float32)) for b in network.branches]
    labels = torch.from_numpy(np.array(split.labels))
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    network.train()
    out = []
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(labels), batch_size):
            index = order[start:start + batch_size]
            batch = [x[index] for x in inputs]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(network(*batch), labels[index])
            loss.backward()
            optimizer.step()
        out.append({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "wait": 0.0,
                    "samples": len(labels)})
    return out


def lociflow_loop(data: Path, preset: str, batch_size: int, epochs: int, lr: float, seed: int,
                  threads: int, workdir: Path) -> list[dict[str, float]]:
    clock = StepClock()
    config = {"data": str(data), "preset": preset, "epochs": epochs, "batch_size": batch_size,
              "learning_rate": lr, "seed": seed, "threads": threads, "early_stopping": None}
    train(config, workdir, callbacks=[clock])
    return clock.epochs


def rates(epochs: list[dict[str, float]]) -> dict[str, float]:
    counted = epochs[1:] or epochs  # the first epoch warms up
    samples = sum(e["samples"] for e in counted)
    wall = sum(e["wall"] for e in counted)
    return {"per_s": samples / wall, "per_cpu_s": samples / sum(e["cpu"] for e in counted),
            "wait_share": sum(e["wait"] for e in counted) / wall}


def lociflow_rates(data: Path, architecture: dict, batch_size: int, epochs: int, threads: int, workdir: Path,
                   predict_batch: int = 1024) -> dict[str, float]:
    """lociflow's training samples/s and data-wait share, and its inference samples/s."""
    from lociflow.model.io import load_model

    clock = StepClock()
    config = {"data": str(data), "architecture": architecture, "epochs": epochs, "batch_size": batch_size,
              "learning_rate": 1e-3, "seed": 42, "threads": threads, "early_stopping": None}
    folder = train(config, workdir, callbacks=[clock])
    trained = rates(clock.epochs)
    model = load_model(folder)
    inputs = {b: np.asarray(open_dataset(data).split("train").inputs[b]) for b in model.branches}
    model.predict_proba({b: a[:predict_batch] for b, a in inputs.items()}, batch_size=predict_batch)  # warm-up
    with torch_threads_of(threads):
        start = time.perf_counter()
        model.predict_proba(inputs, batch_size=predict_batch)
        seconds = time.perf_counter() - start
    return {"train_per_s": trained["per_s"], "wait_share": trained["wait_share"],
            "predict_per_s": len(next(iter(inputs.values()))) / seconds}


def torch_threads_of(threads: int):
    from lociflow.model.device import torch_threads

    return torch_threads(threads)


def _spread(values: list[float]) -> str:
    return f"{np.median(values):8.0f} ({min(values):.0f}-{max(values):.0f})"


def compare_with_keras(data: Path, epochs: int, batch_size: int, threads: int, repeats: int, tmp: Path) -> None:
    """Interleaved runs of both engines on both reference networks; medians with ranges."""
    from keras_reference import LOCIFLOW_NETWORKS, keras_rates

    dataset = open_dataset(data)
    split = dataset.split("train")
    x = np.asarray(split.inputs["seq"], dtype=np.float32)
    y = np.asarray(split.labels, dtype=np.int64)
    print(f"reference engine: Keras on TensorFlow; {len(x)} training loci of {dataset.window} nt, batch "
          f"{batch_size}, {epochs} epochs (first not counted), {threads} thread(s), {repeats} interleaved repeats")
    print(f"{'network':>10} {'engine':>9} {'train samples/s':>22} {'predict samples/s':>24} {'data wait':>10}")
    for name, architecture in LOCIFLOW_NETWORKS.items():
        runs: dict[str, list[dict[str, float]]] = {"keras": [], "lociflow": []}
        for i in range(repeats):
            runs["keras"].append(keras_rates(name, x, y, epochs, batch_size, threads))
            torch.set_num_threads(threads)
            runs["lociflow"].append(lociflow_rates(data, architecture, batch_size, epochs, threads,
                                                   tmp / f"{name}-{i}"))
        for engine, found in runs.items():
            wait = (f"{100 * np.median([r['wait_share'] for r in found]):.1f}%" if engine == "lociflow" else "-")
            print(f"{name:>10} {engine:>9} {_spread([r['train_per_s'] for r in found]):>22} "
                  f"{_spread([r['predict_per_s'] for r in found]):>24} {wait:>10}")
        ratio = {key: np.median([r[key] for r in runs["lociflow"]]) / np.median([r[key] for r in runs["keras"]])
                 for key in ("train_per_s", "predict_per_s")}
        print(f"{name:>10} {'ratio':>9} {ratio['train_per_s']:>13.2f} (target 1.5) "
              f"{ratio['predict_per_s']:>15.2f} (target 2)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="A dataset directory (default: synthetic, 150 nt).")
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--loci", type=int, default=12_000, help="Synthetic dataset size.")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--quick", action="store_true", help="A small smoke run.")
    parser.add_argument("--reference", choices=["bare", "keras"], default="bare",
                        help="bare: a plain PyTorch loop (default); keras: the ENNGene networks in Keras.")
    parser.add_argument("--repeats", type=int, default=3, help="Interleaved repeats for --reference keras.")
    args = parser.parse_args(argv)
    if args.quick:
        args.loci, args.epochs = 2_000, 2
    with tempfile.TemporaryDirectory(prefix="lociflow-bench-train-") as tmp:
        tmp = Path(tmp)
        data = args.data
        if data is None:
            from synthetic import write_dataset

            data = write_dataset(tmp / "dataset", n=args.loci, window=150, alphabet="dna",
                                 ratios=(0.8, 0.1, 0.1, 0.0))
        if args.reference == "keras":
            compare_with_keras(data, args.epochs, args.batch_size, max(args.threads), args.repeats, tmp)
            return
        dataset = open_dataset(data)
        architecture = resolve_architecture(args.preset, None, dataset.branches, dataset.window)
        n_train = len(dataset.split("train"))
        print(f"preset {args.preset}, {n_train} training loci of {dataset.window} positions, "
              f"branches {', '.join(dataset.branches)}, batch {args.batch_size}, {args.epochs} epochs "
              f"(first not counted), torch {torch.__version__}, {os.cpu_count()} cores")
        print(f"{'threads':>7} {'loop':>11} {'samples/s':>10} {'samples/cpu-s':>14} {'data wait':>10}")
        for threads in args.threads:
            torch.set_num_threads(threads)
            free = rates(bare_loop(dataset, architecture, args.batch_size, args.epochs, 1e-3, 42, False))
            bare = rates(bare_loop(dataset, architecture, args.batch_size, args.epochs, 1e-3, 42, True))
            ours = rates(lociflow_loop(data, args.preset, args.batch_size, args.epochs, 1e-3, 42, threads,
                                       tmp / f"runs{threads}"))
            torch.use_deterministic_algorithms(False)
            for label, r in (("bare-nondet", free), ("bare", bare), ("lociflow", ours)):
                wait = f"{100 * r['wait_share']:.1f}%" if label == "lociflow" else "-"
                print(f"{threads:>7} {label:>11} {r['per_s']:>10.0f} {r['per_cpu_s']:>14.0f} {wait:>10}")
            print(f"{threads:>7} {'ratio':>11} {ours['per_s'] / bare['per_s']:>10.3f} "
                  f"{ours['per_cpu_s'] / bare['per_cpu_s']:>14.3f}   (lociflow / bare; target >= 0.90)")


if __name__ == "__main__":
    main()
