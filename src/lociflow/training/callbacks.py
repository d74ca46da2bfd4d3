"""Lightning callbacks of ``lociflow train``: history and plots, checkpoints that survive
their folder being renamed, interruption, and a progress bar on standard error."""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm, convert_inf

from lociflow.io.atomic import write_text
from lociflow.layout import HISTORY_COLUMNS, HISTORY_FILE, MEMBERS_DIR

log = logging.getLogger("lociflow.train")


def read_history(path: Path) -> list[dict[str, Any]]:
    """Rows of an existing ``history.tsv`` (empty when the file does not exist).

    Parameters
    ----------
    path : Path
        The ``history.tsv`` file.

    Returns
    -------
    list of dict
        One dict per row, keyed by column: ``epoch`` and ``member`` as int, every other
        value as float (nan for an empty or ``nan`` cell).
    """
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        return []
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        cells = line.split("\t")
        row: dict[str, Any] = {}
        for key, cell in zip(header, cells):
            row[key] = int(cell) if key in ("epoch", "member") else (float(cell) if cell not in ("", "nan") else math.nan)
        rows.append(row)
    return rows


def _format(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.6g}"


class HistoryWriter(L.Callback):
    """Write ``history.tsv`` (atomically) and the PNG curves after every epoch.

    Epochs are numbered from 1. A resumed run keeps the rows of the epochs it does not
    repeat, so the file always describes the whole training.

    Parameters
    ----------
    folder : Path
        The run folder; ``history.tsv`` and ``plots/`` are written there.
    plots : bool
        Draw the PNG curves. Default is True.
    plot_every_s : float
        The shortest time between two redraws during training, in seconds (the end of
        training always redraws). Default is 20.0.
    monitor : str
        The metric the best checkpoint is chosen by, marked in the plots. Default is
        ``"val_loss"``.
    """

    def __init__(self, folder: Path, plots: bool = True, plot_every_s: float = 20.0, monitor: str = "val_loss"):
        self.folder = Path(folder)
        self.plots = plots
        self.monitor = monitor
        self.plot_every_s = plot_every_s
        self._plotted = time.perf_counter()
        self.rows: list[dict[str, Any]] = []
        self._started = 0.0
        self._lr = math.nan

    @property
    def path(self) -> Path:
        return self.folder / HISTORY_FILE

    def on_train_start(self, trainer, pl_module) -> None:
        # after a checkpoint is restored, current_epoch counts the epochs already done
        done = trainer.current_epoch
        self.rows = [row for row in read_history(self.path) if row["epoch"] <= done]

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._started = time.perf_counter()
        # the rate this epoch starts with: epoch-wise schedules step before on_train_epoch_end
        self._lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else math.nan

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        row: dict[str, Any] = {"epoch": trainer.current_epoch + 1}
        for key in HISTORY_COLUMNS[1:6]:
            value = metrics.get(key)
            row[key] = float(value) if value is not None else math.nan
        row["lr"] = float(self._lr)
        row["seconds"] = round(time.perf_counter() - self._started, 3)
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        if not trainer.is_global_zero:
            return
        lines = ["\t".join(HISTORY_COLUMNS)]
        lines += ["\t".join(_format(r.get(key)) for key in HISTORY_COLUMNS) for r in self.rows]
        write_text(self.path, "\n".join(lines) + "\n")
        log.debug("epoch %d: %s", row["epoch"], {k: _format(v) for k, v in row.items()})
        # drawing costs about a second; short epochs redraw at most every plot_every_s
        if time.perf_counter() - self._plotted >= self.plot_every_s:
            self._plot()

    def on_fit_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self._plot()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if trainer.is_global_zero:
            self._plot()

    def _plot(self) -> None:
        if not self.plots or not self.rows:
            return
        from lociflow.training.plots import plot_history

        plot_history(self.rows, self.folder / "plots", self.monitor)
        self._plotted = time.perf_counter()


def combine_histories(folder: Path, members: int) -> list[dict[str, Any]]:
    """Write ``folder/history.tsv`` from the histories of an ensemble's networks.

    The networks' histories are read from ``folder/members/<i>/history.tsv``; the combined
    file has a leading ``member`` column. No plots are drawn here (see
    :meth:`EnsembleHistory.update`).

    Parameters
    ----------
    folder : Path
        The ensemble's run folder.
    members : int
        The number of networks; members without a history yet contribute no rows.

    Returns
    -------
    list of dict
        The combined rows, each with its ``member``.
    """
    rows = [{"member": i, **row} for i in range(1, members + 1)
            for row in read_history(Path(folder) / MEMBERS_DIR / str(i) / HISTORY_FILE)]
    columns = ("member", *HISTORY_COLUMNS)
    lines = ["\t".join(columns)] + ["\t".join(_format(r.get(key)) for key in columns) for r in rows]
    write_text(Path(folder) / HISTORY_FILE, "\n".join(lines) + "\n")
    return rows


