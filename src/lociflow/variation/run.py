"""``lociflow variants``: the effect of each VCF variant on the model's class probabilities.

Variants are read from the VCF a chunk at a time; for each one the reference and the
alternative window (:mod:`lociflow.variation.alleles`) are encoded with the model's own
preprocess parameters (the same :class:`~lociflow.preprocessing.stream.Encoder` that
predict uses), scored together, and their rows appended to ``variants.tsv`` before the
next chunk is read, so memory stays bounded however long the VCF. Only the ``top``
variants by absolute effect are kept in memory, for ``top_variants.tsv`` and the
attribution page.
"""

from __future__ import annotations

import heapq
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow.config import VariantsConfig, coerce
from lociflow.errors import ConfigError, InputFileError
from lociflow.io.atomic import atomic_open
from lociflow.io.fasta import Genome
from lociflow.io.vcf import Variant, VcfCounts, iter_variants
from lociflow.layout import (
    SEQUENCE_BRANCH,
    TOP_VARIANTS_FILE,
    VARIANT_COLUMNS,
    VARIANTS_FILE,
)
from lociflow.preprocessing.loci import Loci
from lociflow.preprocessing.stream import Encoder
from lociflow.progress import bar
from lociflow.result_warnings import locus_warnings
from lociflow.runs import open_run
from lociflow.variation.alleles import AlleleWindows, allele_windows, ref_mismatches
from lociflow.variation.strands import GeneStrands

log = logging.getLogger("lociflow.variants")

#: probabilities are clipped this far from 0 and 1 before their log-odds are taken
_EPS = 1e-6
#: REF mismatches listed in the message
_SHOWN = 5


def variants(config: Any, output: str | Path, name: str | None = None, force: bool = False) -> Path:
    """Score every variant of a VCF with a model; return the run folder.

    Why: a model of binding is most useful when it says which of a biologist's variants
    change binding. Both alleles are encoded exactly as the model's training data was,
    at its window length, and compared class by class.

    Parameters
    ----------
    config : VariantsConfig, dict or YAML path
        ``model``, ``vcf`` and ``genome`` (default: the model's genome, if it still
        exists); ``strand`` and ``genes``, ``ref_mismatch``, ``top``, ``attribute``,
        ``chunk_size``.
    output : str or Path
        Output root; the run folder is created inside it.
    name : str, optional
        Run folder name. Default is the stage, the time and a random suffix.
    force : bool
        Replace an existing run folder of that name. Default is False.

    Returns
    -------
    Path
        The run folder, holding ``variants.tsv`` (input order: ``chrom pos id ref alt``,
        then per class ``ref_<c> alt_<c> delta_<c> logodds_<c>``, then ``strand`` and
        ``warning``), ``top_variants.tsv`` and, with ``attribute``, ``index.html``.

    Raises
    ------
    LociflowError
        For a missing model, VCF or genome, a malformed VCF line, a chromosome the genome
        lacks, or (with ``ref_mismatch: error``) a REF that differs from the genome.
    """
    from lociflow.model.input_checks import check_file, check_genome_inputs
    from lociflow.model.inputs import open_model

    cfg = coerce(VariantsConfig, config, "variants")
    model = open_model(cfg)
    if cfg.vcf is None:
        raise ConfigError("No variants given: name a VCF file (--vcf VARIANTS.vcf[.gz]).")
    check_file(cfg.vcf, "VCF file")
    check_file(cfg.genes, "Genes BED")
    encoder_args = check_genome_inputs(cfg, model, "Variants are read")
    genome = Genome(encoder_args["genome"], cache_dir=cfg.cache_dir)
    chunks = iter_variants(cfg.vcf, chunk_size=min(cfg.chunk_size, 1000))
    try:
        first = next(chunks, [])
    finally:
        chunks.close()  # closes the file; the run reads the VCF again from its start
    if not first:
        raise InputFileError(f"{cfg.vcf} holds no variant with a sequence allele: nothing to score.")
    _checked(genome, first, cfg)  # a VCF from another assembly stops here, before a run folder exists
    genes = GeneStrands(cfg.genes, genome) if cfg.genes is not None else None
    summary = {"model": str(cfg.model), "vcf": str(cfg.vcf), "strand": cfg.strand, "attribute": cfg.attribute}
    with open_run("variants", output, cfg.dump(), name, force, summary_params=summary) as run:
        scorer = VariantScorer(cfg, model, genome, encoder_args, genes)
        counts = scorer.stream(run.path)
        if cfg.attribute != "none" and scorer.top:
            from lociflow.variation.page import write_variant_page

            write_variant_page(run.path, model, scorer, cfg)
        run.record(**counts)
        log.info("scored %d variants with %s", counts["scored"], model.path)
    return run.final_path


