"""Accuracy on every bundled experiment: RBP-24, RBP-31 and DeepBind ENCODE, per configuration.

Run ``python bench/accuracy.py`` (``--experiments`` names or groups ``rbp24 rbp31 deepbind``,
``--configs defaults deepbind tuned ensemble3 single interpretable exp_first``, ``--seeds 42 1 2``, ``--quick`` for a smoke run,
``--report [--markdown FILE]`` for the table; ``--help`` lists the rest).

Each experiment goes through the public API exactly as a user would: ``preprocess`` its
training data, ``train``, then ``evaluate`` on its **left-out test file**, which training and
model selection (the dataset's own valid split) never see. The configurations differ only in
the ``train`` section, so they share one dataset per experiment and seed:

- ``defaults``: ``train`` gives only ``threads: 1`` and the seed, and ``preprocess`` only the
  classes and the seed: what a user who writes no options gets;
- ``deepbind``: ``preset: deepbind``, the same-run baseline of DeepBind's architecture;
- ``tuned``: ``tune: {trials, minutes}`` (the run folder holds ``tuning/trials.tsv``);
- ``ensemble3``: the defaults with ``ensemble: 3`` (three networks, logits averaged), the
  cost-for-accuracy trade a user can choose without tuning.
- ``single``: the defaults with ``ensemble: 1``, one network whatever the size (``defaults``
  trains three on small training splits, see ``ensemble: auto``).
- ``interpretable``: the defaults with ``preset: interpretable`` (exponential first layer,
  wide first pooling), to weigh what a motif-faithful first layer costs in accuracy.
- ``exp_first``: ``cnn`` with an exponential activation in its first convolution only (Koo &
  Ploenzke 2021), written as an ``architecture`` for the dataset's window. Measured against the
  relu ``cnn``, it is what made that first layer the default (``bench/RESULTS.md``), so it now
  equals ``defaults`` and stays to rerun that comparison.

The data (``/work/shared/data/README.md``): RBP-24 has FASTA files per class and split;
RBP-31 one FASTA per split with ``class:1``/``class:0`` in the headers (read with
``preprocess.labelled``); DeepBind ENCODE a table of bound training sequences (read with
``preprocess.table``) whose negatives are dinucleotide shuffles (``from: shuffle``), as
DeepBind made them, and a test table of 500 bound and 500 unbound. ``evaluate`` reads files
per class, so the test sets of RBP-31 and DeepBind are written as one FASTA per class in the
work folder first.

Every finished run is one row of a TSV (``--results``), written at once and atomically, so an
interrupted benchmark loses only the run in progress and a rerun skips the rows already there
(``--force`` reruns them). Published figures: RBP-24 only (ENNGene paper, Table 1); none are
bundled for RBP-31 or DeepBind ENCODE, which compare against the ``deepbind`` baseline.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import gzip
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

os.environ.setdefault("LOCIFLOW_PROGRESS", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import lociflow  # noqa: E402

DATA_ROOT = ROOT.parent / "shared" / "data"
GROUPS = ("rbp24", "rbp31", "deepbind")
CONFIGS = ("defaults", "deepbind", "tuned", "ensemble3", "single", "interpretable", "exp_first")
POSITIVE, NEGATIVE = "bound", "unbound"

#: RBP-24 experiment -> file stem (GraphProt names)
RBP24 = {"PUM2": "PARCLIP_PUM2", "QKI": "PARCLIP_QKI", "ALKBH5": "ALKBH5_Baltz2012"}
RBP31 = ("1_PARCLIP_AGO1234", "3_HITSCLIP_Ago2", "6_CLIP-seq-eIF4AIII_1", "13_PARCLIP_FUS", "18_ICLIP_hnRNPL",
         "22_ICLIP_NSUN2", "23_PARCLIP_PUM2", "27_ICLIP_TDP43", "29_ICLIP_TIAL1", "30_ICLIP_U2AF65")
#: DeepBind ENCODE experiment -> file prefix (``<prefix>_AC.seq.gz`` train, ``_B.seq.gz`` test)
DEEPBIND = {"REST": "REST_GM12878_NRSF_HudsonAlpha", "GABPA": "GABPA_GM12878_GABP_HudsonAlpha",
            "SP1": "SP1_GM12878_SP1_HudsonAlpha"}

# ENNGene paper (BMC Genomics 2022), Table 1: test AUROC on RBP-24. None are bundled for RBP-31
# or DeepBind ENCODE (/work/shared/data/README.md).
PUBLISHED = {
    "PUM2": {"GraphProt": 0.954, "DeepBind": 0.964, "iDeepE": 0.967, "DeepRKE": 0.965, "ENNGene": 0.972},
    "QKI": {"GraphProt": 0.957, "DeepBind": 0.973, "iDeepE": 0.970, "DeepRKE": 0.975, "ENNGene": 0.984},
    "ALKBH5": {"GraphProt": 0.680, "DeepBind": 0.668, "iDeepE": 0.758, "DeepRKE": 0.740, "ENNGene": 0.877},
}
PUBLISHED_NAMES = list(next(iter(PUBLISHED.values())))

KEY = ("experiment", "configuration", "seed", "window", "quick")
COLUMNS = (*KEY, "group", "test_auroc", "test_auprc", "internal_test_auroc", "best_epoch", "epochs_trained",
           "tune_trials", "preprocess_s", "train_s", "evaluate_s", "dataset_window", "train_loci", "test_loci",
           "date", "machine", "cpus", "load_avg", "commit")


@dataclass(frozen=True)
class Experiment:
    """One bundled experiment: its name, its group and the stem of its files in the group's folder."""

    name: str
    group: str
    stem: str


