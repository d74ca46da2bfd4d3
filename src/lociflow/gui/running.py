"""The Run button and the panel of a running job: status, live log, results.

The page hands over a validated config; the Run button starts it as a background job
(:mod:`lociflow.gui.jobs`). The panel below polls the job's files every two seconds:
it streams the log, shows a stage's live view (e.g. training curves) while it runs,
and the stage's results when it ends. A reload finds the latest job again.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from lociflow.config import StageConfig
from lociflow.gui import jobs
from lociflow.gui.fields import md_code, md_escape
from lociflow.layout import RUN_LOG

View = Callable[[Path], None]
STATUS_TEXT = {
    "running": "Running…",
    "ok": "Finished.",
    "error": "Stopped with an error in the input.",
    "failed": "Failed with an unexpected error.",
    "stopped": "Stopped (what was finished is kept).",
    "lost": "The process ended without reporting (it may have been killed).",
}


def run_controls(stage: str, config: StageConfig | None, root: Path, *,
                 document: dict[str, Any] | None = None, options: dict[str, Any] | None = None) -> None:
    """Run name, "replace" switch and the Run button (disabled until the config is valid).

    ``document`` is the whole config file when a stage needs more than its own section
    (search); by default it is ``{stage: config}``.
    """
    name_col, force_col = st.columns([3, 2], vertical_alignment="bottom")
    name = name_col.text_input(
        "Run name (optional)", key=f"{stage}::#name", placeholder=f"default: {stage}-DATE-TIME-xxxx",
        help="The run folder's name inside the output root (the CLI's --name).",
    ).strip()
    force = force_col.checkbox("Replace a run of the same name", key=f"{stage}::#force",
                               help="The CLI's --force: an existing run folder is otherwise never overwritten.")
    if name and (root / name).exists() and not force:
        st.warning(f"{md_escape(str(root / name))} exists: choose another name or tick Replace.")
    if st.button(f"Run {stage}", type="primary", disabled=config is None, key=f"{stage}::#run",
                 help=None if config else "Fix the problems listed above first."):
        body = document if document is not None else {stage: config.dump()}
        job = jobs.start_job(stage, body, root, name=name or None, force=force, options=options)
        st.session_state[f"{stage}::#job"] = job.id
        st.toast(f"Started {job.name}")


def job_panel(stage: str, root: Path, live: View | None = None, results: View | None = None) -> None:
    """The latest (or a chosen) job of ``stage``: status, log, live view, results."""
    found = jobs.list_jobs(root, stage)
    if not found:
        return
    st.divider()
    st.subheader("Runs started here")
    ids = [job.id for job in found]
    wanted = st.session_state.get(f"{stage}::#job")
    if wanted in ids:
        st.session_state[f"{stage}::#shown"] = wanted
        del st.session_state[f"{stage}::#job"]
    elif st.session_state.get(f"{stage}::#shown") not in ids:
        st.session_state[f"{stage}::#shown"] = ids[0]
    by_id = {job.id: job for job in found}
    chosen = st.selectbox("Show", ids, key=f"{stage}::#shown", format_func=lambda i: by_id[i].label())
    job = by_id[chosen]
    running = job.status() == "running"
    st.fragment(_job_view, run_every=2 if running else None)(job, live, results)


def _job_view(job: jobs.Job, live: View | None, results: View | None) -> None:
    status = job.status()
    elapsed = _elapsed(job)
    text = f"**{md_escape(job.name)}**: {STATUS_TEXT.get(status, status)} ({elapsed})"
    {"ok": st.success, "running": st.info}.get(status, st.error)(text)
    folder = job.run_folder()
    if status == "running":
        left, right, _ = st.columns([1, 1, 3])
        left.button("Stop", key=f"{job.id}#stop", on_click=job.stop,
                    help="Like Ctrl-C on the command line: training stops and keeps its best model.")
        right.button("Kill", key=f"{job.id}#kill", on_click=job.stop, kwargs={"hard": True},
                     help="End the process at once.")
    result = job.result() or {}
    if result.get("message"):
        st.error(md_escape(result["message"]))
    if folder is not None:
        st.caption(f"Run folder: {md_code(folder)}")
    with st.expander("Log", expanded=status not in ("ok", "stopped")):
        output_tab, detail_tab = st.tabs(["Messages", "run.log (detailed)"])
        output_tab.code(job.log_text() or "(no output yet)", language=None)
        log = (folder / RUN_LOG) if folder else None
        if log and log.exists():
            detail_tab.caption(str(log))
            detail_tab.code(jobs.tail(log), language=None)
        else:
            detail_tab.caption("The run has not written its log yet.")
    if status == "running":
        if live and folder is not None:
            live(folder)
        st.session_state[f"#was_running::{job.id}"] = True
    else:
        if st.session_state.pop(f"#was_running::{job.id}", False):
            st.rerun()  # stop polling and draw the results with the whole page
        if status in ("ok", "stopped") and results and folder is not None and not folder.name.endswith(".failed"):
            results(folder)


def _elapsed(job: jobs.Job) -> str:
    end = job.result_path.stat().st_mtime if job.result_path.exists() else time.time()
    seconds = int(end - job.started)
    started = _dt.datetime.fromtimestamp(job.started).strftime("%H:%M:%S")
    return f"started {started}, {seconds // 60} min {seconds % 60} s"
