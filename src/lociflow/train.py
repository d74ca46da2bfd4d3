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
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lociflow.config import TrainConfig, coerce
from lociflow.errors import ConfigError, DatasetError
from lociflow.io.store import DatasetDir, open_dataset
from lociflow.runs import open_run

log = logging.getLogger("lociflow.train")

MONITOR_MODES = {"val_loss": "min", "val_auroc": "max", "val_accuracy": "max"}


def train(config: TrainConfig | dict | str | os.PathLike, output: str | os.PathLike,
          name: str | None = None, force: bool = False, resume: bool = False,
          callbacks: Sequence[Any] | None = None) -> Path:
    """Train a network on ``config.data`` and write a model directory under ``output``.

    Parameters
    ----------
    config
        A :class:`~lociflow.config.TrainConfig`, a dict (the ``train`` section) or a YAML path.
    output
        Output root; the run folder ``output/name`` is created inside it.
    name
        Run folder name. Default is the stage, the time and a random suffix.
    force
        Replace an existing folder of the same name. Default is False.
    resume
        Continue the interrupted run ``output/name`` from its last checkpoint. Default is False.
    callbacks
        Extra Lightning callbacks (e.g. a hyperparameter-search pruning callback).

    Returns
    -------
    Path
        The run folder (a model directory loadable with :func:`lociflow.load_model`).

    Raises
    ------
    KeyboardInterrupt
        When interrupted: the folder is kept with the best model so far, ready for ``resume``.
    """
    config = coerce(TrainConfig, config, "train")
    if resume and force:
        raise ConfigError("--resume and --force exclude each other: resume continues the run that --force would replace.")
    if resume and not name:
        raise ConfigError("--resume needs the --name of the interrupted run (and the same output folder).")
    dataset = _open_checked(config)
    with _torch_threads(config.threads):
        return _train(config, dataset, output, name, force, resume, callbacks)


def _train(config: TrainConfig, dataset: DatasetDir, output, name, force, resume, callbacks) -> Path:
    from lociflow.model.presets import DEFAULT_PRESET, resolve_architecture

    branches = chosen_branches(config, dataset)
    composed = architecture_for_branches(config.architecture, branches)
    architecture = resolve_architecture(config.preset, composed, branches, dataset.window)
    channels = {b: dataset.channels[b] for b in branches}
    # built before any folder is written, so a spec that cannot work fails first
    network = _seeded_network(architecture, channels, dataset, config.seed)
    summary = {key: getattr(config, key) for key in
               ("preset", "epochs", "batch_size", "optimizer", "learning_rate", "schedule", "seed")}
    summary["preset"] = config.preset or ("custom" if config.architecture else DEFAULT_PRESET)
    if config.ensemble > 1:
        summary["ensemble"] = config.ensemble
    summary["data"] = str(config.data)
    if _is_worker_process():  # extra processes of multi-GPU training write nothing of their own
        with tempfile.TemporaryDirectory(prefix="lociflow-train-") as scratch:
            _fit_all(config, dataset, architecture, network, Path(scratch), callbacks, resume, None)
        return Path(output).expanduser().resolve() / (name or "")
    with open_run("train", output, config.dump(), name, force, summary_params=summary,
                  keep_on_interrupt=True, resume=resume) as run:
        _fit_all(config, dataset, architecture, network, run.path, callbacks, resume, run)
        return run.final_path


def _seeded_network(architecture: dict, channels: dict[str, list[str]], dataset: DatasetDir, seed: int):
    import lightning as L

    from lociflow.model.network import build_network

    L.seed_everything(seed, workers=True, verbose=False)
    return build_network(architecture, channels, dataset.window, len(dataset.classes))


def _fit_all(config: TrainConfig, dataset: DatasetDir, architecture: dict, network, folder: Path,
             callbacks, resume: bool, run) -> None:
    """Train the one network, or each network of an ensemble in turn."""
    if config.ensemble == 1:
        _Fit(config, dataset, architecture, network, folder, callbacks, resume, run).run()
    else:
        _EnsembleFit(config, dataset, architecture, network, folder, callbacks, resume, run).run()


