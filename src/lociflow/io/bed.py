"""Reading BED-like interval files (BED3, BED6+, BED12, narrowPeak), gzip or not.

Files are parsed in large chunks by pandas' C reader, never line by line in Python, so
a ten-million-line file streams through :func:`iter_bed` in bounded memory. Every
malformed line is reported with the file name and its line number, because that is
what a user needs to fix it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lociflow.errors import InputFileError
from lociflow.io.files import is_gzip, open_text, reading, require_file, strip_suffixes

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".ffn", ".frn", ".fas", ".faa")
BED_SUFFIXES = (".bed", ".narrowpeak", ".broadpeak", ".bed3", ".bed4", ".bed6", ".bed12", ".peaks")
TEXT_SUFFIXES = (".txt", ".seq")
HEADER_PREFIXES = ("#", "track", "browser")
STRANDS = ("+", "-", ".")


@dataclass
class BedTable:
    """Intervals of one BED file (or a chunk of it), as parallel numpy arrays.

    ``start``/``end`` are 0-based half-open as in BED; ``line`` holds the source line
    number of each interval so that later checks can still point at the file.
    ``summit`` is a narrowPeak's column 10 (the summit's offset from ``start``), -1 where
    the file has no such column or gives none.
    """

    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    name: np.ndarray
    strand: np.ndarray
    line: np.ndarray
    source: Path | None = field(default=None)
    summit: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        if self.summit is None:
            self.summit = np.full(len(self.start), -1, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def subset(self, index: np.ndarray) -> BedTable:
        """The intervals selected by a boolean mask or an index array.

        Parameters
        ----------
        index : numpy.ndarray
            A boolean mask over the intervals, or an array of their positions.

        Returns
        -------
        BedTable
            The selected intervals, with this table's ``source``.
        """
        return BedTable(self.chrom[index], self.start[index], self.end[index], self.name[index],
                        self.strand[index], self.line[index], self.source, self.summit[index])

    @classmethod
    def concat(cls, tables: Iterable[BedTable]) -> BedTable:
        """Join tables (e.g. the chunks of :func:`iter_bed`) into one.

        Parameters
        ----------
        tables : iterable of BedTable
            The tables, joined in the order given.

        Returns
        -------
        BedTable
            Their intervals in one table, with the first table's ``source``; an empty
            table when ``tables`` is empty.
        """
        tables = list(tables)
        if not tables:
            return cls.empty()
        cols = {name: np.concatenate([getattr(t, name) for t in tables])
                for name in ("chrom", "start", "end", "name", "strand", "line", "summit")}
        return cls(**cols, source=tables[0].source)

    @classmethod
    def empty(cls, source: Path | None = None) -> BedTable:
        """A table with no intervals.

        Parameters
        ----------
        source : Path or None
            The file the table stands for. Default is None.

        Returns
        -------
        BedTable
            A table of length 0.
        """
        obj = np.empty(0, dtype=object)
        num = np.empty(0, dtype=np.int64)
        return cls(obj, num, num.copy(), obj.copy(), obj.copy(), num.copy(), source, num.copy())


def _header_lines(path: Path) -> tuple[int, str | None]:
    """Count leading header/blank lines; return that count and the first data line."""
    count = 0
    with open_text(path) as handle:
        for line in handle:
            stripped = line.rstrip("\r\n")
            if not stripped.strip() or stripped.startswith(HEADER_PREFIXES):
                count += 1
                continue
            return count, stripped
    return count, None


def _bad_line(path: Path, line: int, problem: str, others: int = 0) -> InputFileError:
    more = f" ({others} more line{'s' if others != 1 else ''} with problems follow)" if others else ""
    return InputFileError(f"{path}, line {line}: {problem}{more}.")


def _all_digits(values: np.ndarray) -> bool:
    """Whether every value is a string of 1 to 18 ASCII digits: the common case, checked in one pass.

    Joining the column and searching it once is several times faster than a regular
    expression per value; anything else (a sign, a space, an empty field, a float) is left to
    the per-value check, which names the line.
    """
    if len(values) == 0:
        return False
    try:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        joined = "".join(values)
    except TypeError:  # a value that is not text
        return False
    return bool(lengths.min() >= 1 and lengths.max() <= 18 and joined.isascii() and joined.isdigit())


def _coordinates(values: pd.Series, lines: np.ndarray, path: Path, what: str) -> np.ndarray:
    """Parse one coordinate column; report the first non-integer or negative value."""
    if values.dtype.kind == "i":
        numbers = values.to_numpy(np.int64)
    elif _all_digits(raw := values.to_numpy(object)):
        numbers = raw.astype(np.int64)
    else:
        # digits only, as bedtools and the UCSC tools read them: '1e3' and '1000.0' are
        # refused like '1000.5', since a float in a coordinate column means the file was
        # written by a tool that may already have rounded positions
        text = values.astype(str)
        bad = ~text.str.fullmatch(r"-?[0-9]{1,18}").to_numpy(bool)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            shown = text.iloc[first]
            if shown == "":
                problem = f"the {what} column is empty (a BED line needs at least 3 tab-separated columns: chrom, start, end)"
            else:
                problem = (f"{what} {shown!r} is not a whole number written as digits (BED coordinates are integers "
                           "such as 1000, not 1e3 or 1000.0)")
            raise _bad_line(path, int(lines[first]), problem, int(bad.sum()) - 1)
        numbers = values.to_numpy(object).astype(np.int64)  # checked as text above; the raw strings parse faster
    negative = numbers < 0
    if negative.any():
        first = int(np.flatnonzero(negative)[0])
        raise _bad_line(path, int(lines[first]), f"{what} {numbers[first]} is negative (BED coordinates start at 0)",
                        int(negative.sum()) - 1)
    return numbers


def _parse_chunk(chunk: pd.DataFrame, first_line: int, path: Path) -> BedTable:
    lines = np.arange(first_line, first_line + len(chunk), dtype=np.int64)
    # chromosome names repeat, so header/blank checks run once per distinct first field
    codes, uniques = pd.factorize(chunk[0])
    header = np.array([str(u).startswith(HEADER_PREFIXES) for u in uniques], dtype=bool)
    blank = np.array([not str(u).strip() for u in uniques], dtype=bool)
    skip = header[codes]
    blank_rows = np.flatnonzero(blank[codes])
    if len(blank_rows):
        rest = chunk.iloc[blank_rows, 1:].astype(str).apply(lambda col: col.str.strip() == "")
        empty_line = rest.all(axis=1).to_numpy()
        skip[blank_rows[empty_line]] = True
        if not empty_line.all():
            first = int(blank_rows[~empty_line][0])
            raise _bad_line(path, int(lines[first]), "the chromosome column is empty", int((~empty_line).sum()) - 1)
    if skip.any():
        keep = ~skip
        chunk, lines = chunk[keep], lines[keep]
    if chunk.empty:
        return BedTable.empty(path)
    start = _coordinates(chunk[1], lines, path, "start")
    end = _coordinates(chunk[2], lines, path, "end")
    reversed_ = start > end
    if reversed_.any():
        first = int(np.flatnonzero(reversed_)[0])
        raise _bad_line(path, int(lines[first]),
                        f"start {start[first]} is greater than end {end[first]} (BED intervals are 0-based, start <= end; start == end is a point locus)",
                        int(reversed_.sum()) - 1)
    chrom = chunk[0].to_numpy(object)
    ncols = chunk.shape[1]
    if ncols >= 4:
        name = chunk[3].to_numpy(object).copy()
        unnamed = chunk[3].isin(("", ".")).to_numpy()  # narrowPeak writes '.' for no name
    else:
        name = np.empty(len(chunk), dtype=object)
        unnamed = np.ones(len(chunk), dtype=bool)
    if unnamed.any():
        sub = pd.Series(chrom[unnamed]) + ":" + pd.Series(start[unnamed]).astype(str) + "-" + pd.Series(end[unnamed]).astype(str)
        name[unnamed] = sub.to_numpy(object)
    if ncols >= 6:
        strand_col = chunk[5].replace("", ".")
        invalid = ~strand_col.isin(STRANDS).to_numpy()
        if invalid.any():
            first = int(np.flatnonzero(invalid)[0])
            raise _bad_line(path, int(lines[first]),
                            f"strand {strand_col.iloc[first]!r} in column 6 must be '+', '-' or '.'", int(invalid.sum()) - 1)
        strand = strand_col.to_numpy(object)
    else:
        strand = np.full(len(chunk), ".", dtype=object)
    summit = _summits(chunk[9], lines, start, end, path) if ncols >= 10 else None
    return BedTable(chrom, start, end, name, strand, lines, path, summit)


def _summits(values: pd.Series, lines: np.ndarray, start: np.ndarray, end: np.ndarray, path: Path) -> np.ndarray:
    """narrowPeak column 10: the summit's offset from the start, or -1 for none."""
    text = values.astype(str).str.strip()
    bad = ~text.str.fullmatch(r"-1|[0-9]{1,18}").to_numpy(bool)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise _bad_line(path, int(lines[first]), f"summit {text.iloc[first]!r} in column 10 is not a whole number "
                        "(a narrowPeak summit is an offset from the start, or -1 for none)", int(bad.sum()) - 1)
    summit = text.to_numpy(object).astype(np.int64)
    past = summit > end - start
    if past.any():
        first = int(np.flatnonzero(past)[0])
        raise _bad_line(path, int(lines[first]), f"summit offset {summit[first]} lies past the end of the peak "
                        f"({start[first]}-{end[first]} is {end[first] - start[first]} nt long)", int(past.sum()) - 1)
    return summit


