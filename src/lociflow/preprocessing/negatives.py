"""Classes made from another class: shuffles, GC-matched genomic background, flanks.

``preprocess.classes.<name>: {from: shuffle | genome | flanks, like: <class>, ...}``
(see :class:`~lociflow.config.ShuffleClass` and its siblings). Each maker takes the
loci already read and returns the new class's loci with, per locus, the index of the
locus it was made from (its *family*; -1 for none). The split keeps a family in one
split, so a shuffle is never tested while its source is trained on.

- shuffles keep the source's coordinates and strand (so a chromosome split puts them
  beside their source too) and carry their own window codes;
- genomic background and flanks are ordinary genomic loci, which every branch
  (tracks included) can read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lociflow.config_sources import FlanksClass, GenomeClass, GenomicClass, ShuffleClass
from lociflow.errors import LociflowError
from lociflow.io.fasta import Genome
from lociflow.preprocessing.background import (
    Features,
    Match,
    Regions,
    candidates,
    gc_match,
    sample_matched,
    window_features,
)
from lociflow.preprocessing.loci import Loci, window_loci
from lociflow.preprocessing.shuffle import kmer_shuffle_codes

log = logging.getLogger("lociflow.preprocess.negatives")

SHUFFLE_CHUNK = 20_000
#: a shuffle is named ``<source name>~shuffle<i>``, which lets a re-split find its source again
SHUFFLE_MARK = "~shuffle"
FETCH_CHUNK = 100_000
FEATURE_CHUNK = 4_096


@dataclass
class Made:
    """A generated class: its loci, each one's source locus (-1: none) and, for from: genome, the match."""

    loci: Loci
    family: np.ndarray
    match: Match | None = None
    notes: dict[str, int] = field(default_factory=dict)


def with_codes(loci: Loci, genome: Genome | None, window: int) -> Loci:
    """The same loci carrying their window codes.

    Parameters
    ----------
    loci : Loci
        Loci with or without codes.
    genome : Genome or None
        Where genomic loci's windows are fetched from (genome orientation).
    window : int
        Window length.

    Returns
    -------
    Loci
        ``loci`` itself when it has codes, else a copy with them.
    """
    if loci.codes is not None:
        return loci
    if genome is None:
        raise LociflowError("Shuffling BED loci needs their sequence: give genome: genome.fa.")
    chrom = loci.meta["chrom"].to_numpy(object)
    start = loci.meta["start"].to_numpy(np.int64)
    codes = np.empty((len(loci), window), dtype=np.uint8)
    for first in range(0, len(loci), FETCH_CHUNK):
        codes[first:first + FETCH_CHUNK] = genome.fetch(chrom[first:first + FETCH_CHUNK],
                                                         start[first:first + FETCH_CHUNK], window)
    return Loci(loci.meta, codes, loci.genomic, loci.counts)


def loci_features(loci: Loci, genome: Genome, window: int, repeats: bool = True) -> Features:
    """GC, repeat and N fractions of the loci's windows, fetched a few thousand at a time.

    Parameters
    ----------
    loci : Loci
        Genomic loci (their codes are used when they carry them).
    genome : Genome
        The reference.
    window : int
        Window length.
    repeats : bool
        Count soft-masked letters too. Default is True.

    Returns
    -------
    Features
    """
    if loci.codes is not None:
        return window_features(loci.codes, repeats)
    chrom = loci.meta["chrom"].to_numpy(object)
    start = loci.meta["start"].to_numpy(np.int64)
    parts = []
    for first in range(0, len(loci), FEATURE_CHUNK):
        codes = genome.fetch(chrom[first:first + FEATURE_CHUNK], start[first:first + FEATURE_CHUNK], window)
        parts.append(window_features(codes, repeats))
        genome.release()  # windows spread over the genome touch a page each: do not keep them all
    if not parts:
        return window_features(np.zeros((0, window), np.uint8))
    return Features(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("gc", "repeats", "n")))


def copies(n_source: int, n_target: int, rng: np.random.Generator) -> np.ndarray:
    """Which source each made locus comes from: every source equally often, the remainder drawn.

    Parameters
    ----------
    n_source : int
        Loci of the named class.
    n_target : int
        Loci to make.
    rng : numpy.random.Generator
        Draws the sources of the remainder.

    Returns
    -------
    numpy.ndarray
        int64 ``[n_target]`` source indices, sorted.
    """
    if n_source == 0:
        return np.zeros(0, dtype=np.int64)
    base, extra = divmod(n_target, n_source)
    index = np.repeat(np.arange(n_source, dtype=np.int64), base)
    if extra:
        index = np.concatenate([index, rng.choice(n_source, size=extra, replace=False)])
    return np.sort(index, kind="stable")


