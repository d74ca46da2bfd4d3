"""Hyperparameter and architecture search: ``lociflow search`` and ``lociflow.search(...)``.

A search trains many models from one base ``train:`` section, each with parameters drawn
from the ``search:`` space by Optuna (TPE, random or grid), prunes poor trials on the
validation loss, and keeps the best by validation AUROC (or loss). The run folder::

    RUN/
      params.yaml  run.log      the search and base train sections (reusable with --config)
      study.db                  the Optuna study (SQLite), unless --storage names another
      trials.tsv                one row per trial: state, objective, metrics, parameters
      trials/trial-NNNN/        each trial, a complete train run (model directory)
      best/params.yaml          the best trial's train section: lociflow train -c accepts it
      best/model/               the best trial's model directory; best/trial.yaml its summary
      plots/history.png  plots/importance.png

Rerunning the same command (same output and ``--name``) continues the study: finished
trials are kept, trials cut short are run again, and ``--trials`` is the total wanted.
Several machines share one study through ``--storage`` (PostgreSQL or MySQL) and the same
study name. See docs/search.md.
"""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from lociflow.config import SearchConfig, TrainConfig, coerce, load_stage, parse_stage
from lociflow.errors import ConfigError, LociflowError
from lociflow.layout import LEDGER_FILE, PARAMS_FILE, STAGES, TRIALS_DIR
from lociflow.runs import new_run_name, open_run

log = logging.getLogger("lociflow.search")

# Options that change how fast a trial runs, not what it learns: a rerun may change them.
_RUNTIME_OPTIONS = ("data", "threads", "num_workers", "accelerator", "devices", "strategy", "num_nodes")


def search(config: SearchConfig | dict | str | os.PathLike, output: str | os.PathLike, name: str | None = None,
           force: bool = False, trials: int | None = None, workers: int | None = None, storage: str | None = None,
           train: TrainConfig | dict | str | os.PathLike | None = None) -> Path:
    """Search training and architecture parameters with Optuna; write the trials and the best model.

    Parameters
    ----------
    config : SearchConfig or dict or str or os.PathLike
        A YAML path with ``search:`` (the space and options) and ``train:`` (the base training
        config), a dict of both sections, or a :class:`~lociflow.config.SearchConfig`.
    output : str or os.PathLike
        Output root; the run folder ``output/name`` is created inside it.
    name : str or None
        Run folder name. Default is None: the stage, the time and a random suffix. An
        existing search folder of this name is continued.
    force : bool
        Start over, replacing an existing folder of the same name (and its study). Default is False.
    trials, workers : int or None
        Override the config's total number of trials and worker processes. Default is
        None (the config's values).
    storage : str or None
        Override the config's storage URL. Default is None (the config's value).
    train : TrainConfig or dict or str or os.PathLike or None
        The base training config, when ``config`` holds only the search section. Default is
        None: the ``train:`` section of ``config`` (or the training defaults).

    Returns
    -------
    Path
        The run folder.
    """
    search_cfg, base = _load(config, train)
    updates = {k: v for k, v in (("trials", trials), ("workers", workers), ("storage", storage)) if v is not None}
    if updates:
        search_cfg = parse_stage(SearchConfig, {**search_cfg.dump(), **updates}, "search")
    prepared = _prepare(search_cfg, base)
    root = Path(output).expanduser().resolve()
    name = name or new_run_name("search")
    resume = _continuing(root, name, force)
    if force and search_cfg.storage:
        _delete_remote_study(search_cfg.storage, search_cfg.study or name)
    summary = {"data": str(prepared["data"]), "sampler": search_cfg.sampler, "pruner": search_cfg.pruner,
               "objective": search_cfg.objective, "trials": search_cfg.trials, "workers": search_cfg.workers,
               "space": ",".join(p.name for p in prepared["params"])}
    record = {**search_cfg.dump(), "data": str(prepared["data"])}
    with open_run("search", root, record, name, force=force and not resume, summary_params=summary,
                  keep_on_interrupt=True, resume=resume) as run:
        from lociflow.io.atomic import write_yaml

        write_yaml(run.path / PARAMS_FILE, {"search": record, "train": prepared["base_record"]},
                   header=f"lociflow search run {name}\nlociflow search --config params.yaml reproduces it "
                   "(rerun with the same -o and --name to continue it)")
        with _held(run.path / "search.lock"):
            _run_search(run, search_cfg, prepared)
        return run.final_path


