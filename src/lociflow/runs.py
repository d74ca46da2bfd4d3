"""Run folders, run logs and the ``runs.tsv`` ledger.

Every stage runs inside :func:`open_run`. It creates a fresh folder under the output
root (built under a hidden temporary name and renamed into place only when the stage
succeeds, so an interrupted run never leaves a folder that looks complete), writes
``params.yaml`` and a DEBUG ``run.log``, and appends one row to ``<root>/runs.tsv``.

A run killed outright cannot clean up after itself, so the temporary folder records its
owner (host, PID, process start time) and the next run in the same root clears away the
folders whose owner is gone. The final rename is exclusive: of two runs started with one
name, exactly one gets the folder.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import logging
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lociflow import __version__
from lociflow.errors import LociflowError
from lociflow.io.atomic import write_yaml
from lociflow.layout import LEDGER_COLUMNS, LEDGER_FILE, PARAMS_FILE, RUN_LOG

log = logging.getLogger("lociflow")

OWNER_NAME = ".owner.json"
"""In a run's temporary folder: the process building it (host, PID, process start time),
so that a later run can tell a folder whose process was killed from one still at work."""


def new_run_name(stage: str) -> str:
    """A unique run name: the stage, the time to the second and a short random suffix.

    Parameters
    ----------
    stage : str
        The stage (``"preprocess"``, ``"train"``, ...), the name's first part.

    Returns
    -------
    str
        ``<stage>-YYYYmmdd-HHMMSS-<4 hex digits>``, in local time.
    """
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stage}-{stamp}-{secrets.token_hex(2)}"


@dataclass
class Run:
    """A run in progress: write outputs under :attr:`path`, record metrics with :meth:`record`."""

    stage: str
    root: Path
    name: str
    path: Path
    final_path: Path
    params: dict[str, Any]
    started: float = field(default_factory=time.time)
    metrics: dict[str, Any] = field(default_factory=dict)
    summary_params: dict[str, Any] = field(default_factory=dict)

    def record(self, **metrics: Any) -> None:
        """Add headline metrics to this run's ledger row.

        Parameters
        ----------
        **metrics
            Metric values by name, merged into :attr:`metrics` (a name recorded again
            takes the new value); the ledger row's ``metrics`` column holds them as JSON
            when the run ends.
        """
        self.metrics.update(metrics)

    @property
    def log_path(self) -> Path:
        return self.final_path / RUN_LOG


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            # the command name (field 2) may hold spaces: count fields after its closing parenthesis
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _write_owner(work: Path, restore_to: str | None = None) -> None:
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}
    if restore_to is not None:
        owner["restore_to"] = restore_to  # a resumed run: its folder was in place, and is put back
    (work / OWNER_NAME).write_text(json.dumps(owner), encoding="utf-8")


def _owner_gone(folder: Path) -> dict[str, Any] | None:
    """The owner record of a temporary run folder whose process no longer runs, else None.

    A folder without a record (written by an older lociflow), or owned by another host,
    is never judged dead: its process cannot be checked from here.
    """
    try:
        owner = json.loads((folder / OWNER_NAME).read_text(encoding="utf-8"))
        pid = int(owner["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if owner.get("host") != socket.gethostname() or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return owner
    except PermissionError:
        pass  # alive, owned by another user
    start = _process_start(pid)
    # the PID is alive but belongs to a process started later: the owner is gone, its PID reused
    if start is not None and owner.get("start") is not None and start != owner.get("start"):
        return owner
    return None


def remove_dead_runs(root: Path) -> list[str]:
    """Clear away the temporary folders in ``root`` of runs whose process was killed.

    A run killed outright (SIGKILL, power loss) never reaches its cleanup, so its hidden
    ``.<name>.tmp-*`` folder would stay forever; it can never be completed or resumed
    (``--resume`` reopens only folders moved into place), so it is removed. A resumed run's
    folder was in place, resumable, before it was reopened: it is put back instead.

    Parameters
    ----------
    root : Path
        The output root whose hidden temporary folders are checked; nothing is done
        when it is not a folder.

    Returns
    -------
    list of str
        One sentence per folder handled, for the log.
    """
    done = []
    for folder in sorted(root.glob(".*.tmp-*")) if root.is_dir() else []:
        if not folder.is_dir() or folder.is_symlink():
            continue
        owner = _owner_gone(folder)
        if owner is None:
            continue
        restore = owner.get("restore_to")
        target = root / restore if isinstance(restore, str) and "/" not in restore and restore.strip(".") else None
        if target is not None and not target.exists():
            (folder / OWNER_NAME).unlink(missing_ok=True)
            os.rename(folder, target)
            done.append(f"put {target} back in place: a resumed run of it was killed (its process "
                        f"{owner['pid']} is gone); continue it with --resume")
            continue
        shutil.rmtree(folder, ignore_errors=True)
        done.append(f"removed {folder}, left by a run that was killed (its process {owner['pid']} is gone)")
    return done


def _interrupt_line(stage: str, root: Path, name: str, kept: bool) -> str:
    """The one line the CLI prints for Ctrl-C: what was kept and how to go on."""
    if not kept:
        return (f"Interrupted: nothing was kept but the log {root / (name + '.failed') / RUN_LOG}; "
                "run the command again to start over.")
    again = "the same command with --resume" if stage == "train" else "the same command"
    return f"Interrupted: {root / name} is kept as it was; continue with {again} (-o {root} --name {name})."


def _attach_file_log(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    root = logging.getLogger("lociflow")
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    return handler


def append_ledger(root: Path, row: dict[str, Any]) -> None:
    """Append one row to ``root/runs.tsv``, writing the header first if the file is new.

    A file lock keeps rows whole when several processes (search workers) append at once.

    Parameters
    ----------
    root : Path
        The output root, created if needed.
    row : dict
        Values by ledger column (:data:`~lociflow.layout.LEDGER_COLUMNS`): a missing
        column is left empty, other keys are ignored, dicts and lists are written as
        JSON, and tabs and newlines in a value become spaces.
    """
    root.mkdir(parents=True, exist_ok=True)
    ledger = root / LEDGER_FILE
    with open(ledger, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                handle.write("\t".join(LEDGER_COLUMNS) + "\n")
            cells = []
            for column in LEDGER_COLUMNS:
                value = row.get(column, "")
                if isinstance(value, (dict, list)):
                    value = json.dumps(value, sort_keys=True, default=str)
                cells.append(str(value).replace("\t", " ").replace("\n", " "))
            handle.write("\t".join(cells) + "\n")
            handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_ledger(root: str | os.PathLike):
    """Read ``root/runs.tsv`` as a DataFrame, with ``params`` and ``metrics`` parsed.

    Parameters
    ----------
    root : str or os.PathLike
        The output root.

    Returns
    -------
    pandas.DataFrame
        One row per run, the :data:`~lociflow.layout.LEDGER_COLUMNS` as text but
        ``params`` and ``metrics`` as dicts (``{}`` for an empty cell); no rows when
        there is no ledger.
    """
    import pandas as pd

    ledger = Path(root) / LEDGER_FILE
    if not ledger.exists():
        return pd.DataFrame(columns=LEDGER_COLUMNS)
    frame = pd.read_csv(ledger, sep="\t", dtype=str, keep_default_na=False)
    for column in ("params", "metrics"):
        frame[column] = [json.loads(v) if v else {} for v in frame[column]]
    return frame


@contextlib.contextmanager
def open_run(
    stage: str,
    root: str | os.PathLike,
    params: dict[str, Any],
    name: str | None = None,
    force: bool = False,
    summary_params: dict[str, Any] | None = None,
    *,
    keep_on_interrupt: bool = False,
    resume: bool = False,
) -> Iterator[Run]:
    """Create a run folder for ``stage`` under ``root`` and yield the :class:`Run`.

    ``params`` is the complete resolved configuration, written to ``params.yaml`` as
    ``{stage: params}`` so that ``--config`` accepts it back. On success the folder is
    renamed into place and a ledger row appended; on failure everything but ``run.log``
    is removed and the log is kept at ``<root>/<name>.failed/run.log``.

    Long stages that can continue later (training) pass ``keep_on_interrupt=True``: a
    ``KeyboardInterrupt`` then renames the folder into place as it is, with status
    ``interrupted`` in the ledger. ``resume=True`` reopens the existing folder ``<root>/<name>``
    (under a temporary name again until the stage ends), appends to its ``run.log`` and
    keeps its files; if the resumed stage fails, the folder is put back as it was found
    rather than reduced to its log.

    Parameters
    ----------
    stage : str
        The stage (``"preprocess"``, ``"train"``, ...): the ``params.yaml`` key and the
        ledger row's ``stage``.
    root : str or os.PathLike
        Output root (``~`` expanded), created if needed; the run folder is made inside it.
    params : dict
        The complete resolved configuration.
    name : str or None
        Run folder name. Default is None: :func:`new_run_name` of ``stage``.
    force : bool
        Replace an existing folder of the same name. Default is False.
    summary_params : dict or None
        The few parameters shown in the ledger row's ``params`` column. Default is None
        (an empty mapping).
    keep_on_interrupt : bool
        Keep the folder, renamed into place, when the stage is interrupted. Default is False.
    resume : bool
        Reopen the existing folder ``<root>/<name>`` instead of creating one. Default is False.

    Yields
    ------
    Run
        The run; its outputs go under :attr:`Run.path` until it is renamed to
        :attr:`Run.final_path`.

    Raises
    ------
    LociflowError
        When ``name`` is not a valid folder name, the folder to resume does not exist, the
        folder exists already (without ``force`` or ``resume``), or another run of the same
        name finished first and keeps the folder.
    """
    root = Path(root).expanduser().resolve()
    name = name or new_run_name(stage)
    if "/" in name or name in ("", ".", ".."):
        raise LociflowError(f"Run name {name!r} is not a valid folder name.")
    final = root / name
    # first, so that a folder put back from a killed resume is seen by the checks below
    cleared = remove_dead_runs(root)
    if resume:
        if not final.is_dir():
            raise LociflowError(
                f"Cannot resume: there is no run folder {final}. Give the same --name and "
                "output folder as the interrupted run."
            )
    elif final.exists() and not force:
        raise LociflowError(
            f"Output folder {final} already exists. Choose another --name, or pass --force "
            "to replace it."
        )
    root.mkdir(parents=True, exist_ok=True)
    work = root / f".{name}.tmp-{secrets.token_hex(3)}"
    if resume:
        os.replace(final, work)
    else:
        work.mkdir()
    _write_owner(work, restore_to=name if resume else None)
    run = Run(stage=stage, root=root, name=name, path=work, final_path=final, params=params,
              summary_params=dict(summary_params or {}))
    header = f"lociflow {__version__} {stage} run {name}\nlociflow {stage} --config params.yaml reproduces it"
    write_yaml(work / PARAMS_FILE, {stage: params}, header=header)
    handler = _attach_file_log(work / RUN_LOG)
    log.info("lociflow %s: %s run %s", __version__, stage, name)
    for line in cleared:
        log.info("%s", line)
    log.debug("parameters: %s", json.dumps(params, default=str, sort_keys=True))
    status = "failed"
    kept = False
    try:
        yield run
        status = "ok"
    except KeyboardInterrupt as exc:
        if keep_on_interrupt:
            status, kept = "interrupted", True
            exc.lociflow_run_log = final / RUN_LOG  # type: ignore[attr-defined]
            log.debug("run interrupted; its folder is kept as %s", final)  # the CLI prints the line
        else:
            exc.lociflow_run_log = root / f"{name}.failed" / RUN_LOG  # type: ignore[attr-defined]
            log.debug("run interrupted here", exc_info=True)  # the CLI prints one line saying so
        exc.lociflow_interrupted = _interrupt_line(stage, root, name, kept)  # type: ignore[attr-defined]
        raise
    except BaseException as exc:
        kept = resume
        # the CLI names this file when it reports an unexpected error
        exc.lociflow_run_log = (final if kept else root / f"{name}.failed") / RUN_LOG  # type: ignore[attr-defined]
        # the traceback goes to run.log only: the CLI shows a user error as one sentence,
        # and prints the traceback of anything else itself
        if isinstance(exc, LociflowError):
            log.debug("run stopped by an input error: %s", exc, exc_info=True)
        else:
            log.debug("run failed", exc_info=True)
        raise
    finally:
        log.removeHandler(handler)
        handler.close()
        duration = round(time.time() - run.started, 2)
        (work / OWNER_NAME).unlink(missing_ok=True)
        taken = False
        if status == "ok" or kept:
            try:
                _move_into_place(work, final, replace=force)
            except FileExistsError:
                # another run of the same name finished first: it keeps the folder
                taken, status, kept = True, "failed", False
        if not (status == "ok" or kept):
            _keep_only_log(work, root / f"{name}.failed")
        append_ledger(root, {
            "run_id": name,
            "stage": stage,
            "started": _dt.datetime.fromtimestamp(run.started).isoformat(timespec="seconds"),
            "duration_s": duration,
            "status": status,
            "path": str(final if status == "ok" or kept else root / f"{name}.failed"),
            "params": run.summary_params,
            "metrics": run.metrics,
        })
        if taken:
            raise LociflowError(
                f"Output folder {final} already exists (another run of the same name finished first and keeps it). "
                "Choose another --name, or pass --force to replace it.")


def _move_into_place(work: Path, final: Path, replace: bool = False) -> None:
    """Rename the finished ``work`` folder to ``final``.

    Without ``replace`` the rename is exclusive: a run folder is never empty, and renaming
    onto a non-empty folder fails atomically, so of two runs started with one name exactly
    one gets the folder. Raises :class:`FileExistsError` when ``final`` is taken.
    """
    if replace and final.exists():
        trash = final.parent / f".{final.name}.old-{secrets.token_hex(3)}"
        os.replace(final, trash)
        os.replace(work, final)
        shutil.rmtree(trash, ignore_errors=True)
        return
    try:
        if final.exists() and not final.is_dir():
            raise FileExistsError(errno.EEXIST, "exists", str(final))
        if final.is_dir() and not any(final.iterdir()):
            final.rmdir()  # an empty folder holds nothing to lose, and would let the rename replace it
        os.rename(work, final)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) or isinstance(exc, FileExistsError):
            raise FileExistsError(errno.EEXIST, "exists", str(final)) from None
        raise


def _keep_only_log(work: Path, failed: Path) -> None:
    for child in work.iterdir():
        if child.name == RUN_LOG:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    if failed.exists():
        shutil.rmtree(failed, ignore_errors=True)
    os.replace(work, failed)
