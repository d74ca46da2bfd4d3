"""What a run folder holds, shown in the page: curves, tables, images, dashboards.

Each stage has a view of its outputs (:data:`STAGE_VIEWS`); :func:`show_files` lists
any folder's files and shows a chosen one. The views only read files the stages write
(history.tsv, metrics.json, roc_curve.tsv, predictions.tsv, index.html, ...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import yaml

from lociflow.gui.fields import md_code
from lociflow.layout import (
    BACKGROUND_FILE,
    BACKGROUND_PLOT,
    BEST_DIR,
    CALLED_REGIONS_FILE,
    DASHBOARD_FILE,
    HISTORY_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    PARAMS_FILE,
    PREDICTIONS_FILE,
    REPORT_FILE,
    SPEC_FILE,
    SUMMARY_FILE,
    TOP_VARIANTS_FILE,
    TRACK_SUFFIX,
    TRIALS_FILE,
    VARIANTS_FILE,
)
from lociflow.metrics import EXPLANATIONS
from lociflow.training.plots import best_epochs

TABLE_ROWS = 5000
IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".svg")
TABLE_TYPES = (".tsv", ".csv", ".tsv.gz")
TEXT_TYPES = (".yaml", ".yml", ".json", ".log", ".txt", ".md")


# --------------------------------------------------------------------------- labels a person reads

_WORDS = {"auroc": "AUROC", "auprc": "AUPRC", "mcc": "MCC", "f1": "F1", "ece": "ECE", "val": "validation",
          "lr": "learning rate", "id": "ID", "gpu": "GPU", "cpu": "CPU", "n": "loci"}
MISSING = "–"  # what an empty cell shows: a dash, never Python's None or nan


def readable(name: Any) -> str:
    """A column or metric name as a person reads it: ``best_val_loss`` -> ``best validation loss``,
    ``test_auroc`` -> ``test AUROC``, ``log_loss`` -> ``log loss``; other text is kept."""
    text = str(name)
    if " " in text or not text.replace("_", "").isalnum():
        return text
    return " ".join(_WORDS.get(word.lower(), word) for word in text.split("_") if word)


def for_display(frame: pd.DataFrame, labels: bool | str = True) -> pd.DataFrame:
    """A copy of ``frame`` to show in a table: readable column (and index) labels, and a
    column that is not all numbers as text with a dash for missing values, so that one
    column never mixes types (Arrow refuses those). Number columns stay numbers, so that
    they sort by value; :func:`table` shows their gaps as a dash too. ``labels="index"``
    keeps the column names (class names, say, which are the user's own words)."""
    out = frame.copy()
    if labels:
        if labels != "index":
            out.columns = [readable(c) for c in out.columns]
        if not isinstance(out.index, pd.RangeIndex):
            out.index = [readable(i) for i in out.index]
    for column in list(out.columns):
        values = out[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            continue
        out[column] = [MISSING if _missing(v) else (f"{v:.6g}" if isinstance(v, float) else
                                                    json.dumps(v) if isinstance(v, (list, dict)) else str(v))
                       for v in values]
    return out


def table(frame: pd.DataFrame, labels: bool | str = True, **options: Any) -> None:
    """Show ``frame`` (see :func:`for_display`) with a dash in every empty cell."""
    st.dataframe(for_display(frame, labels=labels), placeholder=MISSING, **options)


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):  # nothing to read: a dash
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and arrays are values, not gaps
        return False


# --------------------------------------------------------------------------- readers


def read_table(path: Path, rows: int | None = TABLE_ROWS) -> pd.DataFrame:
    """A TSV/CSV file (gzip allowed) as a DataFrame, at most ``rows`` rows."""
    sep = "," if path.name.endswith(".csv") else "\t"
    return pd.read_csv(path, sep=sep, nrows=rows, comment=None)


def metrics_tables(metrics: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split metrics.json into per-class metrics (rows: metric, columns: class/average) and
    single numbers."""
    def number(x: Any) -> bool:  # None is a number that could not be computed: shown as a dash
        return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))

    per_class = {k: v for k, v in metrics.items() if isinstance(v, dict) and v and all(map(number, v.values()))}
    single = {k: v for k, v in metrics.items() if number(v)}
    table = pd.DataFrame(per_class).T if per_class else pd.DataFrame()
    numbers = pd.DataFrame({"metric": list(single), "value": list(single.values())})
    return table, numbers


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``{"a.b.c": value}`` (lists kept as one value), for side-by-side tables."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}


def curve_traces(frame: pd.DataFrame, x_names: tuple[str, ...], y_names: tuple[str, ...],
                 shape: str = "linear", only: str | None = None) -> list[go.Scatter]:
    """Plotly lines from a curve table: long (a class column and x/y columns) or wide
    (``x_<class>``/``y_<class>`` column pairs).

    ``shape`` is Plotly's line shape: ``"hv"`` draws a precision-recall table (recall
    falling) as the steps its average precision sums, ``"linear"`` a ROC table as the
    trapezoids of its AUROC. ``only`` keeps one class of a long table (the positive class of
    a two-class evaluation)."""
    columns = {c.lower(): c for c in frame.columns}
    x = next((columns[n] for n in x_names if n in columns), None)
    y = next((columns[n] for n in y_names if n in columns), None)
    if x is not None and y is not None:
        group = next((columns[n] for n in ("class", "curve", "label", "name", "average") if n in columns), None)
        if group is None:
            return [go.Scatter(x=frame[x], y=frame[y], mode="lines", name=y, line_shape=shape)]
        return [go.Scatter(x=part[x], y=part[y], mode="lines", name=str(label), line_shape=shape,
                           line=dict(dash="dash" if label == "micro" else "dot" if label == "macro" else "solid"))
                for label, part in frame.groupby(group, sort=False) if only is None or label == only]
    traces = []
    for column in frame.columns:
        for xn in x_names:
            if column.lower().startswith(f"{xn}_"):
                label = column[len(xn) + 1:]
                partner = next((c for c in frame.columns for yn in y_names if c.lower() == f"{yn}_{label}".lower()), None)
                if partner is not None:
                    traces.append(go.Scatter(x=frame[column], y=frame[partner], mode="lines", name=label))
    return traces


# --------------------------------------------------------------------------- pieces


def show_image(path: Path, caption: str | None = None) -> None:
    """An image file (SVG drawn inline)."""
    if path.suffix == ".svg":
        st.image(path.read_text(encoding="utf-8"), caption=caption or path.name)
    else:
        st.image(str(path), caption=caption or path.name)


def show_metrics(path: Path) -> None:
    """metrics.json as tables."""
    metrics = json.loads(path.read_text(encoding="utf-8"))
    for line in metrics.get("warnings") or []:  # why the numbers may not deserve trust, first
        st.warning(line)
    per_class, numbers = metrics_tables(metrics)
    if metrics.get("positive") and not per_class.empty:  # two classes: the averages only repeat them
        per_class = per_class.drop(columns=["macro", "micro"], errors="ignore")
    if not per_class.empty:  # rows: metrics, read as words; columns: the classes, as named
        table(per_class, labels="index", width="stretch")
    if not numbers.empty:
        numbers = numbers.assign(metric=[readable(m) for m in numbers["metric"]])
        table(numbers, hide_index=True)
    shown = {readable(k) for k in per_class.index} | set(numbers["metric"] if not numbers.empty else ())
    notes = [f"**{name}**: {text}" for name, text in EXPLANATIONS.items() if name in shown]
    if notes:
        st.caption("  \n".join(notes))
    matrix = metrics.get("confusion_matrix")
    if isinstance(matrix, list) and matrix:
        labels = metrics.get("classes") or [str(i) for i in range(len(matrix))]
        st.caption("Confusion matrix (rows: true class, columns: predicted class)")
        table(pd.DataFrame(matrix, index=labels, columns=labels), labels=False)


def _monitor(folder: Path) -> str:
    """The metric a training run picks its best epoch by (params.yaml), val_loss if unknown."""
    try:
        train = (yaml.safe_load((folder / PARAMS_FILE).read_text(encoding="utf-8")) or {}).get("train") or {}
        return (train.get("early_stopping") or {}).get("monitor") or "val_loss"
    except (OSError, yaml.YAMLError, AttributeError):
        return "val_loss"


def show_history(folder: Path) -> None:
    """Loss, accuracy and AUROC per epoch from history.tsv (live while training)."""
    path = folder / HISTORY_FILE
    if not path.exists():
        st.caption("Waiting for the first epoch…")
        return
    try:
        history = read_table(path, rows=None)
    except (pd.errors.EmptyDataError, pd.errors.ParserError):
        return
    if history.empty or "epoch" not in history:
        st.caption("Waiting for the first epoch…")
        return
    panels = [("Loss", ["train_loss", "val_loss"]), ("Accuracy", ["train_accuracy", "val_accuracy"]),
              ("AUROC", ["val_auroc"])]
    # an ensemble's history has a member column: one line per network
    parts = list(history.groupby("member")) if "member" in history else [(None, history)]
    best = best_epochs(history.to_dict("records"), _monitor(folder))
    for column, (title, names) in zip(st.columns(3), panels):
        figure = go.Figure()
        for member, part in parts:
            for name in names:
                if name in part:
                    label = name.replace("_", " ") + ("" if member is None else f", network {member}")
                    figure.add_trace(go.Scatter(x=part["epoch"], y=part[name], mode="lines+markers", name=label))
            if member in best:
                figure.add_vline(x=best[member], line_dash="dot", line_color="grey",
                                 annotation_text=f"best {best[member]}" if member is None else f"best {member}",
                                 annotation_position="top left")
        many = len(parts) > 1  # an ensemble's legend lists every network: more room below the plot
        # whole epochs only, about ten ticks however long the run
        figure.update_xaxes(tick0=1, dtick=max(1, -(-int(history["epoch"].max()) // 10)))
        figure.update_layout(title=title, xaxis_title="epoch", height=420 if many else 300,
                             margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.45 if many else -0.3))
        column.plotly_chart(figure, width="stretch")


def show_network(folder: Path) -> None:
    """The network diagram the training stage draws (plots/network.png)."""
    found = sorted((folder / "plots").glob("*network*.png")) if (folder / "plots").is_dir() else []
    if found:
        st.markdown("**Network**")
        st.image(str(found[0]), width="stretch")
        spec = folder / SPEC_FILE
        networks = (yaml.safe_load(spec.read_text(encoding="utf-8")) or {}).get("ensemble", 1) if spec.exists() else 1
        if isinstance(networks, int) and networks > 1:
            st.caption(f"Each of the ensemble's {networks} networks has this architecture.")


# --------------------------------------------------------------------------- stage views


def show_preprocess(folder: Path) -> None:
    """Counts per split and class from the dataset's manifest."""
    manifest = folder / MANIFEST_FILE
    if not manifest.exists():
        return
    info = json.loads(manifest.read_text(encoding="utf-8"))
    st.markdown(f"**Dataset**: window {info.get('window')} nt, alphabet {info.get('alphabet')}, "
                f"branches {', '.join(info.get('branches', {}))}, classes {', '.join(info.get('classes', []))}")
    summary = folder / SUMMARY_FILE
    counts = info.get("counts")
    if summary.exists():
        st.caption("Loci per class: read, changed, dropped, and per split")
        table(read_table(summary), labels=False, hide_index=True, width="stretch")
    elif isinstance(counts, dict) and counts:
        table(pd.DataFrame(counts).T.fillna(0), labels=False, width="stretch")
    background = folder / BACKGROUND_FILE
    if background.exists():
        st.caption("How well each background drawn from the genome matches its class's GC content "
                   "(Kolmogorov-Smirnov D: below 0.05 is a close match)")
        table(read_table(background), labels=False, width="stretch")
        plot = folder / f"{BACKGROUND_PLOT}.png"
        if plot.exists():
            st.image(str(plot))


def show_train(folder: Path) -> None:
    """Training curves, test metrics and the network diagram beside them."""
    show_history(folder)
    metrics_col, network_col = st.columns([2, 1])
    with metrics_col:
        if (folder / METRICS_FILE).exists():
            members = json.loads((folder / METRICS_FILE).read_text(encoding="utf-8")).get("members")
            ensemble = isinstance(members, list) and bool(members)
            st.markdown("**Test-split metrics of the ensemble (each network at its best epoch)**" if ensemble
                        else "**Test-split metrics of the best checkpoint**")
            show_metrics(folder / METRICS_FILE)
            if ensemble:
                st.caption("The ensemble's networks, each alone on the test split")
                table(pd.DataFrame(members), hide_index=True)
    with network_col:
        show_network(folder)


def show_evaluate(folder: Path) -> None:
    """Interactive ROC and precision-recall curves and the metrics table."""
    left, right = st.columns(2)
    metrics = json.loads((folder / METRICS_FILE).read_text(encoding="utf-8")) if (folder / METRICS_FILE).exists() else {}
    classes = metrics.get("classes") or []
    # two classes: the positive class's curves only (runs from before "positive" existed: the first class)
    positive = metrics.get("positive") or (classes[0] if len(classes) == 2 else None)
    curves = [(left, "roc_curve.tsv", "ROC", ("fpr", "x"), ("tpr", "y"), "false positive rate", "true positive rate",
               "linear"),
              (right, "pr_curve.tsv", "Precision-recall", ("recall", "x"), ("precision", "y"), "recall", "precision",
               "hv")]
    for column, name, title, xs, ys, xlabel, ylabel, shape in curves:
        path = folder / name
        if path.exists():
            figure = go.Figure(curve_traces(read_table(path, rows=None), xs, ys, shape=shape, only=positive))
            if positive:
                title = f"{title}: {positive} (positive class)"
            if name.startswith("roc"):
                figure.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line=dict(dash="dot", color="grey"))
            figure.update_layout(title=title, xaxis_title=xlabel, yaxis_title=ylabel, height=420,
                                 margin=dict(l=10, r=10, t=40, b=10))
            column.plotly_chart(figure, width="stretch")
    if (folder / METRICS_FILE).exists():
        st.markdown("**Metrics**")
        show_metrics(folder / METRICS_FILE)
    report = folder / REPORT_FILE
    if report.exists():
        with st.expander("HTML report"):
            st.iframe(report, height=800)


