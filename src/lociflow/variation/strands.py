"""The transcribed strand of each variant, from a BED of genes.

An RNA model reads the strand a gene is transcribed from, so a variant inside a gene on the
minus strand must be scored on the reverse complement. A variant inside genes of one strand
takes that strand; inside genes of both strands (overlapping or antisense genes) it is
scored on both; outside every gene it takes the strand the run was given.
"""

from __future__ import annotations

import os

import numpy as np

from lociflow.errors import InputFileError
from lociflow.io.bed import read_bed
from lociflow.io.fasta import Genome

__all__ = ["GeneStrands"]


class GeneStrands:
    """Genes by chromosome, sorted by start, for the strand lookup of variants.

    Parameters
    ----------
    path : str or os.PathLike
        A BED file with a strand column (BED6 or more); genes with strand ``.`` cannot say
        which strand is transcribed, so the file must give ``+`` or ``-`` for each.
    genome : Genome or None
        When given, the genes' chromosomes must be its sequences (named as preprocess
        checks them). Default is None.

    Raises
    ------
    InputFileError
        When the file cannot be read as BED, a gene has no strand, or a chromosome is not
        in ``genome``.
    """

    def __init__(self, path: str | os.PathLike, genome: Genome | None = None):
        table = read_bed(path)
        if genome is not None:
            genome.check_chromosomes(table.chrom, source=path)
        unstranded = np.flatnonzero(table.strand == ".")
        if len(unstranded):
            line = int(table.line[unstranded[0]])
            raise InputFileError(
                f"{path}, line {line}: a gene without a strand ('.'); the genes BED gives each variant the strand "
                f"its gene is transcribed from, so column 6 must be '+' or '-' ({len(unstranded)} gene(s) lack it).")
        self.path = path
        self._genes: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        for chrom in dict.fromkeys(table.chrom.tolist()):
            mask = table.chrom == chrom
            order = np.argsort(table.start[mask], kind="stable")
            starts, ends = table.start[mask][order], table.end[mask][order]
            strands = table.strand[mask][order]
            self._genes[chrom] = (starts, ends, strands, np.maximum.accumulate(ends))

    def strands(self, chrom: str, position: int, default: list[str]) -> list[str]:
        """The strands to score a variant at ``position`` (0-based) on.

        Parameters
        ----------
        chrom : str
            The variant's chromosome.
        position : int
            The 0-based position of its first REF base.
        default : list of str
            The strands for a variant outside every gene.

        Returns
        -------
        list of str
            ``["+"]``, ``["-"]`` or ``["+", "-"]``.
        """
        genes = self._genes.get(chrom)
        if genes is None:
            return default
        starts, ends, strands, reach = genes
        found = set()
        j = int(np.searchsorted(starts, position, side="right")) - 1
        while j >= 0 and reach[j] > position:  # no gene before j reaches the position once reach[j] <= it
            if ends[j] > position:
                found.add(strands[j])
            j -= 1
        return [s for s in ("+", "-") if s in found] or default
