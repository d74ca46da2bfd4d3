"""``lociflow scan``: the model slid along a genome, one bigWig track per class.

Windows of the model's length start every ``stride`` nt along each region (whole
chromosomes by default); each is encoded with the model's own preprocess parameters
(the :class:`~lociflow.preprocessing.stream.Encoder` predict uses) and its score is
written at the window's centre, ``start + window // 2``: the bigWig interval of a
window runs from ``stride // 2`` nt before its centre for ``stride`` nt, so the track is
continuous and its value at a centre is that window's score. Windows whose share of N
exceeds ``max_n`` are skipped (no value there). A window reaching the threshold is
*called*; overlapping called windows of a class are merged into one region of
``called.bed``.

Strands: ``+`` scores the genome as written, ``-`` its reverse complement, ``both`` the
mean of the two strands' probabilities (a ``logit`` score is the log-odds of that mean).
``auto`` is ``both`` for a DNA model, whose training loci had either orientation, and
``+`` for an RNA model, which reads one transcribed strand: scan an RNA model's other
strand with ``-``.

A scan streams one chromosome at a time, ``chunk_size`` windows at a time, so memory
does not grow with the genome. Each finished chromosome is kept in ``parts/``; Ctrl-C
keeps the run folder, and ``resume=True`` (``--resume``) with the same name continues
with the next unfinished chromosome. The tracks are written when every chromosome is
done, and ``parts/`` is then removed.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from lociflow.config import ScanConfig, coerce
from lociflow.errors import ConfigError, InputFileError
from lociflow.io.atomic import atomic_open
from lociflow.io.bed import read_bed
from lociflow.io.bigwig import write_bigwig
from lociflow.io.fasta import Genome
from lociflow.layout import CALLED_REGIONS_FILE, PARAMS_FILE, SCAN_PARTS_DIR, TRACK_SUFFIX
from lociflow.preprocessing.loci import Loci
from lociflow.preprocessing.stream import Encoder
from lociflow.progress import bar
from lociflow.runs import open_run

log = logging.getLogger("lociflow.scan")

#: probabilities are clipped this far from 0 and 1 before their log-odds are taken
_EPS = 1e-6
#: options a resumed scan must share with the scan it continues
_RESUME_KEYS = ("model", "genome", "regions", "chromosomes", "stride", "score", "strand", "max_n",
                "conservation", "tracks")
_INFORMATIVE = np.zeros(256, dtype=bool)
_INFORMATIVE[np.frombuffer(b"ACGTUacgtu", dtype=np.uint8)] = True


@dataclass
class ChromosomePlan:
    """Where one chromosome is scanned.

    Attributes
    ----------
    index : int
        The chromosome's position in the genome (names the part files).
    chrom : str
        Its name.
    size : int
        Its length.
    starts : numpy.ndarray
        int64: the start of every window, sorted and unique.
    """

    index: int
    chrom: str
    size: int
    starts: np.ndarray


def scan(config: Any, output: str | Path, name: str | None = None, force: bool = False,
         resume: bool = False) -> Path:
    """Slide the model along a genome; write one bigWig per class and the called regions.

    Why: a model that separates bound from unbound windows can say where in a region,
    or a genome, the protein would bind; a bigWig puts that next to the experiments in
    any genome browser.

    Parameters
    ----------
    config : ScanConfig, dict or YAML path
        ``model``, ``genome`` (default: the model's, if it still exists); ``regions`` or
        ``chromosomes`` to scan less than the whole genome; ``stride``, ``score``,
        ``threshold``, ``strand``, ``max_n``, ``chunk_size``.
    output : str or Path
        Output root; the run folder is created inside it.
    name : str, optional
        Run folder name. Default is the stage, the time and a random suffix.
    force : bool
        Replace an existing run folder of that name. Default is False.
    resume : bool
        Continue the interrupted scan ``output/name``: finished chromosomes are kept.
        Default is False.

    Returns
    -------
    Path
        The run folder, holding ``<class>.bw`` per class and ``called.bed``.

    Raises
    ------
    LociflowError
        For a missing model or genome, a regions file or chromosome the genome lacks,
        a resumed scan with different options, or nothing to scan.
    """
    from lociflow.model.inputs import check_file, check_genome_inputs, open_model

    cfg = coerce(ScanConfig, config, "scan")
    if resume and force:
        raise ConfigError("--resume and --force exclude each other: resume continues the scan that --force would replace.")
    if resume and not name:
        raise ConfigError("--resume needs the --name of the interrupted scan.")
    model = open_model(cfg)
    check_file(cfg.regions, "Regions file")
    files = check_genome_inputs(cfg, model, "A scan reads its windows")
    genome = Genome(files["genome"], cache_dir=cfg.cache_dir)
    stride = cfg.stride or max(1, model.window // 10)
    plans = plan_windows(genome, model.window, stride, cfg.regions, cfg.chromosomes)
    total = sum(len(p.starts) for p in plans)
    if total == 0:
        raise InputFileError(f"Nothing to scan: no chromosome or region of {genome.path} is as long as the model's "
                             f"window ({model.window} nt).")
    if resume:
        _check_resumable(Path(output) / name, cfg)
    strand = cfg.strand if cfg.strand != "auto" else ("+" if model.alphabet == "rna" else "both")
    threshold = cfg.threshold if cfg.threshold is not None else (0.5 if cfg.score == "prob" else 0.0)
    summary = {"model": str(cfg.model), "genome": str(files["genome"]), "stride": stride, "strand": strand,
               "score": cfg.score}
    with open_run("scan", output, cfg.dump(), name, force, summary_params=summary, keep_on_interrupt=True,
                  resume=resume) as run:
        scanner = Scanner(cfg, model, genome, files, strand)
        started = time.time()
        done = scanner.scan_all(plans, run.path / SCAN_PARTS_DIR, total)
        seconds = max(time.time() - started, 1e-9)
        paths = write_tracks(run.path, plans, run.path / SCAN_PARTS_DIR, model.classes, model.window, stride,
                             genome.chrom_sizes)
        called = write_called(run.path / CALLED_REGIONS_FILE, plans, run.path / SCAN_PARTS_DIR, model.classes,
                              model.window, threshold)
        shutil.rmtree(run.path / SCAN_PARTS_DIR)  # the tracks hold it all now; parts only served a resume
        run.record(windows=total, scored=done["scored"], skipped_n=done["skipped_n"], called_regions=called,
                   windows_per_s=round(done["computed"] / seconds, 1))
        log.info("scanned %d windows (%d skipped as mostly N) on %d chromosome(s); %d called region(s); tracks: %s",
                 total, done["skipped_n"], len(plans), called, ", ".join(p.name for p in paths))
    return run.final_path


def _check_resumable(folder: Path, cfg: ScanConfig) -> None:
    params = folder / PARAMS_FILE
    if not params.is_file():
        raise ConfigError(f"Cannot resume: {folder} is not the folder of a scan (it has no {PARAMS_FILE}).")
    before = (yaml.safe_load(params.read_text(encoding="utf-8")) or {}).get("scan", {})
    now = cfg.dump()
    changed = [k for k in _RESUME_KEYS if before.get(k) != now.get(k)]
    if changed:
        shown = "; ".join(f"{k}: {before.get(k)!r} then, {now.get(k)!r} now" for k in changed)
        raise ConfigError(f"Cannot resume {folder} with other options ({shown}): give the options of the "
                          "interrupted scan, or start a new one.")
    if not (folder / SCAN_PARTS_DIR).is_dir():
        raise ConfigError(f"Cannot resume {folder}: that scan finished (its tracks are written); "
                          "start a new one, or pass --force without --resume to redo it.")


def plan_windows(genome: Genome, window: int, stride: int, regions: str | os.PathLike | None = None,
                 chromosomes: list[str] | None = None) -> list[ChromosomePlan]:
    """The windows to scan, chromosome by chromosome in genome order.

    Parameters
    ----------
    genome : Genome
        The genome.
    window : int
        The model's window.
    stride : int
        Step between window starts.
    regions : str or os.PathLike or None
        A BED of regions; overlapping regions are merged. A region shorter than the
        window gets one window centred on it. Default is None (whole chromosomes).
    chromosomes : list of str or None
        Only these chromosomes. Default is None (every chromosome, or every one with a
        region).

    Returns
    -------
    list of ChromosomePlan
        One per chromosome scanned (none shorter than the window).

    Raises
    ------
    InputFileError
        When a named chromosome or a region's chromosome is not in the genome.
    """
    if chromosomes:
        genome.check_chromosomes(chromosomes, source="--chromosomes")
    wanted = set(chromosomes or genome.chrom_sizes)
    spans: dict[str, np.ndarray] = {}
    if regions is not None:
        table = read_bed(regions)
        genome.check_chromosomes(table.chrom, source=regions)
        for chrom in pd.unique(table.chrom):
            mask = table.chrom == chrom
            spans[chrom] = np.stack([table.start[mask], table.end[mask]], axis=1)
    else:
        spans = {c: np.array([[0, n]], dtype=np.int64) for c, n in genome.chrom_sizes.items()}
    plans = []
    for index, (chrom, size) in enumerate(genome.chrom_sizes.items()):
        if chrom not in wanted or chrom not in spans or size < window:
            continue
        starts = _starts(_merge(spans[chrom]), size, window, stride)
        plans.append(ChromosomePlan(index, chrom, size, starts))
    return plans


def _merge(spans: np.ndarray) -> np.ndarray:
    spans = spans[np.argsort(spans[:, 0], kind="stable")]
    merged = [list(spans[0])]
    for start, end in spans[1:]:
        if start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return np.asarray(merged, dtype=np.int64)


def _starts(spans: np.ndarray, size: int, window: int, stride: int) -> np.ndarray:
    parts = []
    for start, end in spans:
        if end - start >= window:
            parts.append(np.arange(start, end - window + 1, stride, dtype=np.int64))
        else:  # one window centred on a short region, inside the chromosome
            parts.append(np.array([min(max(start + (end - start - window) // 2, 0), size - window)], dtype=np.int64))
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


class Scanner:
    """Scores windows chunk by chunk and keeps each finished chromosome in a part file.

    Parameters
    ----------
    cfg : ScanConfig
        The stage's config.
    model : LoadedModel
        The model.
    genome : Genome
        The opened genome.
    files : dict
        ``conservation`` and ``tracks`` for the encoder.
    strand : str
        ``"+"``, ``"-"`` or ``"both"`` (``auto`` resolved).
    """

    def __init__(self, cfg: ScanConfig, model, genome: Genome, files: dict[str, Any], strand: str):
        self.cfg = cfg
        self.model = model
        self.genome = genome
        self.files = files
        self.strands = ["+", "-"] if strand == "both" else [strand]
        self.dtype = part_dtype(len(model.classes))

    def scores(self, encoder: Encoder, chrom: str, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The scores of windows starting at ``starts`` on ``chrom``.

        Parameters
        ----------
        encoder : Encoder
            With the model's preprocess parameters.
        chrom : str
            The chromosome.
        starts : numpy.ndarray
            int64 window starts.

        Returns
        -------
        tuple of numpy.ndarray
            The starts of the windows kept (not mostly N) and their scores, float32
            ``[M, classes]`` (probability or log-odds, strands combined).
        """
        window = self.model.window
        codes = self.genome.fetch(np.full(len(starts), chrom, dtype=object), starts, window)
        informative = _INFORMATIVE[codes].mean(axis=1)
        keep = (1.0 - informative) <= self.cfg.max_n
        starts, codes = starts[keep], codes[keep]
        if len(starts) == 0:
            return starts, np.zeros((0, len(self.model.classes)), dtype=np.float32)
        probs = np.zeros((len(starts), len(self.model.classes)), dtype=np.float64)
        for strand in self.strands:
            meta = pd.DataFrame({"name": np.full(len(starts), chrom, dtype=object), "source": "scan",
                                 "chrom": np.full(len(starts), chrom, dtype=object), "start": starts,
                                 "end": starts + window, "strand": np.full(len(starts), strand, dtype=object)})
            inputs = encoder.encode(Loci(meta, codes, True))
            probs += self.model.predict_proba({b: inputs[b] for b in self.model.branches},
                                              batch_size=self.cfg.batch_size)
        probs /= len(self.strands)
        if self.cfg.score == "logit":
            clipped = np.clip(probs, _EPS, 1 - _EPS)
            probs = np.log(clipped) - np.log1p(-clipped)
        return starts, probs.astype(np.float32)

    def scan_all(self, plans: list[ChromosomePlan], parts: Path, total: int) -> dict[str, int]:
        """Scan every chromosome not already finished in ``parts``.

        Parameters
        ----------
        plans : list of ChromosomePlan
            From :func:`plan_windows`.
        parts : Path
            The folder of part files (created if needed).
        total : int
            All windows of the plans, for the progress bar.

        Returns
        -------
        dict of str to int
            ``scored`` windows written, ``skipped_n`` windows skipped as mostly N, and
            ``computed``, the windows of this call (not those of a resumed run).
        """
        parts.mkdir(exist_ok=True)
        counts = {"scored": 0, "skipped_n": 0, "computed": 0}
        params = {**self.model.preprocess, "strand": True}  # the scan's strand option decides the orientation
        with Encoder(params, genome=self.genome, conservation=self.files["conservation"],
                     tracks=self.files["tracks"], workers=self.cfg.workers, cache_dir=self.cfg.cache_dir) as encoder, \
                bar("scanning", total=total, unit="windows") as progress:
            for plan in plans:
                done = part_path(parts, plan)
                if done.is_file():
                    kept = len(read_part(done, self.dtype))
                    counts["scored"] += kept
                    counts["skipped_n"] += len(plan.starts) - kept
                    progress.update(len(plan.starts))
                    log.info("%s was finished before: kept", plan.chrom)
                    continue
                work = done.with_suffix(".partial")
                kept = 0
                with open(work, "wb") as handle:
                    for lo in range(0, len(plan.starts), self.cfg.chunk_size):
                        chunk = plan.starts[lo:lo + self.cfg.chunk_size]
                        starts, scores = self.scores(encoder, plan.chrom, chunk)
                        rows = np.zeros(len(starts), dtype=self.dtype)
                        rows["start"], rows["score"] = starts, scores
                        rows.tofile(handle)
                        kept += len(starts)
                        counts["computed"] += len(chunk)
                        progress.update(len(chunk))
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(work, done)
                counts["scored"] += kept
                counts["skipped_n"] += len(plan.starts) - kept
        return counts


def part_dtype(n_classes: int) -> np.dtype:
    """The record of a part file: a window's start and its score per class.

    Parameters
    ----------
    n_classes : int
        The model's classes.

    Returns
    -------
    numpy.dtype
        ``start`` int64 and ``score`` float32 ``[n_classes]``.
    """
    return np.dtype([("start", "<i8"), ("score", "<f4", (n_classes,))])


def part_path(parts: Path, plan: ChromosomePlan) -> Path:
    """The finished part file of a chromosome (named by its index: any name is a safe file name).

    Parameters
    ----------
    parts : Path
        The folder of part files.
    plan : ChromosomePlan
        The chromosome.

    Returns
    -------
    Path
        ``parts/<index>.bin``.
    """
    return parts / f"{plan.index:06d}.bin"


def read_part(path: Path, dtype: np.dtype) -> np.ndarray:
    """The records of a part file, memory-mapped (an empty array for an empty file).

    Parameters
    ----------
    path : Path
        A finished part file.
    dtype : numpy.dtype
        From :func:`part_dtype`.

    Returns
    -------
    numpy.ndarray
        Structured records, sorted by start.
    """
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def _blocks(plans: list[ChromosomePlan], parts: Path, dtype: np.dtype, column: int, stride: int,
            window: int, block: int = 1 << 20) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    for plan in plans:
        records = read_part(part_path(parts, plan), dtype)
        for lo in range(0, len(records), block):
            chunk = records[lo:lo + block + 1]  # one more: the next interval's start bounds this one's end
            centres = chunk["start"] + window // 2
            starts = np.maximum(centres - stride // 2, 0)
            ends = np.minimum(starts + stride, plan.size)
            ends[:-1] = np.minimum(ends[:-1], starts[1:])
            n = min(block, len(records) - lo)
            yield plan.chrom, starts[:n], ends[:n], chunk["score"][:n, column]


def write_tracks(folder: Path, plans: list[ChromosomePlan], parts: Path, classes: list[str], window: int,
                 stride: int, chrom_sizes: dict[str, int]) -> list[Path]:
    """One bigWig per class from the part files: each window's score around its centre.

    Parameters
    ----------
    folder : Path
        Where ``<class>.bw`` are written.
    plans : list of ChromosomePlan
        The chromosomes scanned, in genome order.
    parts : Path
        Their finished part files.
    classes : list of str
        The model's classes.
    window : int
        The model's window (a window's centre is ``start + window // 2``).
    stride : int
        The step between windows (the width of each written interval).
    chrom_sizes : dict of str to int
        The genome's chromosome lengths.

    Returns
    -------
    list of Path
        The bigWig files, in class order.
    """
    dtype = part_dtype(len(classes))
    sizes = {p.chrom: chrom_sizes[p.chrom] for p in plans}
    paths = []
    for k, name in enumerate(classes):
        path = folder / f"{name}{TRACK_SUFFIX}"
        write_bigwig(path, sizes, _blocks(plans, parts, dtype, k, stride, window))
        paths.append(path)
    return paths


def write_called(path: Path, plans: list[ChromosomePlan], parts: Path, classes: list[str], window: int,
                 threshold: float) -> int:
    """Merged regions whose windows reach ``threshold``, per class, as BED; return their number.

    Parameters
    ----------
    path : Path
        The BED file to write: ``chrom start end class max_score``, by chromosome and start.
    plans : list of ChromosomePlan
        The chromosomes scanned.
    parts : Path
        Their finished part files.
    classes : list of str
        The model's classes.
    window : int
        The model's window (a called window covers ``start`` to ``start + window``).
    threshold : float
        The score a window must reach.

    Returns
    -------
    int
        The number of regions written.
    """
    dtype = part_dtype(len(classes))
    n = 0
    with atomic_open(path, "w", encoding="utf-8") as handle:
        for plan in plans:
            records = read_part(part_path(parts, plan), dtype)
            rows = []
            for k, name in enumerate(classes):
                hit = np.flatnonzero(records["score"][:, k] >= threshold)
                if len(hit) == 0:
                    continue
                starts = records["start"][hit]
                scores = records["score"][hit, k]
                breaks = np.flatnonzero(starts[1:] > starts[:-1] + window) + 1
                for group_starts, group_scores in zip(np.split(starts, breaks), np.split(scores, breaks)):
                    rows.append((int(group_starts[0]), int(group_starts[-1]) + window, name, float(group_scores.max())))
            for start, end, name, best in sorted(rows):
                handle.write(f"{plan.chrom}\t{start}\t{min(end, plan.size)}\t{name}\t{best:.6g}\n")
                n += 1
    return n