def show_predict(folder: Path) -> None:
    """The predictions table with a download button."""
    path = folder / PREDICTIONS_FILE
    if not path.exists():
        return
    predictions = read_table(path)
    st.markdown(f"**Predictions** ({len(predictions):,} rows shown)")
    table(predictions, labels=False, width="stretch", hide_index=True)
    if path.stat().st_size < 200 * 2**20:
        st.download_button("Download predictions.tsv", path.read_bytes(), file_name=PREDICTIONS_FILE,
                           mime="text/tab-separated-values", key=f"download::{folder}")
    else:
        st.caption(f"The full table is {path}.")
    attributions = folder / "attributions.html"
    if attributions.exists():
        with st.expander("Attribution maps of the most confident loci"):
            st.iframe(attributions, height=800)


def show_variants(folder: Path) -> None:
    """The top variants, the whole effects table with a download button, and the attribution page."""
    top = folder / TOP_VARIANTS_FILE
    if top.exists():
        st.markdown("**Top variants** (by the largest change of a class probability)")
        st.dataframe(read_table(top), width="stretch", hide_index=True)
    path = folder / VARIANTS_FILE
    if path.exists():
        table = read_table(path)
        st.markdown(f"**Every variant** ({len(table):,} rows shown, input order)")
        st.dataframe(table, width="stretch", hide_index=True)
        if path.stat().st_size < 200 * 2**20:
            st.download_button(f"Download {VARIANTS_FILE}", path.read_bytes(), file_name=VARIANTS_FILE,
                               mime="text/tab-separated-values", key=f"download::{folder}")
        else:
            st.caption(f"The full table is {path}.")
    index = folder / DASHBOARD_FILE
    if index.exists():
        st.markdown(f"**Attribution of both alleles** ({md_code(index)})")
        st.iframe(index, height=900)


