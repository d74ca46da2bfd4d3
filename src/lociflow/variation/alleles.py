"""The two windows of a variant: the reference and the alternative allele, each centred.

A model reads windows of exactly ``window`` nt, but an indel changes the length of the
sequence. Both alleles are therefore compared at the model's window length, each
centred in its own window: the reference window is the one ``lociflow predict`` places
on the interval of the REF allele (``POS - 1`` to ``POS - 1 + len(REF)``, centre
placement), and the alternative window holds the ALT allele at its centre with the
genome's flanks on both sides, the left flank ``ceil((window - len(ALT)) / 2)`` nt, the
right flank the rest. An insertion thus pushes both flanks outwards by half its length,
a deletion pulls half the length of extra genome in from each side; an SNV or MNP keeps
every flanking base in place. At a chromosome end both windows are shifted inside the
chromosome (as predict shifts windows), and the row's warning says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lociflow.io.fasta import Genome
from lociflow.io.vcf import Variant

__all__ = ["AlleleWindows", "allele_windows", "ref_mismatches"]


@dataclass
class AlleleWindows:
    """Windows of the variants that could be placed, with where they lie.

    Attributes
    ----------
    index : numpy.ndarray
        int64 ``[M]``: the position in the given variant list of each placed variant.
    ref, alt : numpy.ndarray
        uint8 ``[M, window]`` ASCII codes of the reference and alternative windows.
    starts : numpy.ndarray
        int64 ``[M]``: 0-based genome start of each reference window.
    offsets : numpy.ndarray
        int64 ``[M]``: where the variant's first base lies in the reference window.
    alt_offsets : numpy.ndarray
        int64 ``[M]``: where the ALT allele's first base lies in the alternative window.
    skipped : dict of str to int
        Variants not placed, by reason (``longer_than_window``, ``short_chromosome``).
    """

    index: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    starts: np.ndarray
    offsets: np.ndarray
    alt_offsets: np.ndarray
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def subset(self, rows: np.ndarray) -> AlleleWindows:
        """The windows at ``rows`` (an index array or a boolean mask), in that order.

        Parameters
        ----------
        rows : numpy.ndarray
            Which of the placed variants to keep.

        Returns
        -------
        AlleleWindows
            With the same ``skipped`` counts.
        """
        return AlleleWindows(self.index[rows], self.ref[rows], self.alt[rows], self.starts[rows],
                             self.offsets[rows], self.alt_offsets[rows], dict(self.skipped))


def ref_mismatches(genome: Genome, variants: Sequence[Variant]) -> list[tuple[int, str]]:
    """The variants whose REF is not what the genome holds at their position.

    An ``N`` in REF matches any base; case is ignored. A REF running past the end of its
    chromosome is a mismatch too.

    Parameters
    ----------
    genome : Genome
        The reference genome; every variant's chromosome must be in it.
    variants : sequence of Variant
        The variants to check.

    Returns
    -------
    list of (int, str)
        The position in ``variants`` of each mismatching variant and what the genome holds
        there (or why nothing could be read).
    """
    found = []
    for i, variant in enumerate(variants):
        size = genome.chrom_sizes[variant.chrom]
        p0 = variant.pos - 1
        if p0 + len(variant.ref) > size:
            found.append((i, f"beyond the end of {variant.chrom} (length {size})"))
            continue
        held = genome.sequence(variant.chrom, p0, p0 + len(variant.ref)).upper()
        if any(r != g and r != "N" for r, g in zip(variant.ref, held)):
            found.append((i, held))
    return found


def _fetch(genome: Genome, chrom: str, start: int, length: int) -> np.ndarray:
    if length <= 0:
        return np.zeros(0, dtype=np.uint8)
    return genome.fetch(np.array([chrom], dtype=object), np.array([start], dtype=np.int64), length)[0]


def _alt_window(genome: Genome, variant: Variant, window: int, size: int) -> tuple[np.ndarray, int]:
    """The alternative window (ASCII codes) and where ALT starts in it."""
    p0, r, a = variant.pos - 1, len(variant.ref), len(variant.alt)
    left = -((a - window) // 2)  # ceil((window - a) / 2)
    right = window - a - left
    if p0 - left < 0:  # shift inside the chromosome, as predict shifts windows
        left = p0
        right = window - a - left
    if p0 + r + right > size:
        right = size - p0 - r
        left = window - a - right
    codes = np.concatenate([_fetch(genome, variant.chrom, p0 - left, left),
                            np.frombuffer(variant.alt.encode("ascii"), dtype=np.uint8),
                            _fetch(genome, variant.chrom, p0 + r, right)])
    return codes, left


def allele_windows(genome: Genome, variants: Sequence[Variant], window: int) -> AlleleWindows:
    """Reference and alternative windows of ``window`` nt for each variant (see the module).

    Parameters
    ----------
    genome : Genome
        The reference genome; every variant's chromosome must be in it and its REF checked
        (:func:`ref_mismatches`).
    variants : sequence of Variant
        The variants, in input order.
    window : int
        The model's window length.

    Returns
    -------
    AlleleWindows
        One row per variant that fits; a variant with an allele longer than the window,
        or on a chromosome shorter than the window, is counted in ``skipped`` instead.
    """
    skipped = {"longer_than_window": 0, "short_chromosome": 0}
    keep = []
    for i, v in enumerate(variants):
        if max(len(v.ref), len(v.alt)) > window:
            skipped["longer_than_window"] += 1
        elif genome.chrom_sizes[v.chrom] < window + abs(len(v.ref) - len(v.alt)):
            skipped["short_chromosome"] += 1
        else:
            keep.append(i)
    index = np.asarray(keep, dtype=np.int64)
    chroms = np.array([variants[i].chrom for i in keep], dtype=object)
    p0 = np.array([variants[i].pos - 1 for i in keep], dtype=np.int64)
    ref_len = np.array([len(variants[i].ref) for i in keep], dtype=np.int64)
    sizes = np.array([genome.chrom_sizes[c] for c in chroms], dtype=np.int64)
    starts = np.clip(p0 + (ref_len - window) // 2, 0, np.maximum(sizes - window, 0))
    ref = genome.fetch(chroms, starts, window) if keep else np.zeros((0, window), dtype=np.uint8)
    offsets = p0 - starts
    alt = ref.copy()
    alt_offsets = offsets.copy()
    for row, i in enumerate(keep):
        v = variants[i]
        if len(v.ref) == len(v.alt):  # SNV or MNP: every flanking base stays where it was
            alt[row, offsets[row]:offsets[row] + len(v.alt)] = np.frombuffer(v.alt.encode("ascii"), dtype=np.uint8)
        else:
            alt[row], alt_offsets[row] = _alt_window(genome, v, window, int(sizes[row]))
    return AlleleWindows(index, ref, alt, starts, offsets, alt_offsets, skipped)
