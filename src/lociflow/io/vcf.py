"""Variants from VCF 4.x files (plain, gzip or bgzip), streamed in chunks.

Only what variant-effect prediction needs is read: ``CHROM``, ``POS``, ``ID``, ``REF``
and ``ALT``. A record with several alternative alleles becomes one variant per allele,
in the order written. Alleles that are not sequence (symbolic ``<DEL>``, breakends
``A[chr2:5[``, the spanning deletion ``*``, the missing ``.``) cannot be put in a window
and are skipped and counted. A line that is not a VCF record is an error naming the
file and the line, since a silently dropped line would be a silently missing variant.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lociflow.errors import InputFileError
from lociflow.io.files import open_text, reading, require_file

__all__ = ["Variant", "VcfCounts", "iter_variants"]

#: letters a REF or ALT allele of sequence may hold (IUPAC codes included, any case)
_ALLELE = re.compile(r"^[ACGTNRYSWKMBDHVU]+$", re.IGNORECASE)
#: the columns a record needs (the rest, QUAL FILTER INFO and samples, are not read)
_NEEDED = ("CHROM", "POS", "ID", "REF", "ALT")


@dataclass(frozen=True)
class Variant:
    """One alternative allele of a VCF record.

    Attributes
    ----------
    chrom : str
        The chromosome as written in the VCF.
    pos : int
        1-based position of the first base of ``ref`` (VCF ``POS``).
    id : str
        The record's ``ID``; ``chrom:pos:ref:alt`` when the VCF gives ``.``.
    ref : str
        The reference allele, upper case.
    alt : str
        This alternative allele, upper case.
    line : int
        The line of the VCF the record is on (1-based), for messages.
    """

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    line: int


@dataclass
class VcfCounts:
    """What reading a VCF skipped, by reason.

    Attributes
    ----------
    records : int
        Data lines read.
    variants : int
        Alternative alleles kept (a multi-allelic record counts once per allele).
    symbolic : int
        Alleles skipped as symbolic or structural (``<...>``, breakends, ``*``).
    missing : int
        Alleles skipped because ALT is ``.`` (no alternative allele).
    """

    records: int = 0
    variants: int = 0
    symbolic: int = 0
    missing: int = 0


def _symbolic(allele: str) -> bool:
    return allele.startswith("<") or "[" in allele or "]" in allele or allele == "*"


def _record(fields: list[str], path: Path, line: int, counts: VcfCounts) -> list[Variant]:
    where = f"{path}, line {line}"
    if len(fields) < len(_NEEDED):
        raise InputFileError(
            f"{where}: a VCF record needs at least {len(_NEEDED)} tab-separated columns "
            f"({', '.join(_NEEDED)}), found {len(fields)}. Is the file tab-separated?")
    chrom, pos_text, ident, ref, alts = (f.strip() for f in fields[:5])
    if not chrom:
        raise InputFileError(f"{where}: CHROM is empty.")
    try:
        pos = int(pos_text)
    except ValueError:
        raise InputFileError(f"{where}: POS {pos_text!r} is not a whole number.") from None
    if pos < 1:
        raise InputFileError(f"{where}: POS {pos} is not a 1-based position (it must be at least 1).")
    if not _ALLELE.match(ref):
        raise InputFileError(
            f"{where}: REF {ref!r} is not a sequence of nucleotide letters (A, C, G, T, N or IUPAC codes).")
    ref = ref.upper()
    kept = []
    for alt in alts.split(","):
        alt = alt.strip()
        if alt == ".":
            counts.missing += 1
            continue
        if _symbolic(alt):
            counts.symbolic += 1
            continue
        if not _ALLELE.match(alt):
            raise InputFileError(
                f"{where}: ALT {alt!r} is neither a sequence of nucleotide letters nor a symbolic allele "
                "(<DEL>, a breakend, *).")
        alt = alt.upper()
        name = ident if ident not in ("", ".") else f"{chrom}:{pos}:{ref}:{alt}"
        kept.append(Variant(chrom, pos, name, ref, alt, line))
    return kept


def iter_variants(path: str | os.PathLike, chunk_size: int = 10_000,
                  counts: VcfCounts | None = None) -> Iterator[list[Variant]]:
    """Stream the variants of a VCF as lists of at most ``chunk_size``, in file order.

    Parameters
    ----------
    path : str or os.PathLike
        A VCF 4.x file, plain, gzip or bgzip.
    chunk_size : int
        Variants per list. Default is 10,000.
    counts : VcfCounts or None
        Filled in while reading (records, kept alleles, skipped alleles by reason), so a
        caller can report them once the stream ends. Default is None (not kept).

    Yields
    ------
    list of Variant
        Never an empty list.

    Raises
    ------
    InputFileError
        For a missing or empty file, a file that is not a VCF (no ``#CHROM`` header
        before the first record), or a malformed record (named by file and line).
    """
    path = require_file(path, "VCF file")
    counts = counts if counts is not None else VcfCounts()
    chunk: list[Variant] = []
    header = False
    with reading(path, "VCF file"), open_text(path) as handle:
        for number, text in enumerate(handle, start=1):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            if text.startswith("##"):
                continue
            if text.startswith("#"):
                columns = text.lstrip("#").split("\t")
                if [c.strip().upper() for c in columns[:5]] != list(_NEEDED):
                    raise InputFileError(
                        f"{path}, line {number}: the header line must start with #CHROM POS ID REF ALT "
                        "(tab-separated), as in VCF 4.x.")
                header = True
                continue
            if not header:
                raise InputFileError(
                    f"{path}, line {number}: a record before the #CHROM header line; is {path.name} a VCF file? "
                    "A VCF starts with ##fileformat=VCFv4.x and the #CHROM POS ID REF ALT ... header.")
            counts.records += 1
            for variant in _record(text.split("\t"), path, number, counts):
                chunk.append(variant)
                counts.variants += 1
                if len(chunk) >= chunk_size:
                    yield chunk
                    chunk = []
    if not header:
        raise InputFileError(f"{path} has no #CHROM header line: it is not a VCF file.")
    if chunk:
        yield chunk