#: every experiment, cheapest first, so that a partial run already informs
EXPERIMENTS = {e.name: e for e in (
    Experiment("REST", "deepbind", DEEPBIND["REST"]),
    Experiment("GABPA", "deepbind", DEEPBIND["GABPA"]),
    Experiment("ALKBH5", "rbp24", RBP24["ALKBH5"]),
    *(Experiment(name, "rbp31", name) for name in RBP31),
    Experiment("PUM2", "rbp24", RBP24["PUM2"]),
    Experiment("QKI", "rbp24", RBP24["QKI"]),
    Experiment("SP1", "deepbind", DEEPBIND["SP1"]),
)}


# --------------------------------------------------------------------------- reading the data


def read_table(path: Path) -> list[tuple[str, str, str]]:
    """The rows of a DeepBind ``.seq`` table (``FoldID EventID seq Bound``, a header, tabs).

    Returns
    -------
    list of (str, str, str)
        ``(event id, sequence, bound label)`` per row, in file order.
    """
    with gzip.open(path, "rt") if str(path).endswith(".gz") else open(path) as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        return [(row["EventID"], row["seq"], row["Bound"]) for row in reader]


def read_labelled_fasta(path: Path, pattern: str = r"class:(\S+)") -> list[tuple[str, str, str]]:
    """The records of a FASTA whose headers carry the class (RBP-31: ``> chr1,+,1,101; class:0``).

    Returns
    -------
    list of (str, str, str)
        ``(header without '>', sequence, label)`` per record; sequences of several lines are joined.
    """
    compiled = re.compile(pattern)
    records, header, lines = [], None, []
    with gzip.open(path, "rt") if str(path).endswith(".gz") else open(path) as handle:
        for line in [*handle, ">"]:
            line = line.strip()
            if line.startswith(">"):
                if header is not None:
                    found = compiled.search(header)
                    records.append((header, "".join(lines), found.group(1) if found else ""))
                header, lines = line[1:].strip(), []
            elif line:
                lines.append(line)
    return records


