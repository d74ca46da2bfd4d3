"""Variant-effect speed: ``lociflow variants`` on a VCF of random SNVs and short insertions.

Run ``python bench/variants.py`` (``--n`` variants, default 50,000; ``--preset``, ``--window``,
``--threads``). The genome (10 Mb) and the network (seeded random weights) are those of
``bench/scan.py``; one variant in ten is an insertion, so both window builders are timed.
Prints variants per second of wall and of this process's CPU, and the peak memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("LOCIFLOW_PROGRESS", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))


def write_vcf(path: Path, genome: Path, n: int, seed: int = 0) -> None:
    """``n`` variants at random positions, REF read from the genome; every tenth an insertion."""
    import numpy as np

    from lociflow.io.fasta import Genome

    rng = np.random.default_rng(seed)
    g = Genome(genome)
    names = list(g.chrom_sizes)
    chroms = rng.choice(names, n)
    positions = np.array([rng.integers(0, g.chrom_sizes[c] - 10) for c in chroms])
    refs = [g.sequence(c, int(p), int(p) + 1).upper() for c, p in zip(chroms, positions)]
    with open(path, "w") as handle:
        handle.write("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n")
        for i, (c, p, r) in enumerate(zip(chroms, positions, refs)):
            alt = r + "GA" if i % 10 == 0 else ("C" if r != "C" else "G")
            handle.write(f"{c}\t{p + 1}\t.\t{r}\t{alt}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--preset", default="cnn", help="a lociflow preset, or tiny (one small convolution)")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/lociflow-bench-scan"))
    args = parser.parse_args()
    import torch
    from scan import make_model, write_genome

    import lociflow

    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    genome = args.work / "genome-10Mb.fa"
    if not genome.exists():
        write_genome(genome, 10.0)
    model = make_model(args.work / f"model-{args.preset}-{args.window}", genome, args.preset, args.window)
    vcf = args.work / f"variants-{args.n}.vcf"
    if not vcf.exists():
        write_vcf(vcf, genome, args.n)
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    lociflow.variants({"model": str(model), "vcf": str(vcf), "genome": str(genome), "device": "cpu"},
                      args.work / "runs", name="variants", force=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{args.n:,} variants, preset {args.preset}, window {args.window}, {args.threads} thread(s): "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU, {args.n / wall:,.0f} variants/s wall, {args.n / cpu:,.0f} /s CPU, "
          f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB; load average {load:.1f} -> "
          f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
