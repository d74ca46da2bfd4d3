"""Configuration: one pydantic model per stage.

Each model lists every option of its stage with its default and a description (the CLI
help and the GUI forms are built from them). Loading, ``--set`` overrides and error
messages are in :mod:`lociflow.configfile`, re-exported here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from lociflow.config_sources import (
    FlanksClass,
    GeneratedClass,
    GenomeClass,
    LabelledSource,
    ShuffleClass,
    TableSource,
    generated_class,
)
from lociflow.configfile import (  # noqa: F401 - re-exported: callers import them from here
    Section,
    StageConfig,
    apply_overrides,
    coerce,
    load_stage,
    load_yaml,
    parse_stage,
    suggest,
)
from lociflow.errors import ConfigError  # noqa: F401
from lociflow.layout import BUILTIN_BRANCHES, PRESET_NAMES, SPLITS
from lociflow.model.spec import parse_architecture
from lociflow.searching.params import parse_space

#: a split of a dataset, by name
SplitName = Literal[SPLITS]  # type: ignore[valid-type]

# --------------------------------------------------------------------------- preprocess


class FoldOptions(Section):
    """RNA secondary structure features for the ``fold`` branch (ViennaRNA)."""

    features: list[Literal["mfe", "unpaired_prob"]] = Field(
        default=["mfe", "unpaired_prob"],
        description="mfe: dot-bracket one-hot of the minimum free energy structure (3 channels); "
        "unpaired_prob: per-position probability of being unpaired from the partition function.",
    )
    temperature: float = Field(default=37.0, description="Folding temperature in degrees Celsius.")
    max_bp_span: int | None = Field(default=None, ge=1, description="Largest base-pair span (None: no limit).")


class SplitOptions(Section):
    """How loci are divided into train/valid/test/blackbox."""

    method: Literal["random", "chromosome"] = "random"
    ratios: dict[str, float] = Field(default_factory=lambda: {"train": 0.8, "valid": 0.1, "test": 0.1})
    train: list[str] = Field(default_factory=list)
    valid: list[str] = Field(default_factory=list)
    test: list[str] = Field(default_factory=list)
    blackbox: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self):
        for key in self.ratios:
            if key not in SPLITS:
                raise ValueError(f"unknown split {key!r} in ratios{suggest(key, SPLITS)}; splits are {', '.join(SPLITS)}")
        if self.method == "random":
            bad = {k: v for k, v in self.ratios.items() if v < 0}
            if bad:
                raise ValueError(f"split ratios must not be negative: {bad}")
            if sum(self.ratios.values()) <= 0:
                raise ValueError("split ratios are all zero: give at least one positive ratio")
            if self.ratios.get("train", 0) <= 0:
                raise ValueError("the train ratio must be positive")
        else:
            seen: dict[str, str] = {}
            for split in SPLITS:
                for chrom in getattr(self, split):
                    if chrom in seen:
                        raise ValueError(
                            f"chromosome {chrom!r} is in both the {seen[chrom]} and {split} lists; "
                            "each chromosome may belong to one split only"
                        )
                    seen[chrom] = split
            if not self.train:
                raise ValueError("method: chromosome needs a non-empty train list of chromosomes")
        return self


def _auto_or_number(value: Any, message: str) -> Any:
    """``"auto"`` for the word in any case and spacing; a string that is no number is ``message``."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, str) and not value.strip().isdigit():
        raise ValueError(f"{message} (got {value!r})")
    return value


def _class_files(data: Any, made: bool = True) -> Any:
    """``classes: {name: file}`` is read as ``{name: [file]}``; with ``made``, a mapping is a
    class made from another (only preprocess makes classes)."""
    if isinstance(data, dict) and isinstance(data.get("classes"), dict):
        data = dict(data)
        data["classes"] = {
            k: ([v] if isinstance(v, (str, os.PathLike)) else generated_class(k, v) if made and isinstance(v, dict) else v)
            for k, v in data["classes"].items()}
    return data