def write_classes(records: list[tuple[str, str, str]], names: dict[str, str], folder: Path) -> dict[str, list[Path]]:
    """One FASTA per class of ``records`` (``(id, sequence, label)``), labels mapped by ``names``.

    Returns
    -------
    dict
        Class name -> ``[file]``, for ``evaluate``'s ``classes``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for label, name in names.items():
        path = folder / f"{name}.fa"
        with open(path, "w") as handle:
            handle.writelines(f">{rid}\n{seq}\n" for rid, seq, lab in records if lab == label)
        out[name] = [path]
    return out


def rbp24_files(root: Path, stem: str, part: str) -> dict[str, list[Path]]:
    folder = root / "rbp24"
    return {POSITIVE: [folder / f"{stem}.{part}.positives.fa.gz"], NEGATIVE: [folder / f"{stem}.{part}.negatives.fa.gz"]}


def train_source(experiment: Experiment, root: Path) -> dict:
    """The ``preprocess`` keys that name the experiment's training data, and nothing else."""
    if experiment.group == "rbp24":
        return {"classes": rbp24_files(root, experiment.stem, "train")}
    if experiment.group == "rbp31":
        return {"labelled": {"files": [str(root / "rbp31" / experiment.stem / "train.fa.gz")],
                             "pattern": r"class:(\d+)", "names": {"1": POSITIVE, "0": NEGATIVE}}}
    return {"table": {"file": str(root / "deepbind" / f"{experiment.stem}_AC.seq.gz"), "sequence": "seq",
                      "label": "Bound", "id": "EventID", "names": {"1": POSITIVE}},
            "classes": {NEGATIVE: {"from": "shuffle", "like": POSITIVE}}}


def test_classes(experiment: Experiment, root: Path, work: Path) -> dict[str, list[Path]]:
    """The experiment's left-out test set as files per class, written to ``work`` where needed."""
    if experiment.group == "rbp24":
        return rbp24_files(root, experiment.stem, "test")
    if experiment.group == "rbp31":
        records = read_labelled_fasta(root / "rbp31" / experiment.stem / "test.fa.gz", r"class:(\d+)")
    else:
        records = read_table(root / "deepbind" / f"{experiment.stem}_B.seq.gz")
    return write_classes(records, {"1": POSITIVE, "0": NEGATIVE}, work / "test-files" / experiment.name)


def missing_files(experiment: Experiment, root: Path) -> list[Path]:
    if experiment.group == "rbp24":
        paths = [p for part in ("train", "test") for ps in rbp24_files(root, experiment.stem, part).values() for p in ps]
    elif experiment.group == "rbp31":
        paths = [root / "rbp31" / experiment.stem / f"{part}.fa.gz" for part in ("train", "test")]
    else:
        paths = [root / "deepbind" / f"{experiment.stem}_{part}.seq.gz" for part in ("AC", "B")]
    return [p for p in paths if not p.exists()]


# --------------------------------------------------------------------------- the configurations


def preprocess_config(experiment: Experiment, root: Path, seed: int, args) -> dict:
    config = {**train_source(experiment, root), "seed": seed}
    if args.window is not None:
        config["window"] = args.window
    if args.quick:  # a few hundred loci per class: a smoke run, not a measurement
        # (made classes are made before reduce, so the shuffles are reduced like any class)
        config["reduce"] = {POSITIVE: args.quick_loci, NEGATIVE: args.quick_loci}
    return config


def exp_first_architecture(dataset: Path) -> dict:
    """The ``cnn`` preset for the dataset's branches and window, its first convolutions exponential."""
    from lociflow.io.store import open_dataset
    from lociflow.model.presets import PRESETS

    opened = open_dataset(dataset)
    architecture = PRESETS["cnn"](list(opened.branches), opened.window)
    for layers in architecture["branches"].values():
        layers[0]["activation"] = "exp"
    return architecture


def train_config(configuration: str, dataset: Path, seed: int, args) -> dict:
    config = {"data": str(dataset), "threads": 1, "seed": seed}
    if configuration == "deepbind":
        config["preset"] = "deepbind"
    elif configuration == "tuned":
        config["tune"] = {"trials": args.tune_trials, "minutes": args.tune_minutes}
    elif configuration == "ensemble3":
        config["ensemble"] = 3
    elif configuration == "single":
        config["ensemble"] = 1
    elif configuration == "interpretable":
        config["preset"] = "interpretable"
    elif configuration == "exp_first":
        config["architecture"] = exp_first_architecture(dataset)
    if args.quick:
        config["epochs"] = args.quick_epochs
    return config


# --------------------------------------------------------------------------- the results file


