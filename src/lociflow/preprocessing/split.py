"""Balancing classes and dividing loci into train/valid/test/blackbox splits.

Everything here works on label and coordinate arrays only, so it runs before any
sequence is extracted or folded: loci that are reduced away cost nothing.

Two defects of the tool lociflow replaces are pinned by tests of this module: its
"random" split never shuffled (splits were contiguous genomic blocks), and reducing a
class to at least its size silently dropped one row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lociflow.errors import LociflowError
from lociflow.layout import SPLITS

log = logging.getLogger("lociflow.preprocess.split")


def check_classes_not_empty(labels: np.ndarray, class_names: Sequence[str], after: str) -> None:
    """Raise when a class has no loci left, naming the class and the step that emptied it.

    Parameters
    ----------
    labels : numpy.ndarray
        The class index of each remaining locus.
    class_names : sequence of str
        The classes in label order.
    after : str
        The step, for the message (e.g. ``"after placing windows"``).

    Raises
    ------
    LociflowError
        Naming the first empty class, every class's count and what to check.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(class_names))
    empty = [name for name, count in zip(class_names, counts) if count == 0]
    if empty:
        have = ", ".join(f"{name}: {int(c)}" for name, c in zip(class_names, counts))
        raise LociflowError(
            f"Class {empty[0]!r} has no loci left {after} ({have}). Check its input files, "
            "the chromosome lists of the split, or edge: shift instead of drop."
        )


def reduce_classes(labels: np.ndarray, class_names: Sequence[str], reduce: Mapping[str, float] | None = None,
                   balance: str = "none", rng: np.random.Generator | None = None) -> np.ndarray:
    """Subsample classes; return the indices of the loci kept, in input order.

    ``reduce`` maps a class to a ratio (``<= 1``: keep that fraction) or an absolute count
    (``> 1``: keep that many). A count at or above the class size keeps every locus.
    ``balance="smallest"`` then subsamples every class to the size of the smallest. The
    draw is seeded by ``rng``, and a class is never emptied by rounding.

    Parameters
    ----------
    labels : numpy.ndarray
        The class index of each locus.
    class_names : sequence of str
        The classes in label order.
    reduce : mapping of str to float or None
        Class name -> ratio or count (see above). Default is None (no class reduced).
    balance : str
        ``"none"`` or ``"smallest"``. Default is ``"none"``.
    rng : numpy.random.Generator or None
        Draws the kept loci. Default is None (a generator seeded with 0).

    Returns
    -------
    numpy.ndarray
        The sorted indices of the loci kept.

    Raises
    ------
    LociflowError
        For a ``reduce`` value that is not positive or an unknown ``balance``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    rng = rng if rng is not None else np.random.default_rng(0)
    targets = {}
    for k, name in enumerate(class_names):
        size = int((labels == k).sum())
        value = (reduce or {}).get(name)
        if value is None:
            targets[k] = size
        elif value <= 0:
            raise LociflowError(f"reduce[{name!r}] must be positive (got {value}).")
        elif value <= 1:
            targets[k] = min(size, max(1, int(round(value * size)))) if size else 0
        else:
            if value > size:
                log.info("reduce asks for %d loci of class %r, which has %d: keeping all", int(value), name, size)
            targets[k] = min(size, int(value))
    if balance == "smallest":
        smallest = min(targets.values())
        targets = {k: smallest for k in targets}
    elif balance not in ("none", None):
        raise LociflowError(f"balance must be 'none' or 'smallest' (got {balance!r}).")
    keep = []
    for k, name in enumerate(class_names):
        members = np.flatnonzero(labels == k)
        if targets[k] >= len(members):
            keep.append(members)
        else:
            keep.append(rng.choice(members, size=targets[k], replace=False))
            log.info("class %r reduced from %d to %d loci", name, len(members), targets[k])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def overlap_groups(chroms: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Group ids such that loci whose windows overlap (same chromosome) share a group.

    Overlap is transitive: a chain of overlapping windows is one group. Loci with an
    unknown chromosome (empty string) or coordinates (negative) are groups of their own.

    Parameters
    ----------
    chroms : numpy.ndarray
        The chromosome of each locus (``""`` when unknown).
    starts, ends : numpy.ndarray
        The window coordinates, 0-based half-open (negative when unknown).

    Returns
    -------
    numpy.ndarray
        int64 group id per locus.
    """
    n = len(starts)
    chroms = np.asarray(chroms).astype(str)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    groups = np.arange(n, dtype=np.int64)
    known = (chroms != "") & (starts >= 0)
    idx = np.flatnonzero(known)
    if len(idx) == 0:
        return groups
    _, chrom_ids = np.unique(chroms[idx], return_inverse=True)
    chrom_ids = chrom_ids.reshape(-1)
    sort = np.lexsort((starts[idx], chrom_ids))
    order = idx[sort]
    c = chrom_ids[sort]
    s = starts[order]
    e = ends[order]
    # offsetting each chromosome past the largest end makes one running maximum serve all
    # chromosomes: a window starts a new group when it begins at or after the furthest
    # end seen so far
    offset = c * (int(e.max()) + 1)
    running_end = np.maximum.accumulate(e + offset)
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (s[1:] + offset[1:]) >= running_end[:-1]
    group_ids = np.cumsum(new_group) - 1 + n  # offset keeps them apart from singleton ids
    groups[order] = group_ids
    return groups