BED_WINDOW = 150
"""The window of ``window: auto`` when any class is read from BED (loci have no length to go by)."""
AUTO_WINDOW_VIEWPOINT = 150
"""The most ``window: auto`` takes around a GraphProt viewpoint (measured best: bench/RESULTS.md)."""
AUTO_WINDOW_MAX = 500
"""The most ``window: auto`` takes from sequence records without a viewpoint (a cost cap)."""


class PreprocessConfig(StageConfig):
    """Parameters of ``lociflow preprocess``."""

    classes: dict[str, list[Path] | ShuffleClass | GenomeClass | FlanksClass] = Field(
        default_factory=dict, description="Class name -> one or more BED/narrowPeak/FASTA files (gzip allowed), or "
        "a class made from another: {from: shuffle | genome | flanks, like: <class>, ...}."
    )
    table: TableSource | None = Field(default=None, description="A table of sequences and labels (CSV/TSV).")
    labelled: LabelledSource | None = Field(default=None, description="FASTA with the class in each header.")
    genome: Path | None = Field(default=None, description="Reference FASTA (plain or bgzip); needed for BED input.")
    conservation: Path | None = Field(default=None, description="Conservation bigWig (or wig/bedGraph), e.g. phyloP.")
    tracks: dict[str, Path] = Field(default_factory=dict, description="Further named bigWig tracks, each a branch.")
    branches: list[str] = Field(default_factory=lambda: ["seq"], description="Any of seq, fold, cons and track names.")
    window: int | Literal["auto"] = Field(
        default="auto", description="Window length in nucleotides; auto: for sequence input the median record "
        f"length (at most {AUTO_WINDOW_VIEWPOINT} nt around a GraphProt viewpoint, {AUTO_WINDOW_MAX} otherwise), "
        f"{BED_WINDOW} for BED input.")
    alphabet: Literal["dna", "rna"] = "dna"
    strand: bool = Field(default=True, description="Reverse-complement minus-strand loci (and reverse their tracks).")
    placement: Literal["center", "random", "summit"] = Field(
        default="center", description="Window position on each locus (summit: on a narrowPeak's summit, column 10).")
    edge: Literal["shift", "drop"] = Field(default="shift", description="Windows past a chromosome end: shift inside or drop.")
    viewpoint: Literal["auto", "center", "uppercase"] = Field(
        default="auto", description="FASTA input: centre windows on the sequence or on its uppercase region; "
        "auto: on the uppercase region when the records are in GraphProt layout (upper case inside lowercase "
        "flanks), else on the sequence."
    )
    missing: Literal["error", "zero"] = Field(
        default="error", description="A chromosome absent from a bigWig: error, or zeros."
    )
    fold: FoldOptions = Field(default_factory=FoldOptions)
    reduce: dict[str, float] = Field(
        default_factory=dict, description="Per class: a ratio (<= 1) or an absolute count (> 1) to keep."
    )
    balance: Literal["none", "smallest"] = Field(default="none", description="smallest: subsample every class to the smallest.")
    split: SplitOptions = Field(default_factory=SplitOptions)
    seed: int = 42
    workers: int = Field(default=2, ge=1, description="Processes for folding.")
    cache_dir: Path | None = Field(default=None, description="Cache for .fai, converted tracks and folds (default ~/.cache/lociflow).")
    source: Path | None = Field(
        default=None, description="An existing dataset to re-balance/re-split without mapping again (--from)."
    )

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        return _class_files(data)

    @field_validator("window", mode="before")
    @classmethod
    def _window_word(cls, value: Any) -> Any:
        return _auto_or_number(value, "window must be a number of nucleotides or auto")

    @model_validator(mode="after")
    def _check(self):
        if self.window != "auto" and self.window < 1:
            raise ValueError(f"window must be at least 1 nt (got {self.window})")
        if self.source is None:
            self._check_classes()
        if not self.branches:
            raise ValueError("branches is empty: give at least one of seq, fold, cons or a track name")
        allowed = [*BUILTIN_BRANCHES, *self.tracks]
        for branch in self.branches:
            if branch not in allowed:
                raise ValueError(f"unknown branch {branch!r}{suggest(branch, allowed)}; allowed: {', '.join(allowed)}")
        if len(set(self.branches)) != len(self.branches):
            raise ValueError(f"branches lists a branch twice: {self.branches}")
        if "cons" in self.branches and self.conservation is None:
            raise ValueError("the cons branch needs a conservation file (conservation: phylop.bw)")
        for name in self.tracks:
            if name in BUILTIN_BRANCHES:
                raise ValueError(f"track name {name!r} is reserved for a built-in branch")
        if self.classes and self.table is None and self.labelled is None:
            for name, value in self.reduce.items():
                if name not in self.classes:
                    raise ValueError(f"reduce names class {name!r}, which is not among the classes{suggest(name, list(self.classes))}")
        for name, value in self.reduce.items():
            if value <= 0:
                raise ValueError(f"reduce[{name!r}] must be positive: a ratio (<= 1) or a count (> 1)")
            if value > 1 and value != int(value):
                raise ValueError(f"reduce[{name!r}] = {value}: a count above 1 must be a whole number")
        return self


    def known_classes(self) -> list[str] | None:
        """The class names before any file is read, or None when a table or labelled FASTA
        without a ``names`` mapping takes its class names from its labels."""
        names = list(self.classes)
        for source in (self.table, self.labelled):
            if source is None:
                continue
            if not source.names:
                return None
            names += [n for n in dict.fromkeys(source.names.values()) if n not in names]
        return names

    def _check_classes(self) -> None:
        if not self.classes and self.table is None and self.labelled is None:
            raise ValueError("no classes given: name at least two classes, each with its files "
                             "(or give a table or labelled FASTA)")
        known = self.known_classes()
        if known is not None and len(known) == 1:
            raise ValueError(f"only one class given ({known[0]!r}): a classifier needs at least two")
        for name, files in self.classes.items():
            if isinstance(files, GeneratedClass):
                if known is not None and files.like not in known:
                    raise ValueError(f"classes.{name}.like names {files.like!r}, which is not a class"
                                     f"{suggest(files.like, known)}; classes: {', '.join(known)}")
                if files.like == name or isinstance(self.classes.get(files.like), GeneratedClass):
                    raise ValueError(f"classes.{name}.like must name a class read from files, not "
                                     f"{'itself' if files.like == name else 'another generated class'}")
                if isinstance(files, ShuffleClass):
                    tracks = [b for b in self.branches if b not in ("seq", "fold")]
                    if tracks:
                        raise ValueError(f"classes.{name} is made by shuffling, and a shuffle has no values of the "
                                         f"{', '.join(tracks)} branch (it lies nowhere in the genome): leave "
                                         "those branches out, or use from: genome")
                elif self.genome is None:
                    raise ValueError(f"classes.{name} (from: {files.from_}) draws windows from the genome: "
                                     "give genome: genome.fa")
            elif not files:
                raise ValueError(f"class {name!r} has no files")