def _checked(genome: Genome, chunk: list[Variant], cfg: VariantsConfig) -> tuple[list[Variant], int]:
    """The variants of ``chunk`` whose REF the genome confirms, and how many were skipped."""
    genome.check_chromosomes([v.chrom for v in chunk], source=cfg.vcf)
    bad = ref_mismatches(genome, chunk)
    if not bad:
        return chunk, 0
    if cfg.ref_mismatch == "error":
        shown = "; ".join(f"line {chunk[i].line}: {chunk[i].chrom}:{chunk[i].pos} REF {chunk[i].ref}, genome {held}"
                          for i, held in bad[:_SHOWN])
        more = f" (and {len(bad) - _SHOWN} more in the first {len(chunk)} variants)" if len(bad) > _SHOWN else ""
        raise InputFileError(
            f"{len(bad)} variant(s) of {cfg.vcf} have a REF allele that differs from the genome "
            f"{genome.path}: {shown}{more}. Is the VCF from another genome assembly? "
            "To score the others anyway, pass --ref-mismatch skip.")
    drop = {i for i, _ in bad}
    return [v for i, v in enumerate(chunk) if i not in drop], len(drop)


def effect_columns(classes: list[str]) -> list[str]:
    """The per-class columns of ``variants.tsv``, in order.

    Parameters
    ----------
    classes : list of str
        The model's classes.

    Returns
    -------
    list of str
        ``ref_<c>, alt_<c>, delta_<c>, logodds_<c>`` for each class.
    """
    return [f"{kind}_{c}" for c in classes for kind in ("ref", "alt", "delta", "logodds")]


