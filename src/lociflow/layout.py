"""Names that cross module boundaries: stages, splits, branches, files and table columns.

Every name here is a fact that more than one module reads or writes: the stage names
of a config file, the splits of a dataset, the files of a run, model or dataset
folder, and the columns of the tables lociflow writes. Each has this one home; the
modules import it rather than spell it, so a name cannot drift between the writer
and the reader. The module imports nothing, so any layer may import it.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- stages and splits

#: the stages, in pipeline order: config file sections, CLI commands, API functions, GUI pages
STAGES = ("preprocess", "train", "evaluate", "predict", "interpret", "search", "variants", "scan")

#: the splits of a dataset, in order; a locus's split is stored as its position here
SPLITS = ("train", "valid", "test", "blackbox")

#: branches with a built-in meaning; any other branch name is a named bigWig track
BUILTIN_BRANCHES = ("seq", "fold", "cons")

#: the one-hot nucleotide branch
SEQUENCE_BRANCH = "seq"

#: the ready architectures (``train.preset``), built by :mod:`lociflow.model.presets`
PRESET_NAMES = ("cnn", "rnn", "cnn_rnn", "deepbind", "danq", "residual", "interpretable")

# --------------------------------------------------------------------------- every run folder

#: the resolved parameters of a run, accepted back by ``--config``
PARAMS_FILE = "params.yaml"
#: the run's log
RUN_LOG = "run.log"
#: the ledger of runs in an output root
LEDGER_FILE = "runs.tsv"
#: the headline numbers of a train or evaluate run
METRICS_FILE = "metrics.json"
#: per-locus probabilities written by train (test split), evaluate and predict
PREDICTIONS_FILE = "predictions.tsv"
#: the evaluation report page
REPORT_FILE = "report.html"
#: the interpretation dashboard page
DASHBOARD_FILE = "index.html"
#: attribution arrays written by interpret and ``predict --attribute ig``
ATTRIBUTIONS_FILE = "attributions.npz"
#: the page of attribution maps written by ``predict --attribute ig``
ATTRIBUTIONS_PAGE = "attributions.html"

#: per-variant effects written by ``variants``, and the variants with the largest effect
VARIANTS_FILE = "variants.tsv"
TOP_VARIANTS_FILE = "top_variants.tsv"
#: the regions ``scan`` calls above its threshold
CALLED_REGIONS_FILE = "called.bed"
#: per-chromosome results of a scan, kept so an interrupted scan resumes where it stopped
SCAN_PARTS_DIR = "parts"
#: the suffix of a scan's per-class track (``<class>.bw``)
TRACK_SUFFIX = ".bw"

# --------------------------------------------------------------------------- model folder

#: the model's description: classes, branches, channels, window, preprocess, architecture
SPEC_FILE = "spec.yaml"
#: the weights (tensors only)
WEIGHTS_FILE = "model.safetensors"
#: a network trained elsewhere, as TorchScript
TORCHSCRIPT_FILE = "model.pt"
#: per-epoch training history
HISTORY_FILE = "history.tsv"
#: Lightning checkpoints of a training run, and the one ``--resume`` continues from
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
#: the networks of an ensemble, one run folder each (``members/<i>/``)
MEMBERS_DIR = "members"

# --------------------------------------------------------------------------- dataset folder

#: the dataset's window, alphabet, branches, channels, classes and counts
MANIFEST_FILE = "manifest.json"
#: per-class, per-split counts
SUMMARY_FILE = "summary.tsv"
#: per split: the loci's metadata and their labels
META_FILE = "meta.tsv.gz"
LABELS_FILE = "labels.npy"
#: how well each ``from: genome`` class matched its class's GC content, and the histograms
BACKGROUND_FILE = "background.tsv"
BACKGROUND_PLOT = "background_gc"

# --------------------------------------------------------------------------- search folder

TRIALS_FILE = "trials.tsv"
TRIALS_DIR = "trials"
TUNING_DIR = "tuning"
"""The search of ``train.tune`` inside a tuned train run folder."""
BEST_DIR = "best"

# --------------------------------------------------------------------------- table columns

#: ``meta.tsv.gz`` of a dataset split
DATASET_META_COLUMNS = ("chrom", "start", "end", "strand", "class", "name", "orig_chrom", "orig_start", "orig_end")

#: metadata of new input encoded for a model, and the leading columns of ``predictions.tsv``
INPUT_META_COLUMNS = ("id", "source", "chrom", "start", "end", "strand", "orig_start", "orig_end")

#: the leading columns of ``variants.tsv``; per class ``ref_<c> alt_<c> delta_<c> logodds_<c>`` follow
VARIANT_COLUMNS = ("chrom", "pos", "id", "ref", "alt")

#: ``runs.tsv``; ``params`` and ``metrics`` are JSON so that rows of every stage share one table
LEDGER_COLUMNS = ("run_id", "stage", "started", "duration_s", "status", "path", "params", "metrics")

#: ``history.tsv`` (an ensemble's adds a leading ``member`` column)
HISTORY_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_auroc", "lr", "seconds")