def _reader(path: Path, ncols: int, skip: int, chunk_size: int):
    # every column as text: the C reader's int64 parser accepts '1e3' and '1000.0', which
    # BED refuses; the text costs about 0.6 s more per million lines than int64 parsing,
    # small beside fetching and encoding those million windows
    return pd.read_csv(
        path, sep="\t", header=None, names=list(range(ncols)), dtype=object, skiprows=skip,
        skip_blank_lines=False, quoting=3, na_filter=False, chunksize=chunk_size,
        compression="gzip" if is_gzip(path) else None, encoding="utf-8-sig", encoding_errors="replace",
    )


def _parser_error(path: Path, exc: Exception, n_header: int, ncols: int) -> InputFileError:
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if found is None:
        return InputFileError(f"{path} could not be read as BED: {exc}")
    return _bad_line(path, int(found.group(2)), f"found {found.group(3)} columns but the first interval line "
                     f"(line {n_header + 1}) has {ncols}; every line of a BED file needs the same number of "
                     "tab-separated columns")


def iter_bed(path: str | os.PathLike, chunk_size: int = 1_000_000) -> Iterator[BedTable]:
    """Stream a BED/narrowPeak file in chunks of at most ``chunk_size`` intervals.

    Parameters
    ----------
    path : str or os.PathLike
        The file; gzip/bgzip compression is detected from its first bytes.
    chunk_size : int
        Lines parsed per chunk (bounds memory). Default is 1,000,000.

    Yields
    ------
    BedTable
        The intervals of one chunk, in file order; never an empty one (chunks of only
        header, comment or blank lines are skipped).

    Raises
    ------
    InputFileError
        The file is missing, holds no intervals, or a line is malformed (the message
        names the file and the line number).
    """
    path = require_file(path, "BED file")
    with reading(path, "BED file"):
        yield from _iter_chunks(path, chunk_size)