def chosen_branches(config: TrainConfig, dataset: DatasetDir) -> list[str]:
    """The branches a network is trained on: ``config.branches`` (in the dataset's order) or all."""
    if config.branches is None:
        return list(dataset.branches)
    from lociflow.config import _suggest

    for name in config.branches:
        if name not in dataset.branches:
            raise ConfigError(
                f"branches names {name!r}, which dataset {dataset.path} does not have"
                f"{_suggest(name, list(dataset.branches))}; its branches: {', '.join(dataset.branches)}."
            )
    return [b for b in dataset.branches if b in config.branches]


def architecture_for_branches(architecture: dict[str, Any] | None, branches: list[str]) -> dict[str, Any] | None:
    """A composed architecture without the sections of branches left out by ``branches``."""
    if architecture is None or not isinstance(architecture.get("branches"), dict):
        return architecture
    return {**architecture, "branches": {b: v for b, v in architecture["branches"].items() if b in branches}}


def _open_checked(config: TrainConfig) -> DatasetDir:
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
    if config.augment.shift >= dataset.window:
        raise ConfigError(f"augment.shift ({config.augment.shift}) must be smaller than the window ({dataset.window}).")
    from lociflow.training.module import schedule_options

    schedule_options(config)
    chosen_branches(config, dataset)
    return dataset


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` CPU threads in PyTorch while training (None: leave as is)."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _is_worker_process() -> bool:
    """True in the extra processes that distributed (DDP) training launches."""
    for variable in ("LOCAL_RANK", "NODE_RANK", "RANK"):
        value = os.environ.get(variable, "0")
        if value.isdigit() and int(value) != 0:
            return True
    return False


def _on_gpu(config: TrainConfig) -> bool:
    import torch

    return config.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def _precision(config: TrainConfig) -> str:
    if config.precision == "auto":
        return "16-mixed" if _on_gpu(config) else "32-true"
    return "32-true" if config.precision == "32" else config.precision


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Keep Lightning's banners off standard output and its advice about small data out of
    the log; restore the Ctrl-C handler Lightning replaces on interruption."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    handler = signal.getsignal(signal.SIGINT)
    with warnings.catch_warnings():
        for pattern in (".*does not have many workers.*", ".*smaller than the logging interval.*",
                        ".*Checkpoint directory .* exists and is not empty.*", ".*LeafSpec.*",
                        ".*`isinstance\\(treespec, LeafSpec\\)`.*"):
            warnings.filterwarnings("ignore", message=pattern)
        try:
            yield
        finally:
            logger.setLevel(level)
            if handler is not None:
                signal.signal(signal.SIGINT, handler)


class _Fit:
    """One training: build the trainer, fit, restore the best weights, write the model dir."""

    def __init__(self, config: TrainConfig, dataset: DatasetDir, architecture: dict, network, folder: Path,
                 callbacks: Sequence[Any] | None, resume: bool, run, member: bool = False):
        self.member = member  # one network of an ensemble: the ensemble describes and reports
        self.config = config
        self.dataset = dataset
        self.architecture = architecture
        self.network = network
        self.folder = Path(folder)
        self.extra_callbacks = list(callbacks or [])
        self.resume = resume
        self.run_record = run
        self.branches = list(getattr(network, "branches", dataset.branches))

    def run(self) -> None:
        import lightning as L
        from lightning.pytorch.callbacks import EarlyStopping
        from lightning.pytorch.loggers import TensorBoardLogger

        from lociflow import progress
        from lociflow.training.callbacks import (HistoryWriter, InterruptWatch, RelocatableCheckpoint,
                                                 StderrProgressBar)
        from lociflow.training.data import make_loader
        from lociflow.training.module import Classifier, inverse_frequency_weights

        config, dataset = self.config, self.dataset
        if not self.member:
            self._describe_network()
        train_split, valid_split = dataset.split("train"), dataset.split("valid")
        on_gpu = _on_gpu(config)
        loader_args = {"num_workers": config.num_workers, "pin_memory": on_gpu}
        train_loader = make_loader(train_split, self.branches, config.batch_size, train=True, seed=config.seed,
                                   reverse_complement=config.augment.reverse_complement,
                                   shift=config.augment.shift, **loader_args)
        valid_loader = make_loader(valid_split, self.branches, max(config.batch_size, 512), train=False, **loader_args)
        weights = None
        if config.class_weights == "auto":
            weights = inverse_frequency_weights(train_split.labels, len(dataset.classes))
            log.info("class weights: %s", dict(zip(dataset.classes, [round(w, 4) for w in weights])))
        monitor = config.early_stopping.monitor if config.early_stopping else "val_loss"
        mode = MONITOR_MODES[monitor]
        module = Classifier(self.network, config, dataset.classes, weights, monitor=monitor)
        folder = str(self.folder / "checkpoints")
        checkpoint = RelocatableCheckpoint(dirpath=folder, filename="best", monitor=monitor, mode=mode, save_top_k=1,
                                           enable_version_counter=False, auto_insert_metric_name=False)
        # a second checkpoint without a monitor is rewritten at the end of every epoch (Lightning's
        # save_last skips epochs that did not improve the monitor, and a checkpoint taken when
        # validation ends makes a resumed run repeat that epoch), so --resume loses at most one epoch
        last = RelocatableCheckpoint(dirpath=folder, filename="last", monitor=None, save_top_k=1,
                                     enable_version_counter=False, save_on_train_epoch_end=True)
        watch = InterruptWatch()
        callbacks = [checkpoint, last, HistoryWriter(self.folder), watch, *self.extra_callbacks]
        if config.early_stopping:
            callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=config.early_stopping.patience,
                                           min_delta=config.early_stopping.min_delta))
        if config.ema_decay:
            from lightning.pytorch.callbacks import EMAWeightAveraging

            # validation swaps the averaged weights in, and checkpoints store them as the
            # state_dict (the raw weights go under current_model_state, which --resume restores)
            callbacks.append(EMAWeightAveraging(decay=config.ema_decay))
        if progress.enabled():
            callbacks.append(StderrProgressBar())
        with _quiet_lightning():
            trainer = L.Trainer(
                max_epochs=config.epochs, accelerator=config.accelerator, devices=config.devices,
                strategy=config.strategy, num_nodes=config.num_nodes, precision=_precision(config),
                deterministic=True if not on_gpu else None, gradient_clip_val=config.gradient_clip,
                callbacks=callbacks, enable_progress_bar=progress.enabled(), enable_model_summary=False,
                logger=TensorBoardLogger(str(self.folder), name="tensorboard", version="", default_hp_metric=False),
                num_sanity_val_steps=0, use_distributed_sampler=False, default_root_dir=str(self.folder),
                log_every_n_steps=50, benchmark=False,
            )
            ckpt_path = self._resume_checkpoint()
            try:
                trainer.fit(module, train_loader, valid_loader, ckpt_path=ckpt_path, weights_only=True)
            except SystemExit:
                if not watch.interrupted:
                    raise
        if not trainer.is_global_zero:
            return
        self._finish(checkpoint, trainer, interrupted=watch.interrupted)

    def _describe_network(self) -> None:
        from lociflow.model.summary import draw_diagram, summarize

        channels = {b: self.dataset.channels[b] for b in self.branches}  # the branches trained on
        log.info("%s", summarize(self.network, channels, self.dataset.window))
        try:
            draw_diagram(self.architecture, channels, self.dataset.window,
                         self.folder / "plots" / "network.png", n_classes=len(self.dataset.classes))
        except Exception as exc:  # a missing diagram must not stop training
            log.warning("could not draw the network diagram: %s", exc)

    def _resume_checkpoint(self) -> str | None:
        if not self.resume:
            return None
        last = self.folder / "checkpoints" / "last.ckpt"
        if last.exists():
            log.info("resuming from %s", last)
            return str(last)
        log.warning("no checkpoints/last.ckpt in %s (interrupted before the first epoch ended): "
                    "training starts from the beginning", self.folder)
        return None

    def _finish(self, checkpoint, trainer, interrupted: bool) -> None:
        from lociflow.io.atomic import write_json
        from lociflow.model.io import save_model
        from lociflow.training.callbacks import read_history
        from lociflow.training.scoring import load_best_weights, score_split

        best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
        if best is None or not best.exists():
            if interrupted:
                log.warning("training was interrupted before the first epoch ended; no model was saved")
                raise KeyboardInterrupt
            raise RuntimeError("training ended without a best checkpoint")
        best_epoch = load_best_weights(self.network, best)
        save_model(self.folder, self.network, self._spec())
        device = trainer.strategy.root_device
        metrics = score_split(self.network.to(device), self.dataset.split("test"), self.branches,
                              self.dataset.classes, device=device)
        self.network.cpu()
        monitor = checkpoint.monitor
        score = checkpoint.best_model_score
        # epochs recorded in history.tsv: trainer.current_epoch only advances after the
        # epoch-end hooks, so a stop just after an epoch ended would count one too few
        recorded = [row["epoch"] for row in read_history(self.folder / "history.tsv")]
        epochs_trained = max(recorded, default=trainer.current_epoch)
        metrics.update({
            "split": "test", "best_epoch": best_epoch, "epochs_trained": epochs_trained,
            "monitor": monitor, "best_" + monitor: None if score is None else round(float(score), 6),
            "checkpoint": "checkpoints/best.ckpt", "complete": not interrupted,
        })
        write_json(self.folder / "metrics.json", metrics)
        log.info("best epoch %d (%s %.4f); test AUROC %s, accuracy %s, loss %.4f", best_epoch, monitor,
                 float(score) if score is not None else float("nan"), metrics["auroc"]["macro"],
                 metrics["accuracy"], metrics["loss"])
        if self.run_record is not None:
            self.run_record.record(test_auroc=metrics["auroc"]["macro"], test_auprc=metrics["auprc"]["macro"],
                                   test_accuracy=metrics["accuracy"], test_loss=metrics["loss"],
                                   best_epoch=best_epoch, epochs=epochs_trained)
        if interrupted and self.member:
            raise KeyboardInterrupt
        if interrupted:
            final = self.run_record.final_path if self.run_record is not None else self.folder
            log.warning(
                "training interrupted after epoch %d; the best model so far (epoch %d) is saved in %s. "
                "Continue with: lociflow train ... -o %s --name %s --resume",
                trainer.current_epoch, best_epoch, final, final.parent, final.name,
            )
            raise KeyboardInterrupt

    def _spec(self) -> dict[str, Any]:
        from lociflow.model.io import dataset_spec

        spec = dataset_spec(self.dataset, self.architecture)
        spec["branches"] = list(self.branches)  # a subset when config.branches leaves some out
        spec["channels"] = {b: self.dataset.channels[b] for b in self.branches}
        return spec


class _EnsembleFit:
    """``ensemble: N``: train N networks one after another, each a complete model directory
    in ``members/<i>/`` (seed ``seed + i - 1``, so its own weights, batches and dropout),
    then save their average as the run's model and score it on the test split.

    ``history.tsv`` and the plots of the run folder follow all networks (a ``member``
    column). Ctrl-C keeps the networks trained so far (the interrupted one with its best
    weights) as the run's model; ``--resume`` skips the finished networks and continues the
    interrupted one from its last checkpoint.
    """

    def __init__(self, config: TrainConfig, dataset: DatasetDir, architecture: dict, first, folder: Path,
                 callbacks: Sequence[Any] | None, resume: bool, run):
        self.config, self.dataset, self.architecture = config, dataset, architecture
        self.first = first
        self.folder = Path(folder)
        self.callbacks = list(callbacks or [])
        self.resume = resume
        self.run_record = run
        self.branches = list(first.branches)

    def run(self) -> None:
        import json

        from lociflow.model.io import load_model
        from lociflow.training.callbacks import EnsembleHistory

        n, seed = self.config.ensemble, self.config.seed
        channels = {b: self.dataset.channels[b] for b in self.branches}
        _Fit(self.config, self.dataset, self.architecture, self.first, self.folder, None, False, None)._describe_network()
        log.info("ensemble of %d networks, seeds %d to %d; their logits are averaged", n, seed, seed + n - 1)
        networks, members = [], []
        history = EnsembleHistory(self.folder, n)
        for i in range(1, n + 1):
            sub = self.folder / "members" / str(i)
            record = sub / "metrics.json"
            done = json.loads(record.read_text(encoding="utf-8")) if self.resume and record.exists() else {}
            if done.get("complete"):
                log.info("network %d of %d was trained before; kept", i, n)
                networks.append(load_model(sub).network.cpu())
                members.append(self._member_row(i, done))
                continue
            log.info("training network %d of %d (seed %d)", i, n, seed + i - 1)
            network = self.first if i == 1 else _seeded_network(self.architecture, channels, self.dataset, seed + i - 1)
            config = self.config.model_copy(update={"seed": seed + i - 1, "ensemble": 1})
            resume = self.resume and (sub / "checkpoints" / "last.ckpt").exists()
            fit = _Fit(config, self.dataset, self.architecture, network, sub, [history, *self.callbacks], resume,
                       None, member=True)
            try:
                fit.run()
                if _is_worker_process():  # extra DDP processes train in step and write nothing
                    continue
            except KeyboardInterrupt:
                if _is_worker_process():
                    raise
                if (sub / "model.safetensors").exists():  # this network's best weights so far
                    networks.append(network.cpu())
                    members.append(self._member_row(i, json.loads(record.read_text(encoding="utf-8"))))
                history.update()
                if networks:
                    self._finish(networks, members, interrupted=True)
                    log.warning("training interrupted in network %d of %d; the %d network(s) trained so far are "
                                "saved as the model. Continue with --resume and the same --name.", i, n, len(networks))
                raise
            networks.append(network.cpu())
            members.append(self._member_row(i, json.loads(record.read_text(encoding="utf-8"))))
        if not _is_worker_process():
            history.update()
            self._finish(networks, members, interrupted=False)

    def _member_row(self, i: int, metrics: dict) -> dict:
        return {"member": i, "seed": self.config.seed + i - 1, "best_epoch": metrics.get("best_epoch"),
                "epochs_trained": metrics.get("epochs_trained"), "test_auroc": metrics["auroc"]["macro"],
                "complete": bool(metrics.get("complete"))}

    def _finish(self, networks: list, members: list[dict], interrupted: bool) -> None:
        import torch

        from lociflow.io.atomic import write_json
        from lociflow.model.io import save_model
        from lociflow.model.network import EnsembleNetwork
        from lociflow.training.scoring import score_split

        network = networks[0] if len(networks) == 1 else EnsembleNetwork(networks)
        fit = _Fit(self.config, self.dataset, self.architecture, networks[0], self.folder, None, False, None)
        save_model(self.folder, network, fit._spec())
        device = torch.device("cuda") if _on_gpu(self.config) else torch.device("cpu")
        metrics = score_split(network.to(device), self.dataset.split("test"), self.branches,
                              self.dataset.classes, device=device)
        network.cpu()
        metrics.update({"split": "test", "ensemble": len(networks), "members": members,
                        "complete": not interrupted and len(networks) == self.config.ensemble})
        write_json(self.folder / "metrics.json", metrics)
        each = ", ".join(str(m["test_auroc"]) for m in members)
        log.info("ensemble of %d: test AUROC %s (networks alone: %s), accuracy %s, loss %.4f", len(networks),
                 metrics["auroc"]["macro"], each, metrics["accuracy"], metrics["loss"])
        if self.run_record is not None:
            self.run_record.record(test_auroc=metrics["auroc"]["macro"], test_auprc=metrics["auprc"]["macro"],
                                   test_accuracy=metrics["accuracy"], test_loss=metrics["loss"],
                                   best_epoch=" ".join(str(m["best_epoch"]) for m in members),
                                   epochs=sum(int(m["epochs_trained"] or 0) for m in members))


from lociflow.stage import make_callable  # noqa: E402

make_callable(__name__, "lociflow.train", "train")
