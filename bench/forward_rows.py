"""Loci per CPU forward pass of ``LoadedModel.predict_proba``, by window length.

Run ``python bench/forward_rows.py`` (``--windows 101 150 300 1000``, ``--presets cnn cnn_rnn``,
``--threads 1``, ``--repeats 3``, ``--quick`` for a smoke run). For each preset and window a
network with seeded random weights (speed does not depend on training) is saved as a model
folder, loaded as a user's model is, and scores the same random one-hot windows through
``predict_proba(batch_size=512)`` with the CPU pass fixed at 8, 16, ..., 128 loci, and with
lociflow's rule (:func:`lociflow.model.io.cpu_forward_rows`). Passes are interleaved and the
best of ``--repeats`` is kept; rates are windows per second. Every pass size must give the same
probabilities (checked: a batching that changed a score would be a bug, not a speed-up).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lociflow.model import io as model_io  # noqa: E402

FIXED_ROWS = (8, 16, 32, 64, 128)


def saved_model(folder: Path, preset: str, window: int) -> Path:
    """A preset network with seeded random weights, saved as a model folder."""
    from lociflow.model.network import build_network
    from lociflow.model.presets import resolve_architecture

    torch.manual_seed(0)
    channels = {"seq": list("ACGT")}
    network = build_network(resolve_architecture(preset, None, ["seq"], window=window), channels, window, 2)
    spec = {"classes": ["bound", "unbound"], "branches": ["seq"], "channels": channels, "window": window,
            "alphabet": "dna", "architecture": network.architecture,
            "preprocess": {"window": window, "alphabet": "dna", "branches": ["seq"]}}
    return model_io.save_model(folder / f"{preset}_{window}", network.eval(), spec)


def measure(preset: str, window: int, positions: int, repeats: int, work: Path) -> dict[str, float]:
    """Windows/s per pass size (``"rule"``: lociflow's) for one preset and window."""
    model = model_io.load_model(saved_model(work, preset, window), device="cpu")
    n = max(256, positions // window)
    onehot = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (n, window))]
    inputs = {"seq": onehot}
    rule = model_io.cpu_forward_rows
    sizes = {str(r): r for r in FIXED_ROWS} | {"rule": rule(window)}
    best, reference = {k: 0.0 for k in sizes}, None
    model.predict_proba(inputs)  # warm-up
    try:
        for _ in range(repeats):
            for key, rows in sizes.items():
                model_io.cpu_forward_rows = lambda _window, rows=rows: rows
                start = time.perf_counter()
                probs = model.predict_proba(inputs, batch_size=512)
                best[key] = max(best[key], n / (time.perf_counter() - start))
                if reference is None:
                    reference = probs
                elif not np.allclose(probs, reference, rtol=0, atol=1e-6):
                    raise SystemExit(f"{preset} at {window} nt: {key} rows changed the probabilities")
    finally:
        model_io.cpu_forward_rows = rule
    return best | {"rule_rows": float(sizes["rule"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, nargs="+", default=[101, 150, 300, 500, 1000, 2000])
    parser.add_argument("--presets", nargs="+", default=["cnn", "cnn_rnn"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--positions", type=int, default=1_000_000, help="Nucleotides scored per measurement.")
    parser.add_argument("--quick", action="store_true", help="Two windows, one repeat, a tenth of the work.")
    args = parser.parse_args()
    if args.quick:
        args.windows, args.repeats, args.positions = [101, 1000], 1, 100_000
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, best of {args.repeats}, windows/s by loci per CPU pass")
    print("| preset | window | " + " | ".join(str(r) for r in FIXED_ROWS) + " | rule (rows) | rule / 128 | rule / best |")
    print("| --- | ---: | " + " | ".join("---:" for _ in FIXED_ROWS) + " | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            for window in args.windows:
                rates = measure(preset, window, args.positions, args.repeats, Path(tmp))
                fixed = [rates[str(r)] for r in FIXED_ROWS]
                print(f"| {preset} | {window} | " + " | ".join(f"{r:,.0f}" for r in fixed)
                      + f" | {rates['rule']:,.0f} ({rates['rule_rows']:.0f}) | {rates['rule'] / rates['128']:.2f}x"
                      + f" | {rates['rule'] / max(fixed):.2f}x |", flush=True)


if __name__ == "__main__":
    main()