# --------------------------------------------------------------------------- train


class EarlyStopping(Section):
    """Stop when the monitor has not improved by ``min_delta`` for ``patience`` epochs.

    The defaults are the measured best (bench/RESULTS.md, "Accuracy"): validation AUROC keeps
    improving for epochs after the validation loss has flattened, so stopping on the loss
    with a coarse ``min_delta`` stopped training about half way.
    """

    monitor: Literal["val_loss", "val_auroc", "val_accuracy"] = "val_auroc"
    patience: int = Field(default=10, ge=1)
    min_delta: float = Field(default=0.001, ge=0)


DEFAULT_SHIFT = 3
"""Positions of random shift when ``augment.shift`` is not given (measured: bench/RESULTS.md)."""


class Augment(Section):
    reverse_complement: bool = Field(default=False, description="DNA only: add reverse-complemented copies at random.")
    shift: int | None = Field(
        default=None, ge=0, description=f"Random shift of up to this many positions (default: {DEFAULT_SHIFT}, "
        "less for windows under 10 times that; 0: off).")

    def shift_for(self, window: int) -> int:
        """The shift used on windows of ``window`` positions.

        Parameters
        ----------
        window : int
            The dataset's window length.

        Returns
        -------
        int
            ``shift`` when given, else :data:`DEFAULT_SHIFT`, at most a tenth of the window.
        """
        if self.shift is not None:
            return self.shift
        return min(DEFAULT_SHIFT, window // 10)


class Tune(Section):
    """``train.tune``: search the training settings on the validation split, then train with the best."""

    trials: int = Field(default=12, ge=1, description="Trials of the search (each a training of one network).")
    minutes: float | None = Field(
        default=None, gt=0, description="Start no trial after this many minutes (empty: no time limit).")
    epochs: int | None = Field(
        default=None, ge=1, description="Most epochs per trial (default: the train section's epochs).")


MAX_ENSEMBLE = 20
"""The most networks one ensemble may hold."""
AUTO_ENSEMBLE = 3
"""Networks ``ensemble: auto`` trains on a small train split (measured: bench/RESULTS.md)."""
AUTO_ENSEMBLE_MAX_LOCI = 5_000
"""The largest train split on which ``ensemble: auto`` trains :data:`AUTO_ENSEMBLE` networks; above it, one."""


class TrainConfig(StageConfig):
    """Parameters of ``lociflow train``."""

    data: Path | None = Field(default=None, description="Dataset directory made by preprocess (--data).")
    preset: Literal[PRESET_NAMES] | None = Field(  # type: ignore[valid-type]
        default=None, description="A ready architecture; default when no architecture is given: cnn."
    )
    architecture: dict[str, Any] | None = Field(
        default=None, description="A composed network: {branches: {seq: [layers]}, common: [layers]}."
    )
    branches: list[str] | None = Field(
        default=None, description="Train on these of the dataset's branches only (default: all of them).",
    )

    @model_validator(mode="after")
    def _branch_subset(self):
        if self.branches is not None:
            if not self.branches:
                raise ValueError("branches is empty: name at least one of the dataset's branches, or leave it out for all")
            if len(set(self.branches)) != len(self.branches):
                raise ValueError(f"branches lists a branch twice: {self.branches}")
        return self

    @model_validator(mode="after")
    def _architecture_layers(self):
        # Layer-level mistakes surface when the config is read; shapes need the dataset (model.plan).
        if self.architecture is not None:
            try:
                parse_architecture(self.architecture)
            except ConfigError as exc:
                raise ValueError(f"architecture: {exc}") from None
        return self

    epochs: int = Field(default=40, ge=1)
    batch_size: int = Field(default=128, ge=1)
    optimizer: Literal["sgd", "rmsprop", "adam", "adamw"] = "adam"
    learning_rate: float = Field(default=0.001, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    schedule: Literal["constant", "step", "exponential", "plateau", "cosine", "onecycle"] = "cosine"
    schedule_options: dict[str, float] = Field(default_factory=dict, description="e.g. step_size, gamma, factor.")
    early_stopping: EarlyStopping | None = Field(default_factory=EarlyStopping)
    class_weights: Literal["none", "auto"] = "none"
    augment: Augment = Field(default_factory=Augment)
    gradient_clip: float | None = Field(default=None, gt=0)
    ensemble: int | Literal["auto"] = Field(
        default="auto", description="Train this many networks (seeds seed, seed+1, ...) and "
        "average their logits: a steadier, usually better model for that many times the training; "
        f"auto: {AUTO_ENSEMBLE} when the train split has at most {AUTO_ENSEMBLE_MAX_LOCI:,} loci, else 1.",
    )

    @field_validator("ensemble", mode="before")
    @classmethod
    def _ensemble_word(cls, value: Any) -> Any:
        return _auto_or_number(value, "ensemble must be a number of networks or auto")

    @field_validator("ensemble")
    @classmethod
    def _ensemble_range(cls, value: int | str) -> int | str:
        if value != "auto" and not 1 <= value <= MAX_ENSEMBLE:
            raise ValueError(f"ensemble must be from 1 to {MAX_ENSEMBLE} networks, or auto (got {value})")
        return value

    def networks(self, train_loci: int) -> int:
        """The number of networks to train: ``ensemble``, or what ``auto`` makes of it.

        Parameters
        ----------
        train_loci : int
            Loci in the dataset's train split.

        Returns
        -------
        int
            ``ensemble`` when it is a number; for ``auto``, :data:`AUTO_ENSEMBLE` networks
            when ``train_loci`` is at most :data:`AUTO_ENSEMBLE_MAX_LOCI`, else 1.
        """
        if self.ensemble != "auto":
            return int(self.ensemble)
        return AUTO_ENSEMBLE if train_loci <= AUTO_ENSEMBLE_MAX_LOCI else 1

    ema_decay: float | None = Field(
        default=None, gt=0, lt=1, description="Keep an exponential moving average of the weights, "
        "updated after every batch with this decay (e.g. 0.998); validation, early stopping, "
        "checkpoints and the saved model use the averaged weights (empty: off).",
    )
    precision: Literal["auto", "32", "16-mixed", "bf16-mixed"] = "auto"
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: int | str | list[int] = "auto"
    strategy: str = "auto"
    num_nodes: int = Field(default=1, ge=1)
    num_workers: int = Field(default=0, ge=0, description="DataLoader worker processes.")
    threads: int | None = Field(
        default=None, ge=1, description="CPU threads for PyTorch (default: one per core). "
        "1 is much faster when other programs keep the cores busy.",
    )
    tune: Tune | None = Field(
        default=None, description="Tune first: {trials: N, minutes: M} searches the architecture family, depth, "
        "width, learning rate, dropout and shift on the validation split, then trains with the best (empty: off).")
    seed: int = 42


# --------------------------------------------------------------------------- evaluate / predict


class ModelInputConfig(StageConfig):
    """What evaluate, predict and interpret share: the model, the files its input needs, and
    how the input is encoded and scored (read by :mod:`lociflow.model.inputs`)."""

    model: Path | None = Field(default=None, description="Model directory made by train (--model).")
    genome: Path | None = Field(default=None, description="Reference FASTA for BED input (default: the model's, if it still exists).")
    conservation: Path | None = Field(default=None, description="Conservation bigWig for a cons branch (default: the model's).")
    tracks: dict[str, Path] = Field(default_factory=dict, description="bigWig per track branch (default: the model's).")
    batch_size: int = Field(default=512, ge=1, description="Loci per forward pass.")
    device: str = Field(default="auto", description="auto (a GPU when present), cpu, cuda, cuda:1, mps.")
    workers: int = Field(default=1, ge=1, description="Processes for folding new input.")
    cache_dir: Path | None = Field(default=None, description="Cache for .fai, converted tracks and folds.")


class EvaluateConfig(ModelInputConfig):
    """Parameters of ``lociflow evaluate``."""

    retired = {"seed": "evaluate has no randomness: new input is placed with the model's own preprocess seed"}

    data: Path | None = Field(default=None, description="Dataset directory made by preprocess (--data).")
    split: SplitName = Field(default="test", description="The dataset split to read.")
    classes: dict[str, list[Path]] = Field(default_factory=dict, description="New labelled files: class name -> files.")
    positive: str | None = Field(default=None, description="For two classes, the class whose ROC and PR curve "
                                 "and AUROC/AUPRC the report shows (default: the model's first class).")

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        return _class_files(data, made=False)


class PredictConfig(ModelInputConfig):
    """Parameters of ``lociflow predict``."""

    retired = {"seed": "predict has no randomness: new input is placed with the model's own preprocess seed"}

    input: list[Path] = Field(default_factory=list, description="BED (with the genome), FASTA or text files.")
    thresholds: dict[str, float] = Field(default_factory=dict, description="Per-class thresholds for a call column.")
    attribute: Literal["none", "ig"] = "none"
    chunk_size: int = Field(default=10000, ge=1)
    ig_steps: int = Field(default=32, ge=2, description="Integration steps of integrated gradients.")


# --------------------------------------------------------------------------- variants and scan


class VariantsConfig(ModelInputConfig):
    """Parameters of ``lociflow variants``: the effect of each VCF variant on the model's classes."""

    retired = {"seed": "variants has no randomness: both alleles are placed at the centre of their windows"}

    vcf: Path | None = Field(default=None, description="VCF 4.x file, plain, gzip or bgzip (--vcf).")
    strand: Literal["+", "-", "both"] = Field(
        default="+", description="Strand scored: + (the genome as written), - (reverse complement), "
        "or both (two rows per variant). An RNA model scores the transcribed strand.")
    genes: Path | None = Field(default=None, description="BED of genes with strands: a variant inside genes takes "
                               "their strand (both, where genes of both strands overlap it); others take strand.")
    ref_mismatch: Literal["error", "skip"] = Field(
        default="error", description="A REF that differs from the genome: stop with the first few listed, "
        "or count and skip them.")
    top: int = Field(default=20, ge=1, description="Variants with the largest effect listed (and attributed).")
    attribute: Literal["none", "ig", "ism"] = Field(
        default="none", description="Attribution maps of both alleles of the top variants: "
        "ig (integrated gradients) or ism (in-silico mutagenesis).")
    ig_steps: int = Field(default=32, ge=2, description="Integration steps of integrated gradients.")
    chunk_size: int = Field(default=10000, ge=1, description="Variants read, scored and written at a time.")


class ScanConfig(ModelInputConfig):
    """Parameters of ``lociflow scan``: the model slid along a genome, one bigWig per class."""

    retired = {"seed": "scan has no randomness: windows are placed at every stride"}

    regions: Path | None = Field(default=None, description="BED of regions to scan (default: whole chromosomes).")
    chromosomes: list[str] = Field(default_factory=list, description="Chromosomes to scan (default: all).")
    stride: int | None = Field(default=None, ge=1, description="Step between windows (default: a tenth of the window).")
    score: Literal["prob", "logit"] = Field(default="prob", description="Written value: probability or logit.")
    threshold: float | None = Field(default=None, description="Calls regions whose score reaches it "
                                    "(default: 0.5 for prob, 0 for logit).")
    strand: Literal["auto", "+", "-", "both"] = Field(
        default="auto", description="auto: both for a DNA model, + for an RNA model; both averages "
        "the two strands' scores.")
    max_n: float = Field(default=0.5, ge=0, le=1, description="Windows with a larger share of N are skipped.")
    chunk_size: int = Field(default=20000, ge=1, description="Windows encoded and scored at a time.")


# --------------------------------------------------------------------------- interpret


INTERPRET_METHODS = ("saliency", "ig", "deepshap", "ism", "temporal", "optimize", "filters", "modisco", "gia")


class InterpretConfig(ModelInputConfig):
    """Parameters of ``lociflow interpret``."""

    data: Path | None = Field(default=None, description="Dataset directory made by preprocess (--data).")
    split: SplitName = Field(default="test", description="The dataset split to read.")
    input: list[Path] = Field(default_factory=list, description="BED (with the genome), FASTA or text files.")
    methods: list[str] = Field(
        default_factory=lambda: ["saliency", "ig", "ism"],
        description=f"Any of {', '.join(INTERPRET_METHODS)}, or all (every method the model supports).",
    )
    options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-method options, e.g. {ig: {steps: 50, baseline: shuffle}}."
    )
    top: int = Field(default=10, ge=1, description="Most confident loci shown per class.")
    max_loci: int = Field(default=2000, ge=1, description="Loci drawn from the input for dataset-wide methods.")
    motifs: list[str] = Field(
        default_factory=list,
        description="Motifs for global importance analysis: consensus (IUPAC), JASPAR ID or name; "
        "empty: the top discovered motif or filter.",
    )
    motif_db: Path | None = Field(default=None, description="A MEME motif file to match against instead of JASPAR.")
    jaspar_release: str = Field(default="JASPAR2024", description="JASPAR release shipped with pyjaspar (2014-2026).")
    jaspar_collection: Literal["CORE", "UNVALIDATED"] = "CORE"
    jaspar_taxon: str = Field(default="vertebrates", description="JASPAR taxonomic group, or all.")
    threads: int | None = Field(
        default=None, ge=1, description="CPU threads for PyTorch (default: one per core); "
        "1 is much faster when other programs keep the cores busy.",
    )
    batch_size: int = Field(default=256, ge=1, description="Loci per forward pass.")
    seed: int = 42

    @model_validator(mode="before")
    @classmethod
    def _split_methods(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("methods"), str):
            data = {**data, "methods": [m.strip() for m in data["methods"].split(",") if m.strip()]}
        return data

    @model_validator(mode="after")
    def _check_methods(self):
        allowed = [*INTERPRET_METHODS, "all"]
        for method in self.methods:
            if method not in allowed:
                raise ValueError(f"unknown method {method!r}{suggest(method, allowed)}; methods: {', '.join(allowed)}")
        if not self.methods:
            raise ValueError(f"no methods given; choose from {', '.join(allowed)}")
        for method in self.options:
            if method not in INTERPRET_METHODS:
                raise ValueError(f"options for unknown method {method!r}{suggest(method, INTERPRET_METHODS)}")
        return self


# --------------------------------------------------------------------------- search


class SearchConfig(StageConfig):
    """Parameters of ``lociflow search`` (the space; the base training config is ``train:``).

    The space may be written flat, every key that is not a search option being a
    parameter (``search: {learning_rate: {type: float, low: 0.0001, high: 0.01, log: true}}``),
    or nested under ``space:``; both may be mixed. See :mod:`lociflow.searching.space`.
    """

    space: dict[str, Any] = Field(default_factory=dict, description="Parameter name -> {type: int|float|categorical, ...}.")
    data: Path | None = Field(default=None, description="Dataset directory made by preprocess (--data).")
    trials: int = Field(default=20, ge=1, description="Total trials of the study, counted over every worker and rerun.")
    minutes: float | None = Field(
        default=None, gt=0, description="Start no trial after this many minutes of this run (empty: no time limit).")
    workers: int = Field(default=1, ge=1, description="Trials run at once, each in its own process.")
    storage: str | None = Field(default=None, description="Optuna RDB URL shared by several machines (default: study.db in the run folder).")
    study: str | None = Field(default=None, description="Study name in the storage (default: the run name).")
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    pruner: Literal["none", "median", "hyperband"] = "median"
    objective: Literal["val_auroc", "val_loss"] = "val_auroc"
    seed: int = 42
    first_trial: dict[str, Any] = Field(
        default_factory=dict, description="Parameter values of the first trial, before the sampler draws any (e.g. "
        "the settings trained with today, so the search starts from them and its best is at least as good on "
        "validation); parameters left out are drawn.")

    @model_validator(mode="before")
    @classmethod
    def _flat_space(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        flat = {k: v for k, v in data.items() if k not in cls.model_fields}
        if not flat:
            return data
        nested = data.get("space") or {}
        if not isinstance(nested, dict):
            return data
        for key in flat:
            if key in nested:
                raise ValueError(f"parameter {key!r} is given both in space: and directly under search:; give it once")
        options = {k: v for k, v in data.items() if k in cls.model_fields}
        return {**options, "space": {**nested, **flat}}

    @model_validator(mode="after")
    def _space_entries(self):
        try:
            params = {p.name: p for p in parse_space(self.space, options=list(type(self).model_fields))}
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        for name, value in self.first_trial.items():
            if name not in params:
                raise ValueError(f"first_trial.{name}: not a parameter of the search space"
                                 f"{suggest(name, list(params))}; give values of these: {', '.join(params)}")
            param = params[name]
            if not param.holds(value):
                allowed = (f"one of {list(param.choices)}" if param.kind == "categorical"
                           else f"a{'n integer' if param.kind == 'int' else ' number'} from {param.low:g} to "
                                f"{param.high:g}" + (f" in steps of {param.step:g}" if param.step else ""))
                raise ValueError(f"first_trial.{name}: {value!r} is outside the search space; give {allowed}")
        return self


STAGE_MODELS: dict[str, type[StageConfig]] = {
    "preprocess": PreprocessConfig,
    "train": TrainConfig,
    "evaluate": EvaluateConfig,
    "predict": PredictConfig,
    "interpret": InterpretConfig,
    "search": SearchConfig,
    "variants": VariantsConfig,
    "scan": ScanConfig,
}
