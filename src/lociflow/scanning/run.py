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

import contextlib
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from lociflow.config import ScanConfig, coerce
from lociflow.errors import ConfigError, InputFileError
from lociflow.io.fasta import Genome
from lociflow.layout import CALLED_REGIONS_FILE, PARAMS_FILE, SCAN_PARTS_DIR
from lociflow.preprocessing.loci import Loci
from lociflow.preprocessing.stream import Encoder
from lociflow.progress import bar
from lociflow.runs import open_run
from lociflow.scanning.tracks import (
    part_dtype,
    part_length,
    part_path,
    write_called,
    write_tracks,
)
from lociflow.scanning.windows import ChromosomePlan, plan_windows

log = logging.getLogger("lociflow.scan")

#: probabilities are clipped this far from 0 and 1 before their log-odds are taken
_EPS = 1e-6
#: options a resumed scan must share with the scan it continues
_RESUME_KEYS = ("model", "genome", "regions", "chromosomes", "stride", "score", "strand", "max_n",
                "conservation", "tracks")
_INFORMATIVE = np.zeros(256, dtype=bool)
_INFORMATIVE[np.frombuffer(b"ACGTUacgtu", dtype=np.uint8)] = True


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
    from lociflow.model.input_checks import check_file, check_genome_inputs
    from lociflow.model.inputs import open_model

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
    total = sum(p.n_windows for p in plans)
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
                  resume=resume) as run, _terminate_as_interrupt():
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


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (from ``kill`` or a job scheduler) stops the scan as Ctrl-C (and the GUI's Stop) do.

    A killed process would leave its temporary folder to be removed as debris by the next run,
    and the finished chromosomes with it; an interrupt keeps the folder for ``--resume``.
    Signals can only be handled in the main thread: elsewhere nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
                    kept = part_length(done, self.dtype)
                    counts["scored"] += kept
                    counts["skipped_n"] += plan.n_windows - kept
                    progress.update(plan.n_windows)
                    log.info("%s was finished before: kept", plan.chrom)
                    continue
                work = done.with_suffix(".partial")
                kept = 0
                with open(work, "wb") as handle:
                    every = plan.starts()  # this chromosome's windows only
                    for lo in range(0, len(every), self.cfg.chunk_size):
                        chunk = every[lo:lo + self.cfg.chunk_size]
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
                counts["skipped_n"] += plan.n_windows - kept
        return counts
