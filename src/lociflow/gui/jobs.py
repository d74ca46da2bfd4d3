"""Background jobs: a stage run in its own process, so the page stays responsive.

A job is a folder ``<output root>/.gui-jobs/<job id>/`` holding ``job.json`` (stage,
run name, process id, start time), ``config.yaml`` (the stage config, exactly what
``--config`` accepts), ``output.log`` (the process's standard output and error) and,
once the process ends, ``result.json`` (status, run folder, message). All state lives
in these files, so a browser reload or a second browser tab finds the job again, and
the process keeps running when the page goes away (it runs in its own session).

The process is ``python -m lociflow.gui.worker STAGE CONFIG.yaml OUTPUT NAME``, which
calls the stage's Python API: the run writes the same ``params.yaml``, ``run.log``,
run folder and ``runs.tsv`` row as the command line.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lociflow.io.atomic import write_json, write_yaml
from lociflow.layout import PARAMS_FILE
from lociflow.runs import new_run_name

JOBS_DIR = ".gui-jobs"
FINISHED = ("ok", "error", "failed", "stopped")

# Popen objects of jobs this server started: polling them reaps finished children,
# which would otherwise linger as zombies that look alive to os.kill(pid, 0).
_CHILDREN: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class Job:
    """A stage run in a background process, described by the files of its job folder."""

    id: str
    stage: str
    name: str
    output: Path
    folder: Path
    pid: int
    started: float

    @property
    def config_path(self) -> Path:
        return self.folder / "config.yaml"

    @property
    def log_path(self) -> Path:
        return self.folder / "output.log"

    @property
    def result_path(self) -> Path:
        return self.folder / "result.json"

    def result(self) -> dict[str, Any] | None:
        """What the worker wrote when it ended (``status``, ``folder``, ``message``), or None."""
        try:
            return json.loads(self.result_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def status(self) -> str:
        """``running``, ``ok``, ``error`` (a user error), ``failed`` (a bug), ``stopped``, or
        ``lost`` (the process ended without a word, e.g. killed by the system)."""
        result = self.result()
        if result:
            return str(result.get("status", "failed"))
        if _alive(self.pid, self.id):
            return "running"
        result = self.result()  # it may have finished between the two looks
        return str(result.get("status", "failed")) if result else "lost"

    def run_folder(self) -> Path | None:
        """The run's folder: final when it succeeded, the hidden work folder while running,
        ``NAME.failed`` (holding run.log) when it failed; None before it exists."""
        final = self.output / self.name
        result = self.result()
        if result and result.get("folder"):
            return Path(result["folder"])
        if final.is_dir() and (final / PARAMS_FILE).exists() and self.status() == "ok":
            return final
        work = sorted(self.output.glob(f".{self.name}.tmp-*"), key=lambda p: p.stat().st_mtime)
        if work:
            return work[-1]
        failed = self.output / f"{self.name}.failed"
        return failed if failed.is_dir() else None

    def log_text(self, limit: int = 20000) -> str:
        """The end of the process's output, with progress-bar redraws collapsed."""
        return tail(self.log_path, limit)

    def stop(self, hard: bool = False) -> None:
        """Interrupt the run (like Ctrl-C: training keeps its best model); ``hard`` kills it."""
        if self.status() != "running":
            return
        try:
            os.killpg(self.pid, signal.SIGKILL if hard else signal.SIGINT)
        except (ProcessLookupError, PermissionError):
            pass

    def label(self) -> str:
        """A one-line description for pickers: name and start time."""
        when = _dt.datetime.fromtimestamp(self.started).strftime("%Y-%m-%d %H:%M:%S")
        return f"{self.name} · started {when}"


def start_job(
    stage: str,
    document: dict[str, Any],
    output: str | os.PathLike,
    name: str | None = None,
    force: bool = False,
    options: dict[str, Any] | None = None,
) -> Job:
    """Write ``document`` (``{stage: params, ...}``) as the job's config and start the worker.

    Parameters
    ----------
    stage
        The stage to run (preprocess, train, evaluate, predict, interpret, search).
    document
        The config file content, one section per stage, as ``--config`` accepts it.
    output
        The output root; the run folder is created inside it.
    name
        The run folder name. Default is a fresh unique name, chosen here so that the page
        can find the run folder while it is being built.
    force
        Replace an existing run folder of the same name.
    options
        Stage-specific keyword arguments of the API call (e.g. ``{"resume": True}``).

    Returns
    -------
    Job
        The started job.
    """
    output = Path(output).expanduser().resolve()
    name = name or new_run_name(stage)
    job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{stage}-{secrets.token_hex(3)}"
    folder = output / JOBS_DIR / job_id
    folder.mkdir(parents=True)
    write_yaml(folder / "config.yaml", document)
    command = [sys.executable, "-m", "lociflow.gui.worker", stage, str(folder / "config.yaml"), str(output), name]
    if force:
        command.append("--force")
    if options:
        command += ["--options", json.dumps(options)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(folder / "output.log", "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )
    _CHILDREN[process.pid] = process
    job = Job(id=job_id, stage=stage, name=name, output=output, folder=folder, pid=process.pid, started=time.time())
    write_json(folder / "job.json", {
        "id": job.id, "stage": stage, "name": name, "output": str(output), "pid": job.pid,
        "started": job.started, "command": command, "options": options or {}, "force": force,
    })
    return job


def load_job(folder: str | os.PathLike) -> Job | None:
    """The job described by ``folder/job.json``, or None when it is not a job folder."""
    folder = Path(folder)
    try:
        info = json.loads((folder / "job.json").read_text(encoding="utf-8"))
        return Job(id=info["id"], stage=info["stage"], name=info["name"], output=Path(info["output"]),
                   folder=folder, pid=int(info["pid"]), started=float(info["started"]))
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def list_jobs(output: str | os.PathLike, stage: str | None = None) -> list[Job]:
    """Jobs under ``output`` (of one ``stage`` if given), newest first."""
    base = Path(output).expanduser().resolve() / JOBS_DIR
    if not base.is_dir():
        return []
    jobs = [job for job in map(load_job, base.iterdir()) if job is not None]
    if stage:
        jobs = [job for job in jobs if job.stage == stage]
    return sorted(jobs, key=lambda job: job.started, reverse=True)


def tail(path: Path, limit: int = 20000) -> str:
    """The last ``limit`` characters of a log file, with each progress bar's carriage-return
    redraws reduced to its latest state."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 4 * limit))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]
    return "\n".join(lines)[-limit:]


def _alive(pid: int, job_id: str) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # after a server restart the id may belong to another process: check it is our worker
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (FileNotFoundError, IndexError, OSError):
        return True  # no /proc (not Linux): trust os.kill
    return "lociflow.gui.worker" in cmdline and job_id in cmdline and state != "Z"
