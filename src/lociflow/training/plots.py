"""Training curves as PNG files, redrawn after every epoch so a viewer can follow them live."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from lociflow.io.atomic import atomic_open

CURVES = {
    "loss": ("Loss", ("train_loss", "val_loss")),
    "accuracy": ("Accuracy", ("train_accuracy", "val_accuracy")),
    "auroc": ("Validation AUROC (macro)", ("val_auroc",)),
}
# what the best checkpoint is chosen by (as training.fit.MONITOR_MODES): lower or higher is better
MONITOR_MODES = {"val_loss": "min", "val_auroc": "max", "val_accuracy": "max"}


def best_epochs(rows: list[dict[str, Any]], monitor: str = "val_loss") -> dict[Any, int]:
    """The epoch of the best checkpoint of each network, as training keeps it.

    The checkpoint is replaced only by a strictly better value, so ties keep the earliest
    epoch. Epochs without a value (nan) never count.

    Parameters
    ----------
    rows : list of dict
        ``history.tsv`` rows (an ensemble's have a ``member`` column).
    monitor : str
        The metric the best checkpoint is chosen by. Default is ``"val_loss"``.

    Returns
    -------
    dict
        ``{member: epoch}``; the key is None for a single network. Networks without any
        value of ``monitor`` are left out.
    """
    sign = 1.0 if MONITOR_MODES.get(monitor, "min") == "min" else -1.0
    best: dict[Any, tuple[float, int]] = {}
    for row in rows:
        value = row.get(monitor, math.nan)
        if value is None or math.isnan(value):
            continue
        member = row.get("member")
        if member not in best or sign * value < best[member][0]:
            best[member] = (sign * value, int(row["epoch"]))
    return {member: epoch for member, (_, epoch) in best.items()}


def history_figure(rows: list[dict[str, Any]], title: str, keys: tuple[str, ...], monitor: str = "val_loss"):
    """One training curve: ``keys`` against the epoch, with each network's best epoch marked.

    Epochs get integer ticks, from 1; each network's best epoch (chosen by ``monitor``)
    is a dotted vertical line. An ensemble's rows (with a ``member`` column) get one
    line per network and key.

    Parameters
    ----------
    rows : list of dict
        ``history.tsv`` rows (an ensemble's have a ``member`` column).
    title : str
        The plot title.
    keys : tuple of str
        The history columns drawn, one line each.
    monitor : str
        The metric the best checkpoint is chosen by. Default is ``"val_loss"``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not saved).
    """
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    # an ensemble's history has a member column: one line per network and curve
    members = sorted({row["member"] for row in rows if "member" in row}) or [None]
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    fig = Figure(figsize=(5, 3.2), dpi=100)
    ax = fig.add_subplot()
    best = best_epochs(rows, monitor)
    for m, member in enumerate(members):
        part = [row for row in rows if row.get("member") == member]
        epochs = [row["epoch"] for row in part]
        for key in keys:
            values = [row.get(key, math.nan) for row in part]
            label = key.replace("_", " ") + ("" if member is None else f", network {member}")
            style = {} if member is None else {"color": colours[m % len(colours)],
                                               "linestyle": "-" if key.startswith("val") else "--"}
            ax.plot(epochs, values, marker="o", markersize=3, label=label, **style)
        if member in best:
            label = f"best epoch {best[member]}" + (f" (by {monitor.replace('_', ' ')})" if member is None else f", network {member}")
            ax.axvline(best[member], color="0.35" if member is None else colours[m % len(colours)],
                       linestyle=":", linewidth=1.2, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small" if members != [None] or len(keys) > 1 else None)
    fig.subplots_adjust(left=0.16, right=0.97, bottom=0.15, top=0.9)  # tight_layout costs more than the plot
    return fig


def plot_history(rows: list[dict[str, Any]], folder: Path, monitor: str = "val_loss") -> list[Path]:
    """Write ``loss.png``, ``accuracy.png`` and ``auroc.png`` into ``folder`` (atomically).

    Parameters
    ----------
    rows : list of dict
        ``history.tsv`` rows, epochs numbered from 1.
    folder : Path
        Where the PNG files go.
    monitor : str
        The metric the best checkpoint is chosen by; its best epoch is marked. Default is
        ``"val_loss"``, training's default.

    Returns
    -------
    list of Path
        The files written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    folder = Path(folder)
    written = []
    for stem, (title, keys) in CURVES.items():
        fig = history_figure(rows, title, keys, monitor)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        path = folder / f"{stem}.png"
        with atomic_open(path, "wb") as handle:
            handle.write(buffer.getvalue())
        written.append(path)
    return written
