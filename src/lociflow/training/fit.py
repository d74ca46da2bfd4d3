"""One network's training on Lightning: the trainer, its callbacks, the best weights, the
model directory and its test metrics (see :mod:`lociflow.training.run` for the run folder)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lociflow.config import TrainConfig
from lociflow.errors import LociflowError
from lociflow.io.store import DatasetDir
from lociflow.layout import CHECKPOINT_DIR, HISTORY_FILE, LAST_CHECKPOINT, METRICS_FILE
from lociflow.training.plots import MONITOR_MODES

log = logging.getLogger("lociflow.train")


def seeded_network(architecture: dict, channels: dict[str, list[str]], dataset: DatasetDir, seed: int):
    """The network for ``architecture``, its weights drawn after seeding every generator with ``seed``.

    Parameters
    ----------
    architecture : dict
        A resolved architecture (see :func:`lociflow.model.presets.resolve_architecture`).
    channels : dict of str to list of str
        The channel names of each branch trained on.
    dataset : DatasetDir
        The dataset (its window and number of classes).
    seed : int
        Seeds Python, numpy and torch (and loader workers) before the weights are drawn.

    Returns
    -------
    torch.nn.Module
        The network from :func:`lociflow.model.network.build_network`.
    """
    import lightning as L

    from lociflow.model.network import build_network

    L.seed_everything(seed, workers=True, verbose=False)
    return build_network(architecture, channels, dataset.window, len(dataset.classes))


def check_trainable(architecture: dict, channels: dict[str, list[str]], dataset: DatasetDir, batch_size: int) -> None:
    """Refuse, before anything is allocated, a network that cannot train as configured.

    Batch normalisation cannot normalise a batch of one locus (its variance is zero and
    the metrics become NaN), so ``batch_size: 1`` with any ``batch_norm`` layer is refused;
    a model whose weights and one batch of activations exceed the free memory is refused
    with the numbers (see :func:`lociflow.model.checks.check_fits`).

    Parameters
    ----------
    architecture : dict
        A resolved architecture (its ``branches`` and ``common`` layer lists).
    channels : dict of str to list of str
        The channel names of each branch trained on.
    dataset : DatasetDir
        The dataset (its window and number of classes).
    batch_size : int
        The configured ``batch_size``.

    Raises
    ------
    ConfigError
        Naming the option to change.
    """
    import torch

    from lociflow.errors import ConfigError, ModelFileError
    from lociflow.model.checks import check_fits, model_size

    layers = [layer for section in (architecture.get("branches") or {}).values() for layer in section or []]
    layers += list(architecture.get("common") or [])
    if batch_size == 1 and any(isinstance(layer, dict) and layer.get("batch_norm") for layer in layers):
        raise ConfigError("batch_size: 1 cannot train a network with batch normalisation (one locus has no batch "
                          "variance, and the metrics become NaN). Use batch_size: 2 or more, or batch_norm: false "
                          "in every layer.")
    size = model_size(architecture, channels, dataset.window, len(dataset.classes))
    try:
        check_fits(size, torch.device("cpu"), "the architecture", batch_size=batch_size)
    except ModelFileError as exc:
        raise ConfigError(f"{exc} Reduce the layer sizes, the window or batch_size.") from None


def is_worker_process() -> bool:
    """True in the extra processes that distributed (DDP) training launches."""
    for variable in ("LOCAL_RANK", "NODE_RANK", "RANK"):
        value = os.environ.get(variable, "0")
        if value.isdigit() and int(value) != 0:
            return True
    return False


def on_gpu(config: TrainConfig) -> bool:
    """Whether training runs on a CUDA GPU.

    Parameters
    ----------
    config : TrainConfig
        The training config (its ``accelerator``).

    Returns
    -------
    bool
        True when the accelerator is ``auto``, ``gpu`` or ``cuda`` and a CUDA GPU is present.
    """
    import torch

    return config.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def precision_for(config: TrainConfig) -> str:
    """The Lightning ``precision`` for the configured one.

    Parameters
    ----------
    config : TrainConfig
        The training config (its ``precision`` and ``accelerator``).

    Returns
    -------
    str
        ``"16-mixed"`` on a GPU and ``"32-true"`` elsewhere for ``auto``; ``"32-true"`` for
        ``"32"``; otherwise the configured value.
    """
    if config.precision == "auto":
        return "16-mixed" if on_gpu(config) else "32-true"
    return "32-true" if config.precision == "32" else config.precision


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
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


def describe_network(network, architecture: dict, dataset: DatasetDir, folder: Path) -> None:
    """Log the network's summary and draw ``folder/plots/network.png``.

    A diagram that cannot be drawn is a logged warning, never an error.

    Parameters
    ----------
    network : torch.nn.Module
        The network (its ``branches`` are the branches trained on).
    architecture : dict
        The resolved architecture the diagram is drawn from.
    dataset : DatasetDir
        The dataset (its channels, window and classes).
    folder : Path
        The run folder.
    """
    from lociflow.model.summary import draw_diagram, summarize

    channels = {b: dataset.channels[b] for b in network.branches}  # the branches trained on
    log.info("%s", summarize(network, channels, dataset.window))
    try:
        draw_diagram(architecture, channels, dataset.window, Path(folder) / "plots" / "network.png",
                     n_classes=len(dataset.classes))
    except Exception as exc:  # a missing diagram must not stop training
        log.warning("could not draw the network diagram: %s", exc)


def save_scored(folder: Path, network, architecture: dict, dataset: DatasetDir,
                device: Any = "cpu", split: str = "test") -> dict[str, Any]:
    """Save ``network`` as the model directory ``folder`` and return its metrics on ``split``.

    Parameters
    ----------
    folder : Path
        The model directory to write.
    network : torch.nn.Module
        The trained network; it is scored on ``device`` and left on the CPU.
    architecture : dict
        The resolved architecture, saved in the spec.
    dataset : DatasetDir
        The dataset trained on (its spec, channels and test split).
    device : str or torch.device
        Where the split is scored. Default is ``"cpu"``.
    split : str
        The split scored: ``"test"``, or ``"valid"`` for a search trial. Default is ``"test"``.

    Returns
    -------
    dict
        The metrics of :func:`lociflow.training.scoring.score_split`.
    """
    from lociflow.model.io import dataset_spec, save_model
    from lociflow.training.scoring import score_split

    branches = list(network.branches)
    spec = dataset_spec(dataset, architecture)
    spec["branches"] = branches  # a subset when config.branches leaves some out
    spec["channels"] = {b: dataset.channels[b] for b in branches}
    save_model(folder, network, spec)
    metrics = score_split(network.to(device), dataset.split(split), branches, dataset.classes, device=device)
    network.cpu()
    return metrics


def record_run(run, metrics: dict[str, Any], best_epoch: Any, epochs: int) -> None:
    """The headline test metrics in the run's ``runs.tsv`` row (nothing without a run).

    Parameters
    ----------
    run : object or None
        The open run of :func:`lociflow.runs.open_run`, or None (nothing is recorded).
    metrics : dict
        The test metrics (their macro AUROC and AUPRC, accuracy and loss are recorded).
    best_epoch : object
        The best epoch (for an ensemble, the members' best epochs as one string).
    epochs : int
        The epochs trained.
    """
    if run is not None:
        run.record(test_auroc=metrics["auroc"]["macro"], test_auprc=metrics["auprc"]["macro"],
                   test_accuracy=metrics["accuracy"], test_loss=metrics["loss"], best_epoch=best_epoch, epochs=epochs)


def check_checkpoint(path: Path, run_folder: Path) -> None:
    """Refuse a checkpoint that cannot be read with ``torch.load(weights_only=True)``.

    Lightning reads the checkpoint of ``--resume`` that way, so that loading it runs no
    code; a checkpoint holding anything but tensors and plain values (written by another
    program, or damaged) would otherwise end in an unpickling traceback mid-run.

    Parameters
    ----------
    path : Path
        The checkpoint (``checkpoints/last.ckpt``).
    run_folder : Path
        The run folder, named in the message.

    Raises
    ------
    LociflowError
        Naming the file and saying how to continue.
    """
    import pickle
    import zipfile

    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile,
            AttributeError, TypeError, ImportError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LociflowError(
            f"Cannot resume from {path}: it cannot be read safely as weights only ({reason[:200]}). It is damaged or "
            f"was not written by lociflow. Delete it to restart the training in {run_folder} from the beginning with "
            "--resume, or train again under a new --name.") from None

MAX_RESTARTS = 2
"""Restarts of a collapsed training before it is kept, with a warning."""


class Fit:
    """One training: build the trainer, fit, restore the best weights, write the model dir.

    A ``member`` (the size of its ensemble) trains one network of it: no summary or diagram, no run
    record, and an interruption is left to the ensemble to report.

    Parameters
    ----------
    config : TrainConfig
        The training config.
    dataset : DatasetDir
        The dataset trained on (its train, valid and test splits).
    architecture : dict
        The resolved architecture, saved in the model's spec.
    network : torch.nn.Module
        The network, its weights already drawn (see :func:`seeded_network`).
    folder : Path
        The model directory written (the run folder, or ``members/<i>/``).
    callbacks : sequence of lightning.pytorch.Callback or None
        Extra Lightning callbacks.
    resume : bool
        Continue from ``checkpoints/last.ckpt`` when it exists.
    run : object or None
        The open run whose ``runs.tsv`` row gets the test metrics, or None.
    member : int
        Train one network of an ensemble of this many (see above; the progress bar says
        "network i of member"). Default is 0, a network of its own.
    """

    def __init__(self, config: TrainConfig, dataset: DatasetDir, architecture: dict, network, folder: Path,
                 callbacks: Sequence[Any] | None, resume: bool, run, member: int = 0):
        self.member = member
        self.config = config
        self.dataset = dataset
        self.architecture = architecture
        self.network = network
        self.folder = Path(folder)
        self.extra_callbacks = list(callbacks or [])
        self.resume = resume
        self.run_record = run
        self.branches = list(getattr(network, "branches", dataset.branches))
        self.metrics: dict[str, Any] | None = None  # the test metrics, once the best weights are saved
        self.scored_split = "test"  # "valid" in a search trial, which must never see the test split
        self.extra_metrics: dict[str, Any] = {}  # further entries of metrics.json (a tune's summary)

    def run(self) -> None:
        """Train, restarting a training that collapsed (see :class:`~lociflow.training.callbacks.CollapseWatch`)
        up to :data:`MAX_RESTARTS` times with another seed and half the learning rate; then
        restore the best weights and write the model directory."""
        self.restarts: list[dict[str, Any]] = []
        self.first_seed = self.config.seed
        while True:
            last_try = len(self.restarts) >= MAX_RESTARTS or self.resume  # a resumed run keeps its network
            checkpoint, trainer, watch, collapse = self._attempt(stop_on_collapse=not last_try)
            if collapse.reason is None or watch.interrupted or last_try:
                break
            self._restart(collapse)
        if not trainer.is_global_zero:
            return
        self.collapse_reason = collapse.reason
        self._finish(checkpoint, trainer, interrupted=watch.interrupted)

    def _restart(self, collapse) -> None:
        """Start again from new weights: the next seed, half the rate, no checkpoints or history."""
        import shutil

        seed = self.first_seed + 1000 * (len(self.restarts) + 1)
        rate = self.config.learning_rate / 2
        self.restarts.append({"epoch": collapse.epoch, "reason": collapse.reason, "seed": seed, "learning_rate": rate})
        log.warning("training collapsed: %s. Restarting (%d of %d) with seed %d and learning rate %g.",
                    collapse.reason, len(self.restarts), MAX_RESTARTS, seed, rate)
        self.config = self.config.model_copy(update={"seed": seed, "learning_rate": rate})
        channels = {b: self.dataset.channels[b] for b in self.branches}
        self.network = seeded_network(self.architecture, channels, self.dataset, seed)
        shutil.rmtree(self.folder / CHECKPOINT_DIR, ignore_errors=True)
        shutil.rmtree(self.folder / "tensorboard", ignore_errors=True)
        (self.folder / HISTORY_FILE).unlink(missing_ok=True)

    def _attempt(self, stop_on_collapse: bool):
        import lightning as L
        from lightning.pytorch.callbacks import EarlyStopping
        from lightning.pytorch.loggers import TensorBoardLogger

        from lociflow import progress
        from lociflow.training.callbacks import (
            CollapseWatch,
            HistoryWriter,
            InterruptWatch,
            RelocatableCheckpoint,
            StderrProgressBar,
            prior_loss,
        )
        from lociflow.training.data import make_loader
        from lociflow.training.module import Classifier, inverse_frequency_weights

        config, dataset = self.config, self.dataset
        if not self.member:
            describe_network(self.network, self.architecture, dataset, self.folder)
        train_split, valid_split = dataset.split("train"), dataset.split("valid")
        gpu = on_gpu(config)
        loader_args = {"num_workers": config.num_workers, "pin_memory": gpu}
        train_loader = make_loader(train_split, self.branches, config.batch_size, train=True, seed=config.seed,
                                   reverse_complement=config.augment.reverse_complement,
                                   shift=config.augment.shift_for(dataset.window), **loader_args)
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
        collapse = CollapseWatch(prior_loss(train_split.labels, len(dataset.classes)), stop=stop_on_collapse)
        callbacks = [checkpoint, last, HistoryWriter(self.folder, monitor=monitor), watch, collapse,
                     *self.extra_callbacks]
        if config.early_stopping:
            callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=config.early_stopping.patience,
                                           min_delta=config.early_stopping.min_delta))
        if config.ema_decay:
            from lightning.pytorch.callbacks import EMAWeightAveraging

            # validation swaps the averaged weights in, and checkpoints store them as the
            # state_dict (the raw weights go under current_model_state, which --resume restores)
            callbacks.append(EMAWeightAveraging(decay=config.ema_decay))
        if progress.enabled():
            network = f"network {self.folder.name} of {self.member}" if self.member else None
            callbacks.append(StderrProgressBar(network))
        with quiet_lightning():
            trainer = L.Trainer(
                max_epochs=config.epochs, accelerator=config.accelerator, devices=config.devices,
                strategy=config.strategy, num_nodes=config.num_nodes, precision=precision_for(config),
                deterministic=True if not gpu else None, gradient_clip_val=config.gradient_clip,
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
        return checkpoint, trainer, watch, collapse

    def _resume_checkpoint(self) -> str | None:
        if not self.resume:
            return None
        last = self.folder / CHECKPOINT_DIR / LAST_CHECKPOINT
        if last.exists():
            check_checkpoint(last, self.run_record.final_path if self.run_record is not None else self.folder)
            log.info("resuming from %s", last)
            return str(last)
        log.warning("no checkpoints/last.ckpt in %s (interrupted before the first epoch ended): "
                    "training starts from the beginning", self.folder)
        return None

    def _finish(self, checkpoint, trainer, interrupted: bool) -> None:
        from lociflow.io.atomic import write_json
        from lociflow.result_warnings import epoch_warnings, log_warnings
        from lociflow.training.callbacks import read_history
        from lociflow.training.scoring import load_best_weights

        best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
        if best is None or not best.exists():
            if interrupted:
                log.warning("training was interrupted before the first epoch ended; no model was saved")
                raise KeyboardInterrupt
            raise RuntimeError("training ended without a best checkpoint")
        best_epoch = load_best_weights(self.network, best)
        metrics = save_scored(self.folder, self.network, self.architecture, self.dataset, trainer.strategy.root_device,
                              split=self.scored_split)
        monitor = checkpoint.monitor
        score = checkpoint.best_model_score
        # epochs recorded in history.tsv: trainer.current_epoch only advances after the
        # epoch-end hooks, so a stop just after an epoch ended would count one too few
        recorded = [row["epoch"] for row in read_history(self.folder / HISTORY_FILE)]
        epochs_trained = max(recorded, default=trainer.current_epoch)
        metrics.update({
            "split": self.scored_split, "best_epoch": best_epoch, "epochs_trained": epochs_trained,
            "monitor": monitor, "best_" + monitor: None if score is None else round(float(score), 6),
            "checkpoint": "checkpoints/best.ckpt", "complete": not interrupted,
        })
        metrics["warnings"] = metrics.get("warnings", []) + epoch_warnings(
            best_epoch, epochs_trained, stopped_early=not interrupted and epochs_trained < self.config.epochs)
        metrics["restarts"] = self.restarts
        metrics.update(self.extra_metrics)
        if self.collapse_reason is not None:
            metrics["warnings"].append(
                f"Training collapsed and stayed collapsed after {len(self.restarts)} restart(s): {self.collapse_reason}. "
                "The model predicts the same for every locus. Try a lower learning_rate, another preset, or check "
                "that the classes differ in their inputs.")
        log_warnings(metrics["warnings"])
        write_json(self.folder / METRICS_FILE, metrics)
        self.metrics = metrics
        log.info("best epoch %d (%s %.4f); %s AUROC %s, accuracy %s, loss %.4f", best_epoch, monitor,
                 float(score) if score is not None else float("nan"), self.scored_split, metrics["auroc"]["macro"],
                 metrics["accuracy"], metrics["loss"])
        record_run(self.run_record, metrics, best_epoch, epochs_trained)
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
