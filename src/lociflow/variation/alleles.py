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
    if not variants:
        return []
    chroms = np.array([v.chrom for v in variants], dtype=object)
    p0 = np.array([v.pos - 1 for v in variants], dtype=np.int64)
    lengths = np.array([len(v.ref) for v in variants], dtype=np.int64)
    sizes = np.array([genome.chrom_sizes[c] for c in chroms], dtype=np.int64)
    beyond = p0 + lengths > sizes
    held: dict[int, str] = {int(i): f"beyond the end of {chroms[i]} (length {sizes[i]})" for i in np.flatnonzero(beyond)}
    # one vectorised fetch per REF length: a VCF has few distinct lengths
    for length in np.unique(lengths[~beyond]):
        rows = np.flatnonzero((lengths == length) & ~beyond)
        codes = genome.fetch(chroms[rows], p0[rows], int(length))
        upper = np.where((codes >= 97) & (codes <= 122), codes - 32, codes).astype(np.uint8)
        given = np.frombuffer("".join(variants[i].ref for i in rows).encode("ascii"), dtype=np.uint8)
        given = given.reshape(len(rows), int(length))
        bad = ((upper != given) & (given != ord("N"))).any(axis=1)
        for row in np.flatnonzero(bad):
            held[int(rows[row])] = upper[row].tobytes().decode("latin-1")
    return sorted(held.items())


def _indel_flanks(p0: np.ndarray, ref_len: np.ndarray, alt_len: np.ndarray, sizes: np.ndarray,
                  window: int) -> tuple[np.ndarray, np.ndarray]:
    """Left and right flank lengths of alternative windows, ALT centred, shifted inside the chromosome."""
    left = -((alt_len - window) // 2)  # ceil((window - len(ALT)) / 2)
    right = window - alt_len - left
    low = p0 - left < 0  # shift inside the chromosome, as predict shifts windows
    left = np.where(low, p0, left)
    right = np.where(low, window - alt_len - left, right)
    high = p0 + ref_len + right > sizes
    right = np.where(high, sizes - p0 - ref_len, right)
    left = np.where(high, window - alt_len - right, left)
    return left, right


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
    alt_len = np.array([len(variants[i].alt) for i in keep], dtype=np.int64)
    same = alt_len == ref_len
    for row in np.flatnonzero(same):  # SNV or MNP: every flanking base stays where it was
        v = variants[keep[row]]
        alt[row, offsets[row]:offsets[row] + len(v.alt)] = np.frombuffer(v.alt.encode("ascii"), dtype=np.uint8)
    indels = np.flatnonzero(~same)
    if len(indels):
        left, right = _indel_flanks(p0[indels], ref_len[indels], alt_len[indels], sizes[indels], window)
        stretch = left + ref_len[indels] + right  # the genome the window's flanks come from, REF included
        for length in np.unique(stretch):  # one vectorised fetch per stretch length
            group = np.flatnonzero(stretch == length)
            rows = indels[group]
            codes = genome.fetch(chroms[rows], p0[rows] - left[group], int(length))
            for k, row in enumerate(rows):
                v, lo = variants[keep[row]], int(left[group[k]])
                alt[row] = np.concatenate([codes[k, :lo], np.frombuffer(v.alt.encode("ascii"), dtype=np.uint8),
                                           codes[k, lo + len(v.ref):]])
                alt_offsets[row] = lo
    return AlleleWindows(index, ref, alt, starts, offsets, alt_offsets, skipped)