def check_search(config: SearchConfig | dict | str | os.PathLike,
                 train: TrainConfig | dict | str | os.PathLike | None = None) -> list[str]:
    """Check a search as :func:`search` does before its first trial, without running it.

    For live checks, e.g. in the GUI.

    Parameters
    ----------
    config : SearchConfig or dict or str or os.PathLike
        The search: a config, a ``search:`` section, a whole config dict with ``search``
        (and ``train``) sections, or a YAML file holding both.
    train : TrainConfig or dict or str or os.PathLike or None
        The base training config. Default is None: the ``train`` section of the same
        file or dict (an empty one when ``config`` is a bare search section).

    Returns
    -------
    list of str
        The parameter names, in the order written.

    Raises
    ------
    ConfigError
        Naming the first parameter whose name or values cannot work with the base
        training config and the dataset (or a missing dataset, an empty space).
    """
    search_cfg, base = _load(config, train)
    return [p.name for p in _prepare(search_cfg, base)["params"]]


def _load(config: Any, train: Any) -> tuple[SearchConfig, TrainConfig]:
    if isinstance(config, (str, os.PathLike)):
        search_cfg = load_stage(SearchConfig, "search", config)
        base = coerce(TrainConfig, train, "train") if train is not None else load_stage(TrainConfig, "train", config)
        return search_cfg, base
    if isinstance(config, dict) and set(config) <= set(STAGES) and "search" in config:
        search_cfg = parse_stage(SearchConfig, config.get("search") or {}, "search")
        base = train if train is not None else (config.get("train") or {})
        return search_cfg, coerce(TrainConfig, base, "train")
    search_cfg = coerce(SearchConfig, config, "search")
    return search_cfg, coerce(TrainConfig, train if train is not None else {}, "train")


def _prepare(config: SearchConfig, base: TrainConfig) -> dict[str, Any]:
    """Check the dataset, the base config and the whole space before any trial runs."""
    from lociflow.searching.space import check_space, parse_space
    from lociflow.searching.study import grid_size
    from lociflow.training.run import open_training_data

    data = config.data or base.data
    if data is None:
        raise ConfigError("No dataset given: pass --data DATASET_DIR (the folder `lociflow preprocess` printed) "
                          "or set data: in the search or train section.")
    base = base.model_copy(update={"data": Path(data)})
    dataset = open_training_data(base)
    params = parse_space(config.space, options=list(SearchConfig.model_fields))
    if not params:
        raise ConfigError("The search space is empty: name at least one parameter under search:, e.g. "
                          "learning_rate: {type: float, low: 0.0001, high: 0.01, log: true}.")
    base_record = base.dump()
    base_dict = {k: v for k, v in base_record.items()}
    if base_dict.get("ensemble") == "auto":  # trials compare single networks
        base_dict["ensemble"] = 1
    if config.workers > 1 and base.threads is None:  # K trials at once share the cores
        base_dict["threads"] = max(1, (os.cpu_count() or 1) // config.workers)
    check_space(params, base_dict, dataset, search_options=list(SearchConfig.model_fields))
    total = config.trials
    if config.sampler == "grid":
        total = min(total, grid_size(params))
    return {"data": Path(data), "params": params, "base": base_dict, "base_record": base_record, "total": total,
            "epochs": base.epochs}


def _continuing(root: Path, name: str, force: bool) -> bool:
    """Whether ``root/name`` is a search to continue; adopt the folder of a search that crashed."""
    final = root / name
    if final.exists():
        return not force and _is_search_folder(final)
    for folder in sorted(root.glob(f".{name}.tmp-*")) if root.is_dir() else []:
        lock = folder / "search.lock"
        if not lock.exists():
            continue
        if not _lock_is_free(lock):
            raise LociflowError(f"A search named {name!r} is running in {root} (folder {folder.name}); wait for it "
                                "to end, or choose another --name.")
        if force:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        log.warning("continuing the search %s, which stopped without finishing (found as %s)", name, folder.name)
        os.replace(folder, final)
        return True
    return False


def _is_search_folder(folder: Path) -> bool:
    params = folder / PARAMS_FILE
    if (folder / "study.db").exists():
        return True
    try:
        return params.exists() and "search" in (yaml.safe_load(params.read_text(encoding="utf-8")) or {})
    except yaml.YAMLError:
        return False


def _lock_is_free(path: Path) -> bool:
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


class _held:
    """Hold an exclusive lock on ``path`` while a search runs (freed by the system if it crashes)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.handle = open(self.path, "a+")  # noqa: SIM115 - held for the whole search
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _delete_remote_study(url: str, study_name: str) -> None:
    import optuna

    from lociflow.searching.study import make_storage

    try:
        optuna.delete_study(study_name=study_name, storage=make_storage(url))
        log.info("--force: deleted the study %r from the storage", study_name)
    except KeyError:
        pass


def _run_search(run, config: SearchConfig, prepared: dict[str, Any]) -> None:
    from lociflow.searching.study import (
        WorkerPlan,
        counted,
        open_study,
        requeue_interrupted,
        storage_url,
        worker_seed,
    )
    from lociflow.searching.trial import Objective

    params, total = prepared["params"], prepared["total"]
    url = storage_url(config, run.path)
    study_name = config.study or run.name
    study = open_study(url, study_name, config, {k: v for k, v in prepared["base"].items()
                                                  if k not in _RUNTIME_OPTIONS})
    before = len(study.trials)
    queued = requeue_interrupted(study, local_only=config.storage is None)
    if config.first_trial and not before:
        by_name = {p.name: p for p in params}
        study.enqueue_trial({k: by_name[k].encode(v) for k, v in config.first_trial.items()},
                            user_attrs={"first_trial": True})
        log.info("first trial: %s", ", ".join(f"{k}={v}" for k, v in config.first_trial.items()))
    existing = len(study.trials)
    if before:
        log.info("continuing study %r: %d trial(s) so far, %d of the %d wanted done or running; %d cut short "
                 "and queued again", study_name, before, counted(study), total, queued)
    objective = Objective(params, prepared["base"], prepared["data"], run.path, run.final_path, run.root, run.name,
                          config.objective)
    deadline = time.time() + 60 * config.minutes if config.minutes else None
    plans = [WorkerPlan(url=url, study_name=study_name, config=config, params=params, total=total,
                        lock_path=run.path / "budget.lock", seed=worker_seed(config.seed, i, existing),
                        epochs=prepared["epochs"], deadline=deadline) for i in range(config.workers)]

    after_trial = _TrialsWriter(run.path, params, config.objective, total)
    try:
        if config.workers == 1:
            from lociflow.searching.study import work

            work(plans[0], objective, after_trial)
        else:
            _run_processes(plans, objective, after_trial, study, total)
    finally:
        _finish(run, study, config, params)


class _TrialsWriter:
    """Rewrite ``trials.tsv`` after each trial and log trial k of N with the best so far (a
    class, so that spawned workers can receive it)."""

    def __init__(self, folder: Path, params, objective: str, total: int):
        self.folder, self.params, self.objective, self.total = folder, params, objective, total

    def __call__(self, study, frozen) -> None:
        from optuna.trial import TrialState

        from lociflow.searching import outputs

        outputs.write_trials(self.folder, study, self.params, self.objective)
        done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
        if frozen.state == TrialState.COMPLETE and frozen.value is not None:
            outcome = f"{self.objective} {frozen.value:.4f}"
        else:
            outcome = frozen.state.name.lower()
        if done:
            best = (max if self.objective != "val_loss" else min)(done, key=lambda t: t.value)
            log.info("trial %d of %d: %s; best so far %s %.4f (trial %d)", min(_finished(study), self.total),
                     self.total, outcome, self.objective, best.value, best.number)
        else:
            log.info("trial %d of %d: %s; no trial has finished yet", min(_finished(study), self.total), self.total,
                     outcome)


def _run_processes(plans, objective, after_trial, study, total: int) -> None:
    """K worker processes on this machine; a bar counts the study's finished trials."""
    from lociflow import progress
    from lociflow.searching.study import fork_available

    context = multiprocessing.get_context("fork" if fork_available() else "spawn")
    processes = [context.Process(target=_worker_main, args=(plan, objective, after_trial), name=f"search-worker-{i}")
                 for i, plan in enumerate(plans)]
    for process in processes:
        process.start()
    log.info("%d workers started (process ids %s)", len(processes), ", ".join(str(p.pid) for p in processes))
    bar = progress.bar("search", total=total, unit="trial")
    try:
        while any(p.is_alive() for p in processes):
            for process in processes:
                process.join(timeout=1.0)
            bar.n = min(total, _finished(study))
            bar.refresh()
    except KeyboardInterrupt:
        _stop(processes)
        raise
    finally:
        bar.close()
    failed = [p for p in processes if p.exitcode not in (0, None)]
    if failed:
        raise LociflowError(f"{len(failed)} search worker(s) stopped with an error (exit codes "
                            f"{', '.join(str(p.exitcode) for p in failed)}); see run.log. Rerun the same command "
                            "to continue the study.")


def _worker_main(plan, objective, after_trial) -> None:
    from lociflow.searching.study import work

    os.environ["LOCIFLOW_PROGRESS"] = "0"  # K bars would garble one terminal; the parent shows one
    try:
        work(plan, objective, after_trial)
    except KeyboardInterrupt:
        os._exit(130)


def _stop(processes) -> None:
    """Interrupt workers still running (their trials keep their folders), then wait for them."""
    import signal

    deadline = time.time() + 10  # a Ctrl-C in a terminal reached them too: let them end on their own
    for process in processes:
        process.join(timeout=max(0.1, deadline - time.time()))
    for process in processes:
        if process.is_alive():
            os.kill(process.pid, signal.SIGINT)
    deadline = time.time() + 60
    for process in processes:
        process.join(timeout=max(0.1, deadline - time.time()))
        if process.is_alive():
            process.terminate()
            process.join()


def _finished(study) -> int:
    from optuna.trial import TrialState

    done = 0
    for trial in study.get_trials(deepcopy=False):
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
                trial.state == TrialState.FAIL and "error" in trial.user_attrs):
            done += 1
    return done


def _finish(run, study, config: SearchConfig, params) -> None:
    """Write trials.tsv, best/, plots; fix the trial ledger's paths; record the headline numbers."""
    from optuna.trial import TrialState

    from lociflow.searching import outputs

    frame = outputs.write_trials(run.path, study, params, config.objective)
    _relocate_ledger(run.path / TRIALS_DIR / LEDGER_FILE, run.path, run.final_path)
    best = outputs.write_best(run.path, study, params, config.objective)
    maximize = config.objective != "val_loss"
    outputs.plot_history(frame, config.objective, maximize, run.path / "plots" / "history.png")
    outputs.plot_importance(study, run.path / "plots" / "importance.png")
    states = [t.state for t in study.get_trials(deepcopy=False)]
    run.record(complete=states.count(TrialState.COMPLETE), pruned=states.count(TrialState.PRUNED),
               failed=states.count(TrialState.FAIL))
    if best is not None:
        run.record(best_trial=best["number"], **{f"best_{config.objective}": round(float(best[config.objective]), 6)})
        log.info("best trial %d: %s %.4f; its train config is best/params.yaml", best["number"], config.objective,
                 best[config.objective])


def _relocate_ledger(ledger: Path, work: Path, final: Path) -> None:
    """Trials are trained inside the search's temporary folder; their ledger names the final one."""
    if ledger.exists():
        from lociflow.io.atomic import write_text

        write_text(ledger, ledger.read_text(encoding="utf-8").replace(str(work), str(final)))

