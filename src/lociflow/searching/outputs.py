"""What a search leaves in its folder: ``trials.tsv``, ``best/`` and the plots.

- ``trials.tsv``: one row per trial of the study (number, state, the objective and the
  other validation metrics at the best epoch, duration, every parameter, folder, error),
  rewritten after every trial, so it can be watched while the search runs.
- ``best/params.yaml``: the best trial's complete ``train:`` section, which
  ``lociflow train -c best/params.yaml`` accepts as is; ``best/model/``: a copy of its
  model directory (weights, spec, metrics, history, plots; not its checkpoints);
  ``best/trial.yaml``: its number, score and parameters.
- ``plots/history.png`` (the objective per trial and the best so far) and
  ``plots/importance.png`` (parameter importances, once two trials completed).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import warnings
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

from lociflow.io.atomic import atomic_open, write_yaml
from lociflow.layout import PARAMS_FILE, TRIALS_FILE
from lociflow.searching.space import Param

log = logging.getLogger("lociflow.search")

METRIC_COLUMNS = ("val_auroc", "val_loss", "val_accuracy", "best_epoch", "epochs", "pruned_at")


def _shown(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) or value is None else json.dumps(value)


def trials_frame(study: optuna.Study, params: list[Param], objective: str) -> pd.DataFrame:
    """One row per trial: number, state, objective, metrics, duration, parameters, folder, error.

    Parameters
    ----------
    study : optuna.Study
        The search's study.
    params : list of Param
        The search space, one column each.
    objective : str
        The objective metric, e.g. ``"val_auroc"``.

    Returns
    -------
    pandas.DataFrame
        Columns ``number, state, objective``, the metric columns, ``duration_s, started``,
        one per parameter (decoded values; lists and dicts as JSON), ``folder, retry_of,
        worker, error``.
    """
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        duration = trial.duration.total_seconds() if trial.duration is not None else None
        row: dict[str, Any] = {
            "number": trial.number, "state": trial.state.name.lower(), "objective": attrs.get(objective),
            **{key: attrs.get(key) for key in METRIC_COLUMNS},
            "duration_s": None if duration is None else round(duration, 2),
            "started": trial.datetime_start.isoformat(timespec="seconds") if trial.datetime_start else None,
        }
        for param in params:
            stored = trial.params.get(param.name)
            row[param.name] = None if stored is None else _shown(param.decode(stored))
        row["folder"] = attrs.get("folder")
        row["retry_of"] = attrs.get("retry_of")
        row["worker"] = attrs.get("worker")
        row["error"] = attrs.get("error")
        rows.append(row)
    columns = ["number", "state", "objective", *METRIC_COLUMNS, "duration_s", "started",
               *(p.name for p in params), "folder", "retry_of", "worker", "error"]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("best_epoch", "epochs", "pruned_at", "retry_of"):  # whole numbers, blank when absent
        frame[column] = pd.array(frame[column].tolist(), dtype="Int64")
    return frame


def write_trials(folder: Path, study: optuna.Study, params: list[Param], objective: str) -> pd.DataFrame:
    """Write ``trials.tsv`` atomically (the objective column is named after the objective).

    Parameters
    ----------
    folder : Path
        The search folder.
    study : optuna.Study
        The search's study.
    params : list of Param
        The search space, one column each.
    objective : str
        The objective metric, e.g. ``"val_auroc"``.

    Returns
    -------
    pandas.DataFrame
        The table written, with ``objective`` renamed ``objective_<objective>``.
    """
    frame = trials_frame(study, params, objective).rename(columns={"objective": f"objective_{objective}"})
    with atomic_open(Path(folder) / TRIALS_FILE) as handle:
        frame.to_csv(handle, sep="\t", index=False, na_rep="")
    return frame


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The best completed trial (pruned and failed trials never win), or None.

    Parameters
    ----------
    study : optuna.Study
        The search's study.

    Returns
    -------
    optuna.trial.FrozenTrial or None
        Optuna's best trial, or None when no trial completed.
    """
    try:
        return study.best_trial
    except ValueError:
        return None