def row_key(row: dict) -> tuple[str, ...]:
    """What identifies a run in the results file: experiment, configuration, seed, window, quick."""
    return tuple(str(row[k]) for k in KEY)


def read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def pending(runs: list[dict], done: list[dict], force: bool = False) -> list[dict]:
    """The runs (dicts with the :data:`KEY` fields) not yet in ``done``; all of them with ``force``."""
    if force:
        return list(runs)
    finished = {row_key(r) for r in done}
    return [r for r in runs if row_key(r) not in finished]


def append_row(path: Path, row: dict) -> None:
    """Add ``row`` to the results file atomically (a full copy renamed over it), replacing a row
    with the same key (a forced rerun)."""
    rows = [r for r in read_results(path) if row_key(r) != row_key(row)] + [row]
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, delimiter="\t", extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(buffer.getvalue())
    os.replace(temporary, path)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"], capture_output=True,
                               text=True, check=True).stdout.strip()
        commit += "+dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"machine": f"{platform.platform()}; {cpu}", "cpus": os.cpu_count(), "commit": commit}


# --------------------------------------------------------------------------- running


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def count_trials(model: Path) -> str:
    trials = model / "tuning" / "trials.tsv"
    if not trials.exists():
        return ""
    return str(max(0, len(trials.read_text().splitlines()) - 1))


def run_one(run: dict, experiment: Experiment, dataset: Path, test_files: dict, work: Path, args) -> dict:
    """Train one configuration on the dataset and evaluate it on the test files; the result row."""
    configuration, seed = run["configuration"], int(run["seed"])
    label = f"{experiment.name}-{configuration}-{seed}"
    started = time.perf_counter()
    model = lociflow.train(train_config(configuration, dataset, seed, args), work / "models", name=label, force=True)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    report = lociflow.evaluate({"model": str(model), "classes": {k: [str(p) for p in v] for k, v in test_files.items()},
                                "positive": POSITIVE}, work / "evaluations", name=label, force=True)
    evaluate_s = time.perf_counter() - started
    metrics = json.loads((report / "metrics.json").read_text())
    internal = json.loads((model / "metrics.json").read_text())
    members = internal.get("members") or [internal]
    return {**run, "test_auroc": f"{metrics['auroc'][POSITIVE]:.4f}", "test_auprc": f"{metrics['auprc'][POSITIVE]:.4f}",
            "internal_test_auroc": f"{internal['auroc']['macro']:.4f}",
            "best_epoch": "+".join(str(m["best_epoch"]) for m in members),
            "epochs_trained": sum(int(m["epochs_trained"] or 0) for m in members), "tune_trials": count_trials(model),
            "train_s": f"{train_s:.1f}", "evaluate_s": f"{evaluate_s:.1f}",
            "test_loci": sum(metrics["n"].values()) if isinstance(metrics.get("n"), dict) else ""}


def dataset_window(dataset: Path) -> str:
    """The window the dataset was made with (the one ``window: auto`` chose, where it did)."""
    try:
        return str(json.loads((dataset / "manifest.json").read_text())["window"])
    except (OSError, KeyError, ValueError):
        return ""


def dataset_loci(dataset: Path) -> str:
    summary = dataset / "summary.tsv"
    if not summary.exists():
        return ""
    with open(summary, newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r.get("class") not in (None, "", "total")]
    try:
        return str(sum(int(r["train"]) for r in rows))
    except (KeyError, ValueError):
        return ""


def selected(names: list[str]) -> list[Experiment]:
    chosen = []
    for name in names:
        members = [e for e in EXPERIMENTS.values() if e.group == name] if name in GROUPS else [EXPERIMENTS[name]]
        chosen += [e for e in members if e not in chosen]
    order = list(EXPERIMENTS.values())
    return sorted(chosen, key=order.index)


