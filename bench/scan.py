"""Scan speed: ``lociflow scan`` against writing every window to a BED and running
``lociflow predict`` on it, in the same run, on a synthetic genome.

Run ``python bench/scan.py`` (``--size`` Mb of genome, default 100; ``--quick`` for 2 Mb;
``--preset``, ``--window``, ``--stride``, ``--threads``, ``--device``). The network is a
lociflow preset with seeded random weights (speed does not depend on training), saved as a
model folder (``--preset tiny``: one small convolution, so that the data path dominates as
it does when a GPU runs the network); the genome has 5 chromosomes of random sequence with N runs.

Each measurement runs in its own process, so its peak resident memory (``ru_maxrss``) is
its own: the scan is also run on a quarter of the genome, to show that its memory does not
grow with the genome. Both sides score the plus strand only (``--strand +``), so they
compute the same windows; the BED side's time includes writing the BED.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("LOCIFLOW_PROGRESS", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def write_genome(path: Path, megabases: float, seed: int = 0) -> dict[str, int]:
    """Five chromosomes of random sequence (soft-masked stretches and N runs), 60 nt per line."""
    import numpy as np

    rng = np.random.default_rng(seed)
    sizes = {f"chr{i + 1}": int(megabases * 1e6 / 5) for i in range(5)}
    with open(path, "w") as handle:
        for name, size in sizes.items():
            codes = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, size)].copy()
            for start in rng.integers(0, size - 5000, 3):
                codes[start:start + 5000] = ord("N")
            handle.write(f">{name}\n")
            text = codes.tobytes()
            handle.write("\n".join(text[i:i + 60].decode() for i in range(0, size, 60)) + "\n")
    return sizes


#: one small convolution and a global max pool: a network so cheap that the data path (reading,
#: encoding, writing) dominates, as it does when a GPU runs the network
TINY = {"branches": {"seq": [{"type": "conv", "filters": 8, "kernel": 8}, {"type": "pool", "mode": "max"}]},
        "common": []}


def make_model(folder: Path, genome: Path, preset: str, window: int) -> Path:
    """A preset network (or ``tiny``) with seeded random weights, saved as a model folder."""
    import torch

    from lociflow.model.io import save_model
    from lociflow.model.network import build_network
    from lociflow.model.presets import resolve_architecture

    torch.manual_seed(0)
    channels = {"seq": list("ACGT")}
    architecture = TINY if preset == "tiny" else resolve_architecture(preset, None, ["seq"], window=window)
    network = build_network(architecture, channels, window, 2)
    spec = {"classes": ["bound", "unbound"], "branches": ["seq"], "channels": channels, "window": window,
            "alphabet": "dna", "architecture": network.architecture,
            "preprocess": {"window": window, "alphabet": "dna", "branches": ["seq"], "genome": str(genome)}}
    return save_model(folder, network.eval(), spec)


def child(args) -> dict:
    """One measurement, in this process: its wall time, CPU time and peak memory."""
    import torch

    import lociflow

    torch.set_num_threads(args.threads)
    common = {"model": str(args.model), "genome": str(args.genome), "device": args.device,
              "batch_size": args.batch_size}
    wall, cpu = time.perf_counter(), time.process_time()
    if args.child == "scan":
        chroms = args.chromosomes.split(",") if args.chromosomes else []
        folder = lociflow.scan({**common, "stride": args.stride, "strand": "+", "chromosomes": chroms},
                               args.out, name=f"scan-{len(chroms) or 'all'}", force=True)
        windows = json.loads(_ledger_row(args.out, folder.name)["metrics"])["windows"]
        bed_s = 0.0
    else:
        from lociflow.io.fasta import Genome

        sizes = Genome(args.genome).chrom_sizes
        bed = args.out / "windows.bed"
        windows = 0
        with open(bed, "w") as handle:
            for chrom, size in sizes.items():
                for start in range(0, size - args.window + 1, args.stride):
                    handle.write(f"{chrom}\t{start}\t{start + args.window}\n")
                    windows += 1
        bed_s = time.perf_counter() - wall
        lociflow.predict({**common, "input": [str(bed)]}, args.out, name="predict", force=True)
    return {"what": args.child, "windows": windows, "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu, "bed_s": bed_s,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _ledger_row(root: Path, name: str) -> dict:
    import pandas as pd

    ledger = pd.read_csv(root / "runs.tsv", sep="\t")
    return ledger[ledger["run_id"] == name].iloc[-1].to_dict()


def run_child(args, what: str, chromosomes: str = "") -> dict:
    command = [sys.executable, __file__, "--child", what, "--model", str(args.model), "--genome", str(args.genome),
               "--out", str(args.out), "--window", str(args.window), "--stride", str(args.stride),
               "--threads", str(args.threads), "--device", args.device, "--batch-size", str(args.batch_size),
               "--chromosomes", chromosomes]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=float, default=100.0, help="genome size in Mb (default 100)")
    parser.add_argument("--quick", action="store_true", help="a 2 Mb genome")
    parser.add_argument("--preset", default="cnn", help="a lociflow preset, or tiny (one small convolution)")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--stride", type=int, default=None, help="default: a tenth of the window")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--only-scan", action="store_true", help="leave out BED + predict (memory and scan rate only)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/lociflow-bench-scan"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--genome", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--chromosomes", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.stride = args.stride or max(1, args.window // 10)
    if args.child:
        print(json.dumps(child(args)))
        return
    size = 2.0 if args.quick else args.size
    args.work.mkdir(parents=True, exist_ok=True)
    args.genome = args.work / f"genome-{size:g}Mb.fa"
    if not args.genome.exists():
        write_genome(args.genome, size)
    args.model = make_model(args.work / f"model-{args.preset}-{args.window}", args.genome, args.preset, args.window)
    args.out = args.work / "runs"
    from lociflow.io.fasta import Genome

    Genome(args.genome)  # the sequence cache is built once, outside the timings
    print(f"genome {size:g} Mb, preset {args.preset}, window {args.window}, stride {args.stride}, "
          f"{args.threads} thread(s), device {args.device}, load average {os.getloadavg()[0]:.1f}")
    quarter = run_child(args, "scan", "chr1")
    scan = run_child(args, "scan")
    rows = [quarter, scan]
    if not args.only_scan:
        rows.append(run_child(args, "predict"))
    for row in rows:
        label = {"scan": "scan", "predict": "BED + predict"}[row["what"]]
        if row is quarter:
            label = "scan, chr1 only (a fifth)"
        print(f"{label:28s} {row['windows']:>11,} windows  {row['wall_s']:8.1f} s wall  {row['cpu_s']:8.1f} s CPU  "
              f"{row['windows'] / row['wall_s']:>9,.0f} windows/s wall  {row['windows'] / row['cpu_s']:>9,.0f} /s CPU  "
              f"peak {row['peak_mb']:,.0f} MB" + (f"  (BED written in {row['bed_s']:.1f} s)" if row["bed_s"] else ""))
    if len(rows) == 3:
        predict = rows[2]
        print(f"speed-up (scan vs BED + predict): {predict['wall_s'] / scan['wall_s']:.1f}x wall, "
              f"{predict['cpu_s'] / scan['cpu_s']:.1f}x CPU; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