def identical_groups(rows: np.ndarray) -> np.ndarray:
    """Group ids such that identical rows share a group (rows of a 2-D array, or scalar keys).

    Used for identical window sequences (rows of ASCII codes, normalised by the caller)
    and identical loci (a key per chromosome, start, end and strand).

    Parameters
    ----------
    rows : numpy.ndarray
        A 2-D array (one row per locus) or a 1-D array of keys.

    Returns
    -------
    numpy.ndarray
        int64 group id per locus.
    """
    rows = np.ascontiguousarray(rows)
    if rows.ndim == 2:
        keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).reshape(-1)
    else:
        keys = rows
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(keys, return_inverse=True)[1].reshape(-1).astype(np.int64)


def merge_groups(*groupings: np.ndarray) -> np.ndarray:
    """Group ids joining any two loci that share a group in any of ``groupings``.

    Joining is transitive (connected components), so a locus identical to one that
    overlaps a third puts all three in one group. A merged group keeps the id its first
    locus has in ``groupings[0]``, so where nothing is joined the ids, and with them a
    seeded split, stay exactly as they were.

    Parameters
    ----------
    *groupings : numpy.ndarray
        Group ids per locus, all of the same length.

    Returns
    -------
    numpy.ndarray
        int64 group id per locus.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(groupings[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sources, targets = [], []
    for groups in groupings:
        _, first, inverse = np.unique(np.asarray(groups), return_index=True, return_inverse=True)
        sources.append(np.arange(n))
        targets.append(first[inverse.reshape(-1)])
    graph = coo_matrix((np.ones(n * len(groupings), dtype=np.int8), (np.concatenate(sources), np.concatenate(targets))),
                       shape=(n, n))
    components = connected_components(graph, directed=False)[1]
    _, first = np.unique(components, return_index=True)
    return np.asarray(groupings[0], dtype=np.int64)[first][components]


def repeats(groups: np.ndarray) -> np.ndarray:
    """Whether each locus repeats an earlier one of its group (the first of a group is not a repeat).

    Parameters
    ----------
    groups : numpy.ndarray
        Group id per locus.

    Returns
    -------
    numpy.ndarray
        bool per locus.
    """
    seen = np.zeros(len(groups), dtype=bool)
    if len(groups):
        _, first = np.unique(groups, return_index=True)
        seen[first] = True
    return ~seen


def random_split(labels: np.ndarray, ratios: Mapping[str, float], rng: np.random.Generator,
                 groups: np.ndarray | None = None) -> np.ndarray:
    """Assign each locus to a split at random, stratified by class; return split indices.

    Groups (see :func:`overlap_groups`) stay whole, so overlapping windows never land in
    two splits. Each group counts for the class of its first locus; within a class the
    groups are shuffled with ``rng`` and cut at the cumulative ratios, so every split
    holds close to its share of every class.

    Parameters
    ----------
    labels : numpy.ndarray
        The class index of each locus.
    ratios : mapping of str to float
        Split name -> share (negative read as 0; missing splits get none).
    rng : numpy.random.Generator
        Shuffles the groups.
    groups : numpy.ndarray or None
        Group id per locus. Default is None (every locus its own group).

    Returns
    -------
    numpy.ndarray
        int8 per locus: the position of its split in :data:`SPLITS`.

    Raises
    ------
    LociflowError
        When every ratio is zero.
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    groups = np.arange(n) if groups is None else np.asarray(groups)
    weights = np.array([max(0.0, float(ratios.get(name, 0.0))) for name in SPLITS])
    if weights.sum() <= 0:
        raise LociflowError("Split ratios are all zero: give at least one positive ratio.")
    cumulative = np.cumsum(weights / weights.sum())
    unique_groups, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    sizes = np.bincount(inverse.reshape(-1), minlength=len(unique_groups))
    group_class = labels[first]
    group_split = np.zeros(len(unique_groups), dtype=np.int8)
    for k in np.unique(group_class):
        members = np.flatnonzero(group_class == k)
        members = members[rng.permutation(len(members))]
        total = sizes[members].sum()
        # a group goes to the split in which its middle falls
        middle = (np.cumsum(sizes[members]) - sizes[members] / 2.0) / total
        group_split[members] = np.minimum(np.searchsorted(cumulative, middle, side="right"), len(SPLITS) - 1)
    return group_split[inverse.reshape(-1)]