def shuffled(spec: ShuffleClass, name: str, source: Loci, source_index: np.ndarray,
             rng: np.random.Generator) -> Made:
    """k-mer shuffles of the windows of the named class.

    Parameters
    ----------
    spec : ShuffleClass
        The class's ``from: shuffle`` section (kmer, ratio or count).
    name : str
        The class's name.
    source : Loci
        The named class's loci, carrying codes (see :func:`with_codes`).
    source_index : numpy.ndarray
        Each source locus's position among all loci, for the family.
    rng : numpy.random.Generator
        The class's random generator.

    Returns
    -------
    Made
        Shuffles named ``<source>~shuffle<i>``, with the source's coordinates and strand.
    """
    pick = copies(len(source), spec.target(len(source)), rng)
    codes = np.empty((len(pick), source.codes.shape[1]), dtype=np.uint8)
    for first in range(0, len(pick), SHUFFLE_CHUNK):
        rows = pick[first:first + SHUFFLE_CHUNK]
        codes[first:first + len(rows)] = kmer_shuffle_codes(source.codes[rows], spec.kmer, rng)
    meta = source.meta.iloc[pick].reset_index(drop=True)
    copy_number = np.concatenate([np.arange(c) for c in np.bincount(pick, minlength=len(source))]) if len(pick) else pick
    meta["name"] = (meta["name"].astype(str) + SHUFFLE_MARK + (copy_number + 1).astype(str)).to_numpy(object)
    meta["source"] = f"shuffle (k={spec.kmer}) of {spec.like}"
    return Made(Loci(meta, codes, source.genomic, {}), source_index[pick])


def families_from_names(names: np.ndarray) -> np.ndarray:
    """Per locus, the index of the locus a shuffle was made from (found by name), else -1.

    Parameters
    ----------
    names : numpy.ndarray
        The loci's names, as a dataset's ``meta.tsv.gz`` holds them.

    Returns
    -------
    numpy.ndarray
        int64 per locus; a re-split passes it on so that shuffles stay with their source.
    """
    names = pd.Series(np.asarray(names, dtype=object)).astype(str)
    made = names.str.contains(SHUFFLE_MARK, regex=False)
    family = np.full(len(names), -1, dtype=np.int64)
    if made.any():
        first = pd.Series(np.arange(len(names)), index=names)
        first = first[~first.index.duplicated()]
        sources = names[made].str.rsplit(SHUFFLE_MARK, n=1).str[0]
        family[made.to_numpy()] = sources.map(first).fillna(-1).to_numpy(np.int64)
    return family


def excluded_regions(spec: GenomicClass, loci: Loci) -> Regions:
    """The regions a genomic background may not overlap.

    Parameters
    ----------
    spec : GenomicClass
        The class's section (``margin``, ``exclude``).
    loci : Loci
        Every locus of every class read from files.

    Returns
    -------
    Regions
        Each locus's window and given interval, widened by the margin, and the exclude BEDs.
    """
    regions = Regions()
    meta = loci.meta
    chrom = meta["chrom"].to_numpy(object)
    for start, end in (("start", "end"), ("orig_start", "orig_end")):
        regions.add(chrom, meta[start].to_numpy(np.int64), meta[end].to_numpy(np.int64), spec.margin)
    for path in spec.exclude:
        regions.add_bed(path)
    return regions


def _names(chrom: np.ndarray, start: np.ndarray, window: int) -> np.ndarray:
    """``chrom:start-end`` per window (a Python loop: numpy's string arithmetic is slower)."""
    return np.array([f"{c}:{s}-{s + window}" for c, s in zip(chrom.tolist(), start.tolist())], dtype=object)


def _require_genomic(spec: GenomicClass, name: str, like: Loci, genome: Genome | None) -> Genome:
    if genome is None or not like.genomic:
        raise LociflowError(
            f"classes.{name} (from: {spec.from_}) draws windows from the genome beside the loci of {spec.like!r}, "
            f"which must be BED/narrowPeak loci with a genome (FASTA records have no place in it). Use from: shuffle "
            "for FASTA input.")
    return genome