def show_scan(folder: Path) -> None:
    """The bigWig paths (to load in a genome browser) and the called regions."""
    tracks = sorted(folder.glob(f"*{TRACK_SUFFIX}"))
    if tracks:
        st.markdown("**Tracks** (open them in IGV or the UCSC browser)")
        for path in tracks:
            st.markdown(f"- {md_code(path)}")
    called = folder / CALLED_REGIONS_FILE
    if called.exists():
        if called.stat().st_size == 0:
            st.markdown("**Called regions**: none reached the threshold.")
        else:
            table = pd.read_csv(called, sep="\t", header=None, names=["chrom", "start", "end", "class", "max_score"],
                                nrows=100_000)
            st.markdown(f"**Called regions** ({len(table):,} shown; {md_code(called)})")
            st.dataframe(table, width="stretch", hide_index=True)


def show_interpret(folder: Path) -> None:
    """The dashboard (index.html) and its images."""
    index = folder / DASHBOARD_FILE
    if index.exists():
        st.markdown(f"**Dashboard** ({md_code(index)})")
        st.iframe(index, height=900)
    images = sorted(p for p in folder.rglob("*.png"))
    if images:
        with st.expander(f"Images ({len(images)})"):
            for path in images[:60]:
                show_image(path, str(path.relative_to(folder)))


