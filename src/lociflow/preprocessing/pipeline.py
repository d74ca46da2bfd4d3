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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow.config import PreprocessConfig
from lociflow.config_sources import GeneratedClass, GenomeClass, ShuffleClass
from lociflow.configfile import suggest
from lociflow.errors import LociflowError
from lociflow.layout import BACKGROUND_FILE, BACKGROUND_PLOT, SPLITS
from lociflow.preprocessing.duplicates import (
    count_duplicate_ids,
    count_duplicates,
    same_content,
)
from lociflow.preprocessing.loci import Loci, iter_loci
from lociflow.preprocessing.negatives import (
    flanks,
    genomic_background,
    shuffled,
    with_codes,
)
from lociflow.preprocessing.sources import class_of, iter_labelled, iter_table
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
STREAM_PLACEMENT, STREAM_REDUCE, STREAM_SPLIT, STREAM_ORDER, STREAM_GENERATE = range(5)


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
    read = read_classes(cfg)
    loci, labels, table, class_names = read.loci, read.labels, read.table, read.class_names
    check_classes_not_empty(labels, class_names, "after placing windows (edge: drop removes loci at chromosome ends)")
    if not loci.genomic:
        _log_fasta_windows(table, cfg.window)
        _validate_sequences(loci, cfg.alphabet)
        count_duplicate_ids(loci.meta["name"].to_numpy(object), labels, table)
    same = same_content(loci, read.genome if loci.genomic else None, cfg.window, cfg.strand)
    count_duplicates(same, labels, table,
                     "identical loci or window sequences" if loci.genomic else "identical window sequences")
    selected, split = select_and_split(cfg, loci.meta, labels, class_names, table, same, read.family)
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
    write_matches(run.path, read.matches)
    for name, (_, match) in read.matches.items():  # the ledger row carries the match too
        run.record(**{f"gc_ks_{name}": round(match.statistic, 4)})
    if read.bad_rows:
        run.record(bad_rows=read.bad_rows)
    finish(run, writer, table, params, input_hash(cfg), source_kind="bed" if loci.genomic else "fasta")


@dataclass
class ReadInput:
    """Everything read (and made) before splitting.

    Attributes
    ----------
    loci : Loci
        Every locus of every class, in class order of reading.
    labels : numpy.ndarray
        int64 class index per locus.
    table : pandas.DataFrame
        Per-class counts for the summary.
    class_names : list of str
        The classes, in label order.
    family : numpy.ndarray
        Per locus, the index of the locus it was made from (shuffles, flanks), or -1.
    matches : dict
        Per ``from: genome`` class, its matched class and the GC match.
    bad_rows : int
        Rows of a table or labelled FASTA dropped by ``on_bad_row: drop``.
    genome : Genome or None
        The reference the loci were read from (None without one), for the later steps.
    """

    loci: Loci
    labels: np.ndarray
    table: pd.DataFrame
    class_names: list[str]
    family: np.ndarray
    matches: dict[str, tuple[str, Any]] = field(default_factory=dict)
    bad_rows: int = 0
    genome: Any = None


_COUNT_KEYS = ("loci_in", "point_loci", "shifted", "dropped_edge", "padded", "trimmed")


def _counts_row(name: str) -> dict[str, Any]:
    return {"class": name, **{key: 0 for key in _COUNT_KEYS}}


