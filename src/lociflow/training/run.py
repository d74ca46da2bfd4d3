"""Train a network on a dataset directory: ``lociflow train`` and ``lociflow.train(...)``.

The run folder is a model directory (see :mod:`lociflow.model.io`)::

    RUN/
      model.safetensors  spec.yaml    the best weights and what is needed to use them
      params.yaml  run.log            the complete config (reusable with --config) and the log
      history.tsv                     one row per epoch, rewritten after every epoch
      metrics.json                    the best checkpoint scored on the test split
      plots/                          loss.png accuracy.png auroc.png (live), network.png
      tensorboard/                    TensorBoard event files
      checkpoints/                    best.ckpt and last.ckpt (Lightning; for --resume)

The best checkpoint (by the early-stopping monitor) provides the saved weights and the test
metrics, never simply the last epoch. Ctrl-C stops cleanly: the folder is kept with the best
model so far, and ``resume=True`` with the same name and output continues from
``checkpoints/last.ckpt``.

One network's training is :class:`lociflow.training.fit.Fit`; ``ensemble: N`` trains N of
them into ``RUN/members/<i>/`` and saves their average (:mod:`lociflow.training.ensemble`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lociflow.config import AUTO_ENSEMBLE, AUTO_ENSEMBLE_MAX_LOCI, TrainConfig, coerce
from lociflow.errors import ConfigError, DatasetError
from lociflow.io.store import DatasetDir, open_dataset
from lociflow.runs import open_run

log = logging.getLogger("lociflow.train")


def train(config: TrainConfig | dict | str | os.PathLike, output: str | os.PathLike,
          name: str | None = None, force: bool = False, resume: bool = False,
          callbacks: Sequence[Any] | None = None, *, scored_split: str = "test",
          attach: dict[str, Path] | None = None, tuning: dict[str, Any] | None = None) -> Path:
    """Train a network on ``config.data`` and write a model directory under ``output``.

    This is one training as configured; ``lociflow.train`` (:mod:`lociflow.training.tuning`)
    runs ``train.tune`` first and then calls this.

    Parameters
    ----------
    config : TrainConfig or dict or str or os.PathLike
        A :class:`~lociflow.config.TrainConfig`, a dict (the ``train`` section) or a YAML path.
    output : str or os.PathLike
        Output root; the run folder ``output/name`` is created inside it.
    name : str or None
        Run folder name. Default is None: the stage, the time and a random suffix.
    force : bool
        Replace an existing folder of the same name. Default is False.
    resume : bool
        Continue the interrupted run ``output/name`` from its last checkpoint. Default is False.
    callbacks : sequence of lightning.pytorch.Callback or None
        Extra Lightning callbacks (e.g. a hyperparameter-search pruning callback).
        Default is None.
    scored_split : str
        The split ``metrics.json`` scores: ``"test"``, or ``"valid"`` for a search trial,
        which must never see the test split. Default is ``"test"``.
    attach : dict of str to Path or None
        Finished folders moved into the run folder under these names before it is put in
        place (a tune's search). Default is None.
    tuning : dict or None
        A tune's summary, recorded as ``tuning`` in ``metrics.json``. Default is None.

    Returns
    -------
    Path
        The run folder (a model directory loadable with :func:`lociflow.load_model`).

    Raises
    ------
    ConfigError
        When ``resume`` and ``force`` are both given, or ``resume`` without ``name``, or
        the config asks for ``tune`` (run by :func:`lociflow.train`).
    KeyboardInterrupt
        When interrupted: the folder is kept with the best model so far, ready for ``resume``.
    """
    config = coerce(TrainConfig, config, "train")
    check_resume(resume, force, name)
    from lociflow.model.device import torch_threads

    if config.tune is not None:
        raise ConfigError("train.tune is run by lociflow.train (lociflow.training.tuning.train), which tunes and "
                          "then calls this function; call that, or leave tune out.")
    dataset = open_training_data(config)
    config = resolved_ensemble(config, dataset)
    extras = {"scored_split": scored_split, "attach": attach or {}, "tuning": tuning}
    with torch_threads(config.threads):
        return _train(config, dataset, output, name, force, resume, callbacks, extras)


def resolved_ensemble(config: TrainConfig, dataset: DatasetDir) -> TrainConfig:
    """``config`` with ``ensemble: auto`` made a number of networks for ``dataset``.

    The number goes into the run's ``params.yaml``, so a rerun of it trains as many.

    Parameters
    ----------
    config : TrainConfig
        The training config.
    dataset : DatasetDir
        The dataset it trains on; the size of its train split decides.

    Returns
    -------
    TrainConfig
        ``config`` itself when ``ensemble`` is a number, else a copy with the number.
    """
    if config.ensemble != "auto":
        return config
    loci = sum(dataset.counts.get("train", {}).values())
    networks = config.networks(loci)
    log.info("ensemble: auto chose %d network%s for the %s loci of the train split (%s up to %s loci, else 1)",
             networks, "" if networks == 1 else "s", f"{loci:,}", AUTO_ENSEMBLE, f"{AUTO_ENSEMBLE_MAX_LOCI:,}")
    return config.model_copy(update={"ensemble": networks})


def check_resume(resume: bool, force: bool, name: str | None) -> None:
    """Refuse ``resume`` with ``force``, or without the ``name`` of the run to continue.

    Parameters
    ----------
    resume, force : bool
        The options given.
    name : str or None
        The run name given.

    Raises
    ------
    ConfigError
        Saying which options to give.
    """
    if resume and force:
        raise ConfigError("--resume and --force exclude each other: resume continues the run that --force would replace.")
    if resume and not name:
        raise ConfigError("--resume needs the --name of the interrupted run (and the same output folder).")


def _train(config: TrainConfig, dataset: DatasetDir, output, name, force, resume, callbacks,
           extras: dict[str, Any]) -> Path:
    from lociflow.model.presets import DEFAULT_PRESET, resolve_architecture
    from lociflow.training.fit import check_trainable, is_worker_process, seeded_network

    branches = chosen_branches(config, dataset)
    composed = architecture_for_branches(config.architecture, branches)
    architecture = resolve_architecture(config.preset, composed, branches, dataset.window)
    channels = {b: dataset.channels[b] for b in branches}
    # checked and built before any folder is written, so a spec that cannot work fails first
    check_trainable(architecture, channels, dataset, config.batch_size)
    network = seeded_network(architecture, channels, dataset, config.seed)
    summary = {key: getattr(config, key) for key in
               ("preset", "epochs", "batch_size", "optimizer", "learning_rate", "schedule", "seed")}
    summary["preset"] = config.preset or ("custom" if config.architecture else DEFAULT_PRESET)
    if config.ensemble > 1:
        summary["ensemble"] = config.ensemble
    summary["data"] = str(config.data)
    if extras["tuning"]:
        summary["tuned"] = f"{extras['tuning']['trials']} trials"
    if is_worker_process():  # extra processes of multi-GPU training write nothing of their own
        with tempfile.TemporaryDirectory(prefix="lociflow-train-") as scratch:
            _fit_all(config, dataset, architecture, network, Path(scratch), callbacks, resume, None, extras)
        return Path(output).expanduser().resolve() / (name or "")
    with open_run("train", output, config.dump(), name, force, summary_params=summary,
                  keep_on_interrupt=True, resume=resume) as run:
        _fit_all(config, dataset, architecture, network, run.path, callbacks, resume, run, extras)
        _attach(extras["attach"], run.path, run.final_path)
        return run.final_path


def _fit_all(config: TrainConfig, dataset: DatasetDir, architecture: dict, network, folder: Path,
             callbacks, resume: bool, run, extras: dict[str, Any]) -> None:
    """Train the one network, or each network of an ensemble in turn."""
    from lociflow.training.ensemble import EnsembleFit
    from lociflow.training.fit import Fit

    fit = Fit if config.ensemble == 1 else EnsembleFit
    job = fit(config, dataset, architecture, network, folder, callbacks, resume, run)
    job.scored_split = extras["scored_split"]
    if extras["tuning"]:
        job.extra_metrics = {"tuning": extras["tuning"]}
    job.run()


def _attach(folders: dict[str, Path], work: Path, final: Path) -> None:
    """Move finished folders into the run folder; the ledgers that name them follow."""
    import shutil

    from lociflow.io.atomic import write_text
    from lociflow.layout import LEDGER_FILE, TRIALS_DIR

    for inside, source in folders.items():
        if (work / inside).exists():
            shutil.rmtree(work / inside)
        os.replace(source, work / inside)
        for ledger in (work / inside / TRIALS_DIR / LEDGER_FILE, source.parent / LEDGER_FILE):
            if ledger.exists():
                write_text(ledger, ledger.read_text(encoding="utf-8").replace(str(source), str(final / inside)))


def chosen_branches(config: TrainConfig, dataset: DatasetDir) -> list[str]:
    """The branches a network is trained on: ``config.branches`` (in the dataset's order) or all.

    Parameters
    ----------
    config : TrainConfig
        The training config; its ``branches`` (None for all) are used.
    dataset : DatasetDir
        The dataset whose branches are chosen from.

    Returns
    -------
    list of str
        The chosen branch names, in the dataset's order.

    Raises
    ------
    ConfigError
        When ``config.branches`` names a branch the dataset does not have.
    """
    if config.branches is None:
        return list(dataset.branches)
    from lociflow.configfile import suggest

    for name in config.branches:
        if name not in dataset.branches:
            raise ConfigError(
                f"branches names {name!r}, which dataset {dataset.path} does not have"
                f"{suggest(name, list(dataset.branches))}; its branches: {', '.join(dataset.branches)}."
            )
    return [b for b in dataset.branches if b in config.branches]


def architecture_for_branches(architecture: dict[str, Any] | None, branches: list[str]) -> dict[str, Any] | None:
    """A composed architecture without the sections of branches left out by ``branches``.

    Parameters
    ----------
    architecture : dict or None
        A composed architecture (``train.architecture``), or None.
    branches : list of str
        The branches trained on (see :func:`chosen_branches`).

    Returns
    -------
    dict or None
        ``architecture`` with its ``branches`` mapping reduced to ``branches``;
        ``architecture`` itself when it is None or has no ``branches`` mapping.
    """
    if architecture is None or not isinstance(architecture.get("branches"), dict):
        return architecture
    return {**architecture, "branches": {b: v for b, v in architecture["branches"].items() if b in branches}}


def open_training_data(config: TrainConfig) -> DatasetDir:
    """Open the dataset a training config names and check that it can be trained on.

    Training and search call this before any run folder exists.

    Parameters
    ----------
    config : TrainConfig
        The training config (its ``data``, ``augment``, schedule and ``branches``).

    Returns
    -------
    DatasetDir
        The dataset.

    Raises
    ------
    LociflowError
        A :class:`~lociflow.errors.ConfigError` or :class:`~lociflow.errors.DatasetError`
        naming what is missing (the dataset, a split, a fitting augmentation, a branch)
        and how to fix it.
    """
    if config.data is None:
        raise ConfigError(
            "No dataset given: pass --data DATASET_DIR (the folder `lociflow preprocess` printed) "
            "or set data: in the train section."
        )
    dataset = open_dataset(config.data)
    present = dataset.splits()
    for split, why in (("train", "to learn from"), ("valid", "for early stopping and the best checkpoint"),
                       ("test", "to report held-out metrics")):
        if split not in present:
            raise DatasetError(
                f"Dataset {dataset.path} has no {split!r} split, which training needs {why} "
                f"(present: {', '.join(present) or 'none'}). Preprocess it again with a "
                f"positive {split} ratio (split.ratios.{split}) or {split} chromosomes."
            )
    if config.augment.reverse_complement and dataset.alphabet != "dna":
        raise ConfigError(
            f"augment.reverse_complement applies to DNA only; dataset {dataset.path} is {dataset.alphabet} "
            "(a bound RNA is single-stranded). Set augment.reverse_complement: false."
        )
    if config.augment.shift_for(dataset.window) >= dataset.window:
        raise ConfigError(f"augment.shift ({config.augment.shift}) must be smaller than the window ({dataset.window}).")
    from lociflow.training.module import schedule_options

    schedule_options(config)
    chosen_branches(config, dataset)
    return dataset