def show_search(folder: Path) -> None:
    """The trials table, the search plots and the best trial's parameters."""
    trials = folder / TRIALS_FILE
    if trials.exists():
        st.markdown("**Trials**")
        table(read_table(trials), labels=False, hide_index=True, width="stretch")
    plots = sorted((folder / "plots").glob("*.png")) if (folder / "plots").is_dir() else []
    for column, path in zip(st.columns(max(1, len(plots))), plots):
        with column:
            show_image(path)
    best = folder / BEST_DIR / PARAMS_FILE
    if best.exists():
        st.markdown(f"**Best parameters** ({md_code(best)}: `lociflow train -c` accepts it)")
        st.code(best.read_text(encoding="utf-8"), language="yaml")


STAGE_VIEWS = {
    "preprocess": show_preprocess, "train": show_train, "evaluate": show_evaluate,
    "predict": show_predict, "interpret": show_interpret, "search": show_search,
}


def show_files(folder: Path, key: str) -> None:
    """List a run folder's files and show the chosen one (image, table or text)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "checkpoints" not in p.parts
                   and "tensorboard" not in p.parts)
    if not files:
        st.caption("This folder has no files.")
        return
    listing = pd.DataFrame({"file": [str(p.relative_to(folder)) for p in files],
                            "size (kB)": [round(p.stat().st_size / 1024, 1) for p in files]})
    table(listing, labels=False, hide_index=True, width="stretch")
    chosen = st.selectbox("Open a file", files, key=key, format_func=lambda p: str(p.relative_to(folder)))
    name = chosen.name.lower()
    if name.endswith(IMAGE_TYPES):
        show_image(chosen)
    elif name.endswith(TABLE_TYPES):
        table(read_table(chosen), labels=False, width="stretch")
    elif name.endswith(".html"):
        st.iframe(chosen, height=800)
    elif name.endswith(TEXT_TYPES) and chosen.stat().st_size < 2 * 2**20:
        language = "yaml" if name.endswith((".yaml", ".yml")) else "json" if name.endswith(".json") else None
        st.code(chosen.read_text(encoding="utf-8", errors="replace"), language=language)
    else:
        st.caption(f"{chosen} ({chosen.stat().st_size:,} bytes) cannot be shown here.")


def run_params(folder: Path) -> dict[str, Any]:
    """The parameters in a run folder's params.yaml (its single stage section)."""
    path = folder / PARAMS_FILE
    if not path.exists():
        return {}
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return next(iter(document.values()), {}) if len(document) == 1 else document
