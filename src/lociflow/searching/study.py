"""The Optuna study: its storage, sampler and pruner, the trial budget, and the worker loop.

Every worker (a process on this machine, or a ``lociflow search`` on another machine with
the same ``--storage``) runs trials from one shared study until the study holds the
budgeted number of trials. A trial counts once it is running, finished, pruned, or failed
with an error; a trial cut short by an interruption (or by a crash, found through the
storage's heartbeat) does not count and is run again with the same parameters on the
next start. On one machine a file lock makes the budget exact; machines sharing a remote
storage may overshoot it by at most one trial each.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from lociflow.config import SearchConfig
from lociflow.errors import ConfigError, LociflowError
from lociflow.searching.space import Param

log = logging.getLogger("lociflow.search")

HEARTBEAT_S = 30
GRACE_S = 120
SQLITE_TIMEOUT_S = 120


def storage_url(config: SearchConfig, folder: Path) -> str:
    """The study's storage: ``--storage``, else ``study.db`` (SQLite) in the run folder.

    Parameters
    ----------
    config : SearchConfig
        The search's config.
    folder : Path
        The search's run folder.

    Returns
    -------
    str
        An SQLAlchemy database URL.
    """
    return config.storage or f"sqlite:///{Path(folder) / 'study.db'}"


def make_storage(url: str) -> optuna.storages.RDBStorage:
    """Open an RDB storage with a heartbeat (crashed trials are found) and patient SQLite locking.

    Parameters
    ----------
    url : str
        An SQLAlchemy database URL (``sqlite:///...``, ``postgresql://...``, ...).

    Returns
    -------
    optuna.storages.RDBStorage
        The storage, with a heartbeat every 30 s and a grace period of 120 s.

    Raises
    ------
    LociflowError
        When the database driver is not installed or the database cannot be opened
        (the message hides the password).
    """
    engine: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    else:
        engine = {"pool_pre_ping": True}
    try:
        with warnings.catch_warnings():  # the heartbeat is marked experimental; it finds crashed trials
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S,
                                              grace_period=GRACE_S)
    except ImportError as exc:  # optuna names no module; the cause does
        missing = getattr(exc.__cause__, "name", None) or getattr(exc, "name", None) or "a database driver"
        raise LociflowError(
            f"The storage {_safe(url)} needs the Python package {missing!r}, which is not installed "
            "(PostgreSQL: pip install 'psycopg[binary]'; MySQL: pip install pymysql)."
        ) from None
    except Exception as exc:  # sqlalchemy's errors: a malformed URL, an unreachable server
        raise LociflowError(f"Cannot open the study storage {_safe(url)}: {exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}. Check the URL, that the "
                            "server is running and that the database exists.") from None


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def direction(config: SearchConfig) -> str:
    """``maximize`` for AUROC, ``minimize`` for loss.

    Parameters
    ----------
    config : SearchConfig
        The search's config.

    Returns
    -------
    str
        ``"minimize"`` when the objective is ``val_loss``, else ``"maximize"``.
    """
    return "minimize" if config.objective == "val_loss" else "maximize"


def make_sampler(config: SearchConfig, params: list[Param], seed: int) -> optuna.samplers.BaseSampler:
    """TPE (default), random, or grid over the space.

    Parameters
    ----------
    config : SearchConfig
        The search's config (``sampler``; ``workers`` above 1 makes TPE use a constant liar).
    params : list of Param
        The space, for the grid sampler.
    seed : int
        The sampler's seed.

    Returns
    -------
    optuna.samplers.BaseSampler
        A ``TPESampler``, ``RandomSampler`` or ``GridSampler``.
    """
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "grid":
        return optuna.samplers.GridSampler({p.name: p.grid() for p in params}, seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=config.workers > 1)


def grid_size(params: list[Param]) -> int:
    """Number of points of the full grid.

    Parameters
    ----------
    params : list of Param
        The space (see :meth:`Param.grid`).

    Returns
    -------
    int
        The product of the parameters' grid sizes.
    """
    size = 1
    for param in params:
        size *= len(param.grid())
    return size


def make_pruner(config: SearchConfig, epochs: int) -> optuna.pruners.BasePruner:
    """Median (compare with the median trial at the same epoch), Hyperband, or none.

    Parameters
    ----------
    config : SearchConfig
        The search's config (``pruner``).
    epochs : int
        Epochs a trial trains at most: Hyperband's largest resource.

    Returns
    -------
    optuna.pruners.BasePruner
        A ``MedianPruner``, ``HyperbandPruner`` or ``NopPruner``.
    """
    if config.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)
    if config.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1), reduction_factor=3)
    return optuna.pruners.NopPruner()


def fingerprint(config: SearchConfig, base: dict[str, Any]) -> str:
    """A short hash of what makes trials comparable: the space, the objective and the base config.

    Parameters
    ----------
    config : SearchConfig
        The search's config.
    base : dict
        The base ``train:`` section; its ``data`` path is left out.

    Returns
    -------
    str
        16 hexadecimal digits of a SHA-256.
    """
    stable = {k: v for k, v in base.items() if k != "data"}
    text = json.dumps({"space": config.space, "objective": config.objective, "base": stable}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def open_study(url: str, name: str, config: SearchConfig, base: dict[str, Any]) -> optuna.Study:
    """Create the study, or join the existing one if it was made for the same search.

    Parameters
    ----------
    url : str
        The storage URL (see :func:`storage_url`).
    name : str
        The study name.
    config : SearchConfig
        The search's config.
    base : dict
        The base ``train:`` section, part of the :func:`fingerprint`.

    Returns
    -------
    optuna.Study
        The study; a new one records the fingerprint, objective and space.

    Raises
    ------
    ConfigError
        When a study of that name exists with another fingerprint.
    """
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # lociflow's log says what happens
    storage = make_storage(url)
    study = optuna.create_study(storage=storage, study_name=name, direction=direction(config), load_if_exists=True)
    mark = fingerprint(config, base)
    found = study.user_attrs.get("lociflow_search")
    if found is None:
        study.set_user_attr("lociflow_search", mark)
        study.set_user_attr("objective", config.objective)
        study.set_user_attr("space", json.loads(json.dumps(config.space, default=str)))
    elif found != mark:
        raise ConfigError(
            f"The study {name!r} in {_safe(url)} was made with another search space, objective or base "
            "training config, so its trials cannot be compared with these. Use another --name (or study:), "
            "or --force to start this search over."
        )
    return study


def counted(study: optuna.Study) -> int:
    """Trials that use up the budget (see the module docs).

    Parameters
    ----------
    study : optuna.Study
        The study.

    Returns
    -------
    int
        Complete, pruned and running trials, and failed ones that recorded an error.
    """
    total = 0
    for trial in study.get_trials(deepcopy=False):
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING):
            total += 1
        elif trial.state == TrialState.FAIL and "error" in trial.user_attrs:
            total += 1
    return total


def requeue_interrupted(study: optuna.Study, local_only: bool) -> int:
    """Queue again the parameters of trials cut short, once each; return how many.

    Parameters
    ----------
    study : optuna.Study
        The study.
    local_only : bool
        The study is this folder's own SQLite file and no other process uses it, so
        trials still marked running were left by a crash and are failed first.

    Returns
    -------
    int
        Trials queued: failed ones without a recorded error that were not retried before.
    """
    trials = study.get_trials(deepcopy=False)
    if local_only:
        for trial in trials:
            if trial.state == TrialState.RUNNING:
                study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    queued = 0
    for trial in trials:
        if trial.state == TrialState.FAIL and "error" not in trial.user_attrs and trial.number not in retried:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
            queued += 1
    return queued


class BudgetLock:
    """An exclusive file lock between this machine's workers, released once a trial exists."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._handle = None

    def acquire(self) -> None:
        self._handle = open(self.path, "a+")  # noqa: SIM115 - held across calls
        fcntl.flock(self._handle, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


@dataclass
class WorkerPlan:
    """What one worker needs to run trials (all plain data, so it crosses into a process)."""

    url: str
    study_name: str
    config: SearchConfig
    params: list[Param]
    total: int
    lock_path: Path
    seed: int
    epochs: int
    deadline: float | None = None
    """``time.time()`` after which no trial starts (``search.minutes``), or None."""


def work(plan: WorkerPlan, objective: Callable[[optuna.Trial, BudgetLock], float],
         after_trial: Callable[[optuna.Study, Any], None] | None = None) -> int:
    """Run trials until the study holds ``plan.total`` counted trials; return how many ran here.

    Parameters
    ----------
    plan : WorkerPlan
        The study, space, budget and seed of this worker.
    objective : callable
        ``objective(trial, lock)`` runs one trial and returns its value; it releases the
        budget lock once the trial exists.
    after_trial : callable or None
        ``after_trial(study, frozen_trial)``, called once each trial's result is stored.
        Default is None.

    Returns
    -------
    int
        Trials this worker ran.
    """
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trials report their own outcome in the log
    study = optuna.load_study(study_name=plan.study_name, storage=make_storage(plan.url),
                              sampler=make_sampler(plan.config, plan.params, plan.seed),
                              pruner=make_pruner(plan.config, plan.epochs))
    lock = BudgetLock(plan.lock_path)
    ran = 0
    for _ in range(2 * plan.total + 10):  # a guard: every pass either runs a trial or stops
        lock.acquire()
        try:
            if counted(study) >= plan.total:
                break
            if plan.deadline is not None and time.time() >= plan.deadline:
                log.info("the time budget is spent after %d trial(s) here: no further trial is started", ran)
                break
            study.optimize(lambda trial: objective(trial, lock), n_trials=1, catch=(Exception,),
                           gc_after_trial=True, callbacks=[after_trial] if after_trial else None)
            ran += 1
        finally:
            lock.release()
    return ran


def worker_seed(seed: int, index: int, existing: int) -> int:
    """A distinct sampler seed per worker and per start, so that no two draw the same values.

    Parameters
    ----------
    seed : int
        The search's seed.
    index : int
        The worker's number.
    existing : int
        Trials the study held when the search started (differs between starts).

    Returns
    -------
    int
        A seed in ``[0, 2**31 - 1)``.
    """
    return (seed * 1_000_003 + index * 7_919 + existing) % (2**31 - 1)


def fork_available() -> bool:
    """Whether worker processes can be forked (they then share the imported libraries)."""
    return os.name == "posix" and "fork" in __import__("multiprocessing").get_all_start_methods()