@dataclass
class ChromosomeSplit:
    """Result of :func:`chromosome_split`: split index per locus (-1: unassigned)."""

    split: np.ndarray
    unassigned: dict[str, int]

    @property
    def n_unassigned(self) -> int:
        return int(sum(self.unassigned.values()))


def chromosome_split(chroms: np.ndarray, lists: Mapping[str, Sequence[str]]) -> ChromosomeSplit:
    """Assign loci to splits by chromosome lists; loci on other chromosomes get -1.

    The unassigned chromosomes and their locus counts are returned (and logged as a
    warning) so that a forgotten chromosome is noticed rather than silently lost.

    Parameters
    ----------
    chroms : numpy.ndarray
        The chromosome of each locus.
    lists : mapping of str to sequence of str
        Split name -> its chromosomes.

    Returns
    -------
    ChromosomeSplit
        The split index per locus (-1: unassigned) and the unassigned chromosomes' counts.

    Raises
    ------
    LociflowError
        When the input has no chromosome names at all (FASTA without GraphProt headers).
    """
    chroms = np.asarray(chroms).astype(str)
    if len(chroms) and np.all(chroms == ""):
        raise LociflowError(
            "split method 'chromosome' needs chromosome names, but the input has none "
            "(FASTA records without 'ID;chrom,start,end,strand' headers). Use method: random."
        )
    split = np.full(len(chroms), -1, dtype=np.int8)
    for position, name in enumerate(SPLITS):
        names = list(lists.get(name) or [])
        if names:
            split[np.isin(chroms, names)] = position
    left, counts = np.unique(chroms[split < 0], return_counts=True)
    unassigned = {str(c): int(k) for c, k in zip(left, counts)}
    if unassigned:
        shown = ", ".join(f"{c} ({k})" for c, k in list(unassigned.items())[:10])
        more = f" and {len(unassigned) - 10} more" if len(unassigned) > 10 else ""
        log.warning("%d loci on chromosomes in no split list are dropped: %s%s",
                    sum(unassigned.values()), shown, more)
    return ChromosomeSplit(split=split, unassigned=unassigned)


def order_within_splits(split: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Locus indices per split name, each in a seeded random order (empty splits left out).

    Parameters
    ----------
    split : numpy.ndarray
        The split index of each locus (a position in :data:`SPLITS`).
    rng : numpy.random.Generator
        Draws the orders.

    Returns
    -------
    dict of str to numpy.ndarray
        Split name -> locus indices, in :data:`SPLITS` order.
    """
    out = {}
    for position, name in enumerate(SPLITS):
        members = np.flatnonzero(split == position)
        if len(members):
            out[name] = members[rng.permutation(len(members))]
    return out
