"""Synthetic datasets for tests: random sequence with a real motif planted in one class.

They are written through :mod:`lociflow.io.store`, exactly as preprocess writes them, so
tests of training, evaluation, interpretation, search and the GUI need not run
preprocessing first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from lociflow.io.store import write_manifest, write_split

# PUM2 binding element (UGUAnAUA) as DNA; class 0 carries it
PUM2_MOTIF = "TGTAAATA"
BASES = "ACGT"


def one_hot(seqs: list[str]) -> np.ndarray:
    lookup = {b: i for i, b in enumerate(BASES)}
    out = np.zeros((len(seqs), len(seqs[0]), 4), dtype=np.uint8)
    for n, s in enumerate(seqs):
        for i, ch in enumerate(s):
            if ch in lookup:
                out[n, i, lookup[ch]] = 1
    return out


def planted_sequences(n: int, window: int, motif: str, rng: np.random.Generator) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``n`` random sequences; the first half carry ``motif`` at a random position.

    Returns the sequences, labels (0 = with motif) and the motif start (-1 when absent).
    """
    seqs, labels, starts = [], [], []
    for i in range(n):
        s = list(rng.choice(list(BASES), size=window))
        label = 0 if i < n // 2 else 1
        start = -1
        if label == 0:
            start = int(rng.integers(0, window - len(motif) + 1))
            s[start:start + len(motif)] = list(motif)
        seqs.append("".join(s))
        labels.append(label)
        starts.append(start)
    order = rng.permutation(n)
    return [seqs[i] for i in order], np.array(labels)[order], np.array(starts)[order]


def write_dataset(
    root: Path,
    n: int = 400,
    window: int = 50,
    branches: tuple[str, ...] = ("seq",),
    classes: tuple[str, ...] = ("bound", "unbound"),
    motif: str = PUM2_MOTIF,
    alphabet: str = "rna",
    seed: int = 0,
    ratios: tuple[float, float, float, float] = (0.6, 0.2, 0.2, 0.0),
) -> Path:
    """Write a complete dataset directory (manifest, params, splits) and return its path."""
    rng = np.random.default_rng(seed)
    seqs, labels, starts = planted_sequences(n, window, motif, rng)
    if len(classes) > 2:  # extra classes: relabel some negatives, planting reversed motif
        extra = rng.permutation(np.where(labels == 1)[0])
        for j, idx in enumerate(extra[: len(extra) // 2]):
            labels[idx] = 2
            pos = int(rng.integers(0, window - len(motif) + 1))
            s = list(seqs[idx])
            s[pos:pos + len(motif)] = list(motif[::-1])
            seqs[idx] = "".join(s)
    arrays: dict[str, np.ndarray] = {}
    channels: dict[str, list[str]] = {}
    seq = one_hot(seqs)
    for branch in branches:
        if branch == "seq":
            arrays[branch] = seq
            channels[branch] = ["A", "C", "G", "U" if alphabet == "rna" else "T"]
        elif branch == "fold":
            paired = rng.random((n, window)) < 0.5
            arrays[branch] = np.stack([paired, ~paired, rng.random((n, window))], axis=-1).astype(np.float32)
            channels[branch] = ["paired", "unpaired", "unpaired_prob"]
        else:  # cons or any track: higher over the motif
            values = rng.normal(0, 1, (n, window, 1)).astype(np.float32)
            for i, st in enumerate(starts):
                if st >= 0:
                    values[i, st:st + len(motif), 0] += 2.0
            arrays[branch] = values
            channels[branch] = [branch]
    split_names = ("train", "valid", "test", "blackbox")
    bounds = np.cumsum([int(round(r * n)) for r in ratios])
    bounds[-1] = n if ratios[-1] > 0 else bounds[-1]
    counts = {}
    root.mkdir(parents=True, exist_ok=True)
    lo = 0
    for name, hi in zip(split_names, bounds):
        idx = np.arange(lo, min(hi, n))
        lo = hi
        if len(idx) == 0:
            continue
        meta = pd.DataFrame({
            "chrom": ["chrS"] * len(idx), "start": idx * window, "end": idx * window + window,
            "strand": ["+"] * len(idx), "class": [classes[labels[i]] for i in idx],
            "name": [f"locus{i}" for i in idx], "orig_chrom": ["chrS"] * len(idx),
            "orig_start": idx * window, "orig_end": idx * window + window,
        })
        write_split(root / name, {b: a[idx] for b, a in arrays.items()}, labels[idx], meta)
        counts[name] = {c: int((labels[idx] == k).sum()) for k, c in enumerate(classes)}
    params = {"preprocess": {"classes": {c: [] for c in classes}, "branches": list(branches),
                             "window": window, "alphabet": alphabet, "strand": True, "seed": seed}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_manifest(root, {
        "lociflow_version": "test", "classes": list(classes),
        "branches": {b: {"channels": channels[b], "dtype": str(arrays[b].dtype)} for b in branches},
        "window": window, "alphabet": alphabet, "counts": counts, "input_hash": "synthetic",
    })
    return root
