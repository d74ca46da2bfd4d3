"""Negative windows from the genome: GC-matched background and flanks of the positives.

Most users arrive with peaks and no negative set. A background drawn from the genome is
harder for a model than shuffles (it keeps real sequence grammar) and, matched to the
positives' GC content, cannot be beaten on composition alone.

How: every chromosome the positives use is cut into non-overlapping candidate windows
of the preprocess window (from a seeded offset), one chromosome at a time, read in 4-MB
pieces from the genome's flat byte cache: per candidate three counts (G/C, soft-masked
lowercase, N) come from byte arithmetic into scratch arrays made once per chromosome, so no
chromosome is ever a Python string and memory holds a few bytes per candidate. Candidates that overlap a
locus of any class (widened by ``margin``), a region of an ``exclude`` BED, or hold an N
(unless N is matched) are removed. The positives' windows are binned the same way
(GC, and optionally repeat and N fraction), and each bin draws as many candidates as the
positives put there, seeded; a bin short of candidates passes its demand to the nearest
bins in GC. The draw is sorted by position, so a rerun gives the same bytes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lociflow.errors import LociflowError
from lociflow.io.bed import iter_bed
from lociflow.io.fasta import Genome

log = logging.getLogger("lociflow.preprocess.background")

PIECE = 1 << 22  # genome bytes examined per step: with the lookup, ~20 MB of temporary arrays


@dataclass
class Features:
    """Per window: fraction of G/C, of soft-masked (lowercase) letters, and of N."""

    gc: np.ndarray
    repeats: np.ndarray
    n: np.ndarray

    def __len__(self) -> int:
        return len(self.gc)

    def values(self, name: str) -> np.ndarray:
        """One matched value by its ``match`` name.

        Parameters
        ----------
        name : str
            ``gc``, ``repeats`` or ``n``.

        Returns
        -------
        numpy.ndarray
        """
        return {"gc": self.gc, "repeats": self.repeats, "n": self.n}[name]


class _Counter:
    """Per-row counts of G/C, lowercase and N letters, in scratch arrays made once.

    A fresh temporary array per piece costs the OS's page faults again on every piece (the
    allocator hands big blocks back), which doubled the time of a first pass over a genome;
    the scratch here is allocated once per tiling and every step writes into it.
    """

    def __init__(self, rows: int, length: int) -> None:
        self.length = length
        self.work = np.empty((rows, length), np.uint8)
        self.mask = np.empty((rows, length), np.bool_)
        # row sums in the narrowest type that holds a whole row: a native uint8 sum is 1.4x
        # faster than one cast to uint16 on the way
        self.total = np.uint8 if length < 256 else np.uint16 if length < 65536 else np.uint32

    def count(self, rows: np.ndarray, gc: np.ndarray, lower: np.ndarray, n: np.ndarray, repeats: bool) -> None:
        """Write the counts of ``rows`` (uint8 ``[k, length]``, k within the scratch) into the three arrays."""
        k = len(rows)
        work, mask = self.work[:k], self.mask[:k]
        ones = mask.view(np.uint8)
        np.bitwise_or(rows, np.uint8(0x20), out=work)  # case folded
        np.equal(work, np.uint8(ord("n")), out=mask)
        hits = int(np.count_nonzero(mask))
        if hits == 0:
            n[:] = 0
        elif hits < k:  # N sits in runs (assembly gaps): count the few where they are
            n[:] = np.bincount(np.flatnonzero(mask) // self.length, minlength=k)
        else:
            n[:] = ones.sum(axis=1, dtype=self.total)
        np.bitwise_and(work, np.uint8(0xFB), out=work)  # c and g differ only in bit 0x04
        np.equal(work, np.uint8(ord("c")), out=mask)
        gc[:] = ones.sum(axis=1, dtype=self.total)
        if repeats:
            np.subtract(rows, np.uint8(ord("a")), out=work)  # wraps: a-z become 0-25, all else above
            np.less_equal(work, np.uint8(ord("z") - ord("a")), out=mask)
            lower[:] = ones.sum(axis=1, dtype=self.total)
        else:
            lower[:] = 0


def _fractions(counts: Features, length: int) -> Features:
    for values in (counts.gc, counts.repeats, counts.n):
        values /= np.float32(length)
    return counts


def window_features(codes: np.ndarray, repeats: bool = True) -> Features:
    """GC, repeat (lowercase) and N fractions of windows.

    Parameters
    ----------
    codes : numpy.ndarray
        uint8 ``[N, L]`` ASCII codes, soft-masked case kept.
    repeats : bool
        Count lowercase letters too; without, ``repeats`` is all zeros and one pass over
        the bytes is saved. Default is True.

    Returns
    -------
    Features
    """
    codes = np.asarray(codes, dtype=np.uint8)
    length = codes.shape[1] if codes.ndim == 2 else 0
    out = Features(*(np.zeros(len(codes), np.float32) for _ in range(3)))
    if length == 0 or len(codes) == 0:
        return out
    # rows per step keep the scratch near 4 MB whatever the batch; byte arithmetic (case
    # folded with | 0x20) is several times faster than a lookup table
    step = min(len(codes), max(1, PIECE // length))
    counter = _Counter(step, length)
    for first in range(0, len(codes), step):
        part = slice(first, first + step)
        counter.count(codes[part], out.gc[part], out.repeats[part], out.n[part], repeats)
    return _fractions(out, length)


class Regions:
    """Merged intervals per chromosome that no background window may overlap."""

    def __init__(self) -> None:
        self._parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._merged: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, chroms: np.ndarray, starts: np.ndarray, ends: np.ndarray, margin: int = 0) -> None:
        """Add intervals.

        Parameters
        ----------
        chroms, starts, ends : numpy.ndarray
            0-based half-open intervals.
        margin : int
            nt added on both sides of each. Default is 0.
        """
        starts = np.asarray(starts, dtype=np.int64) - margin
        ends = np.asarray(ends, dtype=np.int64) + margin
        codes, names = pd.factorize(np.asarray(chroms, dtype=object))  # one pass, not one per chromosome
        for index, chrom in enumerate(names):
            mask = codes == index
            self._parts.setdefault(str(chrom), []).append((starts[mask], ends[mask]))
        self._merged.clear()

    def add_bed(self, path: str | os.PathLike) -> None:
        """Add every interval of a BED file.

        Parameters
        ----------
        path : path
            The BED file.
        """
        for table in iter_bed(path):
            self.add(table.chrom, table.start, table.end)

    def _merge(self, chrom: str) -> tuple[np.ndarray, np.ndarray]:
        if chrom not in self._merged:
            parts = self._parts.get(chrom, [])
            if not parts:
                self._merged[chrom] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
            else:
                starts = np.concatenate([s for s, _ in parts])
                ends = np.concatenate([e for _, e in parts])
                order = np.argsort(starts, kind="stable")
                starts, ends = starts[order], np.maximum.accumulate(ends[order])
                new = np.ones(len(starts), dtype=bool)
                new[1:] = starts[1:] > ends[:-1]
                group = np.cumsum(new) - 1
                merged_end = np.zeros(int(group[-1]) + 1, np.int64)
                np.maximum.at(merged_end, group, ends)
                self._merged[chrom] = (starts[new], merged_end)
        return self._merged[chrom]

    def overlaps(self, chrom: str, starts: np.ndarray, length: int) -> np.ndarray:
        """Whether each window overlaps a region.

        Parameters
        ----------
        chrom : str
            The chromosome.
        starts : numpy.ndarray
            0-based window starts.
        length : int
            Window length.

        Returns
        -------
        numpy.ndarray
            bool per window.
        """
        region_starts, region_ends = self._merge(chrom)
        starts = np.asarray(starts, dtype=np.int64)
        if len(region_starts) == 0:
            return np.zeros(len(starts), dtype=bool)
        # the first region ending after the window's start overlaps it if it starts before its end
        index = np.searchsorted(region_ends, starts, side="right")
        inside = index < len(region_starts)
        hit = np.zeros(len(starts), dtype=bool)
        hit[inside] = region_starts[index[inside]] < starts[inside] + length
        return hit


@dataclass
class Candidates:
    """Candidate windows of the chromosomes the positives use, with their features."""

    chrom: np.ndarray  # index into ``names``
    start: np.ndarray
    features: Features
    names: list[str]


def tile_chromosome(genome: Genome, chrom: str, window: int, offset: int,
                    repeats: bool = True) -> tuple[np.ndarray, Features]:
    """Starts and features of the non-overlapping windows of one chromosome.

    Parameters
    ----------
    genome : Genome
        The reference; the chromosome is read from disk in pieces of about
        :data:`PIECE` bytes, so memory stays small whatever its length.
    chrom : str
        The chromosome.
    window : int
        Window length (and step).
    offset : int
        Start of the first window.
    repeats : bool
        Count soft-masked letters too (see :func:`window_features`). Default is True.

    Returns
    -------
    tuple of numpy.ndarray and Features
    """
    usable = max(0, (genome.chrom_sizes[chrom] - offset) // window)
    starts = offset + np.arange(usable, dtype=np.int64) * window
    out = Features(*(np.empty(usable, np.float32) for _ in range(3)))
    per_piece = max(1, min(usable, PIECE // window))
    piece = np.empty(per_piece * window, np.uint8)  # read into the same buffer piece after piece
    counter = _Counter(per_piece, window)
    for first in range(0, usable, per_piece):
        count = min(per_piece, usable - first)
        begin = offset + first * window
        rows = genome.read(chrom, begin, begin + count * window, out=piece).reshape(count, window)
        part = slice(first, first + count)
        counter.count(rows, out.gc[part], out.repeats[part], out.n[part], repeats)
    return starts, _fractions(out, window)


def candidates(genome: Genome, chroms: Sequence[str], window: int, excluded: Regions, keep_n: bool,
               rng: np.random.Generator, repeats: bool = True) -> Candidates:
    """Tile chromosomes into candidate windows, dropping those in excluded regions or holding N.

    Parameters
    ----------
    genome : Genome
        The reference.
    chroms : sequence of str
        The chromosomes to tile (taken in genome order).
    window : int
        Window length.
    excluded : Regions
        Regions no candidate may overlap.
    keep_n : bool
        Keep windows with some N (when N is matched); all-N windows are always dropped.
    rng : numpy.random.Generator
        Draws each chromosome's tiling offset.
    repeats : bool
        Count soft-masked letters (needed when repeats are matched). Default is True.

    Returns
    -------
    Candidates
    """
    parts_chrom, parts_start, parts = [], [], []
    names = [c for c in genome.chrom_sizes if c in set(chroms)]  # genome order: the same on every run
    for index, chrom in enumerate(names):
        size = genome.chrom_sizes[chrom]
        if size < window:
            continue
        offset = int(rng.integers(0, min(window, size - window + 1)))
        starts, features = tile_chromosome(genome, chrom, window, offset, repeats)
        good = ~excluded.overlaps(chrom, starts, window)
        good &= features.n < 1.0 if keep_n else features.n == 0
        parts_chrom.append(np.full(int(good.sum()), index, np.int32))
        parts_start.append(starts[good])
        parts.append(Features(features.gc[good], features.repeats[good], features.n[good]))
    if not parts:
        raise LociflowError(f"No chromosome among {', '.join(chroms)} is as long as the {window}-nt window.")
    features = Features(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("gc", "repeats", "n")))
    return Candidates(np.concatenate(parts_chrom), np.concatenate(parts_start), features, names)


def bin_index(features: Features, match: Sequence[str], bins: int) -> np.ndarray:
    """One joint bin per window over the matched values.

    Parameters
    ----------
    features : Features
        The windows' values.
    match : sequence of str
        The matched values, in order.
    bins : int
        Equal bins of [0, 1] per value.

    Returns
    -------
    numpy.ndarray
        int64 bin per window, below ``bins ** len(match)``.
    """
    index = np.zeros(len(features), dtype=np.int64)
    for name in match:
        index = index * bins + np.minimum((features.values(name) * bins).astype(np.int64), bins - 1)
    return index


def _demand(wanted: np.ndarray, available: np.ndarray, gc_bin: np.ndarray) -> np.ndarray:
    """Per bin, how many to draw: the positives' counts, a shortfall moved to the nearest bins in GC."""
    take = np.minimum(wanted, available)
    short = int((wanted - take).sum())
    if short == 0:
        return take
    for source in np.flatnonzero(wanted > take):
        need = int(wanted[source] - take[source])
        order = np.lexsort((np.arange(len(wanted)), np.abs(gc_bin - gc_bin[source])))
        for other in order:
            spare = int(available[other] - take[other])
            if spare > 0:
                step = min(spare, need)
                take[other] += step
                need -= step
                if need == 0:
                    break
    return take


