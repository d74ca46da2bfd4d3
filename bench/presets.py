"""Compare the architecture presets on RBP-24 experiments with one plain training loop.

Every preset sees identical arrays and an identical loop, so differences come from the
architecture alone: 150-nt windows centred on the upper-case viewpoint of the GraphProt
train FASTA files (N past the ends), 10% of them held out for early stopping on validation
AUROC, Adam at 1e-3, batch 128; the best epoch is scored on the experiment's left-out test
files. (``bench/accuracy_rbp24.py`` measures the full ``preprocess -> train -> evaluate``
path of the default preset.)

Run ``python bench/presets.py --experiments ALKBH5 PUM2 --presets cnn cnn_rnn``.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lociflow.model.network import build_network  # noqa: E402
from lociflow.model.presets import PRESETS, resolve_architecture  # noqa: E402

EXPERIMENTS = {"PUM2": "PARCLIP_PUM2", "QKI": "PARCLIP_QKI", "ALKBH5": "ALKBH5_Baltz2012"}
FOLDERS = [ROOT / "data" / "rbp24", ROOT.parent / "shared" / "data" / "rbp24"]


def read_fasta(path: Path) -> list[str]:
    seqs, current = [], []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith(">"):
                if current:
                    seqs.append("".join(current))
                current = []
            else:
                current.append(line.strip())
    if current:
        seqs.append("".join(current))
    return seqs


def viewpoint_window(seq: str, window: int) -> str:
    upper = [i for i, c in enumerate(seq) if c.isupper()]
    centre = (upper[0] + upper[-1]) // 2 if upper else len(seq) // 2
    start = centre - window // 2
    return "".join(seq[i] if 0 <= i < len(seq) else "N" for i in range(start, start + window)).upper().replace("U", "T")


def one_hot(seqs: list[str]) -> np.ndarray:
    lookup = np.full(256, 4, dtype=np.uint8)
    for i, base in enumerate(b"ACGT"):
        lookup[base] = i
    index = lookup[np.frombuffer("".join(seqs).encode(), dtype=np.uint8)].reshape(len(seqs), -1)
    return np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), np.float32)])[index]


def load(experiment: str, window: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = next(f for f in FOLDERS if (f / f"{experiment}.train.positives.fa.gz").exists())
    out = {}
    for split in ("train", "test"):
        pos = read_fasta(folder / f"{experiment}.{split}.positives.fa.gz")
        neg = read_fasta(folder / f"{experiment}.{split}.negatives.fa.gz")
        x = one_hot([viewpoint_window(s, window) for s in pos + neg])
        out[split] = (x, np.array([0] * len(pos) + [1] * len(neg)))
    return out


def positive_scores(network, x: torch.Tensor) -> np.ndarray:
    network.eval()
    with torch.no_grad():
        return torch.cat([torch.softmax(network(x[i:i + 1024]), 1)[:, 0] for i in range(0, len(x), 1024)]).numpy()


def run(preset: str, data, window: int, epochs: int, patience: int) -> dict[str, float]:
    x, y = data["train"]
    order = np.random.default_rng(0).permutation(len(y))
    n_valid = len(y) // 10
    x_valid, y_valid = torch.from_numpy(x[order[:n_valid]]), y[order[:n_valid]]
    x_train, y_train = torch.from_numpy(x[order[n_valid:]]), torch.from_numpy(y[order[n_valid:]])
    x_test, y_test = torch.from_numpy(data["test"][0]), data["test"][1]
    torch.manual_seed(0)
    network = build_network(resolve_architecture(preset, None, ["seq"], window), {"seq": list("ACGT")}, window, 2)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3)
    best, best_state, best_epoch, waited, start = -1.0, None, 0, 0, time.perf_counter()
    for epoch in range(epochs):
        network.train()
        shuffled = torch.randperm(len(y_train), generator=torch.Generator().manual_seed(epoch))
        for i in range(0, len(shuffled), 128):
            batch = shuffled[i:i + 128]
            loss = torch.nn.functional.cross_entropy(network(x_train[batch]), y_train[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        score = roc_auc_score(y_valid == 0, positive_scores(network, x_valid))
        if score > best + 1e-4:
            best, best_epoch, waited = score, epoch + 1, 0
            best_state = {k: v.clone() for k, v in network.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break
    network.load_state_dict(best_state)
    test = roc_auc_score(y_test == 0, positive_scores(network, x_test))
    return {"valid": best, "test": test, "best_epoch": best_epoch, "epochs": epoch + 1,
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="+", default=["ALKBH5"], choices=list(EXPERIMENTS))
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--window", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| experiment | preset | valid AUROC | test AUROC | best epoch / run | seconds |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name in args.experiments:
        data = load(EXPERIMENTS[name], args.window)
        for preset in args.presets:
            r = run(preset, data, args.window, args.epochs, args.patience)
            print(f"| {name} | {preset} | {r['valid']:.3f} | {r['test']:.3f} | {r['best_epoch']} / {r['epochs']} "
                  f"| {r['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
