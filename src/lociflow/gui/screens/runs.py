"""Runs page: the runs.tsv ledger, two runs side by side, and any run's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from lociflow.gui import settings
from lociflow.gui.fields import md_code
from lociflow.gui.views import STAGE_VIEWS, flatten, run_params, show_files, table
from lociflow.layout import LEDGER_FILE, METRICS_FILE
from lociflow.runs import read_ledger


def ledger_table(ledger: pd.DataFrame) -> pd.DataFrame:
    """The ledger with its key parameters and metrics spread into columns (sortable)."""
    rows = []
    for _, row in ledger.iterrows():
        flat = {"run": row["run_id"], "stage": row["stage"], "status": row["status"],
                "started": row["started"], "seconds": pd.to_numeric(row["duration_s"], errors="coerce")}
        flat.update({k: _cell(v) for k, v in flatten(row["metrics"]).items()})
        flat.update({f"param: {k}": _cell(v) for k, v in flatten(row["params"]).items()})
        flat["path"] = row["path"]
        rows.append(flat)
    return pd.DataFrame(rows)


def compare(a: Path, b: Path, ledger: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parameters and metrics of two run folders side by side (one row per key)."""
    def side_by_side(left: dict, right: dict) -> pd.DataFrame:
        keys = list(dict.fromkeys([*left, *right]))
        frame = pd.DataFrame({"key": keys, a.name: [_cell(left.get(k)) for k in keys],
                              b.name: [_cell(right.get(k)) for k in keys]})
        frame["differs"] = frame[a.name].astype(str) != frame[b.name].astype(str)
        return frame

    return (side_by_side(flatten(run_params(a)), flatten(run_params(b))),
            side_by_side(flatten(_metrics(a, ledger)), flatten(_metrics(b, ledger))))


def _latest_pair(folders: list[Path], ledger: pd.DataFrame) -> tuple[int, int]:
    """The two newest finished runs of the newest stage that has two (else the two newest
    finished runs, else the two newest). A failed run has only its log: nothing to compare."""
    stage_of = dict(zip(ledger["path"], ledger["stage"]))
    status_of = dict(zip(ledger["path"], ledger["status"]))
    stages = [stage_of.get(str(p)) for p in folders]
    finished = [i for i, p in enumerate(folders)
                if status_of.get(str(p)) == "ok" and not p.name.endswith(".failed")]
    for i in reversed(finished):
        same = [j for j in finished if j < i and stages[j] == stages[i]]
        if same:
            return same[-1], i
    if len(finished) >= 2:
        return finished[-2], finished[-1]
    return len(folders) - 2, len(folders) - 1


def _metrics(folder: Path, ledger: pd.DataFrame) -> dict:
    """A run's metrics.json, else the metrics its ledger row recorded."""
    path = folder / METRICS_FILE
    try:
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        pass
    rows = ledger.loc[ledger["path"] == str(folder), "metrics"]
    return rows.iloc[-1] if len(rows) else {}


def _cell(value):
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def render() -> None:
    """Draw the Runs page."""
    root = settings.output_root()
    st.title("Runs")
    ledger = read_ledger(root)
    if ledger.empty:
        st.info(f"No runs in {root} yet. Start with Preprocess.")
        return
    st.markdown(f"Every run in {md_code(root / LEDGER_FILE)}, newest last. Click a column header to sort.")
    stages = sorted(set(ledger["stage"]))
    shown = st.multiselect("Stages", stages, default=stages, key="runs::#stages")
    table(ledger_table(ledger[ledger["stage"].isin(shown)]), hide_index=True, width="stretch")

    folders = [Path(p) for p in ledger["path"] if Path(p).is_dir()]
    names = {str(p): f"{p.name} ({stage})" for p, stage in zip(map(Path, ledger["path"]), ledger["stage"])}
    st.subheader("Compare two runs")
    if len(folders) < 2:
        st.caption("Two runs are needed.")
    else:
        first_index, second_index = _latest_pair(folders, ledger)
        left, right = st.columns(2)
        first = left.selectbox("First run", folders, index=first_index, key="runs::#a",
                               format_func=lambda p: names.get(str(p), p.name))
        second = right.selectbox("Second run", folders, index=second_index, key="runs::#b",
                                 format_func=lambda p: names.get(str(p), p.name))
        params, metrics = compare(first, second, ledger)
        only = st.checkbox("Only what differs", value=True, key="runs::#differs")
        st.markdown("**Parameters**")
        shown = params[params["differs"]] if only else params
        # one column holds a run's values of every kind (numbers, text, lists): shown as text
        table(shown.drop(columns="differs"), labels=False, hide_index=True, width="stretch")
        st.markdown("**Metrics**")
        table(metrics.drop(columns="differs"), labels=False, hide_index=True, width="stretch")

    st.subheader("Open a run")
    if folders:
        chosen = st.selectbox("Run", list(reversed(folders)), key="runs::#open",
                              format_func=lambda p: names.get(str(p), p.name))
        stage = ledger.loc[ledger["path"] == str(chosen), "stage"].iloc[-1]
        view = STAGE_VIEWS.get(stage)
        if view:
            view(chosen)
        with st.expander("Files", expanded=view is None):
            show_files(chosen, key="runs::#file")
