"""One trial: draw the parameters, train (a normal train run), score it on the validation split.

A trial is a ``lociflow train`` run in ``trials/trial-NNNN`` of the search folder, so each
one is a complete model directory. Its score is the objective (validation AUROC or loss)
at the epoch of its best checkpoint, the model the trial leaves behind, read from its
``history.tsv``: the test and black-box splits never take part in the choice.

Pruning reports the validation loss after every epoch (negated when the objective is
maximised, so that higher is better as the study expects). A pruned trial stops at the end
of that epoch and still leaves its model and metrics.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

import lightning as L
import optuna

from lociflow.errors import LociflowError
from lociflow.layout import HISTORY_FILE, METRICS_FILE
from lociflow.runs import append_ledger
from lociflow.searching.space import Param, check_trial_config, trial_config
from lociflow.training.callbacks import read_history

log = logging.getLogger("lociflow.search")

VALID_METRICS = ("val_auroc", "val_loss", "val_accuracy")


class PruningCallback(L.Callback):
    """Report the validation loss to the Optuna trial every epoch; stop training when pruned."""

    def __init__(self, trial: optuna.Trial, maximize: bool):
        self.trial = trial
        self.sign = -1.0 if maximize else 1.0
        self.pruned_at: int | None = None

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        loss = trainer.callback_metrics.get("val_loss")
        if loss is None or self.pruned_at is not None:
            return
        epoch = trainer.current_epoch + 1
        self.trial.report(self.sign * float(loss), epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            trainer.should_stop = True
            log.info("trial %d pruned after epoch %d (validation loss %.4f)", self.trial.number, epoch, float(loss))


def trial_name(number: int) -> str:
    """The folder name of trial ``number``.

    Parameters
    ----------
    number : int
        The Optuna trial number.

    Returns
    -------
    str
        ``trial-NNNN`` (zero-padded to four digits).
    """
    return f"trial-{number:04d}"


def best_epoch_metrics(folder: Path) -> dict[str, Any]:
    """Validation metrics of a trained model at its best checkpoint's epoch (from ``history.tsv``).

    Parameters
    ----------
    folder : Path
        A trained model's folder (with ``metrics.json`` and ``history.tsv``).

    Returns
    -------
    dict
        ``val_auroc``, ``val_loss``, ``val_accuracy`` at the best epoch, ``best_epoch``
        and ``epochs`` (rows of the history).

    Raises
    ------
    RuntimeError
        When the history has no row for the best epoch.
    """
    metrics = json.loads((folder / METRICS_FILE).read_text(encoding="utf-8"))
    epoch = int(metrics["best_epoch"])
    rows = [row for row in read_history(folder / HISTORY_FILE) if row["epoch"] == epoch]
    if not rows:
        raise RuntimeError(f"{folder}/history.tsv has no row for the best epoch {epoch}")
    found = {key: rows[0][key] for key in VALID_METRICS}
    found.update(best_epoch=epoch, epochs=len(read_history(folder / HISTORY_FILE)))
    return found


class Objective:
    """The function Optuna calls for each trial (picklable, so forked workers can run it)."""

    def __init__(self, params: list[Param], base: dict[str, Any], dataset_path: Path, work_folder: Path,
                 final_folder: Path, root: Path, search_name: str, objective: str):
        self.params = params
        self.base = base
        self.dataset_path = Path(dataset_path)
        self.work_folder = Path(work_folder)
        self.final_folder = Path(final_folder)
        self.root = Path(root)
        self.search_name = search_name
        self.objective = objective

    def __call__(self, trial: optuna.Trial, lock) -> float:
        lock.release()  # the trial exists now, so it counts: other workers may go on
        started = time.time()
        name = trial_name(trial.number)
        trial.set_user_attr("folder", f"trials/{name}")
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        try:
            return self._run(trial, name, started)
        except optuna.TrialPruned:
            raise
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        except LociflowError as exc:
            trial.set_user_attr("error", str(exc))
            log.warning("trial %d failed: %s", trial.number, exc)
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{exc.__class__.__name__}: {exc}")
            log.exception("trial %d failed", trial.number)
            raise

    def _run(self, trial: optuna.Trial, name: str, started: float) -> float:
        from lociflow.io.store import open_dataset
        from lociflow.training.run import train

        dataset = open_dataset(self.dataset_path)
        values = {p.name: p.suggest(trial) for p in self.params}
        config = trial_config(values, {**self.base, "data": str(self.dataset_path)}, dataset)
        check_trial_config(config, dataset)
        log.info("trial %d: %s", trial.number, ", ".join(f"{k}={v}" for k, v in values.items()) or "base config")
        pruning = PruningCallback(trial, maximize=self.objective != "val_loss")
        folder = train(config, self.work_folder / "trials", name=name, force=True, callbacks=[pruning],
                       scored_split="valid")  # the test split takes no part in a search
        metrics = best_epoch_metrics(folder)
        for key, value in metrics.items():
            trial.set_user_attr(key, None if isinstance(value, float) and math.isnan(value) else value)
        value = metrics[self.objective]
        status = "pruned" if pruning.pruned_at is not None else "ok"
        self._ledger(trial, name, values, metrics, status, started)
        if pruning.pruned_at is not None:
            trial.set_user_attr("pruned_at", pruning.pruned_at)
            raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
        if value is None or math.isnan(value):
            raise LociflowError(f"trial {trial.number} has no {self.objective} at its best epoch")
        log.info("trial %d: %s %.4f at epoch %d", trial.number, self.objective, value, metrics["best_epoch"])
        return float(value)

    def _ledger(self, trial, name: str, values: dict[str, Any], metrics: dict[str, Any], status: str,
                started: float) -> None:
        """One row per trial in the output root's ``runs.tsv``, with the path it has once the search ends."""
        append_ledger(self.root, {
            "run_id": f"{self.search_name}/{name}", "stage": "train",
            "started": _dt.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - started, 2), "status": status,
            "path": str(self.final_folder / "trials" / name),
            "params": {"search": self.search_name, "trial": trial.number,
                       **{k: v if isinstance(v, (int, float, str, bool)) or v is None else json.dumps(v)
                          for k, v in values.items()}},
            "metrics": {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()},
        })
