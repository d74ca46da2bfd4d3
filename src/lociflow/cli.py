"""The ``lociflow`` command line: a thin shell over the Python API.

Every command loads its stage section from ``--config`` (if given), applies named flags
and ``--set key=value`` overrides, calls the API, and prints the run folder as the last
line of standard output. A user error prints one readable message and exits with 2;
anything else is a bug and prints a traceback plus the path of the run log.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from lociflow import __version__
from lociflow.config import (
    EvaluateConfig,
    InterpretConfig,
    PredictConfig,
    PreprocessConfig,
    ScanConfig,
    SearchConfig,
    TrainConfig,
    VariantsConfig,
)
from lociflow.errors import LociflowError, run_stage_call

app = typer.Typer(
    name="lociflow",
    help=(
        "From genomic loci to a trained, evaluated and explained neural network.\n\n"
        "Typical order: preprocess (BED/FASTA per class -> dataset), train (dataset -> model), "
        "evaluate and predict (model -> metrics, probabilities), interpret (model -> dashboard). "
        "Every command writes its own run folder with params.yaml, run.log and a row in runs.tsv."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

def default(config: type, field: str) -> str | bool:
    """What ``--help`` shows as the default of an option whose value comes from the config:
    the stage config's own default (False, so nothing, when it has none)."""
    value = config.model_fields[field].get_default(call_default_factory=True)
    if value is None or value == [] or value == {}:
        return False
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