def log_odds(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))`` with ``p`` clipped away from 0 and 1.

    Parameters
    ----------
    p : numpy.ndarray
        Probabilities.

    Returns
    -------
    numpy.ndarray
        The log-odds, float64.
    """
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


class VariantScorer:
    """Scores chunks of variants and keeps the ones with the largest effect.

    Parameters
    ----------
    cfg : VariantsConfig
        The stage's config.
    model : LoadedModel
        The model.
    genome : Genome
        The opened reference genome.
    files : dict
        ``genome``, ``conservation`` and ``tracks`` (from
        :func:`lociflow.model.input_checks.check_genome_inputs`).
    genes : GeneStrands or None
        Each variant's strand from the genes it lies in (``cfg.strand`` outside them).
        Default is None: every variant on ``cfg.strand``.

    Attributes
    ----------
    top : list of (float, int, Variant, str)
        After :meth:`stream`: the ``cfg.top`` variants with the largest absolute effect on
        any class, largest first, as (effect, row number, variant, strand).
    """

    def __init__(self, cfg: VariantsConfig, model, genome: Genome, files: dict[str, Any],
                 genes: GeneStrands | None = None):
        self.cfg = cfg
        self.model = model
        self.genome = genome
        # the strand is the option's, not the model's: reverse-complement whenever asked
        self.params = {**model.preprocess, "strand": True}
        self.files = files
        self.strands = ["+", "-"] if cfg.strand == "both" else [cfg.strand]
        self.genes = genes
        self.top: list[tuple[float, int, Variant, str]] = []

    def encoder(self) -> Encoder:
        """An :class:`Encoder` with the model's preprocess parameters and this run's files.

        Returns
        -------
        Encoder
            To be used as a context manager.
        """
        return Encoder(self.params, genome=self.genome, conservation=self.files["conservation"],
                       tracks=self.files["tracks"], workers=self.cfg.workers, cache_dir=self.cfg.cache_dir)

    def encode(self, encoder: Encoder, variants: list[Variant], windows: AlleleWindows,
               strand: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], pd.DataFrame]:
        """Encoded reference and alternative windows of placed variants on one strand.

        Parameters
        ----------
        encoder : Encoder
            From :meth:`encoder`.
        variants : list of Variant
            The variants ``windows`` was made from.
        windows : AlleleWindows
            Their windows.
        strand : str
            ``"+"`` or ``"-"``.

        Returns
        -------
        tuple
            The reference inputs and the alternative inputs (one array per branch, in
            the network's shape) and the windows' metadata.
        """
        placed = [variants[i] for i in windows.index]
        n = len(placed)
        window = self.model.window
        meta = pd.DataFrame({
            "name": [v.id for v in placed], "source": str(self.cfg.vcf),
            "chrom": np.array([v.chrom for v in placed], dtype=object),
            "start": windows.starts, "end": windows.starts + window, "strand": np.full(n, strand, dtype=object),
            "orig_chrom": np.array([v.chrom for v in placed], dtype=object),
            "orig_start": np.array([v.pos - 1 for v in placed], dtype=np.int64),
            "orig_end": np.array([v.pos - 1 + len(v.ref) for v in placed], dtype=np.int64),
        })
        ref = encoder.encode(Loci(meta, windows.ref, True))
        # the alternative allele's track values are read at the reference window's coordinates
        alt = encoder.encode(Loci(meta, windows.alt, True))
        ref = {b: ref[b] for b in self.model.branches}
        alt = {b: alt[b] for b in self.model.branches}
        self.model.check_inputs(ref, str(self.cfg.vcf))
        return ref, alt, meta

    def score(self, encoder: Encoder, variants: list[Variant], first_row: int) -> tuple[pd.DataFrame, dict[str, int]]:
        """The ``variants.tsv`` rows of one chunk of REF-checked variants.

        Parameters
        ----------
        encoder : Encoder
            From :meth:`encoder`.
        variants : list of Variant
            The chunk, in input order.
        first_row : int
            Rows written before this chunk (for the top list's row numbers).

        Returns
        -------
        tuple of (pandas.DataFrame, dict)
            The rows (input order; a variant scored on both strands, by ``strand: both``
            or its genes, has its ``+`` row, then its ``-`` row) and the variants
            skipped, by reason.
        """
        placed_all = allele_windows(self.genome, variants, self.model.window)
        classes = self.model.classes
        wanted = [self.strands if self.genes is None else
                  self.genes.strands(variants[i].chrom, variants[i].pos - 1, self.strands) for i in placed_all.index]
        parts = []
        for order, strand in enumerate(("+", "-")):
            rows = np.array([strand in w for w in wanted], dtype=bool)
            if not rows.any():
                continue
            windows = placed_all.subset(rows)
            ref, alt, meta = self.encode(encoder, variants, windows, strand)
            n = len(meta)
            both = {b: np.concatenate([ref[b], alt[b]]) for b in self.model.branches}
            probs = np.asarray(self.model.predict_proba(both, batch_size=self.cfg.batch_size), dtype=np.float64)
            p_ref, p_alt = probs[:n], probs[n:]
            placed = [variants[i] for i in windows.index]
            table = pd.DataFrame({
                "chrom": [v.chrom for v in placed], "pos": [v.pos for v in placed], "id": [v.id for v in placed],
                "ref": [v.ref for v in placed], "alt": [v.alt for v in placed],
            })
            columns = {}
            for k, c in enumerate(classes):
                columns[f"ref_{c}"] = p_ref[:, k]
                columns[f"alt_{c}"] = p_alt[:, k]
                columns[f"delta_{c}"] = p_alt[:, k] - p_ref[:, k]
                columns[f"logodds_{c}"] = log_odds(p_alt[:, k]) - log_odds(p_ref[:, k])
            table = pd.concat([table, pd.DataFrame(columns)], axis=1)
            table["strand"] = strand
            table["warning"] = locus_warnings(ref.get(SEQUENCE_BRANCH), meta, "center")
            table["_order"] = windows.index * 2 + order
            table["_variant"] = windows.index
            parts.append(table)
        if not parts:
            return pd.DataFrame(columns=[*VARIANT_COLUMNS, *effect_columns(classes), "strand", "warning"]), \
                placed_all.skipped
        table = pd.concat(parts, ignore_index=True).sort_values("_order", kind="stable").reset_index(drop=True)
        self._keep_top(table, variants, first_row)
        return table.drop(columns=["_order", "_variant"]), placed_all.skipped

    def _keep_top(self, table: pd.DataFrame, variants: list[Variant], first_row: int) -> None:
        deltas = table[[f"delta_{c}" for c in self.model.classes]].to_numpy(np.float64)
        effect = np.abs(deltas).max(axis=1) if len(table) else np.zeros(0)
        for row in np.argsort(-effect, kind="stable")[: self.cfg.top]:
            item = (float(effect[row]), -(first_row + int(row)),
                    variants[int(table["_variant"].iloc[row])], str(table["strand"].iloc[row]))
            if len(self.top) < self.cfg.top:
                heapq.heappush(self.top, item)
            elif item[:2] > self.top[0][:2]:
                heapq.heapreplace(self.top, item)

    def stream(self, folder: Path) -> dict[str, int]:
        """Read, check, score and write every variant; return what was done, by count.

        Parameters
        ----------
        folder : Path
            Where ``variants.tsv`` and ``top_variants.tsv`` are written.

        Returns
        -------
        dict of str to int
            ``scored`` (rows written), ``records`` and ``variants`` read, and the skipped
            alleles by reason (``symbolic``, ``no_alt``, ``ref_mismatch``,
            ``longer_than_window``, ``short_chromosome``).
        """
        counts = VcfCounts()
        skipped = {"ref_mismatch": 0, "longer_than_window": 0, "short_chromosome": 0}
        rows = 0
        columns = [*VARIANT_COLUMNS, *effect_columns(self.model.classes), "strand", "warning"]
        with atomic_open(folder / VARIANTS_FILE, "w", encoding="utf-8") as handle, self.encoder() as encoder, \
                bar("scoring variants", unit="variants") as progress:
            handle.write("\t".join(columns) + "\n")
            for chunk in iter_variants(self.cfg.vcf, chunk_size=self.cfg.chunk_size, counts=counts):
                kept, mismatched = _checked(self.genome, chunk, self.cfg)
                skipped["ref_mismatch"] += mismatched
                if kept:
                    table, left_out = self.score(encoder, kept, rows)
                    for key, value in left_out.items():
                        skipped[key] += value
                    table[columns].to_csv(handle, sep="\t", index=False, header=False, float_format="%.6g")
                    rows += len(table)
                progress.update(len(chunk))
        self.top = sorted(self.top, reverse=True)
        self._write_top(folder)
        result = {"scored": rows, "records": counts.records, "variants": counts.variants,
                  "symbolic": counts.symbolic, "no_alt": counts.missing, **skipped}
        for key in ("symbolic", "no_alt", *skipped):
            if result[key]:
                log.warning("skipped %d variant allele(s): %s", result[key], _REASONS[key])
        return result

    def _write_top(self, folder: Path) -> None:
        classes = self.model.classes
        lines = ["\t".join(["rank", *VARIANT_COLUMNS, "strand", "effect"]) + "\n"]
        for rank, (effect, _, v, strand) in enumerate(self.top, start=1):
            lines.append("\t".join(map(str, [rank, v.chrom, v.pos, v.id, v.ref, v.alt, strand, f"{effect:.6g}"])) + "\n")
        with atomic_open(folder / TOP_VARIANTS_FILE, "w", encoding="utf-8") as handle:
            handle.writelines(lines)
        for rank, (effect, _, v, strand) in enumerate(self.top[:5], start=1):
            log.info("top %d: %s %s:%d %s>%s (%s strand), largest change of a class probability %.3f",
                     rank, v.id, v.chrom, v.pos, v.ref, v.alt, strand, effect)
        if classes and not self.top:
            log.info("no variant was scored")


_REASONS = {
    "symbolic": "symbolic or structural alleles (<DEL>, breakends, *) have no sequence to score",
    "no_alt": "ALT is '.' (no alternative allele)",
    "ref_mismatch": "REF differs from the genome (--ref-mismatch skip)",
    "longer_than_window": "an allele is longer than the model's window",
    "short_chromosome": "the chromosome is shorter than the model's window",
}
