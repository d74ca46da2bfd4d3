"""Training an ensemble (``train.ensemble: N``): N networks one after another, saved as one
model whose output is the mean of their logits."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lociflow.config import TrainConfig
from lociflow.io.store import DatasetDir
from lociflow.layout import CHECKPOINT_DIR, LAST_CHECKPOINT, METRICS_FILE
from lociflow.training.fit import Fit, is_worker_process, on_gpu, seeded_network

log = logging.getLogger("lociflow.train")


class EnsembleFit:
    """``ensemble: N``: train N networks one after another, each a complete model directory
    in ``members/<i>/`` (seed ``seed + i - 1``, so its own weights, batches and dropout),
    then save their average as the run's model and score it on the test split.

    ``history.tsv`` and the plots of the run folder follow all networks (a ``member``
    column). Ctrl-C keeps the networks trained so far (the interrupted one with its best
    weights) as the run's model; ``--resume`` skips the finished networks and continues the
    interrupted one from its last checkpoint.

    Parameters
    ----------
    config : TrainConfig
        The training config (its ``ensemble`` and ``seed``).
    dataset : DatasetDir
        The dataset trained on.
    architecture : dict
        The resolved architecture of every network.
    first : torch.nn.Module
        The first network, its weights already drawn with ``seed``.
    folder : Path
        The run folder; each network goes to ``members/<i>/``.
    callbacks : sequence of lightning.pytorch.Callback or None
        Extra Lightning callbacks, given to every network's training.
    resume : bool
        Keep the networks finished before and continue the interrupted one.
    run : object or None
        The open run whose ``runs.tsv`` row gets the test metrics, or None.
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
        self.networks: list = []  # trained so far, on the CPU
        self.members: list[dict[str, Any]] = []  # their rows in metrics.json
        self.extra_metrics: dict[str, Any] = {}  # further entries of metrics.json (a tune's summary)

    def run(self) -> None:
        from lociflow.model.io import load_model
        from lociflow.training.callbacks import EnsembleHistory
        from lociflow.training.fit import describe_network

        n, seed = self.config.ensemble, self.config.seed
        channels = {b: self.dataset.channels[b] for b in self.branches}
        describe_network(self.first, self.architecture, self.dataset, self.folder)
        log.info("ensemble of %d networks, seeds %d to %d; their logits are averaged", n, seed, seed + n - 1)
        monitor = self.config.early_stopping.monitor if self.config.early_stopping else "val_loss"
        history = EnsembleHistory(self.folder, n, monitor=monitor)
        for i in range(1, n + 1):
            sub = self.folder / "members" / str(i)
            record = sub / METRICS_FILE
            done = json.loads(record.read_text(encoding="utf-8")) if self.resume and record.exists() else {}
            if done.get("complete"):
                log.info("network %d of %d was trained before; kept", i, n)
                self._keep(i, load_model(sub).network.cpu(), done)
                continue
            log.info("training network %d of %d (seed %d)", i, n, seed + i - 1)
            network = self.first if i == 1 else seeded_network(self.architecture, channels, self.dataset, seed + i - 1)
            fit = Fit(self.config.model_copy(update={"seed": seed + i - 1, "ensemble": 1}), self.dataset,
                      self.architecture, network, sub, [history, *self.callbacks],
                      self.resume and (sub / CHECKPOINT_DIR / LAST_CHECKPOINT).exists(), None, member=n)
            try:
                fit.run()
            except KeyboardInterrupt:
                if not is_worker_process():
                    self._interrupted(i, fit, history)
                raise
            if not is_worker_process():  # extra DDP processes train in step and write nothing
                self._keep(i, network, fit.metrics)
        if not is_worker_process():  # history.tsv is current: each network's last epoch updated it
            self._finish(interrupted=False)

    def _keep(self, i: int, network, metrics: dict) -> None:
        """Network ``i`` (on the CPU) and its row in ``members`` of the ensemble's metrics."""
        self.networks.append(network.cpu())
        self.members.append({"member": i, "seed": self.config.seed + i - 1, "best_epoch": metrics.get("best_epoch"),
                             "epochs_trained": metrics.get("epochs_trained"), "test_auroc": metrics["auroc"]["macro"],
                             "complete": bool(metrics.get("complete"))})

    def _interrupted(self, i: int, fit: Fit, history) -> None:
        """Keep the networks trained so far (the interrupted one at its best epoch) as the model."""
        if fit.metrics is not None:  # the interrupted network had finished an epoch
            self._keep(i, fit.network, fit.metrics)
        history.update()
        if self.networks:
            self._finish(interrupted=True)
            log.warning("training interrupted in network %d of %d; the %d network(s) trained so far are saved "
                        "as the model. Continue with --resume and the same --name.", i, self.config.ensemble,
                        len(self.networks))

    def _finish(self, interrupted: bool) -> None:
        import torch

        from lociflow.io.atomic import write_json
        from lociflow.model.network import EnsembleNetwork
        from lociflow.training.fit import record_run, save_scored

        networks, members = self.networks, self.members
        network = networks[0] if len(networks) == 1 else EnsembleNetwork(networks)
        device = torch.device("cuda") if on_gpu(self.config) else torch.device("cpu")
        metrics = save_scored(self.folder, network, self.architecture, self.dataset, device)
        metrics.update({"split": "test", "ensemble": len(networks), "members": members,
                        "complete": not interrupted and len(networks) == self.config.ensemble,
                        **self.extra_metrics})
        write_json(self.folder / METRICS_FILE, metrics)
        each = ", ".join(str(m["test_auroc"]) for m in members)
        log.info("ensemble of %d: test AUROC %s (networks alone: %s), accuracy %s, loss %.4f", len(networks),
                 metrics["auroc"]["macro"], each, metrics["accuracy"], metrics["loss"])
        record_run(self.run_record, metrics, " ".join(str(m["best_epoch"]) for m in members),
                   sum(int(m["epochs_trained"] or 0) for m in members))
