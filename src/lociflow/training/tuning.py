"""``lociflow train`` and ``lociflow.train(...)``: tuned first when ``train.tune`` asks, then trained.

Without ``tune`` this is :func:`lociflow.training.run.train`. With ``tune: {trials: N,
minutes: M}`` a search (:mod:`lociflow.searching.run`) over a vetted space (:func:`tuning_space`)
runs first, scored on the validation split only, and the model is then trained with the
best trial's settings (an ensemble when ``ensemble > 1``) in the run folder, which also
holds the search::

    RUN/                       the model directory of lociflow.training.run
      tuning/trials.tsv        one row per trial: state, validation AUROC, parameters
      tuning/trials/trial-NNNN/  each trial (its metrics.json is on the validation split)
      tuning/best/             the best trial's settings; tuning/plots/ its history

While it runs, the search lives beside the run folder as ``RUN.tuning/``, so an interrupted
tune is continued by the same command with ``--resume`` (finished trials are kept). The
run's ``params.yaml`` holds the settings chosen, without ``tune``: training it again
reproduces the model without searching again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lociflow.config import TrainConfig, coerce
from lociflow.errors import ConfigError, LociflowError
from lociflow.io.store import DatasetDir
from lociflow.layout import TRIALS_FILE, TUNING_DIR
from lociflow.runs import new_run_name

log = logging.getLogger("lociflow.train")

FAMILIES = ["cnn", "cnn_rnn", "residual"]
"""Architecture families a tune chooses from: position-aware convolutions, a recurrent hybrid,
and dilated residual convolutions with position-invariant global pooling."""


def train(config: TrainConfig | dict | str | os.PathLike, output: str | os.PathLike,
          name: str | None = None, force: bool = False, resume: bool = False,
          callbacks: Sequence[Any] | None = None) -> Path:
    """Train a network on ``config.data`` (tuned first with ``config.tune``); write a model directory.

    Parameters
    ----------
    config : TrainConfig or dict or str or os.PathLike
        A :class:`~lociflow.config.TrainConfig`, a dict (the ``train`` section) or a YAML path.
    output : str or os.PathLike
        Output root; the run folder ``output/name`` is created inside it.
    name : str or None
        Run folder name. Default is None: the stage, the time and a random suffix.
    force : bool
        Replace an existing folder of the same name (and its search). Default is False.
    resume : bool
        Continue the interrupted run ``output/name``: its search, then its training.
        Default is False.
    callbacks : sequence of lightning.pytorch.Callback or None
        Extra Lightning callbacks of the final training. Default is None.

    Returns
    -------
    Path
        The run folder (a model directory loadable with :func:`lociflow.load_model`).
    """
    from lociflow.training import run

    config = coerce(TrainConfig, config, "train")
    if config.tune is None:
        return run.train(config, output, name=name, force=force, resume=resume, callbacks=callbacks)
    run.check_resume(resume, force, name)
    root = Path(output).expanduser().resolve()
    name = name or new_run_name("train")
    final = root / name
    if final.exists() and not (force or resume):
        raise LociflowError(f"Output folder {final} already exists. Choose another --name, or pass --force to replace it.")
    dataset = run.open_training_data(config)
    search_folder = tune(config, dataset, root, f"{name}.{TUNING_DIR}", force=force)
    chosen, summary = best_config(config, dataset, search_folder)
    log.info("tuning chose %s (validation AUROC %.4f, trial %d of the search in %s); training the model with it",
             ", ".join(f"{k}={v}" for k, v in summary["params"].items()) or "the base settings",
             summary["val_auroc"], summary["trial"], search_folder)
    resumable = resume and final.exists()
    folder = run.train(chosen, root, name=name, force=force and not resumable, resume=resumable,
                       callbacks=callbacks, attach={TUNING_DIR: search_folder}, tuning=summary)
    return folder


def tuning_space(config: TrainConfig, dataset: DatasetDir) -> dict[str, Any]:
    """The vetted search space of ``train.tune`` for ``config`` on ``dataset``.

    The architecture family (when neither ``preset`` nor ``architecture`` is given), the
    depth and first-layer width of the sequence branch, the dropout of the first common
    layer, the learning rate and the random shift. Parameters that cannot apply to this
    config and dataset (e.g. depth on a window too short to pool again) are left out, with
    a log line.

    Parameters
    ----------
    config : TrainConfig
        The training config that asks for the tune.
    dataset : DatasetDir
        The dataset (its window and branches).

    Returns
    -------
    dict
        A ``search:`` space (see :mod:`lociflow.searching.space`).
    """
    from lociflow.searching.params import parse_space
    from lociflow.searching.space import check_space
    from lociflow.training.run import chosen_branches

    wanted: dict[str, Any] = {}
    if config.preset is None and config.architecture is None:
        wanted["preset"] = {"type": "categorical", "choices": FAMILIES}
    if "seq" in chosen_branches(config, dataset):
        wanted["layers.seq"] = {"type": "int", "low": 2, "high": 4}
        wanted["architecture.branches.seq.0.filters"] = {"type": "categorical", "choices": [32, 64, 128]}
    wanted["architecture.common.0.dropout"] = {"type": "float", "low": 0.1, "high": 0.5}
    wanted["learning_rate"] = {"type": "float", "low": 0.0003, "high": 0.003, "log": True}
    shifts = [s for s in (0, 3, 6) if s <= dataset.window // 10]
    if len(shifts) > 1:
        wanted["augment.shift"] = {"type": "categorical", "choices": shifts}
    base = _trial_base(config)
    context = {k: v for k, v in wanted.items() if k == "preset"}
    kept: dict[str, Any] = dict(context)
    for key, value in wanted.items():
        if key in kept:
            continue
        try:
            check_space(parse_space({**context, key: value}), base, dataset)
        except ConfigError as exc:
            log.info("tune: %s is not searched on this dataset (%s)", key, exc)
            continue
        kept[key] = value
    return kept


def _trial_base(config: TrainConfig) -> dict[str, Any]:
    """The base ``train:`` section of the trials: ``config`` as one network, without ``tune``."""
    base = config.dump()
    base.pop("tune", None)
    base["ensemble"] = 1
    base["epochs"] = (config.tune.epochs if config.tune else None) or config.epochs
    base["data"] = str(config.data)
    return base


def tune(config: TrainConfig, dataset: DatasetDir, root: Path, name: str, force: bool = False) -> Path:
    """Run (or continue) the search of ``config.tune`` in ``root/name``; return its folder.

    Parameters
    ----------
    config : TrainConfig
        The training config with ``tune``.
    dataset : DatasetDir
        Its dataset.
    root : Path
        Where the search folder is made.
    name : str
        The search folder's name; an existing search of this name is continued.
    force : bool
        Start the search over. Default is False.

    Returns
    -------
    Path
        The search folder.
    """
    from lociflow.config import SearchConfig
    from lociflow.searching.run import search

    from lociflow.searching.params import parse_space
    from lociflow.searching.space import base_values

    space = tuning_space(config, dataset)
    # the first trial trains the settings as given, so the tune's best is at least as good as
    # training without it, on validation
    first = base_values(parse_space(space), _trial_base(config), dataset)
    search_cfg = SearchConfig(space=space, trials=config.tune.trials, minutes=config.tune.minutes,
                              objective="val_auroc", seed=config.seed, data=config.data, first_trial=first)
    log.info("tune: %d trial(s)%s over %s, scored on the validation split", config.tune.trials,
             f" or {config.tune.minutes:g} minutes" if config.tune.minutes else "", ", ".join(space))
    return search(search_cfg, root, name=name, force=force, train=_trial_base(config))


def best_config(config: TrainConfig, dataset: DatasetDir, search_folder: Path) -> tuple[TrainConfig, dict[str, Any]]:
    """The final training config: ``config`` with the best trial's values, and a summary of the tune.

    Parameters
    ----------
    config : TrainConfig
        The training config with ``tune``.
    dataset : DatasetDir
        Its dataset.
    search_folder : Path
        The finished search.

    Returns
    -------
    tuple of (TrainConfig, dict)
        The config (without ``tune``, with the ensemble and epochs asked for) and
        ``{"trial", "val_auroc", "params", "trials"}``.

    Raises
    ------
    LociflowError
        When no trial of the search finished.
    """
    from lociflow.configfile import safe_load_yaml
    from lociflow.searching.space import trial_config

    best = search_folder / "best" / "trial.yaml"
    if not best.exists():
        raise LociflowError(f"No tuning trial finished (see {search_folder}/trials.tsv and run.log), so there are no "
                            "settings to train with. Fix the cause shown there, or train without tune.")
    found = safe_load_yaml(best.read_text(encoding="utf-8")) or {}
    values = found.get("params") or {}
    base = config.dump()
    base.pop("tune", None)
    chosen = trial_config(values, {**base, "data": str(config.data)}, dataset)
    import pandas as pd

    trials = pd.read_csv(search_folder / TRIALS_FILE, sep="\t")
    summary = {"trial": int(found["number"]), "val_auroc": float(found["val_auroc"]), "params": values,
               "trials": len(trials), "folder": TUNING_DIR}
    return chosen, summary