def benchmark(args) -> int:
    experiments = selected(args.experiments)
    window = "default" if args.window is None else str(args.window)
    runs = [{"experiment": e.name, "configuration": c, "seed": str(s), "window": window, "quick": str(args.quick)}
            for e in experiments for s in args.seeds for c in args.configs]
    todo = pending(runs, read_results(args.results), args.force)
    say(f"{len(runs)} runs, {len(runs) - len(todo)} already in {args.results}, {len(todo)} to do")
    host, failures = machine(), 0
    with tempfile.TemporaryDirectory(prefix="lociflow-accuracy-") as tmp:
        work = args.keep or Path(tmp)
        datasets: dict[tuple[str, str], tuple[Path, float, str]] = {}
        tests: dict[str, dict] = {}
        for i, run in enumerate(todo, 1):
            experiment = EXPERIMENTS[run["experiment"]]
            say(f"experiment {i} of {len(todo)}: {experiment.name}, {run['configuration']}, seed {run['seed']}")
            missing = missing_files(experiment, args.data_root)
            if missing:
                say(f"  skipped: {', '.join(map(str, missing))} not found")
                continue
            started = time.perf_counter()
            try:
                if experiment.name not in tests:
                    tests[experiment.name] = test_classes(experiment, args.data_root, work)
                key = (experiment.name, run["seed"])
                if key not in datasets:  # every configuration trains on the same dataset
                    begun = time.perf_counter()
                    path = lociflow.preprocess(preprocess_config(experiment, args.data_root, int(run["seed"]), args),
                                               work / "datasets", name=f"{experiment.name}-{run['seed']}", force=True)
                    datasets[key] = (path, time.perf_counter() - begun, dataset_loci(path))
                    say(f"  preprocess {datasets[key][1]:.1f} s")
                dataset, preprocess_s, loci = datasets[key]
                row = run_one({**run, "group": experiment.group}, experiment, dataset, tests[experiment.name], work, args)
            except Exception as exc:  # one failed run must not stop the benchmark
                failures += 1
                say(f"  failed after {time.perf_counter() - started:.1f} s: {type(exc).__name__}: {exc}")
                continue
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            row.update(preprocess_s=f"{preprocess_s:.1f}", dataset_window=dataset_window(dataset), train_loci=loci,
                       date=datetime.date.today().isoformat(), load_avg=load, **host)
            append_row(args.results, row)
            say(f"  AUROC {row['test_auroc']}, AUPRC {row['test_auprc']}, best epoch {row['best_epoch']}; "
                f"train {row['train_s']} s, evaluate {row['evaluate_s']} s; {time.perf_counter() - started:.1f} s in all")
            if args.keep is None:  # the models are large next to the disk of a small machine
                shutil.rmtree(work / "models" / f"{experiment.name}-{run['configuration']}-{run['seed']}",
                              ignore_errors=True)
    return 1 if failures else 0


# --------------------------------------------------------------------------- the report


def summarise(rows: list[dict]) -> dict[str, dict[str, dict]]:
    """Experiment -> configuration -> ``{auroc, auprc, seeds, aurocs}``: means over the seeds."""
    table: dict[str, dict[str, dict]] = {}
    for row in rows:
        cell = table.setdefault(row["experiment"], {}).setdefault(row["configuration"], {"aurocs": [], "auprcs": [], "seeds": []})
        cell["aurocs"].append(float(row["test_auroc"]))
        cell["auprcs"].append(float(row["test_auprc"]))
        cell["seeds"].append(row["seed"])
    for configurations in table.values():
        for cell in configurations.values():
            cell["auroc"], cell["auprc"] = mean(cell["aurocs"]), mean(cell["auprcs"])
    return table


def verdicts(table: dict[str, dict[str, dict]]) -> dict[str, dict[str, bool | None]]:
    """Per experiment: defaults >= the published DeepBind AUROC (RBP-24 only) and defaults > the
    same-run deepbind baseline; None where a side is missing."""
    out = {}
    for name, cells in table.items():
        defaults = cells.get("defaults", {}).get("auroc")
        baseline = cells.get("deepbind", {}).get("auroc")
        published = PUBLISHED.get(name, {}).get("DeepBind")
        out[name] = {"published": None if defaults is None or published is None else defaults >= published,
                     "baseline": None if defaults is None or baseline is None else defaults > baseline}
    return out