def _iter_chunks(path: Path, chunk_size: int) -> Iterator[BedTable]:
    n_header, first = _header_lines(path)
    if first is None:
        raise InputFileError(f"{path} contains no intervals (only header lines, comments or blank lines).")
    ncols = first.count("\t") + 1
    if ncols < 3:
        hint = " It looks like a FASTA file; give it a .fa/.fasta name." if first.startswith(">") else ""
        raise _bad_line(path, n_header + 1, f"found {ncols} column(s); a BED line needs at least 3 tab-separated "
                        f"columns (chrom, start, end).{hint}".rstrip("."))
    next_line = n_header + 1
    total = 0
    reader = _reader(path, ncols, skip=n_header, chunk_size=chunk_size)
    try:
        for chunk in reader:
            table = _parse_chunk(chunk, next_line, path)
            next_line += len(chunk)
            if len(table):
                total += len(table)
                yield table
    except (ValueError, pd.errors.ParserError) as exc:
        raise _parser_error(path, exc, n_header, ncols) from None
    finally:
        reader.close()
    if total == 0:
        raise InputFileError(f"{path} contains no intervals (only header lines, comments or blank lines).")


def read_bed(path: str | os.PathLike) -> BedTable:
    """Read a whole BED/narrowPeak file into one :class:`BedTable` (see :func:`iter_bed`).

    Parameters
    ----------
    path : str or os.PathLike
        The file, gzip-compressed or not.

    Returns
    -------
    BedTable
        Every interval of the file.

    Raises
    ------
    InputFileError
        As :func:`iter_bed`: the file is missing, holds no intervals, or a line is
        malformed.
    """
    return BedTable.concat(iter_bed(path))


def file_kind(path: str | os.PathLike) -> str:
    """``"bed"``, ``"fasta"`` or ``"text"`` (one sequence per line) for an input file.

    Judged by the suffix (through ``.gz``); an unknown suffix falls back to the content:
    a first non-blank character ``>`` means FASTA, three or more tab-separated columns
    (or a first line starting with ``#``, ``track`` or ``browser``) mean BED, anything
    else is plain text.

    Parameters
    ----------
    path : str or os.PathLike
        The input file; it is opened only when its suffix is not a known one.

    Returns
    -------
    str
        ``"bed"``, ``"fasta"`` or ``"text"``.

    Raises
    ------
    InputFileError
        When the suffix is unknown and the file does not exist or cannot be read.
    """
    _, ext = strip_suffixes(path)
    if ext in FASTA_SUFFIXES:
        return "fasta"
    if ext in BED_SUFFIXES:
        return "bed"
    if ext in TEXT_SUFFIXES:
        return "text"
    path = require_file(path)
    with reading(path), open_text(path) as handle:
        for line in handle:
            if not line.strip():
                continue
            if line.startswith(">"):
                return "fasta"
            if line.startswith(HEADER_PREFIXES) or line.count("\t") >= 2:
                return "bed"
            return "text"
    return "text"


def is_fasta(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a FASTA file (see :func:`file_kind`).

    Parameters
    ----------
    path : str or os.PathLike
        The input file.

    Returns
    -------
    bool
        True when :func:`file_kind` says ``"fasta"``.
    """
    return file_kind(path) == "fasta"
