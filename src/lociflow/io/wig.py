"""Converting wig and bedGraph tracks to bigWig, once.

Text tracks are slow to query, so lociflow converts them to bigWig with pyBigWig the
first time they are used and keeps the result in the cache folder. Both formats must be
sorted by position within each chromosome (as UCSC's own converters require), and each
chromosome's lines must be together; otherwise the error says how to sort the file.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from lociflow.errors import InputFileError
from lociflow.io.files import is_gzip, open_binary, strip_suffixes
from lociflow.progress import bar

log = logging.getLogger("lociflow.io.wig")

WIG_SUFFIXES = (".wig", ".wigfix", ".wigvar")
BEDGRAPH_SUFFIXES = (".bedgraph", ".bdg", ".bg")
BIGWIG_SUFFIXES = (".bw", ".bigwig")
BIGWIG_MAGIC = bytes.fromhex("26fc8f88")
_SORT_HINT = "sort it first, e.g. `sort -k1,1 -k2,2n track.bedGraph > sorted.bedGraph`"


class Block(NamedTuple):
    """Consecutive values on one chromosome: 0-based ``starts``, ``ends`` and ``values``."""

    chrom: str
    starts: np.ndarray
    ends: np.ndarray
    values: np.ndarray


def track_format(path: str | os.PathLike) -> str:
    """``"bigwig"``, ``"wig"`` or ``"bedgraph"``, from the suffix or else the content.

    Parameters
    ----------
    path : str or os.PathLike
        The track file (a ``.gz`` suffix is looked through).

    Returns
    -------
    str
        The format; an unknown suffix is judged by the bigWig magic bytes, else by the
        first data line (``fixedStep``/``variableStep`` for wig).

    Raises
    ------
    InputFileError
        When the file holds no data line.
    """
    _, ext = strip_suffixes(path)
    if ext in BIGWIG_SUFFIXES:
        return "bigwig"
    if ext in WIG_SUFFIXES:
        return "wig"
    if ext in BEDGRAPH_SUFFIXES:
        return "bedgraph"
    with open(path, "rb") as handle:
        if handle.read(4) == BIGWIG_MAGIC:
            return "bigwig"
    with open_binary(path) as handle:
        for raw in handle:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line or line.startswith(("#", "track", "browser")):
                continue
            return "wig" if line.startswith(("fixedStep", "variableStep")) else "bedgraph"
    raise InputFileError(f"Track file {path} is empty.")


class _Progress:
    """Reads lines of a (possibly gzipped) file and advances a byte progress bar."""

    def __init__(self, path: Path, description: str):
        self.path = path
        self.description = description

    def lines(self) -> Iterator[tuple[int, str]]:
        with open_binary(self.path) as handle, bar(self.description, total=self.path.stat().st_size, unit="B") as progress:
            raw = getattr(handle, "fileobj", handle)
            last = 0
            for number, line in enumerate(handle, start=1):
                if number % 65536 == 0:
                    pos = raw.tell()
                    progress.update(pos - last)
                    last = pos
                yield number, line.decode("utf-8", errors="replace")
            progress.update(max(0, self.path.stat().st_size - last))


_FIELD = re.compile(r"(\w+)=(\S+)")


def _wig_blocks(path: Path, description: str) -> Iterator[Block]:
    """Parse a wig file (fixedStep/variableStep) into blocks, converting to 0-based."""
    decl: dict | None = None
    body: list[str] = []

    def flush() -> Block | None:
        if decl is None or not body:
            return None
        span = decl["span"]
        if decl["kind"] == "fixedStep":
            try:
                values = np.array(body, dtype=np.float64)
            except ValueError:
                raise InputFileError(f"{path}, lines {decl['line'] + 1}-{decl['line'] + len(body)}: a fixedStep block "
                                     "must hold one number per line.") from None
            starts = decl["start"] + decl["step"] * np.arange(len(values), dtype=np.int64)
        else:
            pairs = np.fromstring(" ".join(body), sep=" ")  # noqa: NPY201 - text mode is not deprecated
            if pairs.size != 2 * len(body):
                raise InputFileError(f"{path}, lines {decl['line'] + 1}-{decl['line'] + len(body)}: a variableStep "
                                     "block must hold 'position value' on each line.")
            starts = pairs[0::2].astype(np.int64) - 1
            values = pairs[1::2]
        return Block(decl["chrom"], starts, starts + span, values)

    for number, line in _Progress(path, description).lines():
        text = line.strip()
        if not text or text.startswith(("#", "track", "browser")):
            continue
        if text[0].isalpha():
            block = flush()
            if block is not None:
                yield block
            body = []
            kind = text.split()[0]
            fields = dict(_FIELD.findall(text))
            if kind not in ("fixedStep", "variableStep") or "chrom" not in fields:
                raise InputFileError(f"{path}, line {number}: expected a 'fixedStep chrom=... start=... step=...' or "
                                     f"'variableStep chrom=...' line, found {text[:60]!r}.")
            try:
                decl = {"kind": kind, "chrom": fields["chrom"], "line": number, "span": int(fields.get("span", 1)),
                        "step": int(fields.get("step", 1)), "start": int(fields.get("start", 1)) - 1}
            except ValueError:
                raise InputFileError(f"{path}, line {number}: start, step and span must be whole numbers.") from None
            if kind == "fixedStep" and "start" not in fields:
                raise InputFileError(f"{path}, line {number}: a fixedStep line needs start=.")
        elif decl is None:
            raise InputFileError(f"{path}, line {number}: values before the first fixedStep/variableStep line.")
        else:
            body.append(text)
    block = flush()
    if block is not None:
        yield block


def _bedgraph_blocks(path: Path, description: str, chunk_size: int = 2_000_000) -> Iterator[Block]:
    """Parse a bedGraph file in chunks of lines (pandas' C reader)."""
    header = 0
    with open_binary(path) as handle:
        for raw in handle:
            line = raw.decode("utf-8", errors="replace").strip()
            if line and not line.startswith(("#", "track", "browser")):
                break
            header += 1
    reader = pd.read_csv(path, sep=r"\s+", header=None, skiprows=header, comment="#", chunksize=chunk_size,
                         names=["chrom", "start", "end", "value"], usecols=[0, 1, 2, 3],
                         dtype={"chrom": str, "start": np.int64, "end": np.int64, "value": np.float64},
                         compression="gzip" if is_gzip(path) else None)
    with bar(description, unit="lines") as progress:
        try:
            for chunk in reader:
                progress.update(len(chunk))
                chroms = chunk["chrom"].to_numpy(object)
                change = np.flatnonzero(chroms[1:] != chroms[:-1]) + 1
                bounds = [0, *change.tolist(), len(chunk)]
                for a, b in zip(bounds[:-1], bounds[1:]):
                    yield Block(chroms[a], chunk["start"].to_numpy()[a:b], chunk["end"].to_numpy()[a:b],
                                chunk["value"].to_numpy()[a:b])
        except (ValueError, pd.errors.ParserError) as exc:
            raise InputFileError(f"{path} is not a valid bedGraph (chrom, start, end, value per line): {exc}") from None
        finally:
            reader.close()


def _blocks(path: Path, fmt: str, description: str) -> Iterator[Block]:
    return _wig_blocks(path, description) if fmt == "wig" else _bedgraph_blocks(path, description)


def _survey(path: Path, fmt: str) -> dict[str, int]:
    """First pass: chromosomes in order of appearance and their largest end; checks grouping."""
    extent: dict[str, int] = {}
    current = None
    for block in _blocks(path, fmt, f"Scanning {path.name}"):
        if block.chrom != current and block.chrom in extent:
            raise InputFileError(f"{path}: the lines of {block.chrom} are not together; {_SORT_HINT}.")
        current = block.chrom
        if len(block.ends):
            extent[block.chrom] = max(extent.get(block.chrom, 0), int(block.ends.max()))
    if not extent:
        raise InputFileError(f"Track file {path} holds no values.")
    return extent


def convert_to_bigwig(path: str | os.PathLike, target: str | os.PathLike, chrom_sizes: dict[str, int] | None = None) -> None:
    """Convert a wig or bedGraph file to bigWig at ``target`` (written in place; the caller renames).

    Chromosome lengths come from ``chrom_sizes`` (e.g. the genome's) where known, and
    otherwise from the largest coordinate in the file.

    Parameters
    ----------
    path : str or os.PathLike
        The wig or bedGraph file, gzip or not.
    target : str or os.PathLike
        The bigWig file to write.
    chrom_sizes : dict of str to int or None
        Chromosome lengths. Default is None (lengths from the file).

    Raises
    ------
    InputFileError
        When the file holds no values, is malformed, or its lines are not sorted and
        grouped by chromosome.
    """
    import pyBigWig

    path = Path(path)
    fmt = track_format(path)
    extent = _survey(path, fmt)
    header = [(chrom, max(int((chrom_sizes or {}).get(chrom, 0)), end)) for chrom, end in extent.items()]
    writer = pyBigWig.open(str(target), "w")
    try:
        writer.addHeader(header, maxZooms=10)
        previous_end: dict[str, int] = {}
        for block in _blocks(path, fmt, f"Converting {path.name} to bigWig"):
            if len(block.starts) == 0:
                continue
            ordered = np.all(block.starts[1:] >= block.ends[:-1]) and block.starts[0] >= previous_end.get(block.chrom, 0)
            if not ordered or np.any(block.ends <= block.starts) or block.starts[0] < 0:
                raise InputFileError(f"{path}: intervals on {block.chrom} overlap, are empty or are out of order; "
                                     f"{_SORT_HINT}.")
            previous_end[block.chrom] = int(block.ends[-1])
            writer.addEntries([block.chrom] * len(block.starts), block.starts.astype(np.int64),
                              ends=block.ends.astype(np.int64), values=block.values.astype(np.float64))
    finally:
        writer.close()
    log.info("Converted %s (%s, %d chromosomes) to bigWig %s", path, fmt, len(header), target)
