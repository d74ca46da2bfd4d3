"""Preprocessing speed: lociflow against a per-interval baseline measured in the same run.

Run ``python bench/preprocess.py`` (or ``make bench``); ``--only sequence`` picks one
measurement, ``--quick`` shrinks the synthetic genome for a smoke run. Each measurement is
one function returning a row of numbers; ``main()`` prints them as a table.

Sequence: a synthetic genome (5 chromosomes x 20 Mb, soft-masked stretches and N runs)
written as FASTA, and 200,000 BED-like loci of 150 nt on both strands. lociflow:
``Genome.fetch`` + reverse complement of the minus strand + ``one_hot``. Baseline: pyfaidx
fetch per interval + a Python one-hot loop, timed on a 20,000-locus subset and scaled to a
rate per second.

bigWig: a per-base track over the same genome. lociflow: ``Track.values`` for all loci;
baseline: ``bw.values()`` per interval on a subset.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # "one core" as the targets are stated
os.environ.setdefault("LOCIFLOW_PROGRESS", "0")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lociflow.io.bed import read_bed  # noqa: E402
from lociflow.io.bigwig import Track  # noqa: E402
from lociflow.io.fasta import Genome  # noqa: E402
from lociflow.preprocessing.encode import one_hot, reverse_complement_codes  # noqa: E402

WINDOW = 150
BASELINE_SUBSET = 20_000


class Timer:
    """Wall-clock and CPU seconds of a block (CPU time is robust to other jobs on a busy machine)."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def make_genome(folder: Path, n_chroms: int = 5, size: int = 20_000_000, seed: int = 0) -> Path:
    """Write a random FASTA (60 nt per line) with lowercase stretches and N runs."""
    rng = np.random.default_rng(seed)
    path = folder / "genome.fa"
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "wb") as out:
        for k in range(n_chroms):
            seq = letters[rng.integers(0, 4, size)]
            for start in rng.integers(0, size - 5000, size // 200_000):
                seq[start: start + rng.integers(100, 5000)] |= 32  # soft-masked repeat (lowercase bit)
            for start in rng.integers(0, size - 1000, 5):
                seq[start: start + 1000] = ord("N")
            out.write(f">chr{k + 1}\n".encode())
            full = size // 60 * 60
            body = np.concatenate([seq[:full].reshape(-1, 60), np.full((full // 60, 1), 10, np.uint8)], axis=1)
            out.write(body.tobytes())
            if size > full:
                out.write(seq[full:].tobytes() + b"\n")
    return path


def make_loci(chrom_sizes: dict[str, int], n: int = 200_000, seed: int = 1):
    """Random 150-nt loci on both strands: chroms (object), starts (int64), minus (bool)."""
    rng = np.random.default_rng(seed)
    names = np.array(list(chrom_sizes), dtype=object)
    chroms = names[rng.integers(0, len(names), n)]
    sizes = np.array([chrom_sizes[c] for c in chroms])
    starts = (rng.random(n) * (sizes - WINDOW)).astype(np.int64)
    return chroms, starts, rng.random(n) < 0.5


def _baseline_one_hot(seq: str) -> np.ndarray:
    lookup = {"A": 0, "C": 1, "G": 2, "T": 3}
    out = np.zeros((len(seq), 4), dtype=np.uint8)
    for i, base in enumerate(seq.upper()):
        if base in lookup:
            out[i, lookup[base]] = 1
    return out


def bench_sequence(folder: Path, genome_path: Path, loci) -> dict:
    """Sequence extraction + encoding: lociflow vs per-interval pyfaidx + Python one-hot."""
    import pyfaidx

    chroms, starts, minus = loci
    t0 = time.perf_counter()
    genome = Genome(genome_path, cache_dir=folder / "cache")
    first_open = time.perf_counter() - t0

    def lociflow_encode():
        codes = genome.fetch(chroms, starts, WINDOW)
        codes[minus] = reverse_complement_codes(codes[minus])
        return one_hot(codes)

    lociflow_encode()  # warm the page cache so both sides read from memory
    with Timer() as timer:
        onehot = lociflow_encode()
    del onehot
    tracemalloc.start()  # a separate run: tracing slows allocation down
    onehot = lociflow_encode()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    fasta = pyfaidx.Fasta(str(genome_path), as_raw=True)
    table = str.maketrans("ACGTacgtNn", "TGCAtgcaNn")
    sub = slice(0, BASELINE_SUBSET)
    with Timer() as base_timer:
        baseline = []
        for chrom, start, neg in zip(chroms[sub], starts[sub], minus[sub]):
            seq = fasta[chrom][int(start): int(start) + WINDOW]
            if neg:
                seq = seq.translate(table)[::-1]
            baseline.append(_baseline_one_hot(seq))
    assert np.array_equal(np.stack(baseline), onehot[sub]), "lociflow and the baseline disagree"
    rate = len(starts) / timer.cpu
    base_rate = BASELINE_SUBSET / base_timer.cpu
    return {
        "measurement": f"sequence windows ({len(starts):,} x {WINDOW} nt)",
        "lociflow /s": rate,
        "baseline /s": base_rate,
        "speed-up": rate / base_rate,
        "lociflow /s wall": len(starts) / timer.wall,
        "one-time setup s": first_open,
        "peak MB": peak / 2**20,
        "array MB": onehot.nbytes / 2**20,
    }


def make_bigwig(folder: Path, chrom_sizes: dict[str, int], seed: int = 2) -> Path:
    """A per-base bigWig over the genome (phyloP-like values, some NaN gaps)."""
    import pyBigWig

    rng = np.random.default_rng(seed)
    path = folder / "track.bw"
    writer = pyBigWig.open(str(path), "w")
    writer.addHeader(list(chrom_sizes.items()), maxZooms=0)
    for chrom, size in chrom_sizes.items():
        values = rng.normal(size=size).round(3)
        values[rng.integers(0, size, size // 100)] = np.nan
        writer.addEntries(chrom, 0, values=values, span=1, step=1)
    writer.close()
    return path


def bench_bigwig(folder: Path, chrom_sizes: dict[str, int], loci) -> list[dict]:
    """Track values: lociflow (stretch/whole-chromosome reads) vs ``bw.values()`` per interval."""
    import pyBigWig

    chroms, starts, minus = loci
    path = make_bigwig(folder, chrom_sizes)
    track = Track(path, cache_dir=folder / "cache")
    with Timer() as timer:
        values = track.values(chroms, starts, WINDOW)
        values[minus] = values[minus, ::-1]
    with Timer() as cached_timer:
        track.values(chroms, starts, WINDOW)  # chromosomes now in memory: the gather alone

    bw = pyBigWig.open(str(path))
    sub = slice(0, BASELINE_SUBSET)
    with Timer() as base_timer:
        baseline = []
        for chrom, start, neg in zip(chroms[sub], starts[sub], minus[sub]):
            row = np.nan_to_num(np.array(bw.values(chrom, int(start), int(start) + WINDOW), dtype=np.float32))
            baseline.append(row[::-1] if neg else row)
    assert np.array_equal(np.stack(baseline), values[sub]), "lociflow and the baseline disagree"
    base_rate = BASELINE_SUBSET / base_timer.cpu
    rows = []
    for label, spent in (("bigWig values", timer), ("bigWig values, chromosomes already read", cached_timer)):
        rate = len(starts) / spent.cpu
        rows.append({
            "measurement": f"{label} ({len(starts):,} x {WINDOW} nt)",
            "lociflow /s": rate,
            "baseline /s": base_rate,
            "speed-up": rate / base_rate,
            "lociflow /s wall": len(starts) / spent.wall,
            "one-time setup s": 0.0,
            "peak MB": float("nan"),
            "array MB": values.nbytes / 2**20,
        })
    return rows


def bench_bed(folder: Path, loci) -> dict:
    """BED parsing: ``read_bed`` vs a Python loop that splits and converts each line."""
    chroms, starts, minus = loci
    path = folder / "loci.bed"
    strands = np.where(minus, "-", "+")
    with open(path, "w") as out:
        out.write("track name=bench\n")
        out.writelines(f"{c}\t{s}\t{s + WINDOW}\tlocus{i}\t0\t{d}\n"
                       for i, (c, s, d) in enumerate(zip(chroms, starts, strands)))
    with Timer() as timer:
        table = read_bed(path)
    with Timer() as base_timer:
        rows = []
        with open(path) as handle:
            for line in handle:
                if line.startswith(("track", "browser", "#")) or not line.strip():
                    continue
                fields = line.rstrip("\n").split("\t")
                rows.append((fields[0], int(fields[1]), int(fields[2]), fields[3], fields[5]))
    assert len(rows) == len(table) and rows[-1][1] == table.start[-1]
    rate = len(table) / timer.cpu
    base_rate = len(rows) / base_timer.cpu
    return {
        "measurement": f"BED6 parsing ({len(table):,} lines)",
        "lociflow /s": rate,
        "baseline /s": base_rate,
        "speed-up": rate / base_rate,
        "lociflow /s wall": len(table) / timer.wall,
        "one-time setup s": 0.0,
        "peak MB": float("nan"),
        "array MB": float("nan"),
    }


def bench_fold(n: int = 400, length: int = WINDOW, seed: int = 3) -> dict:
    """RNA folding (mfe + unpaired_prob): 2 worker processes against 1, cache off.

    The pool is started and warmed before timing (its start-up, a one-time cost per run,
    is reported separately), so the rates compare folding work only. Target: >= 1.8x.
    """
    from lociflow.preprocessing.structure import Folder

    rng = np.random.default_rng(seed)
    codes = rng.choice(np.frombuffer(b"ACGU", dtype=np.uint8), size=(n, length))
    seconds, setup = {}, 0.0
    for workers in (1, 2):
        with Folder(workers=workers, cache_dir=False) as folder:
            start = time.perf_counter()
            folder.fold(codes[:32])  # starts the pool (workers > 1)
            setup = max(setup, time.perf_counter() - start)
            start = time.perf_counter()
            values = folder.fold(codes)
            seconds[workers] = time.perf_counter() - start
    return {
        "measurement": f"RNA folding, 2 workers vs 1 ({n} x {length} nt)",
        "lociflow /s": n / seconds[2],
        "baseline /s": n / seconds[1],
        "speed-up": seconds[1] / seconds[2],
        "lociflow /s wall": n / seconds[2],
        "one-time setup s": setup,
        "peak MB": float("nan"),
        "array MB": values.nbytes / 2**20,
    }


def _print_table(rows: list[dict]) -> None:
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        cells = [f"{v:,.0f}" if isinstance(v, float) and v >= 100 else f"{v:.2f}" if isinstance(v, float) else str(v)
                 for v in row.values()]
        print("| " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["bed", "sequence", "bigwig", "fold"], action="append", help="run only these measurements")
    parser.add_argument("--quick", action="store_true", help="5 x 2 Mb genome and 20,000 loci (smoke run)")
    args = parser.parse_args(argv)
    wanted = args.only or ["bed", "sequence", "bigwig", "fold"]
    size, n_loci = (2_000_000, 20_000) if args.quick else (20_000_000, 200_000)
    with tempfile.TemporaryDirectory(prefix="lociflow-bench-") as tmp:
        folder = Path(tmp)
        genome_path = make_genome(folder, size=size)
        chrom_sizes = {f"chr{k + 1}": size for k in range(5)}
        loci = make_loci(chrom_sizes, n_loci)
        rows = []
        if "bed" in wanted:
            rows.append(bench_bed(folder, loci))
        if "sequence" in wanted:
            rows.append(bench_sequence(folder, genome_path, loci))
        if "bigwig" in wanted:
            rows.extend(bench_bigwig(folder, chrom_sizes, loci))
        if "fold" in wanted:
            rows.append(bench_fold(n=100 if args.quick else 400))
    print(f"loci per CPU second (baseline timed on the first {BASELINE_SUBSET:,} loci and scaled); "
          "wall-clock rate alongside; one-time setup = first open of the genome (index + flat cache)")
    _print_table(rows)


if __name__ == "__main__":
    main()
