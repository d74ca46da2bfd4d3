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


def plot_history(rows: list[dict[str, Any]], folder: Path) -> list[Path]:
    """Write ``loss.png``, ``accuracy.png`` and ``auroc.png`` into ``folder`` (atomically)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    folder = Path(folder)
    written = []
    # an ensemble's history has a member column: one line per network and curve
    members = sorted({row["member"] for row in rows if "member" in row}) or [None]
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for stem, (title, keys) in CURVES.items():
        fig = Figure(figsize=(5, 3.2), dpi=100)
        ax = fig.add_subplot()
        for m, member in enumerate(members):
            part = [row for row in rows if row.get("member") == member]
            epochs = [row["epoch"] for row in part]
            for key in keys:
                values = [row.get(key, math.nan) for row in part]
                label = key.replace("_", " ") + ("" if member is None else f", network {member}")
                style = {} if member is None else {"color": colours[m % len(colours)],
                                                   "linestyle": "-" if key.startswith("val") else "--"}
                ax.plot(epochs, values, marker="o", markersize=3, label=label, **style)
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if len(keys) > 1 or members != [None]:
            ax.legend(fontsize="small" if members != [None] else None)
        fig.subplots_adjust(left=0.16, right=0.97, bottom=0.15, top=0.9)  # tight_layout costs more than the plot
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        path = folder / f"{stem}.png"
        with atomic_open(path, "wb") as handle:
            handle.write(buffer.getvalue())
        written.append(path)
    return written