class EnsembleHistory(L.Callback):
    """Keep an ensemble's combined ``history.tsv`` current while one of its networks trains
    (runs after that network's :class:`HistoryWriter`).

    Parameters
    ----------
    folder : Path
        The ensemble's run folder.
    members : int
        The number of networks.
    plot_every_s : float
        The shortest time between two redraws during training, in seconds. Default is 20.0.
    monitor : str
        The metric the best checkpoint is chosen by, marked in the plots. Default is
        ``"val_loss"``.
    """

    def __init__(self, folder: Path, members: int, plot_every_s: float = 20.0, monitor: str = "val_loss"):
        self.folder = Path(folder)
        self.members = members
        self.monitor = monitor
        self.plot_every_s = plot_every_s
        self._plotted = 0.0

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.update(plot=time.perf_counter() - self._plotted >= self.plot_every_s)

    def on_fit_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.update(plot=True)

    def update(self, plot: bool = True) -> None:
        """Rewrite the combined ``history.tsv`` and, if asked, its plots.

        Parameters
        ----------
        plot : bool
            Redraw ``plots/`` too (when there are rows). Default is True.
        """
        rows = combine_histories(self.folder, self.members)
        if plot and rows:
            from lociflow.training.plots import plot_history

            plot_history(rows, self.folder / "plots", self.monitor)
            self._plotted = time.perf_counter()


COLLAPSE_EPOCH = 2
"""The epoch after which a collapsed training is recognised (one epoch may still be warming up)."""
COLLAPSE_SPREAD = 1e-3
"""Validation probabilities whose standard deviation over the loci stays below this are constant."""
CHANCE_MARGIN = 0.005
"""A training loss within this share of the class-prior entropy is at chance."""


class CollapseWatch(L.Callback):
    """Recognise a training that collapsed to one output, after epoch :data:`COLLAPSE_EPOCH`.

    A collapsed network gives (nearly) the same probabilities to every locus: their standard
    deviation over the validation split stays below :data:`COLLAPSE_SPREAD` (dead ReLUs give
    exactly 0). A network that learns slowly still spreads its outputs (0.0076 for a tiny
    network still at chance loss after two epochs in the tests), so the loss alone decides
    nothing; it is named in the reason when it is at chance. With ``stop=True`` the training stops there, so that the
    caller can restart it; ``reason`` then says what was seen.

    Parameters
    ----------
    prior_loss : float
        The cross-entropy of always predicting the training split's class shares.
    stop : bool
        Stop the training when a collapse is seen. Default is True.
    """

    def __init__(self, prior_loss: float, stop: bool = True):
        self.prior_loss = prior_loss
        self.stop = stop
        self.reason: str | None = None
        self.epoch: int | None = None

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        epoch = trainer.current_epoch + 1
        if epoch != COLLAPSE_EPOCH or self.reason is not None:
            return
        spread = getattr(pl_module, "val_spread", None)
        loss = trainer.callback_metrics.get("train_loss")
        if spread is None:
            return
        at_chance = loss is not None and float(loss) >= (1 - CHANCE_MARGIN) * self.prior_loss
        if spread < COLLAPSE_SPREAD:
            self.epoch = epoch
            self.reason = (f"after epoch {epoch} the network gives every validation locus the same output "
                           f"(spread of the probabilities {spread:.2g}"
                           + (f", training loss {float(loss):.4f} at chance, {self.prior_loss:.4f})" if at_chance
                              else ")"))
            if self.stop:
                trainer.should_stop = True


def prior_loss(labels, n_classes: int) -> float:
    """The cross-entropy of always predicting the class shares of ``labels`` (the loss at chance).

    Parameters
    ----------
    labels : array-like of int
        The training labels.
    n_classes : int
        The number of classes.

    Returns
    -------
    float
        ``-sum(p log p)`` over the class shares ``p``.
    """
    import numpy as np

    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(float)
    shares = counts[counts > 0] / counts.sum()
    return float(-(shares * np.log(shares)).sum())


class InterruptWatch(L.Callback):
    """Remember that training was interrupted (Ctrl-C), so the caller can keep the best model.

    Lightning answers a ``KeyboardInterrupt`` by shutting down and raising ``SystemExit``;
    this callback tells that case apart from any other exit.
    """

    def __init__(self):
        self.interrupted = False

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt):
            self.interrupted = True


