"""Duplicates: loci with the same content must share a split, and are counted.

Identical records in train and test make a test score a memory test. Overlapping windows
were always kept in one split; here the same is done for identical loci (chromosome,
start, end, strand) and for identical window sequences as the model sees them (case
ignored, U read as T, minus-strand windows reverse-complemented), read from the records of
FASTA input or from the genome for BED input. The summary counts them (``duplicates``) and
FASTA identifiers used twice (``duplicate_ids``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from lociflow.preprocessing.loci import Loci
from lociflow.preprocessing.split import identical_groups, merge_groups, repeats

log = logging.getLogger("lociflow.preprocess.duplicates")


def same_content(loci: Loci, genome=None, window: int = 0, strand: bool = True, chunk: int = 20_000) -> np.ndarray:
    """Group ids of loci with the same content, which must share a split.

    Identical window sequences (case ignored and U read as T, as the encoder does) always;
    for BED input also identical coordinates and strand, and the windows' sequences are
    read from ``genome`` (oriented as the model will see them) when it is given.

    Parameters
    ----------
    loci : Loci
        The loci; those with ``codes`` (FASTA, text) are compared by sequence.
    genome : Genome, optional
        The reference, for the window sequences of BED loci. Default is None (coordinates only).
    window : int
        Window length read from the genome. Default is 0.
    strand : bool
        Reverse-complement minus-strand windows, as the encoder does. Default is True.
    chunk : int
        Loci whose windows are read at a time (bounds memory). Default is 20,000.

    Returns
    -------
    numpy.ndarray
        One int64 group id per locus; equal ids must share a split.
    """
    if loci.codes is not None:
        return identical_groups(_same_letters(np.asarray(loci.codes, dtype=np.uint8)))
    meta = loci.meta
    columns = ["orig_chrom", "orig_start", "orig_end", "strand"]
    coordinates = meta.groupby(columns, sort=False, dropna=False).ngroup().to_numpy(np.int64)
    if genome is None or len(meta) == 0:
        return coordinates
    hashes = np.empty(len(meta), dtype=np.uint64)
    chroms, starts = meta["chrom"].to_numpy(object), meta["start"].to_numpy(np.int64)
    minus = (meta["strand"] == "-").to_numpy() if strand else np.zeros(len(meta), dtype=bool)
    for first in range(0, len(meta), chunk):
        rows = slice(first, first + chunk)
        codes = _same_letters(genome.fetch(chroms[rows], starts[rows], window))
        if minus[rows].any():
            from lociflow.preprocessing.encode import reverse_complement_codes

            codes[minus[rows]] = reverse_complement_codes(codes[minus[rows]])
        hashes[rows] = row_hashes(codes)
    return merge_groups(coordinates, identical_groups(hashes))


def _same_letters(codes: np.ndarray) -> np.ndarray:
    """ASCII codes in upper case with U as T: the letters the encoder tells apart."""
    return np.frombuffer(codes.tobytes().upper().replace(b"U", b"T"), dtype=np.uint8).reshape(codes.shape).copy()


def row_hashes(codes: np.ndarray) -> np.ndarray:
    """A 64-bit FNV-1a hash per row of a uint8 array, vectorised over rows (8 bytes per step).

    Two different windows share a hash with a chance of about one in 10**19 per pair; a
    collision would only keep two loci in one split.

    Parameters
    ----------
    codes : numpy.ndarray
        ``[N, L]`` uint8 (ASCII letters).

    Returns
    -------
    numpy.ndarray
        ``[N]`` uint64 hashes.
    """
    n, length = codes.shape
    padded = np.zeros((n, length + (-length) % 8), dtype=np.uint8)
    padded[:, :length] = codes
    words = padded.view(np.uint64)
    hashes = np.full(n, 0xCBF29CE484222325, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    for column in range(words.shape[1]):
        hashes = (hashes ^ words[:, column]) * prime
    return hashes


def count_duplicates(same: np.ndarray, labels: np.ndarray, table: pd.DataFrame, what: str) -> None:
    """Add the ``duplicates`` column (loci repeating an earlier one) to ``table`` and log them.

    Loci of one content group in different classes get their own warning: a model cannot
    tell them apart, whatever it learns.

    Parameters
    ----------
    same : numpy.ndarray
        Content group ids (see :func:`same_content`).
    labels : numpy.ndarray
        The class index of each locus.
    table : pandas.DataFrame
        The per-class counts table, changed in place.
    what : str
        What a duplicate is, for the log (e.g. ``"identical loci"``).
    """
    repeated = repeats(same)
    table["duplicates"] = np.bincount(labels[repeated], minlength=len(table))
    if not repeated.any():
        return
    classes_per_group = pd.Series(labels).groupby(same).nunique()
    conflicting = int((classes_per_group > 1).sum())
    log.warning("%d loci are %s of an earlier locus (%s); a random split keeps each set in one split, so that "
                "none is both trained and tested on", int(repeated.sum()), what,
                ", ".join(f"{c}: {n}" for c, n in zip(table["class"], table["duplicates"])))
    if conflicting:
        log.warning("%d sets of %s belong to more than one class: no model can tell those loci apart", conflicting, what)


def count_duplicate_ids(names: np.ndarray, labels: np.ndarray, table: pd.DataFrame) -> None:
    """Add the ``duplicate_ids`` column (records whose identifier an earlier record has) and log a few.

    Parameters
    ----------
    names : numpy.ndarray
        The record identifier of each locus.
    labels : numpy.ndarray
        The class index of each locus.
    table : pandas.DataFrame
        The per-class counts table, changed in place.
    """
    repeated = pd.Series(names).duplicated().to_numpy()
    table["duplicate_ids"] = np.bincount(labels[repeated], minlength=len(table))
    if repeated.any():
        shown = list(dict.fromkeys(names[repeated]))
        log.warning("%d FASTA records repeat the identifier of an earlier record, e.g. %s%s; names in the "
                    "predictions will not be unique", int(repeated.sum()), ", ".join(map(repr, shown[:5])),
                    f" ({len(shown)} identifiers in all)" if len(shown) > 5 else "")


def pooled_same_content(pooled: dict[str, Any], genomic: bool, chunk: int = 50_000) -> np.ndarray | None:
    """Group ids of identical loci and identical one-hot windows of a pooled dataset.

    Identical loci are BED loci with the same coordinates and strand; a new split (see
    :mod:`lociflow.preprocessing.resplit`) keeps each group together as the first one did.

    Parameters
    ----------
    pooled : dict
        The pooled dataset: ``meta`` (a DataFrame) and ``inputs`` (one dict of branch arrays
        per source split).
    genomic : bool
        Whether the dataset was made from BED (coordinates are compared too).
    chunk : int
        Windows compared at a time. Default is 50,000.

    Returns
    -------
    numpy.ndarray or None
        One int64 group id per locus, or None when there is nothing to compare.
    """
    meta = pooled["meta"]
    groupings = []
    if genomic and {"orig_chrom", "orig_start", "orig_end", "strand"} <= set(meta.columns):
        groupings.append(meta.groupby(["orig_chrom", "orig_start", "orig_end", "strand"], sort=False,
                                      dropna=False).ngroup().to_numpy(np.int64))
    if "seq" in pooled["inputs"][0]:
        keys: list[bytes] = []
        for arrays in pooled["inputs"]:
            seq = arrays["seq"]
            for first in range(0, len(seq), chunk):
                block = np.asarray(seq[first:first + chunk]) != 0
                keys.extend(row.tobytes() for row in np.packbits(block.reshape(len(block), -1), axis=1))
        groupings.append(pd.factorize(pd.Series(keys, dtype=object))[0].astype(np.int64))
    if not groupings:
        return None
    return merge_groups(*groupings) if len(groupings) > 1 else groupings[0]