def sample_matched(pool: Candidates, target: Features, n: int, match: Sequence[str], bins: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Indices into ``pool`` of ``n`` windows whose matched values follow ``target``'s histogram.

    Parameters
    ----------
    pool : Candidates
        The candidate windows.
    target : Features
        The matched class's windows.
    n : int
        Windows to draw.
    match : sequence of str
        The matched values.
    bins : int
        Bins per value.
    rng : numpy.random.Generator
        Draws within each bin.

    Returns
    -------
    numpy.ndarray
        Sorted indices into the pool.

    Raises
    ------
    LociflowError
        The genome has fewer usable windows than asked for.
    """
    if n > len(pool.start):
        raise LociflowError(
            f"The genome has only {len(pool.start)} windows free of every class's loci, the excluded regions and N "
            f"on the positives' chromosomes; {n} were asked for. Lower ratio or count, the margin or the exclusions.")
    pool_bins = bin_index(pool.features, match, bins)
    target_bins = bin_index(target, match, bins)
    size = bins ** len(match)
    share = np.bincount(target_bins, minlength=size) / max(1, len(target_bins))
    wanted = np.floor(share * n).astype(np.int64)
    # the rounding remainder goes to the bins with the largest fractional parts, first bin first on ties
    rest = n - int(wanted.sum())
    if rest:
        wanted[np.lexsort((np.arange(size), -(share * n - wanted)))[:rest]] += 1
    available = np.bincount(pool_bins, minlength=size)
    gc_position = list(match).index("gc") if "gc" in match else 0
    gc_bin = (np.arange(size) // bins ** (len(match) - 1 - gc_position)) % bins
    take = _demand(wanted, available, gc_bin)
    order = np.argsort(pool_bins, kind="stable")
    first = np.concatenate([[0], np.cumsum(available)[:-1]])
    chosen = []
    for b in np.flatnonzero(take):
        members = order[first[b]:first[b] + available[b]]
        chosen.append(members[rng.choice(len(members), size=int(take[b]), replace=False)])
    picked = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    return np.sort(picked)


@dataclass
class Match:
    """How well a background matched its class: the statistic and both GC distributions."""

    statistic: float
    pvalue: float
    target_gc: np.ndarray
    background_gc: np.ndarray

    def summary(self) -> dict[str, float]:
        """The numbers for the log and the summary file."""
        return {"ks_statistic": round(self.statistic, 4), "ks_pvalue": float(f"{self.pvalue:.3g}"),
                "gc_mean_class": round(float(self.target_gc.mean()), 4) if len(self.target_gc) else float("nan"),
                "gc_mean_background": round(float(self.background_gc.mean()), 4)
                if len(self.background_gc) else float("nan")}


def gc_match(target: np.ndarray, background: np.ndarray) -> Match:
    """Two-sample Kolmogorov-Smirnov statistic between two GC distributions.

    Parameters
    ----------
    target, background : numpy.ndarray
        GC fractions of the matched class and of the background.

    Returns
    -------
    Match
        The statistic D (largest gap between the two empirical distribution functions)
        and its asymptotic p-value.
    """
    from scipy.stats import kstwobign

    target = np.asarray(target, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    if len(target) == 0 or len(background) == 0:
        return Match(float("nan"), float("nan"), target, background)
    a, b = np.sort(target), np.sort(background)
    values = np.concatenate([a, b])
    gap = np.abs(np.searchsorted(a, values, side="right") / len(a) - np.searchsorted(b, values, side="right") / len(b))
    statistic = float(gap.max())
    effective = len(a) * len(b) / (len(a) + len(b))
    pvalue = float(min(1.0, kstwobign.sf(statistic * np.sqrt(effective))))
    return Match(statistic, pvalue, target, background)


def plot_match(matches: Mapping[str, tuple[str, Match]], stem: str | os.PathLike, bins: int = 20) -> None:
    """GC histograms of each background class and the class it matches, one panel each.

    Parameters
    ----------
    matches : mapping of str to (str, Match)
        Background class -> (matched class, match).
    stem : path
        Output path without extension (a PNG is written).
    bins : int
        Histogram bins. Default is 20.
    """
    from lociflow.report import new_figure, save_figure

    fig = new_figure(4.5 * len(matches), 3.5)
    axes = fig.subplots(1, len(matches), squeeze=False)[0]
    edges = np.linspace(0, 1, bins + 1)
    for ax, (name, (like, match)) in zip(axes, matches.items()):
        ax.hist(match.target_gc, bins=edges, density=True, alpha=0.5, label=like)
        ax.hist(match.background_gc, bins=edges, density=True, alpha=0.5, label=name)
        ax.set_xlabel("GC fraction of the window")
        ax.set_ylabel("density")
        ax.set_title(f"{name} vs {like}: KS D = {match.statistic:.3f}", fontsize=9)
        ax.legend(fontsize=8)
    save_figure(fig, stem, formats=("png",))