class RelocatableCheckpoint(ModelCheckpoint):
    """A ModelCheckpoint that still knows its best checkpoint after the run folder moved.

    A run is built in a temporary folder and renamed into place, so a resumed run finds its
    checkpoints under a different path than the one saved in them. Paths under the old folder
    are rewritten to the new one, so the best score and best file carry over.
    """

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the checkpoint callback's state, its paths moved to the current folder.

        Parameters
        ----------
        state_dict : dict
            The state Lightning saved in the checkpoint; paths under its ``dirpath`` are
            rewritten to start with this callback's ``dirpath``.
        """
        old = state_dict.get("dirpath")
        new = self.dirpath
        if old and new and old != new:
            def move(path):
                return new + path[len(old):] if isinstance(path, str) and path.startswith(old) else path

            state_dict = dict(state_dict)
            for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
                if key in state_dict:
                    state_dict[key] = move(state_dict[key])
            if "best_k_models" in state_dict:
                state_dict["best_k_models"] = {move(k): v for k, v in state_dict["best_k_models"].items()}
            state_dict["dirpath"] = new
        super().load_state_dict(state_dict)


def epoch_description(current_epoch: int, max_epochs: int | None, network: str | None = None) -> str:
    """The progress bar's label for an epoch: ``"epoch k of N"``, numbered from 1.

    Lightning counts ``current_epoch`` from 0 while ``history.tsv``, the log, the plots and
    ``best_epoch`` count from 1; the bar says the same number as everything else.

    Parameters
    ----------
    current_epoch : int
        Lightning's ``trainer.current_epoch`` (from 0).
    max_epochs : int or None
        The most epochs the run trains, or None (or -1) when unbounded.
    network : str or None
        Which network of an ensemble, e.g. ``"network 2 of 3"``. Default is None (a single network).

    Returns
    -------
    str
        For example ``"epoch 1 of 20"`` or ``"network 2 of 3, epoch 5 of 20"``.
    """
    epoch = f"epoch {current_epoch + 1}" + (f" of {max_epochs}" if max_epochs and max_epochs > 0 else "")
    return f"{network}, {epoch}" if network else epoch


class StderrProgressBar(TQDMProgressBar):
    """Lightning's bar (loss and validation AUROC) on standard error, keeping standard
    output for results such as the run folder the CLI prints last. Its label is
    :func:`epoch_description` ("epoch k of N", from 1, as everywhere else).

    Parameters
    ----------
    network : str or None
        Which network of an ensemble, put before the epoch in the label. Default is None.
    **kwargs
        Passed on to :class:`lightning.pytorch.callbacks.TQDMProgressBar`.
    """

    def __init__(self, network: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.network = network

    @property
    def train_description(self) -> str:  # shown until the first epoch starts
        return epoch_description(0, self.trainer.max_epochs, self.network) if self._trainer else "training"

    def on_train_epoch_start(self, trainer, *args: Any) -> None:
        # Lightning's own body, with our label: its "Epoch 0" would be drawn once first
        if self._leave:
            self.train_progress_bar = self.init_train_tqdm()
        bar = self.train_progress_bar
        bar.reset()
        bar.total = convert_inf(self.total_train_batches)
        bar.initial = 0
        bar.set_description(epoch_description(trainer.current_epoch, trainer.max_epochs, self.network))

    def init_train_tqdm(self) -> Tqdm:
        return Tqdm(desc=self.train_description, position=2 * self.process_position, disable=self.is_disabled,
                    leave=True, dynamic_ncols=True, file=sys.stderr, smoothing=0, bar_format=self.BAR_FORMAT,
                    unit="batch")  # what the bar counts, not tqdm's "it"

    def init_validation_tqdm(self) -> Tqdm:
        has_main_bar = self.trainer.state.fn != "validate"
        return Tqdm(desc=self.validation_description, position=2 * self.process_position + has_main_bar,
                    disable=self.is_disabled, leave=not has_main_bar, dynamic_ncols=True, file=sys.stderr,
                    bar_format=self.BAR_FORMAT, unit="batch")

    def get_metrics(self, trainer, pl_module) -> dict[str, Any]:
        """The metrics shown on the bar: Lightning's, without the ``v_num`` version number.

        Parameters
        ----------
        trainer : lightning.pytorch.Trainer
            The trainer.
        pl_module : lightning.pytorch.LightningModule
            The module being trained.

        Returns
        -------
        dict
            The metric names and values shown.
        """
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics
