"""Inputs that carry their class on every row: a table of sequences and labels, labelled FASTA.

Benchmarks hand out data this way: the DNABERT/GUE CSVs (``sequence,label``), DeepBind's
``.seq`` files (``FoldID EventID seq Bound``, tab-separated) and RBP-31's FASTA with
``class:1`` in each header. Each reads with no more than naming its columns or its
header pattern; labels map to class names, or are the class names as written.

A row with a missing label, a label outside ``names``, or a sequence of letters the
encoder does not know is an error naming the file and the line, or, with
``on_bad_row: drop``, dropped and counted in the summary.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lociflow.config_sources import LabelledSource, TableSource
from lociflow.configfile import suggest
from lociflow.errors import InputFileError
from lociflow.io.fasta import NUCLEOTIDES
from lociflow.io.files import is_gzip, open_text, reading, require_file
from lociflow.preprocessing.loci import Loci, sequence_loci

log = logging.getLogger("lociflow.preprocess.sources")

_SEPARATORS = {"comma": ",", "tab": "\t", "space": r"\s+"}
_NOT_NUCLEOTIDE = f"[^{NUCLEOTIDES}{NUCLEOTIDES.lower()}]"
CHUNK_ROWS = 200_000


@dataclass
class LabelledLoci:
    """Loci read from a labelled source, with each one's label as written.

    Attributes
    ----------
    loci : the windows (sequence input).
    labels : object array of label strings, one per locus.
    lengths : int64 length of each locus's sequence as read (before windowing).
    dropped : bad rows dropped (``on_bad_row: drop``), by reason.
    """

    loci: Loci
    labels: np.ndarray
    lengths: np.ndarray
    dropped: dict[str, int] = field(default_factory=dict)


def class_of(labels: np.ndarray, names: Mapping[str, str]) -> np.ndarray:
    """Class names of ``labels``.

    Parameters
    ----------
    labels : numpy.ndarray
        Label strings as written.
    names : mapping of str to str
        Label -> class name; empty keeps the labels as the class names.

    Returns
    -------
    numpy.ndarray
        Object array of class names (NaN where a label is not in ``names``; the reader
        has refused or dropped such rows before).
    """
    if not names:
        return labels.astype(object)
    return pd.Series(labels, dtype=object).map(dict(names)).to_numpy(object)


def _problems(seqs: pd.Series, labels: pd.Series, names: Mapping[str, str]) -> pd.DataFrame:
    """Per row: what is wrong with it (empty string: nothing)."""
    reason = pd.Series("", index=seqs.index, dtype=object)
    invalid = seqs.str.contains(_NOT_NUCLEOTIDE, regex=True) | (seqs.str.len() == 0)
    reason[invalid] = "invalid_sequence"
    unknown = ~labels.isin(list(names)) if names else pd.Series(False, index=labels.index)
    reason[unknown] = "unknown_label"
    reason[labels.str.strip() == ""] = "missing_label"
    return reason


def _describe(reason: str, seq: str, label: str, names: Mapping[str, str]) -> str:
    if reason == "missing_label":
        return "the label is missing"
    if reason == "unknown_label":
        return (f"label {label!r} is not among the labels of names ({', '.join(map(repr, names))})"
                f"{suggest(label, list(names))}")
    bad = re.search(_NOT_NUCLEOTIDE, seq)
    if bad is None:
        return "the sequence is empty"
    return (f"the sequence has an invalid character {bad.group()!r} at position {bad.start() + 1} (allowed: "
            f"A, C, G, T, U and the ambiguity codes {', '.join(NUCLEOTIDES[5:])})")


def _screen(path: Path, lines: np.ndarray, seqs: pd.Series, labels: pd.Series, names: Mapping[str, str],
            on_bad_row: str, dropped: dict[str, int]) -> np.ndarray:
    """Boolean mask of good rows; raise at the first bad row unless bad rows are dropped."""
    reason = _problems(seqs, labels, names).to_numpy(object)
    bad = reason != ""
    if not bad.any():
        return ~bad
    if on_bad_row == "error":
        first = int(np.flatnonzero(bad)[0])
        others = int(bad.sum()) - 1
        more = f" ({others} more bad row{'s' if others != 1 else ''} in this part of the file)" if others else ""
        raise InputFileError(
            f"{path}, line {int(lines[first])}: {_describe(reason[first], seqs.iloc[first], labels.iloc[first], names)}"
            f"{more}. Fix the row, or set on_bad_row: drop to drop such rows and count them in the summary.")
    for key, count in zip(*np.unique(reason[bad], return_counts=True)):
        dropped[str(key)] = dropped.get(str(key), 0) + int(count)
    return ~bad


# --------------------------------------------------------------------------- tables


def _separator(path: Path, sep: str) -> str:
    if sep != "auto":
        return _SEPARATORS[sep]
    with reading(path, "Table"), open_text(path) as handle:
        first = next((line for line in handle if line.strip()), "")
    return "\t" if "\t" in first else "," if "," in first else r"\s+"


def _column(spec: str | int, header: list[str] | None, path: Path, what: str) -> int:
    """0-based position of a column given by name or by 1-based number."""
    if isinstance(spec, int):
        width = len(header) if header is not None else None
        if spec < 1 or (width is not None and spec > width):
            raise InputFileError(f"{path}: {what} column {spec} does not exist (columns are numbered from 1"
                                 f"{f', and the table has {width}' if width is not None else ''}).")
        return spec - 1
    if header is None:
        raise InputFileError(f"{path}: the {what} column is given by name ({spec!r}) but header: false says the "
                             "table has no header row; give the column's number (from 1) instead.")
    if spec not in header:
        raise InputFileError(f"{path}: there is no column {spec!r} for the {what}{suggest(spec, header)}; the "
                             f"header names {', '.join(map(repr, header))}.")
    return header.index(spec)


def iter_table(source: TableSource, window: int, chunk_rows: int = CHUNK_ROWS) -> Iterator[LabelledLoci]:
    """Stream a table of sequences and labels as windows with their labels, chunk by chunk.

    Parameters
    ----------
    source : the ``preprocess.table`` section (file, columns, separator, names, on_bad_row).
    window : window length; longer sequences are trimmed around their centre, shorter
        ones padded with N, as FASTA records are.
    chunk_rows : rows parsed per chunk (bounds memory). Default is 200,000.

    Yields
    ------
    LabelledLoci

    Raises
    ------
    InputFileError
        A column does not exist, or a row is bad (missing or unknown label, invalid
        letters) and ``on_bad_row`` is ``error``; the message names the file and line.
    """
    path = require_file(source.file, "Table")
    sep = _separator(path, source.sep)
    with reading(path, "Table"):
        header = None
        if source.header:
            head = pd.read_csv(path, sep=sep, nrows=0, dtype=str, engine="python" if len(sep) > 1 else "c",
                               compression="gzip" if is_gzip(path) else None, encoding="utf-8-sig")
            header = [str(c) for c in head.columns]
        columns = {"sequence": _column(source.sequence, header, path, "sequence"),
                   "label": _column(source.label, header, path, "label")}
        if source.id is not None:
            columns["id"] = _column(source.id, header, path, "id")
        reader = pd.read_csv(path, sep=sep, header=None, skiprows=1 if source.header else 0, dtype=str,
                             keep_default_na=False, na_filter=False, skip_blank_lines=False,
                             chunksize=chunk_rows,  # every column: a row wider than the rest is an error
                             engine="python" if len(sep) > 1 else "c",
                             compression="gzip" if is_gzip(path) else None, encoding="utf-8-sig")
        first_line = 2 if source.header else 1
        total = 0
        for chunk in _chunks(reader, path):
            lines = np.arange(first_line, first_line + len(chunk), dtype=np.int64)
            if max(columns.values()) >= chunk.shape[1]:
                raise InputFileError(f"{path}, line {first_line}: found {chunk.shape[1]} column(s), but the "
                                     f"{'header names' if header else 'columns asked for need'} "
                                     f"{max(len(header or []), max(columns.values()) + 1)}.")
            first_line += len(chunk)
            seqs = chunk[columns["sequence"]].fillna("").astype(str).str.strip()
            labels = chunk[columns["label"]].fillna("").astype(str).str.strip()
            blank = ((seqs == "") & (labels == "")).to_numpy()
            seqs, labels, lines = seqs[~blank], labels[~blank], lines[~blank]
            dropped: dict[str, int] = {}
            keep = _screen(path, lines, seqs, labels, source.names, source.on_bad_row, dropped)
            if "id" in columns:
                ids = chunk[columns["id"]].astype(str).to_numpy(object)[~blank][keep]
            else:
                ids = np.array([f"{path.name}:{n}" for n in lines[keep]], dtype=object)
            kept = list(seqs[keep])
            loci = sequence_loci(list(ids), kept, path, window)
            total += len(loci)
            yield LabelledLoci(loci, labels[keep].to_numpy(object), np.fromiter(map(len, kept), np.int64, len(kept)),
                               dropped)
    if total == 0:
        raise InputFileError(f"{path} holds no usable rows (every row was empty or bad).")


def _chunks(reader, path: Path) -> Iterator[pd.DataFrame]:
    """The reader's chunks, a row with too many columns reported with its line."""
    try:
        yield from reader
    except (pd.errors.ParserError, ValueError) as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found is None:
            raise InputFileError(f"{path} could not be read as a table: {exc}") from None
        raise InputFileError(f"{path}, line {found.group(2)}: found {found.group(3)} columns where the table has "
                             f"{found.group(1)}; is a sequence or label quoted wrongly, or the separator (sep) "
                             "another one?") from None


# --------------------------------------------------------------------------- labelled FASTA


def _fasta_records(path: Path) -> Iterator[tuple[str, int, str]]:
    """(header, header line, sequence) of every record, letters unchecked (the caller screens them)."""
    header, line_of, parts = None, 0, []
    with reading(path, "FASTA file"), open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if header is not None:
                    yield header, line_of, "".join(parts)
                header, line_of, parts = line[1:].strip(), number, []
            elif header is None:
                if line.strip() and not line.startswith(";"):
                    raise InputFileError(f"{path}, line {number}: text before the first '>' header; "
                                         "a FASTA record starts with a line '>name'.")
            else:
                parts.append(line.strip().replace(" ", "").replace("\t", ""))
    if header is not None:
        yield header, line_of, "".join(parts)


def iter_labelled(source: LabelledSource, window: int, chunk_rows: int = CHUNK_ROWS) -> Iterator[LabelledLoci]:
    """Stream labelled FASTA files (the class in each header) as windows with their labels.

    The label is the first group of ``source.pattern`` searched in the header (RBP-31:
    ``> chr1,+,367677,367777; class:0`` with the default ``class:(\\S+)``).

    Parameters
    ----------
    source : the ``preprocess.labelled`` section (files, pattern, names, on_bad_row).
    window : window length (records are trimmed or N-padded as FASTA input is).
    chunk_rows : records per chunk. Default is 200,000.

    Yields
    ------
    LabelledLoci

    Raises
    ------
    InputFileError
        A header has no label, a label is not in ``names``, or a sequence has invalid
        letters, with ``on_bad_row: error``; the message names the file and line.
    """
    pattern = re.compile(source.pattern)
    for path in source.files:
        path = require_file(path, "FASTA file")
        total = 0
        batch: list[tuple[str, int, str]] = []
        records = _fasta_records(path)
        while True:
            batch = [record for _, record in zip(range(chunk_rows), records)]
            if not batch:
                break
            headers = [h for h, _, _ in batch]
            lines = np.array([n for _, n, _ in batch], dtype=np.int64)
            seqs = pd.Series([s for _, _, s in batch], dtype=object)
            found = [pattern.search(h) for h in headers]
            labels = pd.Series([m.group(1) if m else "" for m in found], dtype=object)
            dropped: dict[str, int] = {}
            keep = _screen(path, lines, seqs, labels, source.names, source.on_bad_row, dropped)
            # the label is not part of a record's name
            names = [pattern.sub("", h).strip(" ;,\t") or f"{path.name}:{n}" for h, n in zip(headers, lines)]
            kept = list(seqs[keep])
            loci = sequence_loci([n for n, k in zip(names, keep) if k], kept, path, window)
            total += len(loci)
            yield LabelledLoci(loci, labels[keep].to_numpy(object), np.fromiter(map(len, kept), np.int64, len(kept)),
                               dropped)
        if total == 0:
            raise InputFileError(f"FASTA file {path} holds no usable records (none, or every one was bad).")
