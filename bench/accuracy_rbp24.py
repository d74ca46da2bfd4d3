"""Accuracy on RBP-24 (GraphProt CLIP sets): train on each experiment's train files, report
AUROC on its left-out test files next to the published figures.

Run ``python bench/accuracy_rbp24.py`` (``--experiments PUM2 QKI ALKBH5``, ``--branches seq
fold``, ``--preset``, ``--architecture``, ``--epochs``, ``--shift``, ``--seeds``, ``--keep FOLDER``
to keep the datasets and models; ``--help`` lists the rest).

Each experiment goes through the public API exactly as a user would: ``preprocess`` the
train FASTA files (windows of 150 nt centred on the upper-case viewpoint, split 80/10/10 for
training, early stopping and the internal test), ``train``, then ``evaluate`` on the
experiment's own ``test`` FASTA files, which the published figures were measured on and
which training never sees. The defaults are the recipe measured best on the validation
splits (sequence + structure, random shifts of up to 3 positions, a cosine schedule over 40
epochs, early stopping on validation AUROC with patience 10); each seed draws its own split
and weights, and the table reports the mean test AUROC over the seeds, since one test set of
1,000 loci has a standard error near 0.006. PUM2 is bundled in ``data/rbp24``; QKI and ALKBH5 are read from
``../shared/data/rbp24`` when present.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LOCIFLOW_PROGRESS", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import lociflow  # noqa: E402

from accuracy import PUBLISHED, RBP24 as EXPERIMENTS  # noqa: E402  (the one list of experiments and figures)

FOLDERS = [ROOT / "data" / "rbp24", ROOT.parent / "shared" / "data" / "rbp24"]


def files(experiment: str, part: str) -> dict[str, list[Path]] | None:
    stem = EXPERIMENTS[experiment]
    for folder in FOLDERS:
        pos, neg = folder / f"{stem}.{part}.positives.fa.gz", folder / f"{stem}.{part}.negatives.fa.gz"
        if pos.exists() and neg.exists():
            return {"bound": [pos], "unbound": [neg]}
    return None


def run_experiment(experiment: str, args, work: Path, seed: int = 42) -> dict:
    train_files, test_files = files(experiment, "train"), files(experiment, "test")
    if train_files is None or test_files is None:
        return {"experiment": experiment, "skipped": "files not found"}
    times = {}
    started = time.perf_counter()
    dataset = lociflow.preprocess({
        "classes": train_files, "branches": args.branches, "window": args.window, "alphabet": "rna",
        "viewpoint": "uppercase", "fold": {"features": ["mfe"], "max_bp_span": 70},
        "split": {"ratios": {"train": 0.8, "valid": 0.1, "test": 0.1}}, "seed": seed, "workers": args.workers,
    }, work / "datasets", name=f"{experiment}-{'-'.join(args.branches)}-{seed}", force=True)
    times["preprocess_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    train_config = {"data": str(dataset), "epochs": args.epochs,
                    "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                    "schedule": args.schedule, "optimizer": args.optimizer, "weight_decay": args.weight_decay,
                    "augment": {"shift": args.shift},
                    "early_stopping": {"monitor": args.monitor, "patience": args.patience, "min_delta": 0.001},
                    "ema_decay": args.ema_decay, "ensemble": args.ensemble, "seed": seed, "threads": args.threads}
    train_config["preset"] = args.preset
    if args.architecture:  # composed sections (YAML) replace the preset's sections they name
        import yaml

        train_config["architecture"] = yaml.safe_load(args.architecture.read_text())
    model = lociflow.train(train_config, work / "models",
                           name=f"{experiment}-{args.preset}-{'-'.join(args.branches)}-{args.window}-{seed}", force=True)
    times["train_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    report = lociflow.evaluate({"model": str(model), "classes": test_files, "workers": args.workers},
                               work / "evaluations", name=f"{experiment}-{args.preset}-{seed}", force=True)
    times["evaluate_s"] = round(time.perf_counter() - started, 1)
    metrics = json.loads((report / "metrics.json").read_text())
    internal = json.loads((model / "metrics.json").read_text())
    members = internal.get("members") or [internal]  # an ensemble reports each network
    return {"experiment": experiment, "seed": seed, "test_auroc": metrics["auroc"]["macro"],
            "internal_test_auroc": internal["auroc"]["macro"],
            "best_epoch": "+".join(str(m["best_epoch"]) for m in members),
            "epochs_trained": sum(m["epochs_trained"] for m in members), **times}


def main(argv: list[str] | None = None) -> None:
    from lociflow.model.presets import DEFAULT_PRESET

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS), choices=list(EXPERIMENTS))
    parser.add_argument("--branches", nargs="+", default=["seq", "fold"], choices=["seq", "fold"])
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--architecture", type=Path, help="YAML file of architecture sections that replace the preset's.")
    parser.add_argument("--window", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--monitor", default="val_auroc", choices=["val_loss", "val_auroc"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=0.001)
    parser.add_argument("--schedule", default="cosine")
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--shift", type=int, default=3, help="Random-shift augmentation (positions).")
    parser.add_argument("--ensemble", type=int, default=1, help="Networks per model (train.ensemble).")
    parser.add_argument("--ema-decay", type=float, default=None,
                        help="Average the weights (exponential moving average with this decay per batch).")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2, help="Folding processes.")
    parser.add_argument("--keep", type=Path, help="Keep datasets, models and evaluations in this folder.")
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2],
                        help="Seeds of the split and the training; the table gives their mean.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lociflow-rbp24-") as tmp:
        work = args.keep or Path(tmp)
        rows = [run_experiment(e, args, work, seed) for e in args.experiments for seed in args.seeds]
    print(f"preset {args.preset}{' + ' + str(args.architecture) if args.architecture else ''}, "
          f"branches {'+'.join(args.branches)}, window {args.window}, "
          f"up to {args.epochs} epochs ({args.schedule}; early stopping on {args.monitor}, patience {args.patience}), "
          f"batch {args.batch_size}, {args.optimizer} (weight decay {args.weight_decay}), shift {args.shift}, "
          f"EMA decay {args.ema_decay or 'off'}, ensemble {args.ensemble}, "
          f"seeds {' '.join(map(str, args.seeds))}")
    names = list(next(iter(PUBLISHED.values())))
    print("| experiment | lociflow (mean) | per seed | " + " | ".join(names) + " | best epochs | train s |")
    print("| --- " * (len(names) + 5) + "|")
    for experiment in args.experiments:
        done = [r for r in rows if r["experiment"] == experiment and "skipped" not in r]
        if not done:
            print(f"| {experiment} | skipped: files not found |")
            continue
        mean = sum(r["test_auroc"] for r in done) / len(done)
        each = " ".join(f"{r['test_auroc']:.4f}" for r in done)
        published = " | ".join(f"{PUBLISHED[experiment][n]:.3f}" for n in names)
        print(f"| {experiment} | {mean:.4f} | {each} | {published} | "
              f"{' '.join(str(r['best_epoch']) for r in done)} | {' '.join(str(r['train_s']) for r in done)} |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