def read_classes(cfg: PreprocessConfig) -> ReadInput:
    """Read every class's files, the table and the labelled FASTA, then make the generated classes.

    Parameters
    ----------
    cfg : PreprocessConfig
        The preprocess config (its classes, table, labelled FASTA, genome, window,
        placement and edge options).

    Returns
    -------
    ReadInput
        The loci, labels, counts table, class names, families and GC matches.
    """
    genome = None
    if cfg.genome is not None:
        from lociflow.io.fasta import Genome

        genome = Genome(cfg.genome, cache_dir=cfg.cache_dir)
    rng = rng_for(cfg.seed, STREAM_PLACEMENT)
    parts: list[Loci] = []
    part_classes: list[np.ndarray] = []
    # classes read from files, then those of a table or labelled FASTA, then the made ones
    rows = {name: _counts_row(name) for name, spec in cfg.classes.items() if not isinstance(spec, GeneratedClass)}
    total_bad = 0
    for name, files in cfg.classes.items():
        if isinstance(files, GeneratedClass):
            continue
        for path in files:
            for chunk in iter_loci(path, cfg.window, genome=genome, placement=cfg.placement, edge=cfg.edge,
                                   viewpoint=cfg.viewpoint, rng=rng, chunk_size=READ_CHUNK):
                parts.append(chunk)
                part_classes.append(np.full(len(chunk), name, dtype=object))
                _add_counts(rows[name], chunk)
        log.info("class %r: %d loci read from %s", name, rows[name]["loci_in"], ", ".join(str(p) for p in files))
    for what, source, reader in (("table", cfg.table, iter_table), ("labelled FASTA", cfg.labelled, iter_labelled)):
        if source is None:
            continue
        bad_rows: dict[str, int] = {}
        for chunk in reader(source, cfg.window):
            classes = class_of(chunk.labels, source.names)
            parts.append(chunk.loci)
            part_classes.append(classes)
            for name in _ordered(classes, source.names):
                rows.setdefault(name, _counts_row(name))
            for name in np.unique(classes.astype(str)):
                mine = classes == name
                rows[str(name)]["loci_in"] += int(mine.sum())
                rows[str(name)]["padded"] += int((chunk.lengths[mine] < cfg.window).sum())
                rows[str(name)]["trimmed"] += int((chunk.lengths[mine] > cfg.window).sum())
            for reason, n in chunk.dropped.items():
                bad_rows[reason] = bad_rows.get(reason, 0) + n
        if bad_rows:
            log.warning("%s %s: dropped %s (on_bad_row: drop)", what, getattr(source, "file", None) or ", ".join(
                map(str, source.files)), ", ".join(f"{n} row(s) with {reason.replace('_', ' ')}"
                                                   for reason, n in sorted(bad_rows.items())))
            total_bad += sum(bad_rows.values())
    for name, spec in cfg.classes.items():
        if isinstance(spec, GeneratedClass):
            if name in rows:
                raise LociflowError(f"classes.{name} is made (from: {spec.from_}), but the table or labelled FASTA "
                                    f"has a class {name!r} too: give the made class another name.")
            rows[name] = _counts_row(name)
    class_names = _class_order(cfg, rows)
    index_of = {name: k for k, name in enumerate(class_names)}
    loci = Loci.concat(parts)
    labels = np.concatenate([pd.Series(c, dtype=object).map(index_of).to_numpy(np.int64) for c in part_classes]) \
        if part_classes else np.zeros(0, np.int64)
    read = ReadInput(loci, labels, pd.DataFrame(), class_names, np.full(len(labels), -1, dtype=np.int64),
                     bad_rows=total_bad, genome=genome)
    make_classes(cfg, read, rows, genome)
    table = pd.DataFrame([rows[name] for name in read.class_names])
    if read.loci.genomic:
        table = table.drop(columns=["padded", "trimmed"])
    else:
        table = table.drop(columns=["point_loci", "shifted", "dropped_edge"])
    read.table = table
    return read


def _add_counts(row: dict[str, Any], chunk: Loci) -> None:
    dropped = chunk.counts.get("dropped_edge", 0) + chunk.counts.get("dropped_short_chrom", 0)
    row["loci_in"] += len(chunk) + dropped
    row["dropped_edge"] += dropped
    for key in ("point_loci", "shifted", "padded", "trimmed"):
        row[key] += chunk.counts.get(key, 0)


def _ordered(classes: np.ndarray, names: dict[str, str]) -> list[str]:
    """The classes of a labelled source: in the order of ``names``, else sorted labels."""
    if names:
        return list(dict.fromkeys(names.values()))
    return sorted(set(classes.astype(str)))


def _class_order(cfg: PreprocessConfig, rows: dict[str, dict[str, Any]]) -> list[str]:
    names = list(rows)
    if len(names) < 2:
        raise LociflowError(f"Only one class was found ({', '.join(map(repr, names)) or 'none'}): a classifier needs "
                            "at least two. Check the labels of the table or labelled FASTA, or their names mapping.")
    for name, spec in cfg.classes.items():
        if isinstance(spec, GeneratedClass) and spec.like not in names:
            raise LociflowError(f"classes.{name}.like names {spec.like!r}, which is not among the classes read "
                                f"({', '.join(names)}){suggest(spec.like, names)}.")
    return names


