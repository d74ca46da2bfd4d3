"""Where a scan puts its windows: every ``stride`` nt along merged regions, chromosome by chromosome."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lociflow.io.bed import read_bed
from lociflow.io.fasta import Genome


@dataclass
class ChromosomePlan:
    """Where one chromosome is scanned.

    Attributes
    ----------
    index : int
        The chromosome's position in the genome (names the part files).
    chrom : str
        Its name.
    size : int
        Its length.
    spans : numpy.ndarray
        int64 ``[M, 2]``: the merged regions scanned (half-open), sorted.
    window, stride : int
        The window and the step between window starts.
    n_windows : int
        How many windows :meth:`starts` gives.
    """

    index: int
    chrom: str
    size: int
    spans: np.ndarray
    window: int
    stride: int
    n_windows: int

    def starts(self) -> np.ndarray:
        """The start of every window on the chromosome, sorted and unique.

        Computed when the chromosome is scanned, not kept: memory holds one chromosome's
        windows at a time, whatever the size of the genome.

        Returns
        -------
        numpy.ndarray
            int64 window starts.
        """
        return _starts(self.spans, self.size, self.window, self.stride)


def plan_windows(genome: Genome, window: int, stride: int, regions: str | os.PathLike | None = None,
                 chromosomes: list[str] | None = None) -> list[ChromosomePlan]:
    """The windows to scan, chromosome by chromosome in genome order.

    Parameters
    ----------
    genome : Genome
        The genome.
    window : int
        The model's window.
    stride : int
        Step between window starts.
    regions : str or os.PathLike or None
        A BED of regions; overlapping regions are merged. A region shorter than the
        window gets one window centred on it. Default is None (whole chromosomes).
    chromosomes : list of str or None
        Only these chromosomes. Default is None (every chromosome, or every one with a
        region).

    Returns
    -------
    list of ChromosomePlan
        One per chromosome scanned (none shorter than the window).

    Raises
    ------
    InputFileError
        When a named chromosome or a region's chromosome is not in the genome.
    """
    if chromosomes:
        genome.check_chromosomes(chromosomes, source="--chromosomes")
    wanted = set(chromosomes or genome.chrom_sizes)
    spans: dict[str, np.ndarray] = {}
    if regions is not None:
        table = read_bed(regions)
        genome.check_chromosomes(table.chrom, source=regions)
        for chrom in pd.unique(table.chrom):
            mask = table.chrom == chrom
            spans[chrom] = np.stack([table.start[mask], table.end[mask]], axis=1)
    else:
        spans = {c: np.array([[0, n]], dtype=np.int64) for c, n in genome.chrom_sizes.items()}
    plans = []
    for index, (chrom, size) in enumerate(genome.chrom_sizes.items()):
        if chrom not in wanted or chrom not in spans or size < window:
            continue
        merged = _merge(spans[chrom])
        count = len(_starts(merged, size, window, stride))
        plans.append(ChromosomePlan(index, chrom, size, merged, window, stride, count))
    return plans


def _merge(spans: np.ndarray) -> np.ndarray:
    spans = spans[np.argsort(spans[:, 0], kind="stable")]
    merged = [list(spans[0])]
    for start, end in spans[1:]:
        if start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return np.asarray(merged, dtype=np.int64)


def _starts(spans: np.ndarray, size: int, window: int, stride: int) -> np.ndarray:
    parts = []
    for start, end in spans:
        if end - start >= window:
            parts.append(np.arange(start, end - window + 1, stride, dtype=np.int64))
        else:  # one window centred on a short region, inside the chromosome
            parts.append(np.array([min(max(start + (end - start - window) // 2, 0), size - window)], dtype=np.int64))
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