def genomic_background(spec: GenomeClass, name: str, like: Loci, every: Loci, genome: Genome | None,
                       window: int, rng: np.random.Generator) -> Made:
    """Windows from the genome matched to ``like``'s GC (and repeat, N) distribution.

    Parameters
    ----------
    spec : the class's ``from: genome`` section.
    name : the class's name, for messages.
    like : the loci of the class it matches.
    every : the loci of every class read from files (none may be overlapped).
    genome : the reference genome.
    window : window length.
    rng : the class's random generator.

    Returns
    -------
    Made
        With the match of the GC distributions.
    """
    genome = _require_genomic(spec, name, like, genome)
    target = loci_features(like, genome, window, repeats="repeats" in spec.match)
    chroms = [str(c) for c in pd.unique(like.meta["chrom"].to_numpy(object))]
    pool = candidates(genome, chroms, window, excluded_regions(spec, every), "n" in spec.match, rng,
                      repeats="repeats" in spec.match)
    chosen = sample_matched(pool, target, spec.target(len(like)), spec.match, spec.bins, rng)
    chrom = np.asarray(pool.names, dtype=object)[pool.chrom[chosen]]
    start = pool.start[chosen]
    loci = window_loci(_names(chrom, start, window), f"genome background matched to {spec.like}", chrom, start,
                       window)
    match = gc_match(target.gc, pool.features.gc[chosen])
    return Made(loci, np.full(len(loci), -1, dtype=np.int64), match)


def flanks(spec: FlanksClass, name: str, like: Loci, like_index: np.ndarray, every: Loci, genome: Genome | None,
           window: int, rng: np.random.Generator) -> Made:
    """Windows ``spec.distance`` nt to the left and right of each locus of ``like``.

    Flanks that leave their chromosome, overlap any class's locus or an excluded region,
    or hold an N are left out; of the rest, ``spec.target`` are drawn (seeded), each kept
    in the split of the locus it flanks.

    Parameters
    ----------
    spec : FlanksClass
        The class's ``from: flanks`` section.
    name : str
        The class's name, for messages.
    like : Loci
        The loci of the named class.
    like_index : numpy.ndarray
        Their positions among all loci, for the family.
    every : Loci
        The loci of every class read from files (none may be overlapped).
    genome : Genome or None
        The reference genome.
    window : int
        Window length.
    rng : numpy.random.Generator
        The class's random generator.

    Returns
    -------
    Made
    """
    genome = _require_genomic(spec, name, like, genome)
    meta = like.meta
    chrom = meta["chrom"].to_numpy(object)
    low = np.minimum(meta["start"].to_numpy(np.int64), meta["orig_start"].to_numpy(np.int64))
    high = np.maximum(meta["end"].to_numpy(np.int64), meta["orig_end"].to_numpy(np.int64))
    sizes = np.array([genome.chrom_sizes[c] for c in chrom], dtype=np.int64)
    starts = np.concatenate([low - spec.distance - window, high + spec.distance])
    chroms = np.concatenate([chrom, chrom])
    family = np.concatenate([like_index, like_index])
    inside = (starts >= 0) & (starts + window <= np.concatenate([sizes, sizes]))
    regions = excluded_regions(spec, every)
    free = inside.copy()
    for c in np.unique(chroms[inside].astype(str)):
        on = inside & (chroms == c)
        free[on] = ~regions.overlaps(c, starts[on], window)
    index = np.flatnonzero(free)
    codes = genome.fetch(chroms[index], starts[index], window) if len(index) else np.zeros((0, window), np.uint8)
    index = index[window_features(codes).n == 0]
    if len(index):  # one flank per position, the first locus's
        chrom_ids = np.unique(chroms[index].astype(str), return_inverse=True)[1].reshape(-1)
        _, unique = np.unique(np.stack([chrom_ids, starts[index]]), axis=1, return_index=True)
        index = np.sort(index[unique])
    wanted = spec.target(len(like))
    if wanted > len(index):
        log.warning("classes.%s: %d flanks were asked for but only %d are free of loci, excluded regions and N; "
                    "keeping those", name, wanted, len(index))
        wanted = len(index)
    chosen = np.sort(rng.choice(index, size=wanted, replace=False)) if wanted else index[:0]
    loci = window_loci(_names(chroms[chosen], starts[chosen], window), f"flanks of {spec.like} at {spec.distance} nt", chroms[chosen], starts[chosen], window)
    return Made(loci, family[chosen])