def make_classes(cfg: PreprocessConfig, read: ReadInput, rows: dict[str, dict[str, Any]], genome) -> None:
    """Add the generated classes (``from:``) to ``read``, in config order, seeded per class.

    Parameters
    ----------
    cfg : PreprocessConfig
        The preprocess config (its ``from:`` classes, window and seed).
    read : ReadInput
        What was read so far; the made loci, labels and families are appended to it.
    rows : dict of str to dict
        The per-class counts rows, updated in place.
    genome : Genome or None
        The reference, for genome backgrounds, flanks and the windows of shuffled BED loci.
    """
    generated = {name: spec for name, spec in cfg.classes.items() if isinstance(spec, GeneratedClass)}
    if not generated:
        return
    base = read.loci
    if any(isinstance(spec, ShuffleClass) for spec in generated.values()):
        base = with_codes(base, genome, cfg.window)
    made_parts, made_labels, made_family = [], [], []
    for name, spec in generated.items():
        k = read.class_names.index(name)
        like_index = np.flatnonzero(read.labels == read.class_names.index(spec.like))
        like = base.subset(like_index)
        rng = np.random.default_rng([cfg.seed, STREAM_GENERATE, k])
        if isinstance(spec, ShuffleClass):
            made = shuffled(spec, name, like, like_index, rng)
        elif isinstance(spec, GenomeClass):
            made = genomic_background(spec, name, like, base, genome, cfg.window, rng)
            read.matches[name] = (spec.like, made.match)
            log.info("class %r: %d windows from the genome matched to %r on %s; GC match: %s", name, len(made.loci),
                     spec.like, ", ".join(spec.match), made.match.summary())
        else:
            made = flanks(spec, name, like, like_index, base, genome, cfg.window, rng)
        if base.codes is not None and made.loci.codes is None:
            made.loci = with_codes(made.loci, genome, cfg.window)
        rows[name]["loci_in"] = len(made.loci)
        made_parts.append(made.loci)
        made_labels.append(np.full(len(made.loci), k, dtype=np.int64))
        made_family.append(made.family)
        log.info("class %r: %d loci made (from: %s, like %r)", name, len(made.loci), spec.from_, spec.like)
    read.loci = Loci.concat([base, *made_parts])
    read.labels = np.concatenate([read.labels, *made_labels])
    read.family = np.concatenate([read.family, *made_family])


def write_matches(folder: Path, matches: dict[str, tuple[str, Any]], bins: int = 20) -> None:
    """``background.tsv`` (the GC match of each ``from: genome`` class) and its histogram plot.

    Parameters
    ----------
    folder : Path
        The dataset folder.
    matches : dict of str to tuple
        Per ``from: genome`` class: the class it matches and the GC match.
    bins : int
        Histogram bins of the plot. Default is 20.
    """
    if not matches:
        return
    from lociflow.io.atomic import write_text
    from lociflow.preprocessing.background import plot_match

    rows = [{"class": name, "like": like, "n_class": len(m.target_gc), "n_background": len(m.background_gc),
             **m.summary()} for name, (like, m) in matches.items()]
    write_text(folder / BACKGROUND_FILE, pd.DataFrame(rows).to_csv(sep="\t", index=False))
    plot_match(matches, folder / BACKGROUND_PLOT, bins)


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
                     table: pd.DataFrame, same: np.ndarray | None = None,
                     family: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
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
    family : numpy.ndarray or None
        Per locus, the locus it was made from, or -1: keeps a shuffle or flank in its
        source's split. Default is None.

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
    if family is not None and (family >= 0).any():
        groups = merge_groups(groups, _family_groups(family)[keep])
    largest = int(np.bincount(np.unique(groups, return_inverse=True)[1].reshape(-1)).max()) if len(groups) else 0
    if largest > max(10, 0.02 * len(groups)):
        log.warning("overlapping windows chain into a group of %d loci (of %d), which must stay in one split; "
                    "split shares may differ from the ratios. Dense or tiled loci split better by chromosome.",
                    largest, len(groups))
    split = random_split(labels[keep], cfg.split.ratios, rng_for(cfg.seed, STREAM_SPLIT), groups)
    return keep, split


def _family_groups(family: np.ndarray) -> np.ndarray:
    """Group ids joining every made locus with the locus it was made from."""
    return np.where(family >= 0, family, np.arange(len(family)))


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
    files = [p for spec in cfg.classes.values()
             for p in (getattr(spec, "exclude", []) if isinstance(spec, GeneratedClass) else spec)]
    files += [cfg.table.file] if cfg.table is not None else []
    files += list(cfg.labelled.files) if cfg.labelled is not None else []
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
