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

#: records of a part file read at a time when the tracks and called regions are written
PART_BLOCK = 1 << 18


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


def part_length(path: Path, dtype: np.dtype) -> int:
    """The number of records in a part file.

    Parameters
    ----------
    path : Path
        A finished part file.
    dtype : numpy.dtype
        From :func:`part_dtype`.

    Returns
    -------
    int
        Its records (windows kept on that chromosome).
    """
    return path.stat().st_size // dtype.itemsize


def iter_part(path: Path, dtype: np.dtype, block: int | None = None, overlap: int = 0) -> Iterator[np.ndarray]:
    """The records of a part file, ``block`` at a time, read into memory (not mapped).

    Reading rather than mapping keeps the resident memory of a whole-genome scan at one block,
    where mapped pages would stay counted until the file is closed.

    Parameters
    ----------
    path : Path
        A finished part file.
    dtype : numpy.dtype
        From :func:`part_dtype`.
    block : int or None
        Records per block. Default is None: :data:`PART_BLOCK`.
    overlap : int
        Records of the next block appended to each block (for intervals bounded by the next
        start). Default is 0.

    Yields
    ------
    numpy.ndarray
        Structured records, sorted by start.
    """
    n = part_length(path, dtype)
    block = block or PART_BLOCK
    for lo in range(0, n, block):
        count = min(block + overlap, n - lo)
        yield np.fromfile(path, dtype=dtype, count=count, offset=lo * dtype.itemsize)


def _blocks(plans: list[ChromosomePlan], parts: Path, dtype: np.dtype, column: int, stride: int,
            window: int) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    for plan in plans:
        path = part_path(parts, plan)
        n = part_length(path, dtype)
        # one record more: the next interval's start bounds this one's end
        for lo, chunk in zip(range(0, n, PART_BLOCK), iter_part(path, dtype, overlap=1)):
            centres = chunk["start"] + window // 2
            starts = np.maximum(centres - stride // 2, 0)
            ends = np.minimum(starts + stride, plan.size)
            ends[:-1] = np.minimum(ends[:-1], starts[1:])
            kept = min(PART_BLOCK, n - lo)
            yield plan.chrom, starts[:kept], ends[:kept], chunk["score"][:kept, column]


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
            rows = []
            for k, name in enumerate(classes):
                rows.extend(_called(part_path(parts, plan), dtype, k, name, window, threshold))
            for start, end, name, best in sorted(rows):
                handle.write(f"{plan.chrom}\t{start}\t{min(end, plan.size)}\t{name}\t{best:.6g}\n")
                n += 1
    return n


def _called(path: Path, dtype: np.dtype, column: int, name: str, window: int,
            threshold: float) -> list[tuple[int, int, str, float]]:
    """One class's merged called regions on one chromosome, block by block."""
    rows = []
    current = None  # (first start, last start, best score) of the region being merged
    for chunk in iter_part(path, dtype):
        hit = chunk["score"][:, column] >= threshold
        starts, scores = chunk["start"][hit], chunk["score"][hit, column]
        if len(starts) == 0:
            continue
        breaks = np.flatnonzero(starts[1:] > starts[:-1] + window) + 1
        for group, values in zip(np.split(starts, breaks), np.split(scores, breaks)):
            if current is not None and group[0] <= current[1] + window:  # overlaps the region: extend it
                current = (current[0], int(group[-1]), max(current[2], float(values.max())))
                continue
            if current is not None:
                rows.append((current[0], current[1] + window, name, current[2]))
            current = (int(group[0]), int(group[-1]), float(values.max()))
    if current is not None:
        rows.append((current[0], current[1] + window, name, current[2]))
    return rows