def report(rows: list[dict]) -> str:
    table = summarise(rows)
    judged = verdicts(table)
    configurations = [c for c in CONFIGS if any(c in cells for cells in table.values())]
    order = [e for e in EXPERIMENTS if e in table] + sorted(e for e in table if e not in EXPERIMENTS)
    mark = {True: "yes", False: "no", None: ""}
    head = (["experiment"] + [f"{c} AUROC / AUPRC" for c in configurations] + ["seeds"] + PUBLISHED_NAMES
            + ["defaults ≥ published DeepBind", "defaults > deepbind"])
    lines = ["| " + " | ".join(head) + " |", "| --- " + "| ---: " * (len(head) - 1) + "|"]
    for name in order:
        cells = table[name]
        seeds = sorted({s for c in cells.values() for s in c["seeds"]}, key=int)
        values = [f"{cells[c]['auroc']:.4f} / {cells[c]['auprc']:.4f}" if c in cells else "" for c in configurations]
        published = [f"{PUBLISHED[name][n]:.3f}" if name in PUBLISHED else "" for n in PUBLISHED_NAMES]
        lines.append("| " + " | ".join([name, *values, " ".join(seeds), *published,
                                         mark[judged[name]["published"]], mark[judged[name]["baseline"]]]) + " |")
    above = [v["baseline"] for v in judged.values() if v["baseline"] is not None]
    lines.append("")
    lines.append(f"defaults above the deepbind baseline on {sum(above)} of {len(above)} experiments")
    published = [v["published"] for v in judged.values() if v["published"] is not None]
    if published:
        lines.append(f"defaults at or above the published DeepBind AUROC on {sum(published)} of {len(published)} RBP-24 experiments")
    common = [e for e in order if all(c in table[e] for c in configurations)]
    for c in configurations:
        lines.append(f"mean AUROC of {c} over the {len(common)} experiments every configuration ran: "
                     f"{mean(table[e][c]['auroc'] for e in common):.4f}" if common else f"{c}: no common experiments")
    lines.append("Published figures: RBP-24 only (ENNGene paper, Table 1); none are bundled for RBP-31 or DeepBind ENCODE.")
    return "\n".join(lines)


def print_report(args) -> None:
    rows = read_results(args.results)
    window = "default" if args.window is None else str(args.window)
    rows = [r for r in rows if r["window"] == window and r["quick"] == str(args.quick)
            and r["experiment"] in {e.name for e in selected(args.experiments)}]
    text = report(rows) if rows else f"no rows in {args.results}"
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="+", default=list(GROUPS), choices=[*GROUPS, *EXPERIMENTS],
                        metavar="NAME", help=f"Experiments or groups ({', '.join(GROUPS)}); default: all.")
    parser.add_argument("--configs", nargs="+", default=["defaults", "deepbind"], choices=CONFIGS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[42], help="The report gives their mean.")
    parser.add_argument("--window", type=int, default=None,
                        help="preprocess window (default: lociflow's, which chooses it from FASTA records).")
    parser.add_argument("--tune-trials", type=int, default=20)
    parser.add_argument("--tune-minutes", type=float, default=60)
    parser.add_argument("--quick", action="store_true", help="Smoke run: few loci, few epochs, own results file.")
    parser.add_argument("--quick-loci", type=int, default=300, help="--quick: training loci kept per class.")
    parser.add_argument("--quick-epochs", type=int, default=2)
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    parser.add_argument("--results", type=Path, default=None,
                        help="TSV of results (default bench/accuracy_results.tsv, with --quick bench/accuracy_results_quick.tsv).")
    parser.add_argument("--force", action="store_true", help="Rerun runs already in the results file.")
    parser.add_argument("--keep", type=Path, help="Keep datasets, models and evaluations in this folder.")
    parser.add_argument("--report", action="store_true", help="Print the table of the results file; run nothing.")
    parser.add_argument("--markdown", type=Path, help="--report: also write the table to this file.")
    args = parser.parse_args(argv)
    if args.results is None:
        args.results = ROOT / "bench" / ("accuracy_results_quick.tsv" if args.quick else "accuracy_results.tsv")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        print_report(args)
        return 0
    return benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
