"""The Lightning module: loss, per-epoch metrics, optimizers and learning-rate schedules."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lociflow.config import TrainConfig
from lociflow.errors import ConfigError
from lociflow.metrics import per_class_auc

SCHEDULE_OPTIONS: dict[str, dict[str, float]] = {
    "constant": {},
    "step": {"step_size": 10, "gamma": 0.1},
    "exponential": {"gamma": 0.95},
    "plateau": {"factor": 0.1, "patience": 3, "min_lr": 0.0},
    "cosine": {"min_lr": 0.0},
    "onecycle": {"max_lr": 0.0, "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4},
}
"""Options each schedule accepts in ``schedule_options``, with their defaults.

onecycle's ``max_lr`` of 0 means "the configured ``learning_rate``": the peak of the cycle.
"""


def schedule_options(config: TrainConfig) -> dict[str, float]:
    """The schedule's options with defaults filled in; unknown keys are a :class:`ConfigError`.

    Parameters
    ----------
    config : TrainConfig
        The training config (its ``schedule`` and ``schedule_options``).

    Returns
    -------
    dict of str to float
        The options of :data:`SCHEDULE_OPTIONS` for the schedule, overridden by the config's.

    Raises
    ------
    ConfigError
        When ``schedule_options`` has a key the schedule does not accept.
    """
    allowed = SCHEDULE_OPTIONS[config.schedule]
    for key in config.schedule_options:
        if key not in allowed:
            names = ", ".join(allowed) or "none"
            raise ConfigError(
                f"schedule_options.{key} does not apply to schedule {config.schedule!r}; "
                f"it accepts: {names}."
            )
    return {**allowed, **config.schedule_options}


def make_optimizer(config: TrainConfig, parameters) -> torch.optim.Optimizer:
    """The configured optimizer (SGD uses Nesterov momentum 0.9).

    Parameters
    ----------
    config : TrainConfig
        The training config (its ``optimizer``, ``learning_rate`` and ``weight_decay``).
    parameters : iterable of torch.nn.Parameter
        The parameters to optimise.

    Returns
    -------
    torch.optim.Optimizer
        SGD, RMSprop, AdamW or (otherwise) Adam.
    """
    lr, decay = config.learning_rate, config.weight_decay
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=0.9, nesterov=True, weight_decay=decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr, weight_decay=decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=decay)
    return torch.optim.Adam(parameters, lr=lr, weight_decay=decay)


def make_schedule(config: TrainConfig, optimizer: torch.optim.Optimizer, total_steps: int,
                  monitor: str = "val_loss") -> dict[str, Any] | None:
    """The Lightning ``lr_scheduler`` entry for the configured schedule (None: constant).

    Parameters
    ----------
    config : TrainConfig
        The training config (its ``schedule``, ``schedule_options``, ``epochs`` and
        ``learning_rate``).
    optimizer : torch.optim.Optimizer
        The optimizer the schedule drives.
    total_steps : int
        Optimizer steps of the whole run (onecycle's length).
    monitor : str
        The metric a plateau schedule watches (minimised for ``"val_loss"``, else
        maximised). Default is ``"val_loss"``.

    Returns
    -------
    dict or None
        ``{"scheduler", "interval", "monitor"}`` (interval ``"step"`` for onecycle,
        ``"epoch"`` otherwise), or None for the constant schedule.
    """
    opts = schedule_options(config)
    sched = torch.optim.lr_scheduler
    interval = "epoch"
    if config.schedule == "constant":
        return None
    if config.schedule == "step":
        scheduler = sched.StepLR(optimizer, step_size=max(1, int(opts["step_size"])), gamma=opts["gamma"])
    elif config.schedule == "exponential":
        scheduler = sched.ExponentialLR(optimizer, gamma=opts["gamma"])
    elif config.schedule == "plateau":
        mode = "min" if monitor == "val_loss" else "max"
        scheduler = sched.ReduceLROnPlateau(optimizer, mode=mode, factor=opts["factor"],
                                            patience=int(opts["patience"]), min_lr=opts["min_lr"])
    elif config.schedule == "cosine":
        scheduler = sched.CosineAnnealingLR(optimizer, T_max=config.epochs, eta_min=opts["min_lr"])
    else:  # onecycle: stepped every batch
        interval = "step"
        scheduler = sched.OneCycleLR(
            optimizer, max_lr=opts["max_lr"] or config.learning_rate, total_steps=max(1, int(total_steps)),
            pct_start=opts["pct_start"], div_factor=opts["div_factor"],
            final_div_factor=opts["final_div_factor"],
        )
    return {"scheduler": scheduler, "interval": interval, "monitor": monitor}


class Classifier(L.LightningModule):
    """Train ``network`` with (optionally class-weighted) cross-entropy.

    Per epoch it logs ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy`` and
    ``val_auroc`` (macro one-vs-rest AUROC over the classes, from :mod:`lociflow.metrics`).
    Training loss and accuracy are summed on the device and read once per epoch, so the loop
    does not synchronise with the device on every batch.
    """

    def __init__(self, network: nn.Module, config: TrainConfig, classes: list[str],
                 class_weights: list[float] | None = None, monitor: str = "val_loss"):
        super().__init__()
        self.network = network
        self.config = config
        self.classes = list(classes)
        self.monitor = monitor
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)
        self._train_sums = None
        self._val_logits: list[torch.Tensor] = []
        self._val_labels: list[torch.Tensor] = []
        self.val_spread: float | None = None  # the largest per-class std of validation probabilities

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.network(*inputs)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        return F.cross_entropy(logits.float(), labels, weight=self.class_weights, reduction=reduction)

    def on_train_epoch_start(self) -> None:
        self._train_sums = torch.zeros(3, device=self.device)  # loss sum, correct, count

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        inputs, labels = batch
        logits = self.network(*inputs)
        loss = self._loss(logits, labels)
        with torch.no_grad():
            n = labels.shape[0]
            correct = (logits.argmax(dim=1) == labels).sum()
            self._train_sums += torch.stack([loss.detach() * n, correct.float(),
                                             torch.tensor(float(n), device=loss.device)])
        self.log("loss", loss, prog_bar=True, logger=False, on_step=True, on_epoch=False, batch_size=n)
        return loss

    def _log_train_metrics(self) -> None:
        # called when validation ends, which is after the epoch's last training batch and
        # before any callback's on_train_epoch_end, so history and checkpoints see these
        sums, self._train_sums = self._train_sums, None
        if sums is None:
            return
        sums = self.all_gather(sums).reshape(-1, 3).sum(0) if self.trainer.world_size > 1 else sums
        count = max(float(sums[2]), 1.0)
        self.log("train_loss", float(sums[0]) / count)
        self.log("train_accuracy", float(sums[1]) / count)

    def validation_step(self, batch, batch_idx: int) -> None:
        inputs, labels = batch
        self._val_logits.append(self.network(*inputs).float())
        self._val_labels.append(labels)

    def on_validation_epoch_end(self) -> None:
        self._log_train_metrics()
        if not self._val_logits:
            return
        logits = torch.cat(self._val_logits)
        labels = torch.cat(self._val_labels)
        self._val_logits, self._val_labels = [], []
        loss = float(self._loss(logits, labels))
        accuracy = float((logits.argmax(dim=1) == labels).float().mean())
        probs = torch.softmax(logits, dim=1).cpu().numpy()
        self.val_spread = float(probs.std(axis=0).max()) if len(probs) > 1 else None
        auroc, _ = per_class_auc(labels.cpu().numpy(), probs, self.classes)
        macro = auroc["macro"]
        # every process validates on the whole split (see EpochBatches), so no syncing is needed
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_accuracy", accuracy)
        self.log("val_auroc", math.nan if macro is None else float(macro), prog_bar=True)

    def configure_optimizers(self):
        optimizer = make_optimizer(self.config, self.network.parameters())
        schedule = make_schedule(self.config, optimizer, int(self.trainer.estimated_stepping_batches),
                                 monitor="val_loss")
        if schedule is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": schedule}


def inverse_frequency_weights(labels: np.ndarray, n_classes: int) -> list[float]:
    """Class weights ``N / (K * n_k)``: every class contributes equally to the loss.

    A class absent from training gets weight 0 (it cannot be learned anyway).

    Parameters
    ----------
    labels : numpy.ndarray
        Integer class labels of the training loci.
    n_classes : int
        The number of classes K.

    Returns
    -------
    list of float
        One weight per class.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(np.float64)
    total = counts.sum()
    return [float(total / (n_classes * c)) if c > 0 else 0.0 for c in counts]