# Options shared by every stage command.
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", metavar="FILE", help="YAML config; the command reads its own section.")]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", metavar="DIR", help="Output root; the run folder is created inside it.")]
NameOpt = Annotated[Optional[str], typer.Option("--name", metavar="NAME", help="Run folder name.", show_default="stage, time and a random suffix")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing run folder of the same name.")]


def set_option(example: str):
    """``--set KEY=VALUE`` with an example that applies to the command."""
    return Annotated[Optional[list[str]], typer.Option(
        "--set", metavar="KEY=VALUE",
        help=f"Override a value of the command's config section: --set {example} (repeatable, dotted keys).")]


def seed_option(config: type):
    return Annotated[Optional[int], typer.Option("--seed", metavar="N", help="Random seed (overrides the config).",
                                                 show_default=default(config, "seed"))]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lociflow {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show DEBUG messages on the terminal.")] = False,
) -> None:
    """lociflow: loci in, explained models out."""
    _console_logging(logging.DEBUG if verbose else logging.INFO)


class _ConsoleHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now, not the stream current when it was made
    (tests run many commands in one process, each with its own stderr)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; ignore
        pass


def _console_logging(level: int) -> None:
    logger = logging.getLogger("lociflow")
    logger.setLevel(logging.DEBUG)
    for old in [h for h in logger.handlers if isinstance(h, _ConsoleHandler)]:
        logger.removeHandler(old)
    handler = _ConsoleHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.setLevel(level)
    logger.addHandler(handler)


def run_command(call: Callable[[], Path]) -> None:
    """Run a stage, print its folder last, and turn errors into readable messages."""
    outcome = run_stage_call(call)
    if outcome.status != "ok":
        typer.echo(outcome.console, err=True)
        raise typer.Exit(code=outcome.code)
    typer.echo(str(outcome.folder))


@app.command(no_args_is_help=True)
def preprocess(
    config: ConfigOpt = None,
    output: OutputOpt = Path("lociflow_runs"),
    name: NameOpt = None,
    force: ForceOpt = False,
    set_: set_option("window=200") = None,
    seed: seed_option(PreprocessConfig) = None,
    source: Annotated[Optional[Path], typer.Option("--from", metavar="DIR", help="Re-balance/re-split this existing dataset instead of mapping again.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", metavar="N", help="Processes for RNA folding.", show_default=default(PreprocessConfig, "workers"))] = None,
) -> None:
    """Turn BED/FASTA files (one or more per class) into an encoded, split dataset.

    The config's `preprocess:` section names the classes and their files, the genome,
    optional conservation, the branches (seq, fold, cons), the window and the split.
    See docs/preprocess.md for a worked example.
    """
    from lociflow.config import PreprocessConfig, load_stage

    def call() -> Path:
        cfg = load_stage(PreprocessConfig, "preprocess", config, set_,
                         {"seed": seed, "source": source, "workers": workers})
        from lociflow.preprocessing.run import preprocess as run

        return run(cfg, output, name=name, force=force)

    run_command(call)


@app.command(no_args_is_help=True)
def train(
    config: ConfigOpt = None,
    data: Annotated[Optional[Path], typer.Option("--data", metavar="DIR", help="Dataset directory made by `lociflow preprocess`.")] = None,
    output: OutputOpt = Path("lociflow_runs"),
    name: NameOpt = None,
    force: ForceOpt = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the interrupted run given by --name and -o from its last checkpoint.")] = False,
    set_: set_option("learning_rate=0.0005") = None,
    seed: seed_option(TrainConfig) = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", metavar="N", help="Maximum number of epochs.", show_default=default(TrainConfig, "epochs"))] = None,
    preset: Annotated[Optional[str], typer.Option("--preset", metavar="PRESET", help="cnn, rnn, cnn_rnn, deepbind, danq or residual.", show_default="cnn, unless architecture is given")] = None,
    ensemble: Annotated[Optional[str], typer.Option("--ensemble", metavar="N|auto", help="Train this many networks (seeds seed, seed+1, ...) and average them; auto: 3 up to 5,000 training loci, else 1.", show_default=default(TrainConfig, "ensemble"))] = None,
    tune: Annotated[Optional[int], typer.Option("--tune", metavar="N", help="Tune first: N trials searching the architecture, depth, width, rate, dropout and shift on the validation split (0: off).", show_default="off")] = None,
) -> None:
    """Train a network on a dataset and write a model directory.

    The config's `train:` section chooses a preset or composes an architecture, the
    optimizer, schedule, epochs and early stopping. The run folder holds the best model
    (model.safetensors + spec.yaml), metrics.json on the test split, history.tsv, plots,
    TensorBoard logs and checkpoints. Ctrl-C keeps the best model so far; --resume
    continues. See docs/train.md.
    """
    from lociflow.config import TrainConfig, load_stage

    def call() -> Path:
        tuning = [] if tune is None else ["tune=null"] if tune == 0 else [f"tune.trials={tune}"]
        cfg = load_stage(TrainConfig, "train", config, [*tuning, *(set_ or [])],
                         {"data": data, "seed": seed, "epochs": epochs, "preset": preset, "ensemble": ensemble})
        from lociflow.training.tuning import train as run

        return run(cfg, output, name=name, force=force, resume=resume)

    run_command(call)


@app.command(no_args_is_help=True)
def search(
    config: ConfigOpt = None,
    data: Annotated[Optional[Path], typer.Option("--data", metavar="DIR", help="Dataset directory made by `lociflow preprocess`.")] = None,
    output: OutputOpt = Path("lociflow_runs"),
    name: Annotated[Optional[str], typer.Option("--name", metavar="NAME", help="Run folder name; an existing search of this name is continued.", show_default="stage, time and a random suffix")] = None,
    force: Annotated[bool, typer.Option("--force", help="Start over, replacing the search folder of the same name and its study.")] = False,
    trials: Annotated[Optional[int], typer.Option("--trials", metavar="N", help="Total trials of the study (over every worker and rerun).", show_default=default(SearchConfig, "trials"))] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", metavar="N", help="Trials run at once, each in its own process.", show_default=default(SearchConfig, "workers"))] = None,
    storage: Annotated[Optional[str], typer.Option("--storage", metavar="URL", help="Optuna RDB URL shared by several machines, e.g. postgresql://user:pw@host/db.", show_default="study.db in the run folder")] = None,
    set_: set_option("pruner=hyperband") = None,
    seed: seed_option(SearchConfig) = None,
) -> None:
    """Search training and architecture parameters (Optuna) and keep the best model.

    The config's `search:` section is the space (e.g. learning_rate: {type: float, low:
    0.0001, high: 0.01, log: true}) and the options (sampler, pruner, objective); its
    `train:` section is the base every trial starts from. The run folder holds
    trials.tsv, best/params.yaml (accepted by `lociflow train -c`), best/model/ and plots.
    Rerunning with the same -o and --name continues the study. See docs/search.md.
    """
    from lociflow.config import SearchConfig, TrainConfig, load_stage

    def call() -> Path:
        cfg = load_stage(SearchConfig, "search", config, set_,
                         {"data": data, "seed": seed, "trials": trials, "workers": workers, "storage": storage})
        base = load_stage(TrainConfig, "train", config)
        from lociflow.searching.run import search as run

        return run(cfg, output, name=name, force=force, train=base)

    run_command(call)


def _named_values(items: Optional[list[str]], flag: str, example: str) -> dict[str, list[str]]:
    """``NAME=VALUE`` items (repeatable flag) -> {name: [values in order]}."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise LociflowError(f"{flag} {item!r} must look like NAME=VALUE, for example {flag} {example}.")
        out.setdefault(name.strip(), []).append(value.strip())
    return out


def _single_values(items: Optional[list[str]], flag: str, example: str) -> Optional[dict[str, str]]:
    values = _named_values(items, flag, example)
    for name, given in values.items():
        if len(given) > 1:
            raise LociflowError(f"{flag} names {name!r} {len(given)} times; give it once.")
    return {k: v[0] for k, v in values.items()} or None


def _named_paths(items: Optional[list[str]], flag: str, example: str) -> Optional[dict[str, list[Path]]]:
    # Path objects, so that they resolve against the current folder, not the config's
    return {k: [Path(p) for p in v] for k, v in _named_values(items, flag, example).items()} or None


def _track_paths(items: Optional[list[str]]) -> Optional[dict[str, Path]]:
    tracks = _single_values(items, "--track", "phylop=phylop.bw")
    return {k: Path(v) for k, v in tracks.items()} if tracks else None


ModelOpt = Annotated[Optional[Path], typer.Option("--model", "-m", metavar="DIR", help="Model directory made by `lociflow train`.")]
GenomeOpt = Annotated[Optional[Path], typer.Option("--genome", metavar="FILE", help="Reference FASTA, needed for BED input.")]
ConsOpt = Annotated[Optional[Path], typer.Option("--conservation", metavar="FILE", help="Conservation bigWig, for models with a cons branch.")]
TrackOpt = Annotated[Optional[list[str]], typer.Option("--track", metavar="NAME=FILE", help="A named bigWig track the model reads (repeatable).")]
InputsOpt = Annotated[Optional[list[str]], typer.Option("--input", "-i", metavar="FILE...", help="BED (with --genome), FASTA or text files of one sequence per line: -i a.fa b.bed (or -i a.fa -i b.bed).")]
# the files after the first -i FILE: click options take one value each, so the rest arrive as arguments
MoreInputsArg = Annotated[Optional[list[str]], typer.Argument(metavar="FILE", show_default=False, hidden=True)]


def input_paths(given: Optional[list[str]], more: Optional[list[str]]) -> Optional[list[Path]]:
    """The --input files: those after -i flags, then those written without a flag (-i a.fa b.fa)."""
    files = [*(given or []), *(more or [])]
    if more and not given:
        raise LociflowError(f"{more[0]!r} is not an option: give input files with -i, e.g. -i {' '.join(more)}.")
    return [Path(p) for p in files] or None


def batch_option(config: type):
    return Annotated[Optional[int], typer.Option("--batch-size", metavar="N", help="Loci per forward pass.",
                                                 show_default=default(config, "batch_size"))]


def device_option(config: type):
    return Annotated[Optional[str], typer.Option("--device", metavar="DEVICE",
                                                 help="auto (a GPU when present), cpu, cuda, cuda:1, mps.",
                                                 show_default=default(config, "device"))]


@app.command(no_args_is_help=True)
def evaluate(
    model: ModelOpt = None,
    data: Annotated[Optional[Path], typer.Option("--data", metavar="DIR", help="Dataset directory made by `lociflow preprocess`.")] = None,
    split: Annotated[Optional[str], typer.Option("--split", metavar="SPLIT", help="Dataset split: test, blackbox, valid, train.", show_default=default(EvaluateConfig, "split"))] = None,
    class_: Annotated[Optional[list[str]], typer.Option("--class", metavar="NAME=FILE", help="New labelled files: class name and a BED or FASTA file (repeatable; a class may have several).")] = None,
    genome: GenomeOpt = None,
    conservation: ConsOpt = None,
    track: TrackOpt = None,
    batch_size: batch_option(EvaluateConfig) = None,
    device: device_option(EvaluateConfig) = None,
    config: ConfigOpt = None,
    output: OutputOpt = Path("lociflow_runs"),
    name: NameOpt = None,
    force: ForceOpt = False,
    set_: set_option("positive=unbound") = None,
) -> None:
    """Judge a model on a dataset split or on new labelled files.

    Writes metrics.json (per class and micro/macro AUROC and AUPRC, accuracy, balanced
    accuracy, MCC, F1, log loss, confusion matrix), ROC and precision-recall curves
    (PNG, SVG and TSV), a calibration plot, predictions.tsv and report.html. With two
    classes the plots and the report show one curve and one AUROC/AUPRC, of the first
    class or of --set positive=NAME. See docs/evaluate.md.
    """
    from lociflow.config import EvaluateConfig, load_stage

    def call() -> Path:
        extra = {"model": model, "data": data, "split": split, "genome": genome, "conservation": conservation,
                 "tracks": _track_paths(track), "classes": _named_paths(class_, "--class", "bound=pos.fa"),
                 "batch_size": batch_size, "device": device}
        cfg = load_stage(EvaluateConfig, "evaluate", config, set_, extra)
        from lociflow.evaluation.run import evaluate as run

        return run(cfg, output, name=name, force=force)

    run_command(call)


@app.command(no_args_is_help=True)
def predict(
    model: ModelOpt = None,
    more_inputs: MoreInputsArg = None,
    input_: InputsOpt = None,
    genome: GenomeOpt = None,
    conservation: ConsOpt = None,
    track: TrackOpt = None,
    threshold: Annotated[Optional[list[str]], typer.Option("--threshold", metavar="CLASS=P", help="Per-class probability threshold; adds a call column (repeatable).")] = None,
    attribute: Annotated[Optional[str], typer.Option("--attribute", metavar="METHOD", help="ig: integrated-gradients attributions for every locus; none: probabilities only.", show_default=default(PredictConfig, "attribute"))] = None,
    chunk_size: Annotated[Optional[int], typer.Option("--chunk-size", metavar="N", help="Loci encoded and scored at a time (bounds memory).", show_default=default(PredictConfig, "chunk_size"))] = None,
    batch_size: batch_option(PredictConfig) = None,
    device: device_option(PredictConfig) = None,
    config: ConfigOpt = None,
    output: OutputOpt = Path("lociflow_runs"),
    name: NameOpt = None,
    force: ForceOpt = False,
    set_: set_option("chunk_size=2000") = None,
) -> None:
    """Class probabilities for new loci, in input order, streamed in chunks.

    Writes predictions.tsv (id, coordinates, prob_<class> per class, top_class, and a
    call column with --threshold); with --attribute ig also attributions.npz and
    attributions.html. See docs/evaluate.md.
    """
    from lociflow.config import PredictConfig, load_stage

    def call() -> Path:
        thresholds = _single_values(threshold, "--threshold", "bound=0.5")
        if thresholds:
            try:
                thresholds = {k: float(v) for k, v in thresholds.items()}
            except ValueError:
                raise LociflowError(f"--threshold values must be numbers between 0 and 1, got {threshold}.") from None
        extra = {"model": model, "input": input_paths(input_, more_inputs), "genome": genome,
                 "conservation": conservation, "tracks": _track_paths(track),
                 "thresholds": thresholds, "attribute": attribute, "chunk_size": chunk_size,
                 "batch_size": batch_size, "device": device}
        cfg = load_stage(PredictConfig, "predict", config, set_, extra)
        from lociflow.prediction import predict as run

        return run(cfg, output, name=name, force=force)

    run_command(call)


@app.command(no_args_is_help=True)
def interpret(
    model: ModelOpt = None,
    data: Annotated[Optional[Path], typer.Option("--data", "-d", metavar="DIR", help="Dataset directory made by `lociflow preprocess`.")] = None,
    split: Annotated[Optional[str], typer.Option("--split", metavar="SPLIT", help="Dataset split to explain: test, blackbox, valid, train.", show_default=default(InterpretConfig, "split"))] = None,
    more_inputs: MoreInputsArg = None,
    input_: Annotated[Optional[list[str]], typer.Option("--input", "-i", metavar="FILE...", help="BED (with --genome), FASTA or text files instead of --data: -i a.fa b.fa (or -i a.fa -i b.fa).")] = None,
    methods: Annotated[Optional[str], typer.Option("--methods", metavar="LIST", help="Comma-separated: saliency,ig,deepshap,ism,temporal,optimize,filters,modisco,gia, or all.", show_default=default(InterpretConfig, "methods"))] = None,
    motif: Annotated[Optional[list[str]], typer.Option("--motif", metavar="MOTIF", help="Motif for global importance analysis: consensus, JASPAR ID or name (repeatable).", show_default="the motif TF-MoDISco or the filters find")] = None,
    motif_db: Annotated[Optional[Path], typer.Option("--motif-db", metavar="FILE", help="MEME motif file to match against instead of JASPAR.", show_default=f"{default(InterpretConfig, 'jaspar_release')} {default(InterpretConfig, 'jaspar_collection')}, {default(InterpretConfig, 'jaspar_taxon')}")] = None,
    top: Annotated[Optional[int], typer.Option("--top", metavar="N", help="Most confident loci shown per class.", show_default=default(InterpretConfig, "top"))] = None,
    max_loci: Annotated[Optional[int], typer.Option("--max-loci", metavar="N", help="Loci analysed for dataset-wide methods.", show_default=default(InterpretConfig, "max_loci"))] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", metavar="N", help="CPU threads for PyTorch; 1 is faster on busy machines.", show_default="one per core")] = None,
    genome: GenomeOpt = None,
    conservation: ConsOpt = None,
    track: TrackOpt = None,
    batch_size: batch_option(InterpretConfig) = None,
    device: device_option(InterpretConfig) = None,
    config: ConfigOpt = None,
    output: OutputOpt = Path("lociflow_runs"),
    name: NameOpt = None,
    force: ForceOpt = False,
    set_: set_option("options.ig.steps=100") = None,
    seed: seed_option(InterpretConfig) = None,
) -> None:
    """Explain a model: attributions, mutagenesis, motifs and a dashboard (index.html).

    Methods: saliency, ig (integrated gradients), deepshap, ism (in-silico mutagenesis),
    temporal (recurrent models), optimize (class optimization), filters (first-layer
    filters matched to JASPAR), modisco (TF-MoDISco), gia (global importance analysis);
    `all` runs every method the model supports and says what it skipped. Per-method
    options: --set options.ig.steps=100. See docs/interpret.md.
    """
    from lociflow.config import InterpretConfig, load_stage

    def call() -> Path:
        extra = {"model": model, "data": data, "split": split, "input": input_paths(input_, more_inputs),
                 "methods": methods, "motifs": motif, "motif_db": motif_db, "top": top, "max_loci": max_loci,
                 "genome": genome, "conservation": conservation, "tracks": _track_paths(track),
                 "batch_size": batch_size, "device": device, "threads": threads, "seed": seed}
        cfg = load_stage(InterpretConfig, "interpret", config, set_, extra)
        from lociflow.interpretation.run import interpret as run

        return run(cfg, output, name=name, force=force)

    run_command(call)


@app.command(no_args_is_help=True)
def variants(
    model: ModelOpt = None,
    vcf: Annotated[Optional[Path], typer.Option("--vcf", metavar="FILE", help="VCF 4.x file of variants, plain, gzip or bgzip.")] = None,
    genome: Annotated[Optional[Path], typer.Option("--genome", metavar="FILE", help="Reference FASTA the VCF refers to.", show_default="the model's genome, if it still exists")] = None,
    conservation: ConsOpt = None,
    track: TrackOpt = None,
    strand: Annotated[Optional[str], typer.Option("--strand", metavar="STRAND", help="Strand scored: +, - (reverse complement) or both (two rows per variant). An RNA model scores the transcribed strand.", show_default=default(VariantsConfig, "strand"))] = None,
    genes: Annotated[Optional[Path], typer.Option("--genes", metavar="BED", help="Genes with strands: a variant inside genes is scored on their strand (both, where genes of both strands overlap it); others on --strand.")] = None,
    ref_mismatch: Annotated[Optional[str], typer.Option("--ref-mismatch", metavar="ACTION", help="A REF differing from the genome: error (list the first few) or skip (count and skip).", show_default=default(VariantsConfig, "ref_mismatch"))] = None,
    top: Annotated[Optional[int], typer.Option("--top", metavar="N", help="Variants with the largest effect listed (and attributed).", show_default=default(VariantsConfig, "top"))] = None,
    attribute: Annotated[Optional[str], typer.Option("--attribute", metavar="METHOD", help="ig or ism: attribution maps of both alleles of the top variants on index.html; none: effects only.", show_default=default(VariantsConfig, "attribute"))] = None,
    chunk_size: Annotated[Optional[int], typer.Option("--chunk-size", metavar="N", help="Variants scored at a time (bounds memory).", show_default=default(VariantsConfig, "chunk_size"))] = None,
    batch_size: batch_option(VariantsConfig) = None,
    device: device_option(VariantsConfig) = None,
    config: ConfigOpt = None,
    output: OutputOpt = Path("lociflow_runs"),
    name: NameOpt = None,
    force: ForceOpt = False,
    set_: set_option("top=50") = None,
) -> None:
    """Effects of VCF variants on the model's class probabilities.

    Writes variants.tsv in input order (chrom pos id ref alt, then per class ref_<c>
    alt_<c> delta_<c> logodds_<c>, strand, warning) and top_variants.tsv; with
    --attribute also index.html. See docs/variants.md.
    """
    from lociflow.config import load_stage

    def call() -> Path:
        extra = {"model": model, "vcf": vcf, "genome": genome, "conservation": conservation,
                 "tracks": _track_paths(track), "strand": strand, "genes": genes, "ref_mismatch": ref_mismatch, "top": top,
                 "attribute": attribute, "chunk_size": chunk_size, "batch_size": batch_size, "device": device}
        cfg = load_stage(VariantsConfig, "variants", config, set_, extra)
        from lociflow.variation.run import variants as run

        return run(cfg, output, name=name, force=force)

    run_command(call)


@app.command(no_args_is_help=True)
def scan(
    model: ModelOpt = None,
    genome: Annotated[Optional[Path], typer.Option("--genome", metavar="FILE", help="Reference FASTA to scan.", show_default="the model's genome, if it still exists")] = None,
    regions: Annotated[Optional[Path], typer.Option("--regions", metavar="BED", help="Regions to scan.", show_default="whole chromosomes")] = None,
    chromosomes: Annotated[Optional[str], typer.Option("--chromosomes", metavar="LIST", help="Comma-separated chromosomes to scan.", show_default="all")] = None,
    stride: Annotated[Optional[int], typer.Option("--stride", metavar="N", help="Step between windows in nt.", show_default="a tenth of the window")] = None,
    score: Annotated[Optional[str], typer.Option("--score", metavar="SCORE", help="prob or logit: the value written to the bigWigs.", show_default=default(ScanConfig, "score"))] = None,
    threshold: Annotated[Optional[float], typer.Option("--threshold", metavar="X", help="Regions whose score reaches X are called (merged) in called.bed.", show_default="0.5 for prob, 0 for logit")] = None,
    strand: Annotated[Optional[str], typer.Option("--strand", metavar="STRAND", help="auto, +, - or both (the mean of both strands).", show_default="auto: both for DNA models, + for RNA")] = None,
    max_n: Annotated[Optional[float], typer.Option("--max-n", metavar="SHARE", help="Windows with a larger share of N are skipped.", show_default=default(ScanConfig, "max_n"))] = None,
    conservation: ConsOpt = None,
    track: TrackOpt = None,
    chunk_size: Annotated[Optional[int], typer.Option("--chunk-size", metavar="N", help="Windows scored at a time (bounds memory).", show_default=default(ScanConfig, "chunk_size"))] = None,
    batch_size: batch_option(ScanConfig) = None,
    device: device_option(ScanConfig) = None,
    config: ConfigOpt = None,
    output: OutputOpt = Path("lociflow_runs"),
    name: NameOpt = None,
    force: ForceOpt = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the interrupted scan given by --name and -o: finished chromosomes are kept.")] = False,
    set_: set_option("stride=20") = None,
) -> None:
    """Slide the model along a genome: one bigWig per class and a BED of called regions.

    Writes <class>.bw (the score at each window's centre) and called.bed. Ctrl-C keeps
    the finished chromosomes; --resume continues. See docs/scan.md.
    """
    from lociflow.config import load_stage

    def call() -> Path:
        chroms = [c.strip() for c in chromosomes.split(",") if c.strip()] if chromosomes else None
        extra = {"model": model, "genome": genome, "regions": regions, "chromosomes": chroms, "stride": stride,
                 "score": score, "threshold": threshold, "strand": strand, "max_n": max_n, "conservation": conservation,
                 "tracks": _track_paths(track), "chunk_size": chunk_size, "batch_size": batch_size, "device": device}
        cfg = load_stage(ScanConfig, "scan", config, set_, extra)
        from lociflow.scanning.run import scan as run

        return run(cfg, output, name=name, force=force, resume=resume)

    run_command(call)


@app.command()
def gui(
    port: Annotated[int, typer.Option("--port", metavar="N", help="Port to serve on (on 127.0.0.1).")] = 8501,
    output_root: Annotated[Path, typer.Option("--output-root", metavar="DIR", help="Where runs are written (each run's folder, runs.tsv).")] = Path("lociflow_runs"),
) -> None:
    """Open the web GUI: every stage as a form, runs in the background, results in the browser.

    Serves on http://127.0.0.1:PORT until stopped with Ctrl-C. Runs started from the
    GUI write exactly what the commands write. See docs/gui.md.
    """
    import os

    app_file = Path(__file__).resolve().parent / "gui" / "app.py"
    root = output_root.expanduser().resolve()
    command = [sys.executable, "-m", "streamlit", "run", str(app_file), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
               "--", "--output-root", str(root)]
    typer.echo(f"lociflow GUI on http://127.0.0.1:{port} (output root {root}); Ctrl-C stops it.", err=True)
    env = dict(os.environ, LOCIFLOW_GUI_OUTPUT_ROOT=str(root))
    from lociflow.gui.server import serve

    raise typer.Exit(code=serve(command, env))


def entry() -> None:  # pragma: no cover - console script
    app()