def write_best(folder: Path, study: optuna.Study, params: list[Param], objective: str) -> dict[str, Any] | None:
    """Fill ``best/`` from the best trial; return its summary (None when no trial completed).

    ``best/`` is replaced: ``trial.yaml`` always, ``params.yaml`` and ``model/`` when the
    trial's folder is on this machine.

    Parameters
    ----------
    folder : Path
        The search folder.
    study : optuna.Study
        The search's study.
    params : list of Param
        The search space, one column each.
    objective : str
        The objective metric, e.g. ``"val_auroc"``.

    Returns
    -------
    dict or None
        ``number``, the objective's value (keyed by ``objective``), ``folder`` and
        ``params`` (decoded values by name); None when no trial completed.
    """
    trial = best_trial(study)
    best = Path(folder) / "best"
    if trial is None:
        log.warning("no trial completed, so there is no best model")
        return None
    summary = {"number": trial.number, objective: trial.value, "folder": trial.user_attrs.get("folder"),
               "params": {p.name: param_value(trial, p) for p in params}}
    source = Path(folder) / str(trial.user_attrs.get("folder", ""))
    if best.exists():
        shutil.rmtree(best)
    best.mkdir(parents=True)
    write_yaml(best / "trial.yaml", summary, header="The best trial of this search")
    if not (source / PARAMS_FILE).exists():
        log.warning("the best trial (%d) ran on another machine; its model is in that machine's search folder",
                    trial.number)
        return summary
    shutil.copy2(source / PARAMS_FILE, best / PARAMS_FILE)
    shutil.copytree(source, best / "model", ignore=shutil.ignore_patterns("checkpoints", "tensorboard"))
    return summary


def param_value(trial: optuna.trial.FrozenTrial, param: Param) -> Any:
    """The value trial used for ``param`` (None if it has none).

    Parameters
    ----------
    trial : optuna.trial.FrozenTrial
        A trial of the study.
    param : Param
        A search parameter.

    Returns
    -------
    object
        The decoded value (see :meth:`Param.decode`), or None.
    """
    stored = trial.params.get(param.name)
    return None if stored is None else param.decode(stored)


def plot_history(frame: pd.DataFrame, objective: str, maximize: bool, path: Path) -> Path | None:
    """The objective of every finished trial in order, and the best so far.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table of :func:`write_trials` (column ``objective_<objective>``).
    objective : str
        The objective metric.
    maximize : bool
        Whether larger is better, for the best-so-far line (drawn over completed trials).
    path : Path
        The image file; its folder is made if needed.

    Returns
    -------
    Path or None
        ``path``, or None when no trial completed or was pruned with a value.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column = f"objective_{objective}"
    done = frame[frame["state"].isin(["complete", "pruned"]) & frame[column].notna()]
    if done.empty:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for state, marker, colour in (("complete", "o", "tab:blue"), ("pruned", "x", "tab:gray")):
        part = done[done["state"] == state]
        if part.empty:
            continue
        ax.scatter(part["number"], part[column].astype(float), marker=marker, color=colour, label=state, zorder=3)
    complete = done[done["state"] == "complete"].sort_values("number")
    if not complete.empty:
        values = complete[column].astype(float)
        running = values.cummax() if maximize else values.cummin()
        ax.step(complete["number"], running, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(objective.replace("_", " "))
    ax.set_title("Optimization history")
    ax.legend(frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_importance(study: optuna.Study, path: Path) -> Path | None:
    """Parameter importances (Optuna's fANOVA) as bars; None when they cannot be estimated.

    Parameters
    ----------
    study : optuna.Study
        The search's study; needs two completed trials with parameters.
    path : Path
        The image file; its folder is made if needed.

    Returns
    -------
    Path or None
        ``path``, or None when there are too few trials or Optuna cannot estimate them.
    """
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if len(complete) < 2 or not complete[0].params:
        log.info("parameter importances need at least two completed trials with parameters")
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as exc:
        log.info("parameter importances could not be estimated: %s", exc)
        return None
    if not importances or any(math.isnan(v) for v in importances.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(importances)[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 1.2 + 0.4 * len(names)))
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.set_xlabel("importance (share of the objective's variance)")
    ax.set_title("Parameter importances")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
