"""The ``preprocess`` stage: class files in, a split and encoded dataset directory out.

Order of work, chosen so that nothing is computed for a locus that is not kept:

1. read every class's files into loci with their windows placed (coordinates only for
   BED; window sequences for FASTA), counting shifted and dropped windows;
2. assign chromosome splits (dropping loci on unlisted chromosomes), reduce/balance the
   classes, and draw the random split;
3. encode split by split in chunks (sequence, folding, tracks) straight into
   memory-mapped ``.npy`` files inside the run folder, so a ten-million-locus BED never
   sits in memory as sequences;
4. write labels, metadata, a summary table and, last, ``manifest.json``.

``source`` (``--from``) skips steps 1 and 3: it re-balances and re-splits the arrays of
an existing dataset (see :mod:`lociflow.preprocessing.resplit`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow.config import PreprocessConfig
from lociflow.errors import LociflowError
from lociflow.layout import SPLITS
from lociflow.preprocessing.duplicates import (
    count_duplicate_ids,
    count_duplicates,
    same_content,
)
from lociflow.preprocessing.loci import Loci, iter_loci
from lociflow.preprocessing.split import (
    check_classes_not_empty,
    chromosome_split,
    merge_groups,
    order_within_splits,
    overlap_groups,
    random_split,
    reduce_classes,
)
from lociflow.preprocessing.stream import Encoder, branch_channels
from lociflow.preprocessing.writer import DatasetWriter, summary_table
from lociflow.progress import bar

log = logging.getLogger("lociflow.preprocess.pipeline")

READ_CHUNK = 1_000_000
ENCODE_CHUNK = 20_000
# independent random streams per purpose, so that e.g. changing the placement does not
# change which loci the split draws
STREAM_PLACEMENT, STREAM_REDUCE, STREAM_SPLIT, STREAM_ORDER = range(4)


def rng_for(seed: int, purpose: int) -> np.random.Generator:
    """The seeded random generator of one purpose (placement, reduce, split, order).

    Parameters
    ----------
    seed : int
        The config's ``seed``.
    purpose : int
        One of ``STREAM_PLACEMENT``, ``STREAM_REDUCE``, ``STREAM_SPLIT``, ``STREAM_ORDER``.

    Returns
    -------
    numpy.random.Generator
        A generator seeded with ``[seed, purpose]``.
    """
    return np.random.default_rng([seed, purpose])


def build_dataset(cfg: PreprocessConfig, run) -> None:
    """Everything ``preprocess`` does inside its run folder (see the module docstring).

    Parameters
    ----------
    cfg : PreprocessConfig
        The validated preprocess config.
    run : object
        The open run of :func:`lociflow.runs.open_run`; the dataset is written into
        ``run.path`` and the counts are recorded with ``run.record``.
    """
    class_names = list(cfg.classes)
    loci, labels, table = read_classes(cfg, class_names)
    check_classes_not_empty(labels, class_names, "after placing windows (edge: drop removes loci at chromosome ends)")
    if not loci.genomic:
        _log_fasta_windows(table, cfg.window)
        _validate_sequences(loci, cfg.alphabet)
        count_duplicate_ids(loci.meta["name"].to_numpy(object), labels, table)
    genome = None
    if loci.genomic and cfg.genome is not None:
        from lociflow.io.fasta import Genome

        genome = Genome(cfg.genome, cache_dir=cfg.cache_dir)  # opened from its cache entry: cheap
    same = same_content(loci, genome, cfg.window, cfg.strand)
    count_duplicates(same, labels, table,
                     "identical loci or window sequences" if loci.genomic else "identical window sequences")
    selected, split = select_and_split(cfg, loci.meta, labels, class_names, table, same)
    loci, labels = loci.subset(selected), labels[selected]
    orders = order_within_splits(split, rng_for(cfg.seed, STREAM_ORDER))
    params = cfg.dump()
    channels = branch_channels(params)
    writer = DatasetWriter(run.path, channels, cfg.window, class_names)
    # with folding, the folding bar shows the progress (folding is nearly all of the time)
    progress_bar = bar("Encoding loci", total=len(labels), unit="loci") if "fold" not in cfg.branches else None
    with Encoder(params, workers=cfg.workers, cache_dir=cfg.cache_dir, fold_total=len(labels)) as encoder, \
            contextlib.nullcontext() if progress_bar is None else progress_bar:
        for split_name, order in orders.items():
            part = writer.open_split(split_name, len(order))
            for first in range(0, len(order), ENCODE_CHUNK):
                rows = order[first:first + ENCODE_CHUNK]
                part.write(first, encoder.encode(loci.subset(rows)))
                if progress_bar is not None:
                    progress_bar.update(len(rows))
            part.finish(labels[order], loci.subset(order).meta)
        for column, values in count_splits(labels, split, class_names).items():
            table[column] = values
        if encoder.folder is not None:
            log.info("folding: %d windows folded, %d taken from the cache", encoder.folder.n_folded,
                     encoder.folder.n_cached)
        if encoder.n_ambiguous:
            log.info("%d positions were N or another ambiguity code and are encoded as all zeros",
                     encoder.n_ambiguous)
    finish(run, writer, table, params, input_hash(cfg), source_kind="bed" if loci.genomic else "fasta")


def read_classes(cfg: PreprocessConfig, class_names: list[str]) -> tuple[Loci, np.ndarray, pd.DataFrame]:
    """Read every class's files; return all loci, their labels and the per-class counts table.

    Parameters
    ----------
    cfg : PreprocessConfig
        The preprocess config (its class files, genome, window, placement and edge options).
    class_names : list of str
        The classes in label order.

    Returns
    -------
    loci : Loci
        All loci of all classes, windows placed.
    labels : numpy.ndarray
        The int64 class index of each locus.
    table : pandas.DataFrame
        One row per class: ``loci_in`` and the placement counts (``point_loci``, ``shifted``,
        ``dropped_edge`` for BED; ``padded``, ``trimmed`` for sequences).
    """
    genome = None
    if cfg.genome is not None:
        from lociflow.io.fasta import Genome

        genome = Genome(cfg.genome, cache_dir=cfg.cache_dir)
    rng = rng_for(cfg.seed, STREAM_PLACEMENT)
    parts, labels, rows = [], [], []
    for k, name in enumerate(class_names):
        counts = {"class": name, "loci_in": 0, "point_loci": 0, "shifted": 0, "dropped_edge": 0, "padded": 0,
                  "trimmed": 0}
        for path in cfg.classes[name]:
            for chunk in iter_loci(path, cfg.window, genome=genome, placement=cfg.placement, edge=cfg.edge,
                                   viewpoint=cfg.viewpoint, rng=rng, chunk_size=READ_CHUNK):
                parts.append(chunk)
                labels.append(np.full(len(chunk), k, dtype=np.int64))
                dropped = chunk.counts.get("dropped_edge", 0) + chunk.counts.get("dropped_short_chrom", 0)
                counts["loci_in"] += len(chunk) + dropped
                counts["dropped_edge"] += dropped
                for key in ("point_loci", "shifted", "padded", "trimmed"):
                    counts[key] += chunk.counts.get(key, 0)
        rows.append(counts)
    loci = Loci.concat(parts)
    table = pd.DataFrame(rows)
    if loci.genomic:
        table = table.drop(columns=["padded", "trimmed"])
    else:
        table = table.drop(columns=["point_loci", "shifted", "dropped_edge"])
    for k, name in enumerate(class_names):
        log.info("class %r: %d loci read from %s", name, int(table.loc[k, "loci_in"]),
                 ", ".join(str(p) for p in cfg.classes[name]))
    return loci, np.concatenate(labels) if labels else np.zeros(0, np.int64), table


def _log_fasta_windows(table: pd.DataFrame, window: int) -> None:
    for name, n_in, padded, trimmed in zip(table["class"], table["loci_in"], table["padded"], table["trimmed"]):
        log.info("class %r: %d of %d sequences shorter than %d nt padded with N, %d longer ones trimmed",
                 name, padded, n_in, window, trimmed)
    shares = (table["padded"] / table["loci_in"].clip(lower=1)).round(2)
    if table["padded"].any() and shares.nunique() > 1:
        log.warning("N-padding differs between classes (%s): a model can learn padding instead of biology; "
                    "consider a window no longer than the shortest sequences",
                    ", ".join(f"{c}: {p}" for c, p in zip(table["class"], table["padded"])))


def _validate_sequences(loci: Loci, alphabet: str) -> None:
    """Check every FASTA window for invalid characters now, before anything is written."""
    from lociflow.preprocessing.encode import encode_codes

    names = loci.meta["name"].to_numpy(object)
    for first in range(0, len(loci), ENCODE_CHUNK):
        encode_codes(loci.codes[first:first + ENCODE_CHUNK], alphabet, names=names[first:first + ENCODE_CHUNK])


def select_and_split(cfg: PreprocessConfig, meta: pd.DataFrame, labels: np.ndarray, class_names: list[str],
                     table: pd.DataFrame, same: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Drop unassigned chromosomes, reduce/balance, and split.

    Adds the drop counts (``dropped_unassigned`` for a chromosome split, ``reduced``) to
    ``table``.

    Parameters
    ----------
    cfg : PreprocessConfig
        The preprocess config (its ``split``, ``reduce``, ``balance`` and ``seed``).
    meta : pandas.DataFrame
        The loci's metadata (``chrom``, ``start``, ``end``).
    labels : numpy.ndarray
        The class index of each locus.
    class_names : list of str
        The classes in label order.
    table : pandas.DataFrame
        The per-class counts table, changed in place.
    same : numpy.ndarray or None
        Group ids of identical loci or window sequences (see :func:`same_content`): each
        such group is kept in one split of a random split, as overlapping windows are
        kept; with a chromosome split, groups across splits are only warned about.
        Default is None.

    Returns
    -------
    selected : numpy.ndarray
        The indices of the selected loci (into ``meta``).
    split : numpy.ndarray
        Each selected locus's split index (a position in :data:`~lociflow.layout.SPLITS`).
    """
    candidates = np.arange(len(labels))
    split_all = None
    if cfg.split.method == "chromosome":
        lists = {s: getattr(cfg.split, s) for s in SPLITS}
        assigned = chromosome_split(meta["chrom"].to_numpy(object).astype(str), lists)
        candidates = np.flatnonzero(assigned.split >= 0)
        table["dropped_unassigned"] = np.bincount(labels[assigned.split < 0], minlength=len(class_names))
        check_classes_not_empty(labels[candidates], class_names,
                                "after dropping loci on chromosomes in no split list "
                                f"({', '.join(list(assigned.unassigned)[:5])})")
        split_all = assigned.split
    keep = candidates[reduce_classes(labels[candidates], class_names, cfg.reduce, cfg.balance,
                                     rng_for(cfg.seed, STREAM_REDUCE))]
    table["reduced"] = np.bincount(labels[candidates], minlength=len(class_names)) - \
        np.bincount(labels[keep], minlength=len(class_names))
    if split_all is not None:
        if same is not None:
            _warn_identical_across_splits(same[keep], split_all[keep])
        return keep, split_all[keep]
    chosen = meta.iloc[keep]
    groups = overlap_groups(chosen["chrom"].to_numpy(object).astype(str),
                            _int_or_minus_one(chosen["start"]), _int_or_minus_one(chosen["end"]))
    if same is not None:
        groups = merge_groups(groups, same[keep])
    largest = int(np.bincount(np.unique(groups, return_inverse=True)[1].reshape(-1)).max()) if len(groups) else 0
    if largest > max(10, 0.02 * len(groups)):
        log.warning("overlapping windows chain into a group of %d loci (of %d), which must stay in one split; "
                    "split shares may differ from the ratios. Dense or tiled loci split better by chromosome.",
                    largest, len(groups))
    split = random_split(labels[keep], cfg.split.ratios, rng_for(cfg.seed, STREAM_SPLIT), groups)
    return keep, split


def _warn_identical_across_splits(same: np.ndarray, split: np.ndarray) -> None:
    # a chromosome split is the user's choice of lists, so identical windows on chromosomes
    # of different splits are reported rather than moved
    spread = pd.Series(split).groupby(same).nunique()
    if (spread > 1).any():
        log.warning("%d sets of identical loci or window sequences lie on chromosomes of different splits; "
                    "the test results are optimistic by that much", int((spread > 1).sum()))


def _int_or_minus_one(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").fillna(-1).to_numpy(np.int64)


def count_splits(labels: np.ndarray, split: np.ndarray, class_names: list[str]) -> dict[str, np.ndarray]:
    """Loci per class in each split (blackbox only when used), for the summary table.

    Parameters
    ----------
    labels : numpy.ndarray
        The class index of each locus.
    split : numpy.ndarray
        The split index of each locus.
    class_names : list of str
        The classes in label order.

    Returns
    -------
    dict of str to numpy.ndarray
        Per split name, the number of loci of each class.
    """
    out = {}
    for position, name in enumerate(SPLITS):
        counts = np.bincount(labels[split == position], minlength=len(class_names))
        if counts.sum() or name != "blackbox":
            out[name] = counts
    return out


def input_hash(cfg: PreprocessConfig) -> str:
    """SHA-256 of the parameters that shape the arrays and of each input file's identity.

    Files are identified by path, size and modification time (hashing a 3 GB genome on
    every run would cost more than the run); ``workers`` and ``cache_dir`` do not change
    the arrays and are left out.

    Parameters
    ----------
    cfg : PreprocessConfig
        The preprocess config (its parameters, class files, genome, conservation and tracks).

    Returns
    -------
    str
        The hex digest.
    """
    params = {k: v for k, v in cfg.dump().items() if k not in ("workers", "cache_dir")}
    files = [p for paths in cfg.classes.values() for p in paths]
    files += [p for p in (cfg.genome, cfg.conservation, *cfg.tracks.values()) if p is not None]
    identity = []
    for path in files:
        stat = Path(path).stat()
        identity.append([str(path), stat.st_size, stat.st_mtime_ns])
    text = json.dumps({"params": params, "files": identity}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def finish(run, writer: DatasetWriter, table: pd.DataFrame, params: dict[str, Any], hash_: str,
           source_kind: str) -> None:
    """Write the summary and the manifest (last), log the summary, record ledger metrics.

    Parameters
    ----------
    run : object
        The open run; its ``record`` receives the counts.
    writer : DatasetWriter
        The writer that wrote the splits.
    table : pandas.DataFrame
        The per-class counts table (a total row is added, see :func:`summary_table`).
    params : dict
        The complete preprocess parameters, saved in the manifest.
    hash_ : str
        The input hash (see :func:`input_hash`).
    source_kind : str
        ``"bed"`` or ``"fasta"``.

    Raises
    ------
    LociflowError
        When every split is empty.
    """
    if sum(writer.counts_total().values()) == 0:
        raise LociflowError("No loci were written: every split is empty.")
    table = summary_table(table)
    writer.write_summary(table)
    writer.write_manifest(params, hash_, source_kind)
    log.info("summary (per class):\n%s", table.to_string(index=False))
    totals = table.set_index("class").loc["total"]
    metrics = {"loci_in": int(totals.get("loci_in", 0)), "loci_out": int(sum(writer.counts_total().values()))}
    metrics.update({s: int(sum(c.values())) for s, c in writer.counts.items()})
    run.record(**metrics)
