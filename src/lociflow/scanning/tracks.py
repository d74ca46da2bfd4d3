"""A scan's outputs: per-chromosome part files, one bigWig per class, and the called regions.

A part file holds a finished chromosome's windows (start and score per class) as packed
records; the tracks and ``called.bed`` are written from the part files once every
chromosome is done, block by block, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lociflow.io.atomic import atomic_open
from lociflow.io.bigwig import write_bigwig
from lociflow.layout import TRACK_SUFFIX
from lociflow.scanning.windows import ChromosomePlan


def part_dtype(n_classes: int) -> np.dtype:
    """The record of a part file: a window's start and its score per class.

    Parameters
    ----------
    n_classes : int
        The model's classes.

    Returns
    -------
    numpy.dtype
        ``start`` int64 and ``score`` float32 ``[n_classes]``.
    """
    return np.dtype([("start", "<i8"), ("score", "<f4", (n_classes,))])


def part_path(parts: Path, plan: ChromosomePlan) -> Path:
    """The finished part file of a chromosome (named by its index: any name is a safe file name).

    Parameters
    ----------
    parts : Path
        The folder of part files.
    plan : ChromosomePlan
        The chromosome.

    Returns
    -------
    Path
        ``parts/<index>.bin``.
    """
    return parts / f"{plan.index:06d}.bin"


def read_part(path: Path, dtype: np.dtype) -> np.ndarray:
    """The records of a part file, memory-mapped (an empty array for an empty file).

    Parameters
    ----------
    path : Path
        A finished part file.
    dtype : numpy.dtype
        From :func:`part_dtype`.

    Returns
    -------
    numpy.ndarray
        Structured records, sorted by start.
    """
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def _blocks(plans: list[ChromosomePlan], parts: Path, dtype: np.dtype, column: int, stride: int,
            window: int, block: int = 1 << 20) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    for plan in plans:
        records = read_part(part_path(parts, plan), dtype)
        for lo in range(0, len(records), block):
            chunk = records[lo:lo + block + 1]  # one more: the next interval's start bounds this one's end
            centres = chunk["start"] + window // 2
            starts = np.maximum(centres - stride // 2, 0)
            ends = np.minimum(starts + stride, plan.size)
            ends[:-1] = np.minimum(ends[:-1], starts[1:])
            n = min(block, len(records) - lo)
            yield plan.chrom, starts[:n], ends[:n], chunk["score"][:n, column]


def write_tracks(folder: Path, plans: list[ChromosomePlan], parts: Path, classes: list[str], window: int,
                 stride: int, chrom_sizes: dict[str, int]) -> list[Path]:
    """One bigWig per class from the part files: each window's score around its centre.

    Parameters
    ----------
    folder : Path
        Where ``<class>.bw`` are written.
    plans : list of ChromosomePlan
        The chromosomes scanned, in genome order.
    parts : Path
        Their finished part files.
    classes : list of str
        The model's classes.
    window : int
        The model's window (a window's centre is ``start + window // 2``).
    stride : int
        The step between windows (the width of each written interval).
    chrom_sizes : dict of str to int
        The genome's chromosome lengths.

    Returns
    -------
    list of Path
        The bigWig files, in class order.
    """
    dtype = part_dtype(len(classes))
    sizes = {p.chrom: chrom_sizes[p.chrom] for p in plans}
    paths = []
    for k, name in enumerate(classes):
        path = folder / f"{name}{TRACK_SUFFIX}"
        write_bigwig(path, sizes, _blocks(plans, parts, dtype, k, stride, window))
        paths.append(path)
    return paths


def write_called(path: Path, plans: list[ChromosomePlan], parts: Path, classes: list[str], window: int,
                 threshold: float) -> int:
    """Merged regions whose windows reach ``threshold``, per class, as BED; return their number.

    Parameters
    ----------
    path : Path
        The BED file to write: ``chrom start end class max_score``, by chromosome and start.
    plans : list of ChromosomePlan
        The chromosomes scanned.
    parts : Path
        Their finished part files.
    classes : list of str
        The model's classes.
    window : int
        The model's window (a called window covers ``start`` to ``start + window``).
    threshold : float
        The score a window must reach.

    Returns
    -------
    int
        The number of regions written.
    """
    dtype = part_dtype(len(classes))
    n = 0
    with atomic_open(path, "w", encoding="utf-8") as handle:
        for plan in plans:
            records = read_part(part_path(parts, plan), dtype)
            rows = []
            for k, name in enumerate(classes):
                hit = np.flatnonzero(records["score"][:, k] >= threshold)
                if len(hit) == 0:
                    continue
                starts = records["start"][hit]
                scores = records["score"][hit, k]
                breaks = np.flatnonzero(starts[1:] > starts[:-1] + window) + 1
                for group_starts, group_scores in zip(np.split(starts, breaks), np.split(scores, breaks)):
                    rows.append((int(group_starts[0]), int(group_starts[-1]) + window, name, float(group_scores.max())))
            for start, end, name, best in sorted(rows):
                handle.write(f"{plan.chrom}\t{start}\t{min(end, plan.size)}\t{name}\t{best:.6g}\n")
                n += 1
    return n
